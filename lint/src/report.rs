//! Output formats: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning dashboards.
//! Values only ever appear redacted.

use serde_json::{Value, json};

use super::finding::{Finding, Severity};
use super::rules::RULES;
use super::scan::{Report, Unit};

/// The output formats of `sealant lint -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// Extra counts shown in summaries.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Findings accepted by the baseline.
    pub baselined: usize,
    /// Findings in test data and example files left out (`--include-fixtures` shows them).
    pub fixtures_hidden: usize,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format, counts: Counts) -> String {
    match format {
        Format::Text => text(report, counts),
        Format::Json => pretty(&json_report(report, counts)),
        Format::Sarif => pretty(&sarif(report)),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// `path:line:col: SL001 [high] message (value: ********)` per finding, then a summary.
pub fn text(report: &Report, counts: Counts) -> String {
    let mut out = String::new();
    for f in &report.findings {
        if let Some(object) = &f.object {
            let field = if object.field.is_empty() {
                String::new()
            } else {
                format!(" {}", object.field)
            };
            out.push_str(&format!(
                "{object}{field}: {} [{}] {} (value: {})\n",
                f.rule, f.severity, f.message, f.redacted
            ));
            continue;
        }
        let commit = match &f.commit {
            Some(c) => format!("{}:", &c[..c.len().min(12)]),
            None => String::new(),
        };
        out.push_str(&format!(
            "{commit}{}:{}:{}: {} [{}] {} (value: {})\n",
            f.path, f.line, f.column, f.rule, f.severity, f.message, f.redacted
        ));
    }
    let mut extra = Vec::new();
    if report.suppressed > 0 {
        extra.push(format!("{} suppressed", report.suppressed));
    }
    if counts.baselined > 0 {
        extra.push(format!("{} in baseline", counts.baselined));
    }
    if counts.fixtures_hidden > 0 {
        extra.push(format!(
            "{} in test data or examples hidden; --include-fixtures shows them",
            counts.fixtures_hidden
        ));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    let unit = match report.unit {
        Unit::Files => "file",
        Unit::Objects => "object",
    };
    out.push_str(&format!(
        "{} finding{} in {} {unit}{} scanned{}\n",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        report.files_scanned,
        if report.files_scanned == 1 { "" } else { "s" },
        extra
    ));
    out
}

fn json_report(report: &Report, counts: Counts) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut v = json!({
                "rule": f.rule.as_str(),
                "name": f.rule.rule().name,
                "severity": f.severity,
                "confidence": f.confidence,
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "message": f.message,
                "value": f.redacted,
                "fingerprint": f.location_fingerprint(),
            });
            if let (Some(c), Some(o)) = (&f.commit, v.as_object_mut()) {
                o.insert("commit".to_string(), json!(c));
            }
            if let (Some(object), Some(o)) = (&f.object, v.as_object_mut()) {
                o.remove("line");
                o.remove("column");
                o.insert("object".to_string(), json!(object));
            }
            v
        })
        .collect();
    let scanned = match report.unit {
        Unit::Files => "files",
        Unit::Objects => "objects",
    };
    json!({
        "version": 1,
        "findings": findings,
        "diagnostics": report.diagnostics,
        "summary": {
            scanned: report.files_scanned,
            "bytes": report.bytes_scanned,
            "findings": report.findings.len(),
            "suppressed": report.suppressed,
            "baselined": counts.baselined,
            "fixtures_hidden": counts.fixtures_hidden,
        },
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "3.0",
    }
}

/// A SARIF 2.1.0 log with one run: every rule's metadata and help, one result per finding with
/// `artifactLocation.uri` relative to the scan root.
pub fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": first_section(r.doc) },
                "help": { "text": r.doc, "markdown": r.doc },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "tags": ["security", "secrets"],
                    "security-severity": security_severity(r.severity),
                },
            })
        })
        .collect();
    let results: Vec<Value> = report.findings.iter().map(sarif_result).collect();
    let notifications: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "level": "warning",
                "message": { "text": d.message },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri(&d.path) } } }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "sealant",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://sealant.dev/docs/lint",
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "originalUriBaseIds": { "%SRCROOT%": src_root(&report.root) },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn sarif_result(f: &Finding) -> Value {
    let mut properties = json!({ "confidence": f.confidence, "severity": f.severity });
    if let (Some(c), Some(o)) = (&f.commit, properties.as_object_mut()) {
        o.insert("commit".to_string(), json!(c));
    }
    // A live object has no file: its location is logical (`namespace/Kind/name` and the field),
    // with the object's API path as the artifact so dashboards can still group by it.
    let location = match &f.object {
        Some(object) => json!({
            "physicalLocation": { "artifactLocation": { "uri": uri(&f.path) } },
            "logicalLocations": [{
                "fullyQualifiedName": if object.field.is_empty() {
                    object.to_string()
                } else {
                    format!("{object}:{}", object.field)
                },
                "name": object.name,
                "kind": "object",
            }],
        }),
        None => json!({
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&f.path), "uriBaseId": "%SRCROOT%" },
                "region": { "startLine": f.line, "startColumn": f.column },
            }
        }),
    };
    json!({
        "ruleId": f.rule.as_str(),
        "ruleIndex": f.rule as usize,
        "level": level(f.severity),
        "message": { "text": format!("{} (value: {})", f.message, f.redacted) },
        "locations": [location],
        "partialFingerprints": { "sealantLocation/v1": f.location_fingerprint() },
        "properties": properties,
    })
}

/// The `%SRCROOT%` base of every result's `uri`: the scan root as an absolute `file:` URI
/// ending in `/` when it is known, else only a description.
fn src_root(root: &std::path::Path) -> Value {
    let absolute = if root.is_absolute() {
        Some(root.to_path_buf())
    } else {
        std::env::current_dir().ok().map(|cwd| cwd.join(root))
    };
    let description = json!({ "text": "The directory `sealant lint` reports paths relative to." });
    match absolute.and_then(|p| p.to_str().map(str::to_string)) {
        Some(p) => {
            let mut path = uri(&p.replace('\\', "/"));
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
            if !path.ends_with('/') {
                path.push('/');
            }
            json!({ "uri": format!("file://{path}"), "description": description })
        }
        None => json!({ "description": description }),
    }
}

fn first_section(doc: &str) -> String {
    doc.split("\n## ")
        .next()
        .unwrap_or("")
        .trim_start_matches("## What it does")
        .trim()
        .replace('\n', " ")
}

/// A relative URI reference for a path: `/` separators, reserved characters percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(uri("k8s/my app.yaml"), "k8s/my%20app.yaml");
        assert_eq!(uri("a/b.yaml"), "a/b.yaml");
    }

    /// A live object's finding (`sealant audit`) is placed by object and field, never by a
    /// line of a file that does not exist.
    #[test]
    fn live_object_findings_name_the_object_and_field() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: app\n      env:\n        - name: DB_PASSWORD\n          value: supersecret123\n";
        let (mut findings, _) = crate::scan_text("live.yaml", text, &crate::Settings::default());
        assert_eq!(findings.len(), 1);
        findings[0].path = "prod/Pod/p".to_string();
        findings[0].object = Some(crate::ObjectRef {
            namespace: "prod".into(),
            kind: "Pod".into(),
            name: "p".into(),
            field: "spec.containers[name=app].env[name=DB_PASSWORD].value".into(),
        });
        let report = Report {
            findings,
            files_scanned: 1,
            unit: Unit::Objects,
            ..Report::default()
        };
        let t = text_report(&report);
        assert!(
            t.starts_with(
                "prod/Pod/p spec.containers[name=app].env[name=DB_PASSWORD].value: SL001 [high]"
            ),
            "{t}"
        );
        assert!(t.ends_with("1 finding in 1 object scanned\n"), "{t}");
        let j = json_report(&report, Counts::default());
        assert_eq!(j["findings"][0]["object"]["kind"], "Pod");
        assert!(j["findings"][0].get("line").is_none());
        assert_eq!(j["summary"]["objects"], 1);
        let s = sarif(&report);
        let location = &s["runs"][0]["results"][0]["locations"][0];
        assert_eq!(
            location["logicalLocations"][0]["fullyQualifiedName"],
            "prod/Pod/p:spec.containers[name=app].env[name=DB_PASSWORD].value"
        );
        assert!(location["physicalLocation"].get("region").is_none());
        // (The rules' documentation in the log has its own examples; the results hold no value.)
        assert!(!s["runs"][0]["results"].to_string().contains("supersecret"));
    }

    fn text_report(report: &Report) -> String {
        text(report, Counts::default())
    }

    #[test]
    fn full_description_is_the_first_section() {
        let d = first_section(RULES[0].doc);
        assert!(d.starts_with("Checks the `env`"), "{d}");
        assert!(!d.contains("Why is this bad"));
    }
}

//! `--fix-plan`: the bash script that moves each finding into a SealedSecret. Values are read
//! from the cluster by `kubectl get -o jsonpath` into `kubectl create secret
//! --from-file=KEY=<(...)`, so the script holds none of them and nothing prints them.

use std::collections::BTreeMap;

use sealant_core::resource::LAST_APPLIED_ANNOTATION as LAST_APPLIED;
use sealant_lint::{Code, Finding, ObjectRef};

use super::scanning::needs_escape;

/// A field to move: its display path, its JSONPath and the rule that found it.
type PlanField = (String, String, Code);

/// The bash script that moves each finding into a SealedSecret. Values are read from the
/// cluster by `kubectl get -o jsonpath` into `kubectl create secret --from-file=KEY=<(...)`,
/// so the script holds none of them and nothing prints them.
pub(super) fn fix_plan(findings: &[Finding]) -> String {
    let mut out = String::from(
        "#!/usr/bin/env bash\n\
         # Moves what `sealant audit` found into SealedSecrets. Review it, run it with the same\n\
         # kubeconfig, commit the *.sealed.yaml files, then change the manifests in git as each\n\
         # step's comment says. It holds no values: kubectl reads them straight from the cluster.\n\
         set -euo pipefail\n",
    );
    // Group by object, keeping each field once.
    let mut objects: BTreeMap<String, (ObjectRef, Vec<PlanField>)> = BTreeMap::new();
    for f in findings {
        let Some(object) = &f.object else { continue };
        let entry = objects
            .entry(object.to_string())
            .or_insert_with(|| (object.clone(), Vec::new()));
        if !entry.1.iter().any(|(field, _, _)| *field == object.field) {
            entry
                .1
                .push((object.field.clone(), f.key_path.clone(), f.rule));
        }
    }
    for (display, (object, fields)) in &objects {
        out.push('\n');
        let ns = shell_quote(&object.namespace);
        let name = shell_quote(&object.name);
        // A folder per namespace: `team-x/db` and `team/x-db` must not share a file.
        let folder = path_component(&object.namespace);
        let file = format!("{folder}/{}.sealed.yaml", path_component(&object.name));
        out.push_str(&format!("mkdir -p {}\n", shell_quote(&folder)));
        if object.kind == "Secret" {
            let found = fields
                .iter()
                .map(|(f, _, rule)| {
                    if f.is_empty() {
                        format!("{rule}")
                    } else {
                        format!("{rule} {f}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            comment(
                &mut out,
                &format!("{display}: a Secret outside sealant ({found})."),
            );
            comment(
                &mut out,
                "Seal it as it is (labels, annotations and type are kept; last-applied is not),",
            );
            comment(
                &mut out,
                "let the controller adopt it, and apply the SealedSecret.",
            );
            out.push_str(&format!(
                "kubectl get secret {name} -n {ns} -o yaml | sealant seal -w {}\n\
                 kubectl annotate secret {name} -n {ns} --overwrite sealant.dev/managed=true\n\
                 kubectl apply -f {}\n",
                shell_quote(&file),
                shell_quote(&file),
            ));
            if fields.iter().any(|(f, _, _)| f.contains(LAST_APPLIED)) {
                out.push_str(&format!(
                    "kubectl annotate secret {name} -n {ns} {LAST_APPLIED}-\n"
                ));
            }
            continue;
        }
        let secret = format!("{}-credentials", object.name);
        let resource = object.kind.to_ascii_lowercase();
        let mut sources = Vec::new();
        let mut notes = Vec::new();
        for (field, jsonpath, rule) in fields {
            if field.contains(LAST_APPLIED) {
                // A copy of the fields above; removed below once they are sealed.
                continue;
            }
            if field.is_empty() || jsonpath.is_empty() {
                notes.push(format!(
                    "{rule}: the object as a whole; see `sealant lint --explain {rule}`"
                ));
                continue;
            }
            let key = secret_key(field);
            sources.push(format!(
                "  --from-file={}=<(kubectl get {resource} {name} -n {ns} -o jsonpath={}) \\\n",
                shell_quote(&key),
                shell_quote(jsonpath)
            ));
            notes.push(format!(
                "{rule} {field}: {}",
                advice(&object.kind, field, &secret, &key)
            ));
        }
        comment(&mut out, display);
        for note in &notes {
            comment(&mut out, note);
        }
        if !sources.is_empty() {
            out.push_str(&format!(
                "kubectl create secret generic {} -n {ns} \\\n{}  --dry-run=client -o yaml | sealant seal -w {}\n",
                shell_quote(&secret),
                sources.concat(),
                shell_quote(&format!("{folder}/{}.sealed.yaml", path_component(&secret))),
            ));
        }
        if fields.iter().any(|(f, _, _)| f.contains(LAST_APPLIED)) {
            comment(
                &mut out,
                "`kubectl apply` kept a copy of the values in the last-applied annotation: once the",
            );
            comment(
                &mut out,
                "manifest references the Secret instead, apply it again, or remove the annotation:",
            );
            comment(
                &mut out,
                &format!("kubectl annotate {resource} {name} -n {ns} {LAST_APPLIED}-"),
            );
        }
    }
    if objects.is_empty() {
        out.push_str("\n# Nothing to move: the audit found no credential.\n");
    }
    out
}

/// A namespace or name as one file-name component: Kubernetes names hold no `/` and never are
/// `.` or `..`, but a server that validates nothing could send them; `%`, `/` and a leading `.`
/// are percent-encoded (so distinct names stay distinct), and the empty namespace of a
/// cluster-scoped object is `_` (not a valid namespace name).
fn path_component(text: &str) -> String {
    if text.is_empty() {
        return "_".to_string();
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '.' if i == 0 => out.push_str("%2E"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `# text` as one line: whatever a name from the cluster holds (a line break, a control
/// character), it cannot end the comment and become a command.
fn comment(out: &mut String, text: &str) {
    out.push_str("# ");
    out.extend(text.chars().map(|c| if needs_escape(c) { '?' } else { c }));
    out.push('\n');
}

/// The Secret key a field's value goes to: the env var's name, the ConfigMap key, else the
/// last named step of the path.
fn secret_key(field: &str) -> String {
    if let Some((_, rest)) = field.rsplit_once("env[name=")
        && let Some((name, _)) = rest.split_once(']')
    {
        return name.to_string();
    }
    // Steps of the display path: words between dots, and bracketed keys or items.
    let mut steps: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_bracket = false;
    for c in field.chars() {
        match c {
            '[' if !in_bracket => {
                steps.push(std::mem::take(&mut current));
                in_bracket = true;
            }
            ']' if in_bracket => {
                steps.push(std::mem::take(&mut current));
                in_bracket = false;
            }
            '.' if !in_bracket => steps.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    steps.push(current);
    let last = steps
        .iter()
        .map(|s| s.trim_start_matches("name="))
        .rfind(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("value");
    last.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What to change in the manifest once the value is sealed.
fn advice(kind: &str, field: &str, secret: &str, key: &str) -> String {
    if field.contains(".env[") {
        return format!(
            "replace the env `value` with valueFrom.secretKeyRef {{name: {secret}, key: {key}}}"
        );
    }
    if field.contains(".args[") || field.contains(".command[") {
        return format!(
            "the credential is part of a command line: the Secret below holds the whole argument; \
             keep only the credential in it, pass it as env {key} from secretKeyRef {{name: {secret}, key: {key}}} and write $({key}) in the argument"
        );
    }
    if kind == "ConfigMap" {
        return format!(
            "mount key {key} of Secret {secret} instead of the ConfigMap key, and remove the key from the ConfigMap"
        );
    }
    format!("reference key {key} of Secret {secret} instead of the literal value")
}

/// Single-quotes a word for bash unless it is plain.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use sealant_lint::Settings;
    use serde_json::json;

    use super::*;
    use crate::cmd::audit::listing::tests::pod;
    use crate::cmd::audit::listing::{KINDS, Live};
    use crate::cmd::audit::scanning::{Step, display_path, jsonpath, scan_object};

    #[test]
    fn keys_with_dots_are_escaped_in_jsonpath_and_bracketed_for_people() {
        let path = [
            Step::Key("data".into()),
            Step::Key("application.properties".into()),
        ];
        assert_eq!(display_path(&path), "data[application.properties]");
        assert_eq!(jsonpath(&path), "{.data.application\\.properties}");
        assert_eq!(secret_key(&display_path(&path)), "application.properties");
        assert_eq!(secret_key("spec.containers[name=app].args[2]"), "args");
        assert_eq!(secret_key("data.DB_PASSWORD"), "DB_PASSWORD");
    }

    #[test]
    fn the_seed_guides_vulnerable_pod_is_found_at_its_env_field() {
        let live = Live {
            kind: &KINDS[7],
            value: pod(),
        };
        let (findings, _) = scan_object(live, &Settings::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        let object = findings[0].object.as_ref().unwrap();
        assert_eq!(object.to_string(), "default/Pod/vulnerable-app");
        assert_eq!(
            object.field,
            "spec.containers[name=app].env[name=DB_PASSWORD].value"
        );
        assert!(!findings[0].redacted.contains("supersecret"));
        let plan = fix_plan(&findings);
        assert!(!plan.contains("supersecret"), "{plan}");
        assert!(plan.contains(
            "--from-file=DB_PASSWORD=<(kubectl get pod vulnerable-app -n default -o jsonpath='{.spec.containers[?(@.name==\"app\")].env[?(@.name==\"DB_PASSWORD\")].value}')"
        ), "{plan}");
    }

    /// `team-x/db` and `team/x-db` once mapped to the same file, and one plan step overwrote the
    /// other's output. The plan is run with a stand-in sealant that writes its -w file.
    #[test]
    fn fix_plan_files_of_team_x_db_and_team_x_dash_db_do_not_collide() {
        let mut findings = Vec::new();
        for (ns, name) in [("team-x", "db"), ("team", "x-db"), ("team", "../x")] {
            let mut value = pod();
            value["metadata"]["name"] = json!(name);
            value["metadata"]["namespace"] = json!(ns);
            let live = Live {
                kind: &KINDS[7],
                value,
            };
            findings.extend(scan_object(live, &Settings::default()).0);
        }
        let plan = fix_plan(&findings);
        assert!(
            plan.contains("sealant seal -w team-x/db-credentials.sealed.yaml"),
            "{plan}"
        );
        assert!(
            plan.contains("sealant seal -w team/x-db-credentials.sealed.yaml"),
            "{plan}"
        );
        assert!(
            plan.contains("sealant seal -w 'team/%2E.%2Fx-credentials.sealed.yaml'"),
            "{plan}"
        );
        let dir = tempfile::TempDir::new().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (tool, script) in [
            (
                "kubectl",
                "#!/bin/sh\ncat >/dev/null 2>&1 || true\nexit 0\n",
            ),
            (
                "sealant",
                "#!/bin/sh\ncat >/dev/null\nwhile [ $# -gt 0 ]; do [ \"$1\" = -w ] && echo \"$PPID $2\" > \"$2\"; shift; done\nexit 0\n",
            ),
        ] {
            let path = bin.join(tool);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let ran = std::process::Command::new("bash")
            .arg("-c")
            .arg(&plan)
            .current_dir(dir.path())
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        for file in [
            "team-x/db-credentials.sealed.yaml",
            "team/x-db-credentials.sealed.yaml",
            "team/%2E.%2Fx-credentials.sealed.yaml",
        ] {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(text.ends_with(&format!(" {file}\n")), "{file}: {text}");
        }
        assert!(!dir.path().join("x-credentials.sealed.yaml").exists());
    }

    /// Names come from whoever may create objects: an env var name (any printable ASCII with
    /// relaxed validation) or a name from a server that validates nothing must not turn the fix
    /// plan into a command. The plan is run with stand-in kubectl and sealant that only exit 0.
    #[test]
    fn a_hostile_name_cannot_inject_a_command_into_the_fix_plan() {
        let dir = tempfile::TempDir::new().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["kubectl", "sealant"] {
            let path = bin.join(tool);
            std::fs::write(&path, "#!/bin/sh\ncat >/dev/null 2>&1 || true\nexit 0\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let pwned = dir.path().join("pwned");
        let evil = format!(
            "X';touch {0};'$(touch {0})\ntouch {0}\n`touch {0}`",
            pwned.display()
        );
        let mut value = pod();
        value["metadata"]["name"] = json!(format!("p\ntouch {}", pwned.display()));
        value["spec"]["containers"][0]["name"] = json!(evil.clone());
        value["spec"]["containers"][0]["env"][1]["name"] = json!(format!("{evil}_PASSWORD"));
        let live = Live {
            kind: &KINDS[7],
            value,
        };
        let (findings, _) = scan_object(live, &Settings::default());
        assert!(!findings.is_empty());
        let plan = fix_plan(&findings);
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let ran = std::process::Command::new("bash")
            .arg("-c")
            .arg(&plan)
            .current_dir(dir.path())
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{plan}\n{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        assert!(
            !pwned.exists(),
            "the plan ran a command from a name:\n{plan}"
        );
    }
}

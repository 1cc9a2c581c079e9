//! The false-positive classes seen on chart-heavy public repositories (bitnami/charts,
//! prometheus-community/helm-charts), each as a small fixture of the same shape: CI workflows,
//! Helm template Secrets holding configuration files, template expressions, algorithm and
//! identifier settings, key-name fields, Terraform attributes, code in templated configuration,
//! placeholders, truncated example keys, chart test values and committed Secrets.

use std::path::{Path, PathBuf};

use sealant_lint::{Confidence, Report, ScanOptions, Settings, Severity, scan};

fn precision_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test/precision")
}

fn report() -> Report {
    let dir = precision_dir();
    let options = ScanOptions {
        paths: vec![dir.clone()],
        root: dir,
    };
    match scan(&options, &Settings::default()) {
        Ok(r) => r,
        Err(e) => panic!("scan failed: {e}"),
    }
}

#[test]
fn only_the_error_parts_are_reported() {
    let report = report();
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{}:{}:{} {} [{}/{}] {}\n",
            f.path, f.line, f.column, f.rule, f.severity, f.confidence, f.message
        ));
    }
    for d in &report.diagnostics {
        out.push_str(&format!("warning {}: {}\n", d.path, d.message));
    }
    insta::with_settings!({
        snapshot_path => precision_dir().join("../snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("precision", out);
    });
}

#[test]
fn workflows_report_literals_not_permissions_or_inherited_secrets() {
    let report = report();
    let workflow: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.path == ".github/workflows/release.yaml")
        .map(|f| format!("{}:{}", f.line, f.rule))
        .collect();
    assert_eq!(workflow, ["30:SL008", "32:SL006"]);
}

#[test]
fn chart_test_values_are_low_severity_and_confidence() {
    let report = report();
    let ci: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path.starts_with("chart/ci/"))
        .collect();
    assert_eq!(ci.len(), 1);
    assert_eq!(ci[0].severity, Severity::Low);
    assert_eq!(ci[0].confidence, Confidence::Low);
    assert!(
        report
            .findings
            .iter()
            .filter(|f| !f.path.starts_with("chart/ci/"))
            .all(|f| f.severity > Severity::Low)
    );
}

#[test]
fn a_committed_secret_is_reported_at_its_credentials_line() {
    let report = report();
    let secret: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.path == "k8s/secret.yaml")
        .map(|f| format!("{}:{}", f.line, f.message))
        .collect();
    assert_eq!(
        secret,
        [
            "12:Secret `app-db` commits credential `password` in plain text; seal it with `sealant seal` (4 keys in plain text: username, host, port, password)",
        ]
    );
}

//! Leaks the lint used to miss, each as a general capability with a fixture: command lines in
//! compose and Helm values, expansion defaults, URLs with an empty user, files the YAML parser
//! rejects (read line by line), manifests recognised by content, and oversize files named on the
//! command line.

use std::path::{Path, PathBuf};

use sealant_lint::{Report, ScanOptions, Settings, scan};

fn recall_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test/recall")
}

fn scan_paths(paths: Vec<PathBuf>, root: PathBuf, settings: &Settings) -> Report {
    match scan(&ScanOptions { paths, root }, settings) {
        Ok(r) => r,
        Err(e) => panic!("scan failed: {e}"),
    }
}

#[test]
fn each_miss_class_is_found() {
    let dir = recall_dir();
    let report = scan_paths(vec![dir.clone()], dir, &Settings::default());
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{}:{}:{} {} {}\n",
            f.path, f.line, f.column, f.rule, f.message
        ));
    }
    for d in &report.diagnostics {
        out.push_str(&format!("warning {}: {}\n", d.path, d.message));
    }
    insta::with_settings!({
        snapshot_path => recall_dir().join("../snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("recall", out);
    });
    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.path, f.line))
        .collect();
    for expected in [
        "compose/docker-compose.yml:6",
        "compose/docker-compose.yml:8",
        "compose/docker-compose.yml:12",
        "compose/docker-compose.yml:15",
        "chart/values.yaml:8",
        "chart/values-sidecars.yaml:4",
        "backup/secrets.key:10",
        "chart/templates/secret.yaml:9",
        "chart/templates/secret.yaml:10",
        "compose/db_root_password.txt:1",
        "kustomize/kustomization.yaml:22",
        "kustomize/kustomization.yaml:32",
        "chart/values-extra.yaml:8",
        "configmap.yaml:11",
        "configmap.yaml:17",
        "configmap.yaml:23",
        "configmap.yaml:26",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "missed {expected}: {lines:?}"
        );
    }
    for clean in [
        "compose/docker-compose.yml:14",
        "configmap.yaml:13",
        "kustomize/kustomization.yaml:25",
        "kustomize/kustomization.yaml:35",
    ] {
        assert!(!lines.iter().any(|l| l == clean), "{clean} is not a leak");
    }
}

#[test]
fn oversize_files_named_on_the_command_line_are_scanned() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let big = dir.path().join("big.env");
    let text = format!("{}DB_PASSWORD=Big-F1le-S3cret\n", "# padding\n".repeat(500));
    if let Err(e) = std::fs::write(&big, text) {
        panic!("{e}");
    }
    let settings = match Settings::parse("[lint]\nmax-file-size = 1000\n") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    // Walked: skipped with a warning.
    let walked = scan_paths(vec![dir.path().to_path_buf()], dir.path().into(), &settings);
    assert!(walked.findings.is_empty());
    assert!(
        walked.diagnostics[0]
            .message
            .contains("over the 1000 byte limit")
    );
    // Named: scanned, and the size is still mentioned.
    let named = scan_paths(vec![big], dir.path().into(), &settings);
    assert_eq!(named.findings.len(), 1);
    assert_eq!(named.findings[0].line, 501);
    assert!(
        named.diagnostics[0]
            .message
            .contains("named on the command line")
    );
}

/// Settings disabled by a comment in values files (Helm values, compose, `.env`, properties) are
/// found one confidence step below a live setting; comment prose, placeholders, references and
/// plain words are not.
#[test]
fn commented_out_credentials_are_found_at_lower_confidence() {
    let dir = recall_dir().join("commented");
    let report = scan_paths(vec![dir.clone()], dir, &Settings::default());
    let found: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.path, f.line))
        .collect();
    assert_eq!(
        found,
        [
            ".env:7",
            ".env:8",
            "app.properties:6",
            "docker-compose.yml:9",
            "values.yaml:17",
            "values.yaml:18",
            "values.yaml:19",
            "values.yaml:20",
            "values.yaml:23",
        ]
    );
    for f in &report.findings {
        // A name with no credential word (`gossipKey`) leaves only the shape: low confidence.
        let expected = if f.line == 20 {
            sealant_lint::Confidence::Low
        } else {
            sealant_lint::Confidence::Medium
        };
        assert_eq!(f.confidence, expected, "{f:?}");
        assert!(f.message.contains("commented-out"), "{}", f.message);
    }
}

/// Secrets under names with no credential word are found by the shape of their value (random
/// strings, base64 key material) in env, ConfigMap, Helm values, `.env` and properties, at low
/// confidence unless the value is a private key; digests, checksums, UUIDs, identifiers, a base64
/// CA certificate and SealedSecret ciphertext are not.
#[test]
fn keyword_less_secrets_are_found_by_shape() {
    let dir = recall_dir().join("shapes");
    let report = scan_paths(vec![dir.clone()], dir, &Settings::default());
    let found: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}:{}:{}:{}", f.path, f.line, f.rule, f.confidence))
        .collect();
    assert_eq!(
        found,
        [
            "app.env:5:SL008:low",
            "app.env:6:SL005:high",
            "app.properties:5:SL010:low",
            "deployment.yaml:26:SL001:low",
            "deployment.yaml:28:SL001:low",
            "deployment.yaml:30:SL004:medium",
            "deployment.yaml:40:SL003:high",
            "deployment.yaml:41:SL003:low",
            "deployment.yaml:43:SL003:low",
            "extra-manifests.yaml:13:SL009:high",
            "values.yaml:10:SL009:low",
        ]
    );
    // Redacted like every finding: at most two characters of the value.
    for f in &report.findings {
        assert!(f.redacted.chars().count() <= 10, "{}", f.redacted);
    }
}

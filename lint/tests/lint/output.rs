//! Reports (SARIF against the official schema, JSON), suppressions, baselines, configuration and
//! robustness against bad input.

use std::path::{Path, PathBuf};

use sealant_lint::{
    Baseline, Code, Counts, Format, Redaction, Report, ScanOptions, Settings, render, report, scan,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test/fixtures")
}

fn scan_dir(dir: &Path, settings: &Settings) -> Report {
    let options = ScanOptions {
        paths: vec![dir.to_path_buf()],
        root: dir.to_path_buf(),
    };
    match scan(&options, settings) {
        Ok(r) => r,
        Err(e) => panic!("scan of {} failed: {e}", dir.display()),
    }
}

fn temp() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temp dir: {e}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
}

fn lines(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| format!("{}:{} {}", f.path, f.line, f.rule))
        .collect()
}

/// Plaintext values of the fixtures that must never appear in any output.
const FIXTURE_SECRETS: &[&str] = &[
    "supersecret123",
    "hunter2hunter2",
    "ghp_R8dK2mN5qW7xY1zA3bC4dE6fG8hJ9kL0pQ2s",
    "Xk9pQ2mL7",
];

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    // The official schema is committed unchanged. Its `language` pattern
    // (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`) has a stray `]` that ECMA-262 accepts and
    // Rust regex engines reject, so the in-memory copy drops that character; nothing else
    // differs (checked below).
    const ECMA_ONLY: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    let original = include_str!("../../resources/test/sarif-schema-2.1.0.json");
    let occurrences = original.matches(ECMA_ONLY).count();
    assert_eq!(
        occurrences, 2,
        "the `language` pattern appears twice in the official schema"
    );
    let schema_text = original.replace(ECMA_ONLY, r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}?$""#);
    assert_eq!(schema_text.len(), original.len() - occurrences);
    let schema: serde_json::Value = match serde_json::from_str(&schema_text) {
        Ok(s) => s,
        Err(e) => panic!("schema: {e}"),
    };
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    let validator = match jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
    {
        Ok(v) => v,
        Err(e) => panic!("schema does not compile: {e}"),
    };
    let report = scan_dir(&fixtures(), &Settings::default());
    assert!(report.findings.len() > 40);
    let sarif = report::sarif(&report);
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");

    // Negative control: the validator does reject a broken log.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        serde_json::json!(0);
    assert!(
        !validator.is_valid(&broken),
        "a startLine of 0 must not validate"
    );

    let run = &sarif["runs"][0];
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().map(Vec::len),
        Some(11)
    );
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), report.findings.len());
    for (r, f) in results.iter().zip(&report.findings) {
        assert_eq!(r["ruleId"], f.rule.as_str());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap_or("");
        assert!(
            !uri.starts_with('/') && !uri.contains(".."),
            "uri {uri} is not relative"
        );
        assert_eq!(loc["region"]["startLine"], f.line);
        assert_eq!(loc["region"]["startColumn"], f.column);
    }
    // The rules' help shows example values; the results must not hold any fixture value.
    let text = serde_json::to_string(&run["results"]).unwrap_or_default();
    assert!(render(&report, Format::Sarif, Counts::default()).contains("\"version\": \"2.1.0\""));
    for secret in FIXTURE_SECRETS {
        assert!(!text.contains(secret), "SARIF leaks {secret}");
    }
}

#[test]
fn json_and_text_show_values_redacted() {
    let report = scan_dir(&fixtures().join("SL001"), &Settings::default());
    for format in [Format::Json, Format::Text] {
        let out = render(&report, format, Counts::default());
        for secret in FIXTURE_SECRETS {
            assert!(!out.contains(secret), "{format:?} leaks {secret}");
        }
        assert!(
            out.contains("(value: ********)") || out.contains("\"value\": \"********\""),
            "{format:?} lacks the redacted value"
        );
        // No character of a value shorter than 16 characters is shown.
        assert!(
            !out.contains("su*") && !out.contains("*23"),
            "{format:?}: {out}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, Counts::default())).unwrap_or_default();
    let first = &json["findings"][0];
    assert_eq!(first["rule"], "SL001");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["confidence"], "high");
    assert_eq!(first["path"], "workloads.yaml");
    assert_eq!(json["summary"]["findings"], report.findings.len());
}

#[test]
fn long_values_show_two_characters_and_full_redaction_none() {
    let dir = temp();
    let token = "ghp_Zq7Wx2Cv9Bn4Mk6Lp1Jh3Gf5Ds8Ae0Rt2Yu4I";
    write(dir.path(), "ci.env", &format!("GITHUB_TOKEN={token}\n"));
    let mut report = scan_dir(dir.path(), &Settings::default());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].redacted, "gh********");
    report.redact(Redaction::Full);
    assert_eq!(report.findings[0].redacted, "********");
    for format in [Format::Text, Format::Json, Format::Sarif] {
        let out = render(&report, format, Counts::default());
        assert!(
            !out.contains("gh*") && !out.contains(&token[..6]),
            "{format:?}"
        );
    }
}

#[test]
fn sarif_declares_the_source_root() {
    let dir = temp();
    write(dir.path(), "ci.env", "DB_PASSWORD=hunter2hunter2\n");
    let report = scan_dir(dir.path(), &Settings::default());
    let sarif = report::sarif(&report);
    let run = &sarif["runs"][0];
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap_or_default();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    let root = dir.path().to_string_lossy().replace('\\', "/");
    assert!(
        base.contains(root.trim_start_matches('/')),
        "{base} vs {root}"
    );
    assert_eq!(
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "%SRCROOT%"
    );
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
    - name: app
      env:
        - name: DB_PASSWORD
          value: hunter2hunter2
        - name: API_TOKEN
          value: tok-9f8e7d6c5b4a
";

#[test]
fn baseline_survives_line_moves_and_catches_new_values() {
    let dir = temp();
    write(dir.path(), "pod.yaml", POD);
    let before = scan_dir(dir.path(), &Settings::default());
    assert_eq!(before.findings.len(), 2);
    let baseline = match Baseline::from_findings(&before.findings) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let file = dir.path().join("baseline.json");
    if let Err(e) = baseline.write(&file) {
        panic!("{e}");
    }
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        !stored.contains("hunter2") && !stored.contains("tok-9f8e"),
        "baseline holds a value"
    );
    let baseline = match Baseline::load(&file) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };

    // Lines move: the accepted findings stay accepted.
    write(
        dir.path(),
        "pod.yaml",
        &format!("# a comment\n# and another\n{POD}"),
    );
    let moved = scan_dir(dir.path(), &Settings::default());
    assert_eq!(moved.findings[0].line, 12);
    let (kept, accepted) = baseline.filter(moved.findings);
    assert_eq!((kept.len(), accepted), (0, 2));

    // A new secret value is a new finding, even at the same key.
    write(
        dir.path(),
        "pod.yaml",
        &POD.replace("hunter2hunter2", "an0ther-Secret"),
    );
    let changed = scan_dir(dir.path(), &Settings::default());
    let (kept, accepted) = baseline.filter(changed.findings);
    assert_eq!(accepted, 1);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].rule, Code::SL001);
    assert_eq!(kept[0].line, 10);
}

#[test]
fn inline_comments_annotations_and_config_suppress() {
    let dir = temp();
    write(
        dir.path(),
        "pods.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: a
spec:
  containers:
    - name: a
      env:
        # sealant:ignore SL001
        - name: DB_PASSWORD
          value: hunter2hunter2
        - name: API_TOKEN
          value: tok-9f8e7d6c5b4a # sealant:ignore
        - name: OTHER_TOKEN
          value: tok-1a2b3c4d5e6f # sealant:ignore SL004
---
apiVersion: v1
kind: Secret
metadata:
  name: fixture
  annotations:
    sealant.dev/lint-ignore: \"SL002,SL003\"
stringData:
  password: test-fixture-pw
",
    );
    write(dir.path(), "app.properties", "db.password=s3cr3tPassw0rd\n");
    let report = scan_dir(dir.path(), &Settings::default());
    assert_eq!(
        lines(&report),
        ["app.properties:1 SL010", "pods.yaml:15 SL001"]
    );
    // Two env values by comment; the Secret's `password` (which carries the Secret's summary) by
    // annotation.
    assert_eq!(report.suppressed, 3);

    let settings = match Settings::parse(
        "[lint]\ndisable = [\"SL010\"]\nplaceholders = [\"^tok-1a2b\"]\nexclude = [\"ignored/\"]\n",
    ) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    write(dir.path(), "ignored/pod.yaml", POD);
    let report = scan_dir(dir.path(), &settings);
    assert_eq!(lines(&report), Vec::<String>::new());
}

#[test]
fn ignore_files_are_honoured_and_symlinks_not_followed() {
    let outside = temp();
    write(outside.path(), "leak.env", "DB_PASSWORD=outside-S3cret\n");
    let dir = temp();
    write(dir.path(), ".gitignore", "local/\n");
    write(dir.path(), ".sealantignore", "vendor/\n");
    write(dir.path(), "local/.env", "DB_PASSWORD=gitignored-S3cret\n");
    write(dir.path(), "vendor/.env", "DB_PASSWORD=vendored-S3cret\n");
    write(dir.path(), ".env", "DB_PASSWORD=tracked-S3cret\n");
    #[cfg(unix)]
    {
        let _ = std::os::unix::fs::symlink(outside.path(), dir.path().join("link"));
        let _ =
            std::os::unix::fs::symlink(outside.path().join("leak.env"), dir.path().join("x.env"));
    }
    let report = scan_dir(dir.path(), &Settings::default());
    assert_eq!(lines(&report), [".env:1 SL008"]);
}

#[test]
fn bad_input_is_a_warning_and_the_scan_goes_on() {
    let dir = temp();
    write(
        dir.path(),
        "broken.yaml",
        "password: [unclosed\n  - : : :\n\tkey: \"x\n",
    );
    write(
        dir.path(),
        "deep.yaml",
        &format!("password: {}\n", "[".repeat(5000)),
    );
    write(dir.path(), "empty.yaml", "");
    write(dir.path(), "tabs.env", "\t\t=\n=value\nPASSWORD\n");
    write(
        dir.path(),
        "template.yaml",
        "{{ if .x }}\npassword: {{ .y }\n",
    );
    if let Err(e) = std::fs::write(dir.path().join("binary.dat"), [0u8, 159, 146, 150, 0, 1]) {
        panic!("{e}");
    }
    if let Err(e) = std::fs::write(
        dir.path().join("latin1.env"),
        b"DB_PASSWORD=caf\xe9-S3cret\n",
    ) {
        panic!("{e}");
    }
    write(dir.path(), "big.yaml", &"a: b\n".repeat(1000));
    write(dir.path(), "z-pod.yaml", POD);
    let settings = match Settings::parse("[lint]\nmax-file-size = 4000\n") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let report = scan_dir(dir.path(), &settings);
    assert_eq!(
        lines(&report),
        [
            "latin1.env:1 SL008",
            "z-pod.yaml:10 SL001",
            "z-pod.yaml:12 SL001"
        ]
    );
    let warned: Vec<&str> = report.diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(warned, ["big.yaml", "broken.yaml", "deep.yaml"]);
}

#[test]
fn missing_paths_are_errors() {
    let options = ScanOptions {
        paths: vec![PathBuf::from("/nonexistent/sealant")],
        root: PathBuf::from("/"),
    };
    assert!(scan(&options, &Settings::default()).is_err());
}

//! Each rule against its fixture (an OK part and an error part) and a snapshot of
//! `file:line:col rule message`; the registry meta-test; the seed documents' Pods.

use std::path::{Path, PathBuf};

use sealant_lint::{DOC_SECTIONS, RULES, ScanOptions, Settings, scan};

fn lint_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test")
}

/// Scans `dir` (paths shown relative to it) and renders one line per finding.
fn findings_of(dir: &Path) -> String {
    let options = ScanOptions {
        paths: vec![dir.to_path_buf()],
        root: dir.to_path_buf(),
    };
    let report = match scan(&options, &Settings::default()) {
        Ok(r) => r,
        Err(e) => panic!("scan of {} failed: {e}", dir.display()),
    };
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
    out
}

fn check_rule(id: &str) {
    let output = findings_of(&lint_dir().join("fixtures").join(id));
    insta::with_settings!({
        snapshot_path => lint_dir().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(id, output);
    });
}

macro_rules! rule_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_rule($id);
            }
        )*
    };
}

rule_tests! {
    sl001_env_credentials => "SL001",
    sl002_committed_secrets => "SL002",
    sl003_configmap_credentials => "SL003",
    sl004_token_formats => "SL004",
    sl005_url_credentials => "SL005",
    sl006_command_line => "SL006",
    sl007_kustomize_literals => "SL007",
    sl008_compose_and_dotenv => "SL008",
    sl009_helm_values => "SL009",
    sl010_config_files => "SL010",
    sl011_annotations => "SL011",
}

/// Every registered rule has documentation in the four sections, a fixture directory with an OK
/// part, and a snapshot in which the rule reports at least once.
#[test]
fn every_rule_is_documented_and_tested() {
    let this_file = include_str!("rules.rs");
    for rule in &RULES {
        for section in DOC_SECTIONS {
            assert!(rule.doc.contains(section), "{} lacks `{section}`", rule.id);
        }
        let fixture = lint_dir().join("fixtures").join(rule.id);
        assert!(fixture.is_dir(), "{} has no fixture directory", rule.id);
        let snapshot = lint_dir()
            .join("snapshots")
            .join(format!("{}.snap", rule.id));
        let snap = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert!(
            snap.lines().any(|l| l.contains(&format!(" {} ", rule.id))),
            "{}: snapshot {} has no finding of the rule",
            rule.id,
            snapshot.display()
        );
        assert!(
            this_file.contains(&format!("=> \"{}\"", rule.id)),
            "{} has no snapshot test",
            rule.id
        );
        let has_ok_part = walk_text(&fixture).contains("ok");
        assert!(has_ok_part, "{}: the fixture has no OK part", rule.id);
    }
}

fn walk_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            text.push_str(&walk_text(&p));
        } else {
            text.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    text
}

/// The seed document's vulnerable Pod is flagged at its literal `DB_PASSWORD`; its secure Pod,
/// which uses `secretKeyRef`, is clean.
#[test]
fn seed_pods() {
    let seeds = lint_dir().join("seeds");
    let vulnerable = findings_of(&seeds.join("vulnerable"));
    assert_eq!(
        vulnerable,
        "pod.yaml:17:15 SL001 container `app` sets `DB_PASSWORD` to a literal credential\n"
    );
    let secure = findings_of(&seeds.join("secure"));
    assert_eq!(secure, "");
}

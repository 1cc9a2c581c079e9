//! Bad input never panics: arbitrary text, and mutations of realistic manifests, through every
//! kind of file the lint knows.

use proptest::prelude::*;
use sealant_lint::{Settings, scan_text};

/// File names that select each analysis.
const NAMES: &[&str] = &[
    "k8s/pod.yaml",
    "k8s/list.json",
    "chart/values.yaml",
    "chart/templates/deployment.yaml",
    "chart/templates/_helpers.tpl",
    "kustomization.yaml",
    "docker-compose.yml",
    ".env",
    "app.properties",
    "deploy.sh",
    "Dockerfile",
    ".npmrc",
    "README.md",
];

const SEED: &str = "apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n  metadata: {name: s, annotations: {sealant.dev/lint-ignore: SL001}}\n  data: {password: c2VjcmV0}\n  stringData:\n    key: |\n      -----BEGIN RSA PRIVATE KEY-----\n      MIIEpAIBAAKCAQEA1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m7n8o9p\n- kind: Pod\n  spec:\n    containers:\n    - name: a\n      args: [\"--password=x1y2z3\", \"sh -c 'mysql -pS3cret'\"]\n      env:\n      - {name: DB_PASSWORD, value: \"h\u{fc}nter2\"}  # sealant:ignore\n      - name: TOKEN\n        value: {{ .Values.t }}\nsecretGenerator:\n- literals: [password=x]\n  envs: [a.env]\nservices: {db: {environment: [A_KEY=b]}}\nENV DB_PASSWORD=x\nexport TOKEN=\"y\"\npostgres://u:p4ss@h/db\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}", which in 0..NAMES.len()) {
        let (findings, _) = scan_text(NAMES[which], &text, &Settings::default());
        for f in findings {
            prop_assert!(f.line >= 1 && f.column >= 1);
        }
    }

    #[test]
    fn mutated_manifests_never_panic(
        cut in 0..SEED.len(),
        insert in "[ \\-:{}\\[\\]\"'|>#\\n\\t=é$]{0,8}",
        which in 0..NAMES.len(),
    ) {
        let cut = (0..=cut).rev().find(|&i| SEED.is_char_boundary(i)).unwrap_or(0);
        let text = format!("{}{}{}", &SEED[..cut], insert, &SEED[cut..]);
        let (findings, _) = scan_text(NAMES[which], &text, &Settings::default());
        let lines = text.lines().count().max(1) + 1;
        for f in findings {
            prop_assert!(f.line >= 1 && f.line <= lines, "line {} of {}", f.line, lines);
            prop_assert!(!f.redacted.contains("nter2") && !f.redacted.contains("S3cret"));
        }
    }
}

#[test]
fn scan_text_reports_like_a_scan() {
    let (findings, diagnostics) = scan_text(
        "pod.yaml",
        "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    env:\n    - name: API_TOKEN\n      value: tok-9f8e7d6c5b4a\n",
        &Settings::default(),
    );
    assert!(diagnostics.is_empty());
    let got: Vec<String> = findings
        .iter()
        .map(|f| format!("{}:{}:{} {}", f.path, f.line, f.column, f.rule))
        .collect();
    assert_eq!(got, ["pod.yaml:8:14 SL001"]);
}

/// Issue 18: files built to make YAML parsers spin (nesting, expanding aliases), after an ordinary
/// document with a credential so that the structured parse is attempted. Each is skipped as YAML
/// with a diagnostic naming the document and the bound, without a panic, in a time that does not
/// grow with the nesting (256 KiB: the token search over the text, linear, is most of it in a
/// debug build).
#[test]
fn hostile_yaml_is_skipped_with_a_diagnostic_quickly() {
    let leak = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    env:\n    \
                - name: API_TOKEN\n      value: tok-9f8e7d6c5b4a\n---\n";
    for (shape, hostile) in sealant_core::input::hostile_samples(256 * 1024) {
        let text = format!("{leak}{hostile}");
        let started = std::time::Instant::now();
        let (_, diagnostics) = scan_text("k8s/pod.yaml", &text, &Settings::default());
        let took = started.elapsed();
        println!("{shape}: scanned in {took:?}");
        assert!(
            took < std::time::Duration::from_secs(1),
            "{shape}: {took:?}"
        );
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("skipped as YAML: document 2: ")),
            "{shape}: {messages:?}"
        );
    }
}

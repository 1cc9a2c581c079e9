//! One flag vocabulary: `-f FILE` is an input, `-o` a format, `-w FILE` an output file, in every
//! subcommand; `-o` never names a file, and no doc or help text shows a deprecated spelling.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use assert_cmd::Command;
use tempfile::TempDir;

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: production
stringData:
  password: hunter2
";

fn sealant(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("sealant").unwrap();
    cmd.current_dir(dir.path())
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .env("HOME", dir.path());
    cmd
}

fn sealed_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    sealant(&dir)
        .args([
            "seal",
            "--public-key",
            "keys/sealant.pub",
            "-w",
            "sealed.yaml",
        ])
        .write_stdin(SECRET)
        .assert()
        .success();
    dir
}

#[test]
fn dash_f_names_input_files_in_verify_recover_and_reencrypt() {
    let dir = sealed_dir();
    let positional = sealant(&dir)
        .args(["verify", "--public-key", "keys/sealant.pub", "sealed.yaml"])
        .output()
        .unwrap();
    let dash_f = sealant(&dir)
        .args([
            "verify",
            "--public-key",
            "keys/sealant.pub",
            "-f",
            "sealed.yaml",
        ])
        .output()
        .unwrap();
    assert!(dash_f.status.success());
    assert_eq!(dash_f.stdout, positional.stdout);
    sealant(&dir)
        .args([
            "recover",
            "--private-key",
            "keys/sealant.key",
            "-f",
            "sealed.yaml",
        ])
        .args(["-w", "plain.yaml"])
        .assert()
        .success()
        .stdout("");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("plain.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "recovered plaintext is private");
    }
    let out = sealant(&dir).args(["verify"]).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("no input files"), "{stderr}");
    assert!(stderr.contains("-f FILE"), "{stderr}");
}

#[test]
fn dash_o_is_a_format_and_the_old_fetch_key_spelling_warns() {
    let dir = sealed_dir();
    // -o is a format for seal and verify alike.
    sealant(&dir)
        .args([
            "verify",
            "--public-key",
            "keys/sealant.pub",
            "-o",
            "json",
            "sealed.yaml",
        ])
        .assert()
        .success();
    sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub", "-o", "json"])
        .write_stdin(SECRET)
        .assert()
        .success();
    // -o is never a file: fetch-key's old `-o FILE` and lint's `-o out.sarif` are refused with
    // the -w spelling, and nothing is written.
    let out = sealant(&dir)
        .args(["fetch-key", "-o", "cluster.pub"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("sealant fetch-key -w cluster.pub"),
        "{stderr}"
    );
    assert!(!dir.path().join("cluster.pub").exists());
    let out = sealant(&dir)
        .args(["lint", "-o", "out.sarif", "keys"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(
            "-o names an output format (text, json, sarif); to write a file use -w out.sarif"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("out.sarif").exists());
    let out = sealant(&dir)
        .args(["lint", "-o", "yaml", "keys"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("unknown output format 'yaml': choose one of text, json, sarif"),
        "{stderr}"
    );
    // The current spellings work: a SARIF report written with -o sarif -w FILE.
    sealant(&dir)
        .args(["lint", "-o", "sarif", "-w", "out.sarif", "sealed.yaml"])
        .assert()
        .success();
    let sarif = std::fs::read_to_string(dir.path().join("out.sarif")).unwrap();
    assert!(sarif.contains("\"version\": \"2.1.0\""), "{sarif}");
}

/// Every subcommand's name, for walking the help texts.
const SUBCOMMANDS: &[&[&str]] = &[
    &["seal"],
    &["merge-into"],
    &["verify"],
    &["reencrypt"],
    &["recover"],
    &["keygen"],
    &["fetch-key"],
    &["keys", "backup"],
    &["keys", "restore"],
    &["migrate"],
    &["lint"],
    &["audit"],
    &["web"],
    &["completion"],
];

/// Spellings that are gone or deprecated, each with a pattern that finds it in a command line.
fn deprecated_spellings() -> Vec<(&'static str, regex::Regex)> {
    [
        (
            "--format (use -o FORMAT)",
            r"(?:^|[\s|(])sealant\s[^\n|]*\s--format\b",
        ),
        (
            "fetch-key -o FILE (use -w FILE)",
            r"\bfetch-key\b[^\n|]*\s(-o|--output)[ =]",
        ),
        (
            "lint -o FILE (use -w FILE)",
            r"(?:^|[\s|(])sealant lint\b[^\n|]*\s(-o|--output)[ =]\S*[./]",
        ),
        (
            "lint -f FORMAT (use -o FORMAT)",
            r"(?:^|[\s|(])sealant lint\b[^\n|]*\s-f[ =](text|json|sarif)\b",
        ),
    ]
    .into_iter()
    .map(|(name, pattern)| (name, regex::Regex::new(pattern).unwrap()))
    .collect()
}

/// The README, docs/, deploy/'s and examples/' READMEs and the pre-commit hooks show only current
/// flags, and so does every help text: a doc that teaches a deprecated spelling fails here.
#[test]
fn docs_and_help_texts_show_only_current_flags() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut files = vec![root.join("README.md"), root.join(".pre-commit-hooks.yaml")];
    for dir in ["docs", "deploy", "examples"] {
        for entry in walk(&root.join(dir)) {
            if entry
                .extension()
                .is_some_and(|e| e == "md" || e == "sh" || e == "yaml" || e == "txt")
            {
                files.push(entry);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        texts.push((file.display().to_string(), text));
    }
    let dir = TempDir::new().unwrap();
    let top = sealant(&dir).arg("--help").output().unwrap();
    texts.push((
        "sealant --help".into(),
        String::from_utf8(top.stdout).unwrap(),
    ));
    for words in SUBCOMMANDS {
        let out = sealant(&dir).args(*words).arg("--help").output().unwrap();
        assert!(out.status.success(), "sealant {words:?} --help failed");
        let help = String::from_utf8(out.stdout).unwrap();
        texts.push((format!("sealant {} --help", words.join(" ")), help));
    }
    let mut found = Vec::new();
    for (name, text) in &texts {
        for (spelling, pattern) in deprecated_spellings() {
            for hit in pattern.find_iter(text) {
                found.push(format!("{name}: {spelling}: {}", hit.as_str()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "deprecated flags in docs or help:\n{}",
        found.join("\n")
    );
    // The patterns do find what they are for.
    let bad = "sealant fetch-key -o cluster.pub\nsealant lint . -o out.sarif\nsealant lint --format json\ndocker inspect ghcr.io/sealant-dev/x --format '{{json .}}'";
    let hits: usize = deprecated_spellings()
        .iter()
        .map(|(_, p)| p.find_iter(bad).count())
        .sum();
    assert_eq!(hits, 3);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn in_place_writes_leave_no_temporary_files_and_keep_the_file_mode() {
    let dir = sealed_dir();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("sealed.yaml"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
    }
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "new"])
        .assert()
        .success();
    sealant(&dir)
        .args(["reencrypt", "--private-key", "keys/sealant.key"])
        .args(["--public-key", "keys/new.pub", "-f", "sealed.yaml"])
        .assert()
        .success();
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".sealant-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sealed.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "an edited file keeps its mode");
    }
}

/// `lint --cluster` is `audit`: paths make no sense with it, and without a cluster both stop
/// with one line and exit 2, never with an empty, clean-looking report.
#[test]
fn lint_cluster_is_audit_and_fails_clearly_without_a_cluster() {
    let dir = TempDir::new().unwrap();
    let out = sealant(&dir)
        .args(["lint", "--cluster", "k8s/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--cluster scans the cluster, not files"),
        "{stderr}"
    );
    for args in [&["audit"][..], &["lint", "--cluster", "-o", "json"][..]] {
        let out = sealant(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("sealant: error: "), "{stderr}");
    }
}

/// No kubeconfig, and a kubeconfig whose server does not answer: one line that says what was
/// tried (the file; the context and server) and a hint that fits (no "--controller-namespace").
#[test]
fn cluster_errors_say_what_was_tried_and_what_to_do() {
    let dir = TempDir::new().unwrap();
    let out = sealant(&dir).args(["fetch-key"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = stderr.lines();
    let error = lines.next().unwrap_or_default();
    assert!(
        error.starts_with("sealant: error: no cluster to talk to: read KUBECONFIG=")
            && error.contains("no-kubeconfig"),
        "{stderr}"
    );
    assert!(
        lines.next().unwrap_or_default().contains("--kubeconfig"),
        "{stderr}"
    );
    assert!(lines.next().is_none(), "{stderr}");

    // A port nothing listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: dev\n  cluster:\n    server: https://127.0.0.1:{port}\ncontexts:\n- name: dev\n  context:\n    cluster: dev\n    user: dev\nusers:\n- name: dev\n  user:\n    token: not-a-real-token\n"
    );
    std::fs::write(dir.path().join("no-kubeconfig"), kubeconfig).unwrap();
    for args in [
        &["fetch-key"][..],
        &["fetch-key", "--controller-namespace", "sealant-system"][..],
    ] {
        let out = sealant(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "cannot reach the cluster (context dev, server https://127.0.0.1:{port})"
            )),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("kubectl cluster-info"), "{stderr}");
        assert!(!stderr.contains("--controller-namespace NS"), "{stderr}");
    }
}

/// Issue 18 point 6: errors and help written to a pipe carry no ANSI colour codes, with or
/// without `NO_COLOR`, even when clap would colour a terminal.
#[test]
fn output_to_a_pipe_has_no_colour_codes() {
    let dir = TempDir::new().unwrap();
    for no_color in [None, Some("1")] {
        for args in [&["seal", "--no-such-flag"][..], &["--help"][..]] {
            let mut cmd = sealant(&dir);
            match no_color {
                Some(value) => cmd.env("NO_COLOR", value),
                None => cmd.env_remove("NO_COLOR"),
            };
            let output = cmd.args(args).output().unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!all.is_empty());
            assert!(!all.contains('\u{1b}'), "{args:?}: escape codes: {all:?}");
        }
    }
}

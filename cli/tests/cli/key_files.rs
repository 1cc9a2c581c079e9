//! Key files as the CLI reads and writes them: the errors of docs/FORMAT.md §3.4 for files that
//! hold no key.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use assert_cmd::Command;
use tempfile::TempDir;

fn sealant(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("sealant").unwrap();
    cmd.current_dir(dir.path())
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .env("HOME", dir.path());
    cmd
}

#[test]
fn a_private_key_file_of_comments_only_is_not_a_sealant_private_key() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("empty.key"),
        "# sealant private key: keep it secret, back it up offline.\n# key id: 0000\n\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("sealed.yaml"), "kind: SealedSecret\n").unwrap();
    let out = sealant(&dir)
        .args(["recover", "--private-key", "empty.key", "sealed.yaml"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(
            "--private-key empty.key: not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`)"
        ),
        "{stderr}"
    );
}

#[test]
fn keygen_pq_makes_a_hybrid_pair_that_seals_and_recovers_next_to_an_x25519_one() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "pq", "--pq"])
        .assert()
        .success();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "classic"])
        .assert()
        .success();
    let public = std::fs::read_to_string(dir.path().join("keys/pq.pub")).unwrap();
    assert!(public.starts_with("sealant-pub-pq1:"), "{public}");
    let private = std::fs::read_to_string(dir.path().join("keys/pq.key")).unwrap();
    assert!(
        private
            .lines()
            .any(|l| l.starts_with("SEALANT-PRIVATE-KEY-PQ1:")),
        "the key file has an X-Wing key line"
    );
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {password: hunter2}\n";
    let out = sealant(&dir)
        .args([
            "seal",
            "--public-key",
            "keys/pq.pub",
            "--public-key",
            "keys/classic.pub",
        ])
        .write_stdin(secret)
        .assert()
        .success();
    std::fs::write(dir.path().join("sealed.yaml"), &out.get_output().stdout).unwrap();
    let sealed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(sealed.contains("sealant-pub-pq1:"), "{sealed}");
    for key in ["keys/pq.key", "keys/classic.key"] {
        let out = sealant(&dir)
            .args(["recover", "--private-key", key, "sealed.yaml"])
            .assert()
            .success();
        let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(stdout.contains("password: aHVudGVyMg=="), "{key}: {stdout}");
    }
    sealant(&dir)
        .args([
            "verify",
            "--public-key",
            "keys/pq.pub",
            "--public-key",
            "keys/classic.pub",
            "sealed.yaml",
        ])
        .assert()
        .success();
}

/// docs/FORMAT.md §3.3: a key line given to `--public-key` is trimmed of ASCII whitespace only.
/// A key wrapped in any other Unicode whitespace is not a key line (and no file of that name
/// exists), so sealing must fail rather than quietly use the key.
#[test]
fn a_public_key_argument_is_trimmed_of_ascii_whitespace_only() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "k"])
        .assert()
        .success();
    let line = std::fs::read_to_string(dir.path().join("keys/k.pub")).unwrap();
    let line = line.trim_ascii();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {password: hunter2}\n";
    for ascii in [" ", "\t", "\r\n", "\x0c"] {
        sealant(&dir)
            .args(["seal", "--public-key"])
            .arg(format!("{ascii}{line}{ascii}"))
            .write_stdin(secret)
            .assert()
            .success();
    }
    for (name, other) in [
        ("vertical tab", "\u{0b}"),
        ("no-break space", "\u{a0}"),
        ("line separator", "\u{2028}"),
        ("paragraph separator", "\u{2029}"),
        ("next line", "\u{85}"),
        ("ideographic space", "\u{3000}"),
    ] {
        let out = sealant(&dir)
            .args(["seal", "--public-key"])
            .arg(format!("{other}{line}{other}"))
            .write_stdin(secret)
            .assert()
            .code(2);
        assert!(
            out.get_output().stdout.is_empty(),
            "{name}: a key wrapped in {name} was used"
        );
    }
}

/// docs/FORMAT.md §3.4: a `--private-key` file that is neither a key file nor YAML of key
/// Secrets gets "not a sealant private key", never a YAML error.
#[test]
fn a_private_key_file_that_is_neither_a_key_nor_yaml_is_not_a_sealant_private_key() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "k"])
        .assert()
        .success();
    let key = std::fs::read_to_string(dir.path().join("keys/k.key")).unwrap();
    let line = key
        .lines()
        .find(|l| l.starts_with("SEALANT-PRIVATE-KEY-V1:"))
        .unwrap()
        .to_string();
    std::fs::write(dir.path().join("sealed.yaml"), "kind: SealedSecret\n").unwrap();
    let cases = [
        ("hello", "hello\n".to_string()),
        ("lower-case prefix", format!("{}\n", line.to_lowercase())),
        ("byte-order mark", format!("\u{feff}{line}\n")),
        (
            "CR-only line ends",
            format!("# sealant private key\r{line}\r"),
        ),
    ];
    for (name, text) in cases {
        std::fs::write(dir.path().join("bad.key"), text).unwrap();
        let out = sealant(&dir)
            .args(["recover", "--private-key", "bad.key", "sealed.yaml"])
            .assert()
            .code(2);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(
            stderr.contains("--private-key bad.key: not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`)"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("Kubernetes object"), "{name}: {stderr}");
    }
}

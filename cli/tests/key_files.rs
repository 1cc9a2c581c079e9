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

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
            "--private-key empty.key: not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:`)"
        ),
        "{stderr}"
    );
}

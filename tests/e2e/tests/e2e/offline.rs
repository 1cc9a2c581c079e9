//! The offline path a new user walks, with the real `sealant` binary: keygen, seal the example
//! Secret, verify, recover, and lint the examples.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealant_e2e::binary;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sealant(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("sealant"))
        .args(args)
        .current_dir(dir)
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .output()
        .expect("sealant runs")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn example_secret_seals_verifies_and_recovers_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = repo().join("examples/db-creds.secret.yaml");
    let example = example.to_str().unwrap();
    ok(sealant(d, &["keygen", "--out-dir", "keys"]));
    ok(sealant(
        d,
        &[
            "seal",
            "-f",
            example,
            "--public-key",
            "keys/sealant.pub",
            "-w",
            "sealed.yaml",
        ],
    ));
    let sealed = std::fs::read_to_string(d.join("sealed.yaml")).unwrap();
    assert!(
        !sealed.contains("ZGVtby1wYXNzd29yZC1ub3QtcmVhbA=="),
        "plaintext in sealed output"
    );

    let verified = ok(sealant(
        d,
        &["verify", "--public-key", "keys/sealant.pub", "sealed.yaml"],
    ));
    assert_eq!(
        verified
            .lines()
            .filter(|l| l.contains(": ok (strict, key "))
            .count(),
        2,
        "{verified}"
    );

    let recovered = ok(sealant(
        d,
        &[
            "recover",
            "--private-key",
            "keys/sealant.key",
            "sealed.yaml",
        ],
    ));
    let original: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let back: serde_yaml::Value = serde_yaml::from_str(&recovered).unwrap();
    assert_eq!(back["data"], original["data"]);
    assert_eq!(back["metadata"]["labels"], original["metadata"]["labels"]);

    std::fs::write(
        d.join("moved.yaml"),
        sealed.replace("namespace: production", "namespace: staging"),
    )
    .unwrap();
    let moved = sealant(d, &["verify", "moved.yaml"]);
    assert_eq!(moved.status.code(), Some(1));
    let recover_moved = sealant(
        d,
        &["recover", "--private-key", "keys/sealant.key", "moved.yaml"],
    );
    assert_eq!(recover_moved.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&recover_moved.stderr)
            .contains("was sealed for production/db-creds (strict)")
    );
}

#[test]
fn lint_flags_the_plaintext_examples_and_passes_the_sealed_and_secure_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let examples = repo().join("examples");
    let out = sealant(d, &["lint", examples.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "findings exit 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vulnerable-pod.yaml:16:19: SL001"), "{text}");
    assert!(text.contains("db-creds.secret.yaml:13:13: SL002"), "{text}");
    assert!(!text.contains("secure-pod.yaml"), "{text}");
    assert!(
        !text.contains("supersecret123"),
        "values are redacted: {text}"
    );

    let example = examples.join("db-creds.secret.yaml");
    ok(sealant(d, &["keygen", "--out-dir", "keys"]));
    ok(sealant(
        d,
        &[
            "seal",
            "-f",
            example.to_str().unwrap(),
            "--public-key",
            "keys/sealant.pub",
            "-w",
            "sealed.yaml",
        ],
    ));
    ok(sealant(
        d,
        &[
            "lint",
            "sealed.yaml",
            examples.join("secure-pod.yaml").to_str().unwrap(),
        ],
    ));
}

#[test]
fn our_own_deploy_manifests_pass_our_lint() {
    let dir = tempfile::tempdir().unwrap();
    ok(sealant(
        dir.path(),
        &["lint", repo().join("deploy").to_str().unwrap()],
    ));
}

/// `-w /dev/null` must leave /dev/null the null device. An atomic write (temp file renamed over
/// the target) replaces the device node with a regular file; every later reader of /dev/null
/// then reads stale output (this is what broke cargo's rustc target probe in CI, see .ci/run).
/// Checked on a copy of the null device in a temp dir, never on /dev/null itself.
#[test]
fn writing_to_a_device_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let null = d.join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: cannot mknod a null device here (needs root)");
        return;
    }
    let example = repo().join("examples/db-creds.secret.yaml");
    ok(sealant(d, &["keygen", "--out-dir", "keys"]));
    ok(sealant(
        d,
        &[
            "seal",
            "-f",
            example.to_str().unwrap(),
            "--public-key",
            "keys/sealant.pub",
            "-w",
            null.to_str().unwrap(),
        ],
    ));
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(kind.is_char_device(), "the device became {kind:?}");
}

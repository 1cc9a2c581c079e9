//! One flag vocabulary: `-f FILE` is an input, `-o` a format, `-w FILE` an output file, in every
//! subcommand; old spellings still work with a note on stderr.

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
    // fetch-key's old `-o FILE` still parses, and says what to use instead (before it fails here
    // for want of a cluster).
    let out = sealant(&dir)
        .args(["fetch-key", "-o", "cluster.pub"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(
            "`fetch-key -o FILE` is deprecated and will be removed; use `fetch-key -w FILE`"
        ),
        "{stderr}"
    );
    let out = sealant(&dir)
        .args(["fetch-key", "-w", "cluster.pub"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(!stderr.contains("deprecated"), "{stderr}");
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

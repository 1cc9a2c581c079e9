//! Sealing many Secrets streams the output in input order, and an invalid Secret anywhere in the
//! stream leaves no partial output behind.

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

fn stream(count: usize, bad: Option<usize>) -> String {
    let mut text = String::new();
    for i in 0..count {
        let key = if Some(i) == bad { "bad key" } else { "key-0" };
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\n  namespace: team-{}\nstringData:\n  {key}: v{i}\n  key-1: w{i}\n",
            i % 3
        ));
    }
    text
}

#[test]
fn an_invalid_key_late_in_a_large_stream_writes_nothing() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    let out = sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub"])
        .write_stdin(stream(300, Some(250)))
        .assert()
        .code(2);
    assert!(out.get_output().stdout.is_empty(), "no partial output");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("<stdin>: document 251 (kind Secret): stringData.bad key:"),
        "{stderr}"
    );
    sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub", "-w", "out.yaml"])
        .write_stdin(stream(300, Some(250)))
        .assert()
        .code(2);
    assert!(!dir.path().join("out.yaml").exists());
}

#[test]
fn a_stream_sealed_on_several_threads_keeps_its_order_in_both_outputs() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    let out = sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub"])
        .write_stdin(stream(500, None))
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub", "-w", "out.yaml"])
        .write_stdin(stream(500, None))
        .assert()
        .success()
        .stdout("");
    let file = std::fs::read_to_string(dir.path().join("out.yaml")).unwrap();
    for text in [&stdout, &file] {
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  name: "))
            .collect();
        let expected: Vec<String> = (0..500).map(|i| format!("app-{i}")).collect();
        assert_eq!(names, expected);
        assert_eq!(text.matches("\n---\n").count(), 499);
        assert!(!text.starts_with("---"));
    }
}

#[test]
fn json_output_of_a_large_stream_keeps_its_order() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    let out = sealant(&dir)
        .args(["seal", "--public-key", "keys/sealant.pub", "-o", "json"])
        .write_stdin(stream(300, None))
        .assert()
        .success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..300).map(|i| format!("app-{i}")).collect();
    assert_eq!(names, expected);
}

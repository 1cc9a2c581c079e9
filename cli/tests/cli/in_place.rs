//! `merge-into` and `reencrypt` edit files in place: only the lines of the values that change
//! differ; comments, key order, quoting and a one-item `kind: List` stay byte for byte.

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
  username: admin
  password: hunter2
";

fn sealant(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("sealant").unwrap();
    cmd.current_dir(dir.path())
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .env("HOME", dir.path());
    cmd
}

/// A hand-written, commented file holding the values `seal` produced, and its text.
fn commented_file(dir: &TempDir) -> String {
    sealant(dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    let out = sealant(dir)
        .args(["seal", "--public-key", "keys/sealant.pub", "-o", "json"])
        .write_stdin(SECRET)
        .assert()
        .success();
    let sealed: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let data = &sealed["spec"]["encryptedData"];
    let recipient = sealed["spec"]["recipients"][0].as_str().unwrap();
    let text = format!(
        "\
# Billing database credentials. Owner: team-billing.
apiVersion: v1
kind: List
items:
- apiVersion: sealant.dev/v1alpha1
  kind: SealedSecret
  metadata:
    namespace: production   # prod only
    name: db-creds
  spec:
    # one value per key
    encryptedData:
      username: {}   # who
      password: \"{}\"

    recipients:
    - {recipient}   # prod cluster
    template:
      type: Opaque
",
        data["username"].as_str().unwrap(),
        data["password"].as_str().unwrap(),
    );
    std::fs::write(dir.path().join("sealed.yaml"), &text).unwrap();
    text
}

#[test]
fn merge_into_changes_only_the_lines_of_the_changed_values() {
    let dir = TempDir::new().unwrap();
    let before = commented_file(&dir);
    let update = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
stringData:
  password: correct-horse
  api-token: abc123
";
    let out = sealant(&dir)
        .args([
            "merge-into",
            "sealed.yaml",
            "--public-key",
            "keys/sealant.pub",
        ])
        .write_stdin(update)
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(!stderr.contains("rewritten in full"), "{stderr}");
    let after = std::fs::read_to_string(dir.path().join("sealed.yaml")).unwrap();
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let password = old.iter().position(|l| l.contains("password: ")).unwrap();
    // One line added (api-token, after the last value), the password line changed, all else same.
    assert_eq!(new.len(), old.len() + 1, "{after}");
    for (i, line) in old.iter().enumerate() {
        let j = if i > password { i + 1 } else { i };
        if i == password {
            assert!(new[j].starts_with("      password: "), "{after}");
            assert_ne!(new[j], *line);
        } else {
            assert_eq!(new[j], *line, "line {} changed:\n{after}", i + 1);
        }
    }
    assert!(
        new[password + 1].starts_with("      api-token: "),
        "{after}"
    );
    // The edited file still opens, with the new and the kept values.
    let out = sealant(&dir)
        .args([
            "recover",
            "--private-key",
            "keys/sealant.key",
            "sealed.yaml",
        ])
        .assert()
        .success();
    let recovered = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        recovered.contains("password: Y29ycmVjdC1ob3JzZQ=="),
        "{recovered}"
    );
    assert!(recovered.contains("username: YWRtaW4="), "{recovered}");
    assert!(recovered.contains("api-token: YWJjMTIz"), "{recovered}");
}

#[test]
fn reencrypt_keeps_comments_layout_and_the_one_item_list() {
    let dir = TempDir::new().unwrap();
    let before = commented_file(&dir);
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys", "--name", "new"])
        .assert()
        .success();
    let out = sealant(&dir)
        .args(["reencrypt", "--private-key", "keys/sealant.key"])
        .args(["--public-key", "keys/new.pub", "sealed.yaml"])
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(!stderr.contains("rewritten in full"), "{stderr}");
    let after = std::fs::read_to_string(dir.path().join("sealed.yaml")).unwrap();
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    assert_eq!(new.len(), old.len(), "{after}");
    let new_key = std::fs::read_to_string(dir.path().join("keys/new.pub")).unwrap();
    for (a, b) in old.iter().zip(&new) {
        if a.contains("username: ") {
            assert!(b.ends_with("   # who") && b != a, "{after}");
        } else if a.contains("password: ") {
            assert_ne!(a, b);
        } else if a.starts_with("    - ") {
            assert_eq!(*b, format!("    - {}", new_key.trim()), "{after}");
        } else {
            assert_eq!(a, b, "{after}");
        }
    }
    sealant(&dir)
        .args(["recover", "--private-key", "keys/new.key", "sealed.yaml"])
        .assert()
        .success();
}

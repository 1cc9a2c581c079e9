//! `sealant reencrypt` offline keeps the other clusters' recipients unless told to drop them, and
//! says what it did.

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

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }

    fn sealant(&self) -> Command {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env("HOME", self.dir.path());
        cmd
    }

    /// Makes `keys/NAME.{key,pub}` and returns the key id.
    fn keygen(&self, name: &str) -> String {
        let out = self
            .sealant()
            .args(["keygen", "--out-dir", "keys", "--name", name])
            .assert()
            .success();
        let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("key id: "))
            .unwrap()
            .to_string()
    }

    /// prod (to be rotated) and dr (another cluster), sealed into sealed.yaml; new.pub to rotate to.
    fn sealed_for_two_clusters(&self) -> (String, String, String) {
        let ids = (self.keygen("prod"), self.keygen("dr"), self.keygen("new"));
        self.sealant()
            .args([
                "seal",
                "--public-key",
                "keys/prod.pub",
                "--public-key",
                "keys/dr.pub",
            ])
            .args(["-w", "sealed.yaml"])
            .write_stdin(SECRET)
            .assert()
            .success();
        ids
    }

    fn reencrypt(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        self.sealant()
            .args([
                "reencrypt",
                "--private-key",
                "keys/prod.key",
                "--public-key",
                "keys/new.pub",
            ])
            .args(extra)
            .arg("sealed.yaml")
            .assert()
    }

    fn opens_with(&self, key: &str) -> bool {
        self.sealant()
            .args(["recover", "--private-key", key, "sealed.yaml"])
            .output()
            .unwrap()
            .status
            .success()
    }
}

#[test]
fn the_other_clusters_recipient_is_kept_and_reported() {
    let env = Env::new();
    let (prod, dr, new) = env.sealed_for_two_clusters();
    let out = env.reencrypt(&[]).success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "re-sealed 1 value(s) to key {new} (x25519); replaced {prod}; kept other recipient(s) {dr}"
        )),
        "{stderr}"
    );
    assert!(env.opens_with("keys/new.key"));
    assert!(
        env.opens_with("keys/dr.key"),
        "the DR cluster can still open it"
    );
    assert!(!env.opens_with("keys/prod.key"));
    // spec.recipients follows: exactly new and dr.
    env.sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/new.pub",
        ])
        .args(["--public-key", "keys/dr.pub", "sealed.yaml"])
        .assert()
        .success();
    // The order docs/FORMAT.md §9.1 gives: the new keys as given, then the kept ones, in the
    // value's stanzas and in spec.recipients.
    let out = env
        .sealant()
        .args(["verify", "-o", "json", "--public-key", "keys/new.pub"])
        .args(["--public-key", "keys/dr.pub", "sealed.yaml"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let value = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "password")
        .unwrap();
    let stanzas: Vec<&str> = value["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["keyId"].as_str().unwrap())
        .collect();
    assert_eq!(stanzas, [new.as_str(), dr.as_str()]);
    let sealed = std::fs::read_to_string(env.dir.path().join("sealed.yaml")).unwrap();
    let new_line = std::fs::read_to_string(env.dir.path().join("keys/new.pub")).unwrap();
    let dr_line = std::fs::read_to_string(env.dir.path().join("keys/dr.pub")).unwrap();
    let at = |line: &str| sealed.find(line.trim_ascii()).unwrap();
    assert!(at(&new_line) < at(&dr_line), "{sealed}");
}

#[test]
fn drop_other_recipients_seals_to_the_given_keys_only() {
    let env = Env::new();
    let (_, dr, _) = env.sealed_for_two_clusters();
    let out = env.reencrypt(&["--drop-other-recipients"]).success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "dropped other recipient(s) {dr} (--drop-other-recipients)"
        )),
        "{stderr}"
    );
    assert!(env.opens_with("keys/new.key"));
    assert!(!env.opens_with("keys/dr.key"));
    env.sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/new.pub",
            "sealed.yaml",
        ])
        .assert()
        .success();
}

#[test]
fn an_other_recipient_missing_from_spec_recipients_is_an_error_and_nothing_is_written() {
    let env = Env::new();
    let (_, dr, _) = env.sealed_for_two_clusters();
    let path = env.dir.path().join("sealed.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let dr_line = std::fs::read_to_string(env.dir.path().join("keys/dr.pub")).unwrap();
    let edited = text.replace(&format!("  - {dr_line}"), "");
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap();
    let out = env.reencrypt(&[]).code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "spec.encryptedData.password: also sealed to key {dr}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--drop-other-recipients"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
}

/// Without --public-key, reencrypt takes the keys from the file's recipient rule and seals to
/// exactly them: a recipient a pull request added to the values is dropped, not kept.
#[test]
fn reencrypt_with_a_recipient_rule_seals_to_exactly_the_rules_keys() {
    let env = Env::new();
    let (prod, dr, attacker) = (env.keygen("prod"), env.keygen("dr"), env.keygen("attacker"));
    std::fs::create_dir(env.dir.path().join(".git")).unwrap();
    std::fs::write(
        env.dir.path().join(".sealant.toml"),
        "[[seal.rules]]\npath = \"sealed/*.yaml\"\nrecipients = [\"keys/prod.pub\", \"keys/dr.pub\"]\n",
    )
    .unwrap();
    std::fs::create_dir(env.dir.path().join("sealed")).unwrap();
    env.sealant()
        .args([
            "seal",
            "--public-key",
            "keys/prod.pub",
            "--public-key",
            "keys/attacker.pub",
        ])
        .args(["-w", "sealed/db.yaml"])
        .write_stdin(SECRET)
        .assert()
        .success();
    env.sealant()
        .args(["verify", "sealed/db.yaml"])
        .assert()
        .code(1);
    let out = env
        .sealant()
        .args([
            "reencrypt",
            "--private-key",
            "keys/prod.key",
            "sealed/db.yaml",
        ])
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!("dropped other recipient(s) {attacker}")),
        "{stderr}"
    );
    let out = env
        .sealant()
        .args(["verify", "--require-keys", "sealed/db.yaml"])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains(&format!("password: ok (strict, keys {prod}, {dr})")),
        "{stdout}"
    );
    // No rule and no --public-key: an error, not the file's own list.
    std::fs::remove_file(env.dir.path().join(".sealant.toml")).unwrap();
    env.sealant()
        .args([
            "reencrypt",
            "--private-key",
            "keys/prod.key",
            "sealed/db.yaml",
        ])
        .assert()
        .code(2);
}

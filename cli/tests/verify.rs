//! `sealant verify --exact-recipients` and `verify -o json`: what CI relies on to refuse a value
//! that an attacker also sealed to their own key.

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
  username: admin
";

struct Env {
    dir: TempDir,
}

impl Env {
    /// Key pairs `keys/prod` and `keys/attacker`.
    fn new() -> Env {
        let env = Env {
            dir: TempDir::new().unwrap(),
        };
        for name in ["prod", "attacker", "dr"] {
            env.sealant()
                .args(["keygen", "--out-dir", "keys", "--name", name])
                .assert()
                .success();
        }
        env
    }

    fn sealant(&self) -> Command {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env("HOME", self.dir.path());
        cmd
    }

    /// Seals SECRET to the given key files into `file`.
    fn seal_to(&self, file: &str, keys: &[&str]) {
        let mut cmd = self.sealant();
        cmd.arg("seal");
        for key in keys {
            cmd.args(["--public-key", key]);
        }
        cmd.args(["-w", file])
            .write_stdin(SECRET)
            .assert()
            .success();
    }

    fn id_of(&self, name: &str) -> String {
        let out = self
            .sealant()
            .args(["verify", "-o", "json", "--public-key"])
            .arg(format!("keys/{name}.pub"))
            .arg("exact.yaml")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["expectedKeys"][0]["keyId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[test]
fn a_value_also_sealed_to_an_extra_key_is_refused_and_an_exact_one_accepted() {
    let env = Env::new();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    env.seal_to("extra.yaml", &["keys/prod.pub", "keys/attacker.pub"]);

    // Without --exact-recipients the extra recipient goes unnoticed (the old behaviour).
    env.sealant()
        .args(["verify", "--public-key", "keys/prod.pub", "extra.yaml"])
        .assert()
        .success();

    let out = env
        .sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/prod.pub",
            "extra.yaml",
        ])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let attacker = env.id_of("attacker");
    assert!(
        stdout.contains(&format!(
            "password: FAILED: also sealed to key not given with --public-key: {attacker} (x25519)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("spec.recipients: FAILED: lists keys not given"),
        "{stdout}"
    );

    env.sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/prod.pub",
            "exact.yaml",
        ])
        .assert()
        .success();
    // Exact means no fewer either: a value sealed to prod only fails when dr is also expected.
    env.sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/prod.pub",
        ])
        .args(["--public-key", "keys/dr.pub", "exact.yaml"])
        .assert()
        .code(1);
}

#[test]
fn spec_recipients_must_agree_with_the_stanzas() {
    let env = Env::new();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    // Someone adds a second cluster to spec.recipients without re-sealing the values.
    let text = std::fs::read_to_string(env.dir.path().join("exact.yaml")).unwrap();
    let dr = std::fs::read_to_string(env.dir.path().join("keys/dr.pub")).unwrap();
    let edited = text.replace("  recipients:\n", &format!("  recipients:\n  - {}", dr));
    assert_ne!(
        edited, text,
        "the sealed file has a recipients list:\n{text}"
    );
    std::fs::write(env.dir.path().join("edited.yaml"), edited).unwrap();
    let out = env
        .sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/prod.pub",
            "edited.yaml",
        ])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("spec.recipients: FAILED: lists keys not given"),
        "{stdout}"
    );
    assert!(stdout.contains("password: ok"), "{stdout}");
}

#[test]
fn json_report_lists_each_value_with_key_ids_types_scope_and_result() {
    let env = Env::new();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    env.seal_to("extra.yaml", &["keys/prod.pub", "keys/attacker.pub"]);
    let out = env
        .sealant()
        .args([
            "verify",
            "--exact-recipients",
            "-o",
            "json",
            "--public-key",
            "keys/prod.pub",
        ])
        .args(["exact.yaml", "extra.yaml"])
        .assert()
        .code(1);
    let report: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("stdout is one JSON document");
    assert_eq!(report["passed"], false);
    assert_eq!(report["mode"], "offline-exact");
    // Two SealedSecrets × (spec.recipients + 2 values).
    assert_eq!(report["checked"], 6);
    assert_eq!(report["failed"], 3);
    let prod = env.id_of("prod");
    let attacker = env.id_of("attacker");
    let results = report["results"].as_array().unwrap();
    let find = |file: &str, key: &str| {
        results
            .iter()
            .find(|r| r["file"] == file && r["key"] == key)
            .unwrap_or_else(|| panic!("no result for {file} {key}: {report}"))
    };
    let ok = find("exact.yaml", "password");
    assert_eq!(ok["result"], "ok");
    assert_eq!(ok["scope"], "strict");
    assert_eq!(ok["namespace"], "production");
    assert_eq!(ok["name"], "db-creds");
    assert_eq!(
        ok["recipients"],
        serde_json::json!([{"keyId": prod, "type": "x25519"}])
    );
    let bad = find("extra.yaml", "username");
    assert_eq!(bad["result"], "failed");
    assert_eq!(
        bad["recipients"],
        serde_json::json!([{"keyId": prod, "type": "x25519"}, {"keyId": attacker, "type": "x25519"}])
    );
    assert!(bad["message"].as_str().unwrap().contains(&attacker));
    // Nothing but the report goes to stdout; the summary goes to stderr.
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("3 of 6 checks failed"), "{stderr}");
}

#[test]
fn exact_recipients_needs_the_expected_keys() {
    let env = Env::new();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    let out = env
        .sealant()
        .args(["verify", "--exact-recipients", "exact.yaml"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("--public-key"), "{stderr}");
}

#[test]
fn seal_says_on_stderr_which_keys_and_namespace_it_sealed_for() {
    let env = Env::new();
    let out = env
        .sealant()
        .args([
            "seal",
            "--public-key",
            "keys/prod.pub",
            "--public-key",
            "keys/dr.pub",
        ])
        .write_stdin(SECRET)
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    let (prod, dr) = (env.id_of("prod"), env.id_of("dr"));
    assert!(
        stderr.contains(&format!(
            "sealed 1 Secret(s), 2 value(s), for namespace production (strict scope) to keys {prod} (x25519), {dr} (x25519)"
        )),
        "{stderr}"
    );
    // stdout stays the manifest alone.
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.starts_with("apiVersion: sealant.dev/v1alpha1"),
        "{stdout}"
    );

    let out = env
        .sealant()
        .args([
            "seal",
            "--raw",
            "--public-key",
            "keys/prod.pub",
            "-n",
            "staging",
        ])
        .args(["--name", "api", "--key", "token"])
        .write_stdin("abc")
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "sealed 1 value (key token) for staging/api (strict) to key {prod} (x25519)"
        )),
        "{stderr}"
    );
}

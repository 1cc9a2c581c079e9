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
        for name in ["prod", "attacker", "dr", "staging"] {
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

    // Only with --allow-other-recipients (several clusters, not all keys held) does an extra
    // recipient pass; by default a known trusted set is exact.
    env.sealant()
        .args([
            "verify",
            "--allow-other-recipients",
            "--public-key",
            "keys/prod.pub",
            "extra.yaml",
        ])
        .assert()
        .success();
    let out = env
        .sealant()
        .args(["verify", "--public-key", "keys/prod.pub", "extra.yaml"])
        .assert()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("hint: if the change is intended"),
        "{stderr}"
    );

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
            "password: FAILED: also sealed to key {attacker}, not trusted by --public-key"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "spec.recipients: FAILED: lists key {attacker}, not trusted by --public-key"
        )),
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
        stdout.contains("spec.recipients: FAILED: lists key "),
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

// --- trust: recipient rules, merge-into, structure-only verify, post-quantum -----------------

impl Env {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// The key id (fingerprint) `sealant keygen` printed into the key's file header.
    fn fingerprint(&self, name: &str) -> String {
        let out = self
            .sealant()
            .args(["seal", "--raw", "--scope", "cluster-wide", "--key", "k"])
            .args(["--public-key", &format!("keys/{name}.pub")])
            .write_stdin("x")
            .assert()
            .success();
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        let at = stderr.find("to key ").unwrap() + "to key ".len();
        stderr[at..at + 16].to_string()
    }

    fn stdout_and_stderr(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.sealant().args(args).assert().code(code);
        (
            String::from_utf8(out.get_output().stdout.clone()).unwrap(),
            String::from_utf8(out.get_output().stderr.clone()).unwrap(),
        )
    }
}

/// Two clusters' recipient rules, as docs/recipient-rules.md shows them.
const RULES: &str = r#"
[lint]
disable = ["SL010"]

[[seal.rules]]
path = "clusters/prod/**"
recipients = ["keys/prod.pub", "keys/dr.pub"]

[[seal.rules]]
path = "clusters/staging/**"
recipients = ["keys/staging.pub"]
scope = "namespace-wide"
"#;

const STAGING_SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: staging
stringData:
  password: not-so-secret
";

/// End to end with two clusters' keys: `seal` and `merge-into` take the keys from the rules,
/// `verify` in CI checks every file against its rule, and a pull request that seals the
/// production file to the staging key, adds a recipient to the values, or adds one to
/// spec.recipients only, fails with the file, the rule and the key named.
#[test]
fn recipient_rules_seal_each_cluster_to_its_keys_and_refuse_pull_request_edits() {
    let env = Env::new();
    std::fs::create_dir(env.path(".git")).unwrap();
    env.write(".sealant.toml", RULES);
    std::fs::create_dir_all(env.path("clusters/prod")).unwrap();
    std::fs::create_dir_all(env.path("clusters/staging")).unwrap();
    let (prod, dr, staging, attacker) = (
        env.fingerprint("prod"),
        env.fingerprint("dr"),
        env.fingerprint("staging"),
        env.fingerprint("attacker"),
    );

    let out = env
        .sealant()
        .args(["seal", "-w", "clusters/prod/db.yaml"])
        .write_stdin(SECRET)
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("rule 1 (path \"clusters/prod/**\")"),
        "{stderr}"
    );
    env.sealant()
        .args(["seal", "-w", "clusters/staging/db.yaml"])
        .write_stdin(STAGING_SECRET)
        .assert()
        .success();
    let good_prod = env.read("clusters/prod/db.yaml");
    let (stdout, _) = env.stdout_and_stderr(
        &[
            "verify",
            "--require-keys",
            "clusters/prod/db.yaml",
            "clusters/staging/db.yaml",
        ],
        0,
    );
    assert!(
        stdout.contains(&format!(
            "clusters/prod/db.yaml: production/db-creds: password: ok (strict, keys {prod}, {dr})"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "clusters/staging/db.yaml: staging/db-creds: password: ok (namespace-wide, key {staging})"
        )),
        "the rule's scope is seal's default: {stdout}"
    );

    // Pull request 1: the production file sealed to the staging key.
    env.sealant()
        .args(["seal", "--public-key", "keys/staging.pub"])
        .args(["-w", "clusters/prod/db.yaml"])
        .write_stdin(SECRET)
        .assert()
        .success();
    let (stdout, stderr) = env.stdout_and_stderr(&["verify", "clusters/prod/db.yaml"], 1);
    assert!(
        stdout.contains(&format!(
            "clusters/prod/db.yaml: production/db-creds: password: FAILED: not sealed for trusted key {prod} (keys/prod.pub), {dr} (keys/dr.pub); also sealed to key {staging}, not trusted by "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(".sealant.toml rule 1 (path \"clusters/prod/**\")"),
        "{stdout}"
    );
    assert!(
        stderr.contains("hint: if the change is intended, edit the recipients of"),
        "{stderr}"
    );

    // Pull request 2: the values also sealed to an attacker's key.
    env.sealant()
        .args(["seal", "--public-key", "keys/prod.pub"])
        .args([
            "--public-key",
            "keys/dr.pub",
            "--public-key",
            "keys/attacker.pub",
        ])
        .args(["-w", "clusters/prod/db.yaml"])
        .write_stdin(SECRET)
        .assert()
        .success();
    let (stdout, _) = env.stdout_and_stderr(&["verify", "clusters/prod/db.yaml"], 1);
    assert!(
        stdout.contains(&format!(
            "password: FAILED: also sealed to key {attacker}, not trusted by "
        )),
        "{stdout}"
    );

    // Pull request 3: only spec.recipients gains the attacker's key. verify fails, and
    // merge-into refuses to seal new values to it and writes nothing.
    let attacker_line = env.read("keys/attacker.pub");
    let edited = good_prod.replace(
        "  recipients:\n",
        &format!("  recipients:\n  - {}", attacker_line),
    );
    assert_ne!(edited, good_prod);
    env.write("clusters/prod/db.yaml", &edited);
    let (stdout, _) = env.stdout_and_stderr(&["verify", "clusters/prod/db.yaml"], 1);
    assert!(
        stdout.contains(&format!(
            "spec.recipients: FAILED: lists key {attacker}, not trusted by "
        )),
        "{stdout}"
    );
    let update = "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds, namespace: production}\nstringData: {api-token: t0k}\n";
    let out = env
        .sealant()
        .args(["merge-into", "clusters/prod/db.yaml"])
        .write_stdin(update)
        .assert()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains(&attacker), "{stderr}");
    assert!(stderr.contains("nothing was sealed"), "{stderr}");
    assert_eq!(env.read("clusters/prod/db.yaml"), edited, "nothing written");

    // The reviewed file takes new values, sealed to the rule's keys only.
    env.write("clusters/prod/db.yaml", &good_prod);
    env.sealant()
        .args(["merge-into", "clusters/prod/db.yaml"])
        .write_stdin(update)
        .assert()
        .success();
    env.stdout_and_stderr(&["verify", "--require-keys", "clusters/prod/db.yaml"], 0);

    // The lint reads the same file (in the scan root) and ignores the [seal] table.
    let out = env.sealant().args(["lint", "."]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_ne!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("is not valid"), "{stderr}");
}

/// Issue 1 of the trust work: `merge-into` sealed new values to whatever spec.recipients said.
/// A file whose recipients were extended by a pull request is refused, with the key named, and
/// the file stays as it was; without a trusted key it does not fall back to the file's list.
#[test]
fn merge_into_never_seals_to_a_recipient_the_file_added() {
    let env = Env::new();
    env.seal_to("exact.yaml", &["keys/prod.pub"]);
    env.seal_to("extra.yaml", &["keys/prod.pub", "keys/attacker.pub"]);
    let attacker = env.fingerprint("attacker");
    let text = env.read("exact.yaml");
    let edited = text.replace(
        "  recipients:\n",
        &format!("  recipients:\n  - {}", env.read("keys/attacker.pub")),
    );
    env.write("edited.yaml", &edited);
    let update = "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds, namespace: production}\nstringData: {api-token: t0k}\n";
    for file in ["edited.yaml", "extra.yaml"] {
        let before = env.read(file);
        let out = env
            .sealant()
            .args(["merge-into", file, "--public-key", "keys/prod.pub"])
            .write_stdin(update)
            .assert()
            .code(1);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(
            stderr.contains(&format!("key {attacker}, not trusted by --public-key")),
            "{file}: {stderr}"
        );
        assert!(stderr.contains("hint: "), "{stderr}");
        assert_eq!(env.read(file), before, "{file}: nothing written");
        // No --public-key, no rule, no cluster: an error, never the file's own list.
        env.sealant()
            .args(["merge-into", file])
            .write_stdin(update)
            .assert()
            .code(2);
        assert_eq!(env.read(file), before, "{file}: nothing written");
    }
}

/// Issue 20, point 5: without a key, verify says what it did not check, and CI can demand keys.
#[test]
fn verify_without_a_key_checks_structure_only_and_says_so() {
    let env = Env::new();
    env.seal_to("sealed.yaml", &["keys/prod.pub"]);
    let (stdout, stderr) = env.stdout_and_stderr(&["verify", "sealed.yaml"], 0);
    assert!(
        stdout.contains("password: ok, structure only: no key given"),
        "{stdout}"
    );
    assert!(
        stderr.contains("2 value(s) checked for structure only: no key given"),
        "{stderr}"
    );
    let (stdout, stderr) = env.stdout_and_stderr(&["verify", "--require-keys", "sealed.yaml"], 1);
    assert!(
        stdout.contains("password: FAILED: no trusted key"),
        "{stdout}"
    );
    assert!(stderr.contains("hint: pass --public-key"), "{stderr}");
    env.sealant()
        .env("SEALANT_REQUIRE_KEYS", "true")
        .args(["verify", "sealed.yaml"])
        .assert()
        .code(1);
    let out = env
        .sealant()
        .args(["verify", "-o", "json", "sealed.yaml"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["mode"], "structure-only");
    assert_eq!(report["results"][0]["keyed"], false);
}

/// Point 5: a value sealed to X-Wing and X25519 keys is warned about when sealed, and
/// `verify --require-post-quantum` (or a rule's require-post-quantum) fails it.
#[test]
fn mixed_post_quantum_and_x25519_recipients_warn_and_can_be_refused() {
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "pq", "--pq"])
        .assert()
        .success();
    let out = env
        .sealant()
        .args([
            "seal",
            "--public-key",
            "keys/pq.pub",
            "--public-key",
            "keys/prod.pub",
        ])
        .args(["-w", "mixed.yaml"])
        .write_stdin(SECRET)
        .assert()
        .success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let prod = env.fingerprint("prod");
    assert!(
        stderr.contains(&format!(
            "warning: the values are sealed to post-quantum (xwing) and x25519 keys; the x25519 key {prod} can open them"
        )),
        "{stderr}"
    );
    env.seal_to("pq.yaml", &["keys/pq.pub"]);
    let args = [
        "verify",
        "--public-key",
        "keys/pq.pub",
        "--public-key",
        "keys/prod.pub",
    ];
    env.sealant()
        .args(args)
        .arg("mixed.yaml")
        .assert()
        .success();
    let (stdout, _) = env.stdout_and_stderr(
        &[&args[..], &["--require-post-quantum", "mixed.yaml"]].concat(),
        1,
    );
    assert!(
        stdout.contains(&format!(
            "FAILED: post-quantum recipients are required, but it is also sealed to {prod} (x25519)"
        )),
        "{stdout}"
    );
    env.sealant()
        .args([
            "verify",
            "--require-post-quantum",
            "--public-key",
            "keys/pq.pub",
            "pq.yaml",
        ])
        .assert()
        .success();
    // The same demand from a rule, for seal too.
    std::fs::create_dir(env.path(".git")).unwrap();
    env.write(
        ".sealant.toml",
        "[[seal.rules]]\npath = \"*.yaml\"\nrecipients = [\"keys/pq.pub\", \"keys/prod.pub\"]\nrequire-post-quantum = true\n",
    );
    env.stdout_and_stderr(&["verify", "mixed.yaml"], 1);
    let out = env
        .sealant()
        .args(["seal", "-w", "new.yaml"])
        .write_stdin(SECRET)
        .assert()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("but post-quantum (xwing) recipients are required"),
        "{stderr}"
    );
    assert!(!env.path("new.yaml").exists());
}

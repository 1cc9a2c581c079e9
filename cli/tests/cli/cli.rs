//! End-to-end behaviour of the `sealant` binary: what a user types, what they see, exit codes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use sealant_core::format::{self, Location};
use sealant_core::{KeyRing, PrivateKey};
use tempfile::TempDir;

/// `sealant web` in headless Chromium: a module of this test binary rather than its own, so the
/// suite links one binary less.
#[path = "web/browser.rs"]
mod browser;

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: production
  labels:
    app: billing
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"password\":\"hunter2\"}}'
type: kubernetes.io/basic-auth
data:
  username: YWRtaW4=
stringData:
  password: hunter2
";

/// A temp dir with a key pair `keys/sealant.{key,pub}` and `secret.yaml`.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: TempDir::new().unwrap(),
        };
        env.sealant()
            .args(["keygen", "--out-dir", "keys"])
            .assert()
            .success();
        env.write("secret.yaml", SECRET);
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// The binary, run in the temp dir with no kubeconfig (so nothing reaches a cluster).
    fn sealant(&self) -> Command {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env("HOME", self.dir.path());
        cmd
    }

    fn ring(&self) -> KeyRing {
        [PrivateKey::from_file_text(&self.read("keys/sealant.key")).unwrap()]
            .into_iter()
            .collect()
    }

    fn seal(&self, input: &str, extra: &[&str]) -> String {
        let out = self
            .sealant()
            .args(["seal", "--public-key", "keys/sealant.pub"])
            .args(extra)
            .write_stdin(input)
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }
}

fn stderr_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code);
    String::from_utf8(out.get_output().stderr.clone()).unwrap()
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

// --- help ----------------------------------------------------------------------------------

#[test]
fn help_texts_document_every_command_with_examples_and_exit_codes() {
    let env = Env::new();
    let top = stdout_of(env.sealant().arg("--help"));
    insta::assert_snapshot!("help_top", top);
    for command in [
        "seal",
        "merge-into",
        "verify",
        "reencrypt",
        "recover",
        "keygen",
        "fetch-key",
        "web",
        "completion",
    ] {
        let help = stdout_of(env.sealant().args([command, "--help"]));
        let examples = help.split("Examples:\n").nth(1).unwrap_or_default();
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with("$ ") && l.contains("sealant ")),
            "{command} --help has no examples:\n{help}"
        );
        insta::assert_snapshot!(format!("help_{command}"), help);
    }
    assert!(top.contains("Exit codes:"));
}

#[test]
fn version_and_completions_work() {
    let env = Env::new();
    assert!(stdout_of(env.sealant().arg("--version")).starts_with("sealant "));
    // `completion` as kubectl spells it; `completions` still works.
    for spelling in ["completion", "completions"] {
        let bash = stdout_of(env.sealant().args([spelling, "bash"]));
        assert!(bash.contains("merge-into"));
    }
    let fish = stdout_of(env.sealant().args(["completion", "fish"]));
    assert!(fish.contains("complete -c sealant"), "{fish}");
}

// --- keygen --------------------------------------------------------------------------------

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read_and_refuses_to_overwrite() {
    let env = Env::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("keys/sealant.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let public = env.read("keys/sealant.pub");
    assert!(public.starts_with("sealant-pub-v1:"));
    let err = stderr_of(env.sealant().args(["keygen", "--out-dir", "keys"]), 2);
    insta::assert_snapshot!("keygen_exists", err);
    assert_eq!(
        env.read("keys/sealant.pub"),
        public,
        "the old key must be untouched"
    );
    let out = stdout_of(
        env.sealant()
            .args(["keygen", "--out-dir", "keys", "--force"]),
    );
    assert!(out.starts_with("key id: "));
    assert_ne!(env.read("keys/sealant.pub"), public);
}

#[test]
fn keygen_warns_when_the_private_key_lands_inside_a_git_repository() {
    let env = Env::new();
    // Not a repository: no warning.
    let out = env
        .sealant()
        .args(["keygen", "--out-dir", "outside", "--name", "k"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().is_empty());
    // A repository (a `.git` folder two levels up): the warning names the key and the repository.
    std::fs::create_dir_all(env.path("repo/.git")).unwrap();
    let out = env
        .sealant()
        .args(["keygen", "--out-dir", "repo/deploy/keys", "--name", "k"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "warning: the private key repo/deploy/keys/k.key is inside the git repository"
        ) && stderr.contains("never commit it"),
        "{stderr}"
    );
}

// --- seal / verify / recover ---------------------------------------------------------------

#[test]
fn seal_verify_recover_round_trip_keeps_data_and_template_but_not_last_applied() {
    let env = Env::new();
    let sealed = env.seal(SECRET, &[]);
    assert!(
        !sealed.contains("hunter2") && !sealed.contains("YWRtaW4="),
        "plaintext leaked:\n{sealed}"
    );
    assert!(!sealed.contains("last-applied"));
    assert!(sealed.contains("type: kubernetes.io/basic-auth"));
    env.write("sealed.yaml", &sealed);

    let verified = stdout_of(env.sealant().args([
        "verify",
        "--public-key",
        "keys/sealant.pub",
        "sealed.yaml",
    ]));
    assert!(
        verified.contains("sealed.yaml: production/db-creds: password: ok (strict, key "),
        "{verified}"
    );

    let recovered = stdout_of(env.sealant().args([
        "recover",
        "--private-key",
        "keys/sealant.key",
        "sealed.yaml",
    ]));
    let secret: serde_yaml::Value = serde_yaml::from_str(&recovered).unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
    assert_eq!(secret["data"]["username"], "YWRtaW4=");
    assert_eq!(secret["metadata"]["labels"]["app"], "billing");
    assert_eq!(secret["type"], "kubernetes.io/basic-auth");
}

#[test]
fn verify_fails_with_exit_1_naming_what_was_expected_when_a_file_is_moved() {
    let env = Env::new();
    let sealed = env.seal(SECRET, &[]);
    env.write(
        "moved.yaml",
        &sealed.replace("namespace: production", "namespace: staging"),
    );
    let out = env
        .sealant()
        .args(["verify", "moved.yaml"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains(
        "moved.yaml: staging/db-creds: password: FAILED: value 'password' was sealed for production/db-creds (strict) but is being opened as staging/db-creds"
    ), "{stdout}");
}

#[test]
fn verify_checks_that_values_are_sealed_to_each_given_key() {
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "other"])
        .assert()
        .success();
    env.write("sealed.yaml", &env.seal(SECRET, &[]));
    let out = env
        .sealant()
        .args(["verify", "--public-key", "keys/other.pub", "sealed.yaml"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("FAILED: not sealed for trusted key "),
        "{stdout}"
    );
}

#[test]
fn multi_cluster_sealing_opens_with_either_key() {
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "dr"])
        .assert()
        .success();
    let sealed = env.seal(SECRET, &["--public-key", "keys/dr.pub"]);
    env.write("sealed.yaml", &sealed);
    for key in ["keys/sealant.key", "keys/dr.key"] {
        let out = stdout_of(
            env.sealant()
                .args(["recover", "--private-key", key, "sealed.yaml"]),
        );
        assert!(out.contains("password: aHVudGVyMg=="), "{key}: {out}");
    }
    stdout_of(env.sealant().args([
        "verify",
        "--public-key",
        "keys/sealant.pub",
        "--public-key",
        "keys/dr.pub",
        "sealed.yaml",
    ]));
}

#[test]
fn streams_lists_and_json_keep_their_order() {
    let env = Env::new();
    let stream = format!(
        "{SECRET}---\n{}",
        SECRET.replace("name: db-creds", "name: second")
    );
    let out = env.seal(&stream, &[]);
    let names: Vec<String> = serde_yaml::Deserializer::from_str(&out)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            v["metadata"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(names, ["db-creds", "second"]);

    let json_list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","namespace":"ns"},"data":{"k":"dg=="}},
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"b","namespace":"ns"},"stringData":{"k":"v"}}]}"#;
    let out = env.seal(json_list, &["-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "a");
    assert_eq!(list["items"][1]["metadata"]["name"], "b");
}

#[test]
fn namespace_comes_from_the_manifest_then_the_flag_and_they_must_agree() {
    let env = Env::new();
    let no_ns = SECRET.replace("  namespace: production\n", "");
    let out = env.seal(&no_ns, &["-n", "team-a"]);
    assert!(out.contains("namespace: team-a"));
    let out = env.seal(&no_ns, &[]);
    assert!(
        out.contains("namespace: default"),
        "kubectl's default namespace without a kubeconfig:\n{out}"
    );
    let err = stderr_of(
        env.sealant()
            .args(["seal", "--public-key", "keys/sealant.pub", "-n", "other"])
            .write_stdin(SECRET),
        2,
    );
    insta::assert_snapshot!("seal_namespace_mismatch", err);
}

#[test]
fn write_flag_writes_the_file_and_prints_nothing() {
    let env = Env::new();
    let out = stdout_of(env.sealant().args([
        "seal",
        "--public-key",
        "keys/sealant.pub",
        "-f",
        "secret.yaml",
        "-w",
        "out.yaml",
    ]));
    assert!(out.is_empty());
    assert!(env.read("out.yaml").contains("kind: SealedSecret"));
}

#[test]
fn raw_sealing_prints_one_value_that_opens_only_where_it_was_bound() {
    let env = Env::new();
    let out = stdout_of(
        env.sealant()
            .args([
                "seal",
                "--raw",
                "--public-key",
                "keys/sealant.pub",
                "-n",
                "prod",
                "--name",
                "api",
                "--key",
                "token",
            ])
            .write_stdin("t0ken"),
    );
    let sealed = out.trim_end();
    assert_eq!(out.lines().count(), 1);
    let ring = env.ring();
    assert_eq!(
        &*format::open(sealed, &Location::new("prod", "api", "token"), &ring).unwrap(),
        b"t0ken"
    );
    assert!(format::open(sealed, &Location::new("prod", "other", "token"), &ring).is_err());

    let err = stderr_of(
        env.sealant()
            .args([
                "seal",
                "--raw",
                "--public-key",
                "keys/sealant.pub",
                "--name",
                "api",
                "--key",
                "token",
            ])
            .write_stdin("x"),
        2,
    );
    insta::assert_snapshot!("raw_missing_namespace", err);
    let out = stdout_of(
        env.sealant()
            .args([
                "seal",
                "--raw",
                "--scope",
                "cluster-wide",
                "--public-key",
                "keys/sealant.pub",
                "--key",
                "token",
            ])
            .write_stdin("x"),
    );
    assert_eq!(
        &*format::open(
            out.trim_end(),
            &Location::new("any", "where", "token"),
            &ring
        )
        .unwrap(),
        b"x"
    );
}

// --- bad input -----------------------------------------------------------------------------

fn seal_error(env: &Env, file: &str, contents: &[u8]) -> String {
    std::fs::write(env.path(file), contents).unwrap();
    stderr_of(
        env.sealant()
            .args(["seal", "--public-key", "keys/sealant.pub", "-f", file]),
        2,
    )
}

#[test]
fn bad_inputs_get_one_clear_line_naming_file_document_and_field() {
    let env = Env::new();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("malformed_yaml", "bad.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: [unclosed\n".to_vec()),
        ("wrong_kind", "cm.yaml", format!("{SECRET}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n").into_bytes()),
        ("invalid_base64", "b64.yaml", SECRET.replace("YWRtaW4=", "not*base64").into_bytes()),
        ("empty_stream", "empty.yaml", b"---\n".to_vec()),
        ("not_utf8", "binary.yaml", vec![0xff, 0xfe, 0x00, 0x41]),
        ("missing_name", "noname.yaml", SECRET.replace("  name: db-creds\n", "").into_bytes()),
        ("no_data", "nodata.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\n".to_vec()),
        ("number_in_string_data", "num.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\nstringData: {port: 5432}\n".to_vec()),
        ("bad_key_name", "key.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\nstringData: {\"a/b\": v}\n".to_vec()),
    ];
    for (name, file, contents) in cases {
        let err = seal_error(&env, file, &contents);
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("sealant: error:"))
                .count(),
            1,
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        insta::assert_snapshot!(format!("bad_input_{name}"), err);
    }
}

#[test]
fn a_private_key_passed_as_public_key_is_refused_before_anything_is_sealed() {
    let env = Env::new();
    let err = stderr_of(
        env.sealant().args([
            "seal",
            "--public-key",
            "keys/sealant.key",
            "-f",
            "secret.yaml",
        ]),
        2,
    );
    insta::assert_snapshot!("private_key_as_public", err);
}

#[test]
fn without_a_public_key_or_cluster_the_error_says_how_to_seal_offline() {
    let env = Env::new();
    let err = stderr_of(env.sealant().args(["seal", "-f", "secret.yaml"]), 2);
    assert!(
        err.contains("commands with --public-key work offline"),
        "{err}"
    );
}

#[test]
fn a_10_mb_value_seals_and_recovers() {
    let env = Env::new();
    use base64::Engine;
    let big = vec![b'x'; 10 * 1024 * 1024];
    let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
    env.write("big.yaml", &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: ns}}\ndata:\n  blob: {encoded}\n"));
    stdout_of(env.sealant().args([
        "seal",
        "--public-key",
        "keys/sealant.pub",
        "-f",
        "big.yaml",
        "-w",
        "big.sealed.yaml",
    ]));
    let out = stdout_of(env.sealant().args([
        "recover",
        "--private-key",
        "keys/sealant.key",
        "big.sealed.yaml",
    ]));
    assert!(out.contains(&encoded));
}

#[test]
fn a_10000_document_stream_is_sealed_in_order() {
    let env = Env::new();
    let mut stream = String::new();
    for i in 0..10_000 {
        stream.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}, namespace: ns}}\nstringData: {{k: v{i}}}\n"
        ));
    }
    let out = env.seal(&stream, &[]);
    assert_eq!(out.matches("kind: SealedSecret").count(), 10_000);
    let first = out.find("name: s0\n").unwrap();
    let last = out.find("name: s9999\n").unwrap();
    assert!(first < last);
}

// --- merge-into / reencrypt ----------------------------------------------------------------

#[test]
fn merge_into_adds_and_replaces_keys_keeping_order_template_and_recipients() {
    let env = Env::new();
    env.write("sealed.yaml", &env.seal(SECRET, &[]));
    let before: serde_yaml::Value = serde_yaml::from_str(&env.read("sealed.yaml")).unwrap();
    let update = "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds, namespace: production}\nstringData: {api-token: t0k, password: changed}\n";
    env.sealant()
        .args([
            "merge-into",
            "sealed.yaml",
            "--public-key",
            "keys/sealant.pub",
        ])
        .write_stdin(update)
        .assert()
        .success();
    let after: serde_yaml::Value = serde_yaml::from_str(&env.read("sealed.yaml")).unwrap();
    let keys: Vec<&str> = after["spec"]["encryptedData"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["password", "username", "api-token"]);
    assert_eq!(
        after["spec"]["encryptedData"]["username"],
        before["spec"]["encryptedData"]["username"]
    );
    assert_eq!(after["spec"]["template"], before["spec"]["template"]);
    let recovered = stdout_of(env.sealant().args([
        "recover",
        "--private-key",
        "keys/sealant.key",
        "sealed.yaml",
    ]));
    assert!(recovered.contains("password: Y2hhbmdlZA=="), "{recovered}");
    assert!(recovered.contains("api-token: dDBr"));

    let wrong = update.replace("name: db-creds", "name: other");
    let err = stderr_of(
        env.sealant()
            .args([
                "merge-into",
                "sealed.yaml",
                "--public-key",
                "keys/sealant.pub",
            ])
            .write_stdin(wrong),
        2,
    );
    insta::assert_snapshot!("merge_name_mismatch", err);
}

#[test]
fn reencrypt_moves_values_to_the_new_key_and_keeps_their_scope() {
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "new"])
        .assert()
        .success();
    env.write(
        "sealed.yaml",
        &env.seal(SECRET, &["--scope", "namespace-wide"]),
    );
    env.sealant()
        .args([
            "reencrypt",
            "--private-key",
            "keys/sealant.key",
            "--public-key",
            "keys/new.pub",
            "sealed.yaml",
        ])
        .assert()
        .success();
    let out =
        stdout_of(
            env.sealant()
                .args(["verify", "--public-key", "keys/new.pub", "sealed.yaml"]),
        );
    assert!(out.contains("ok (namespace-wide, key "), "{out}");
    stderr_of(
        env.sealant().args([
            "recover",
            "--private-key",
            "keys/sealant.key",
            "sealed.yaml",
        ]),
        2,
    );
    let recovered =
        stdout_of(
            env.sealant()
                .args(["recover", "--private-key", "keys/new.key", "sealed.yaml"]),
        );
    assert!(recovered.contains("password: aHVudGVyMg=="));
}

#[test]
fn reencrypt_writes_nothing_when_a_value_cannot_be_opened() {
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "new"])
        .assert()
        .success();
    env.write("sealed.yaml", &env.seal(SECRET, &[]));
    let before = env.read("sealed.yaml");
    let err = stderr_of(
        env.sealant().args([
            "reencrypt",
            "--private-key",
            "keys/new.key",
            "--public-key",
            "keys/new.pub",
            "sealed.yaml",
        ]),
        2,
    );
    assert!(
        err.contains("which is not among the 1 key provided"),
        "{err}"
    );
    assert_eq!(env.read("sealed.yaml"), before);
}

#[test]
fn recover_accepts_the_controllers_key_secrets_as_kubectl_prints_them() {
    let env = Env::new();
    use base64::Engine;
    env.write("sealed.yaml", &env.seal(SECRET, &[]));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let backup = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: sealant-key-1, namespace: sealant-system, labels: {{sealant.dev/sealing-key: active}}}}\n  data:\n    private-key: {}\n    public-key: {}\n",
        b64(&env.read("keys/sealant.key")),
        b64(&env.read("keys/sealant.pub")),
    );
    env.write("keys-backup.yaml", &backup);
    let out = stdout_of(env.sealant().args([
        "recover",
        "--private-key",
        "keys-backup.yaml",
        "sealed.yaml",
    ]));
    assert!(out.contains("password: aHVudGVyMg=="));
}

// --- kubectl interop -----------------------------------------------------------------------

fn kubectl_available() -> bool {
    StdCommand::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn kubectl_yaml(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("kubectl")
        .args(args)
        .args(["--dry-run=client", "-o", "yaml", "-n", "apps"])
        .current_dir(dir)
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kubectl_created_secrets_seal_and_recover_to_the_same_data() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let env = Env::new();
    // kubectl checks the certificate, so make a real (throwaway) one.
    let made = StdCommand::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=web.example.com",
            "-keyout",
            "tls.key",
            "-out",
            "tls.crt",
        ])
        .current_dir(env.dir.path())
        .output()
        .is_ok_and(|o| o.status.success());
    if !made {
        eprintln!(
            "skipped: openssl is needed to make a certificate for `kubectl create secret tls`"
        );
        return;
    }
    let inputs = [
        kubectl_yaml(
            env.dir.path(),
            &[
                "create",
                "secret",
                "generic",
                "db",
                "--from-literal=user=admin",
                "--from-literal=password=s3cr3t",
            ],
        ),
        kubectl_yaml(
            env.dir.path(),
            &[
                "create",
                "secret",
                "tls",
                "web",
                "--cert=tls.crt",
                "--key=tls.key",
            ],
        ),
        kubectl_yaml(
            env.dir.path(),
            &[
                "create",
                "secret",
                "docker-registry",
                "pull",
                "--docker-server=registry.example.com",
                "--docker-username=bot",
                "--docker-password=pw",
            ],
        ),
    ];
    for input in inputs {
        let sealed = env.seal(&input, &[]);
        env.write("sealed.yaml", &sealed);
        let recovered = stdout_of(env.sealant().args([
            "recover",
            "--private-key",
            "keys/sealant.key",
            "sealed.yaml",
        ]));
        let original: serde_yaml::Value = serde_yaml::from_str(&input).unwrap();
        let back: serde_yaml::Value = serde_yaml::from_str(&recovered).unwrap();
        assert_eq!(back["data"], original["data"], "{input}");
        assert_eq!(back["type"], original["type"]);
        assert_eq!(back["metadata"]["name"], original["metadata"]["name"]);
        assert_eq!(back["metadata"]["namespace"], "apps");
    }
}

// --- hostile input (issue 18) --------------------------------------------------------------

/// Files built to make a YAML parser spin (1 MiB of nested flow collections, on one line or over
/// lines, deep indentation, `- - - -`, expanding aliases): every command that reads YAML stops
/// with one line naming the file, the document and the bound, non-zero, in well under a second.
/// Before the bounds, `verify` spent 14 s on 80 KB of `[` lines.
#[test]
fn hostile_files_get_one_line_naming_the_file_document_and_bound_at_once() {
    let env = Env::new();
    env.write("sealed.yaml", &env.seal(SECRET, &[]));
    let commands: &[&[&str]] = &[
        &["verify", "--public-key", "keys/sealant.pub", "hostile.yaml"],
        &[
            "seal",
            "--public-key",
            "keys/sealant.pub",
            "-f",
            "hostile.yaml",
        ],
        &["merge-into", "sealed.yaml", "-f", "hostile.yaml"],
        &["merge-into", "hostile.yaml", "-f", "secret.yaml"],
        &[
            "recover",
            "--private-key",
            "keys/sealant.key",
            "hostile.yaml",
        ],
        &[
            "reencrypt",
            "--private-key",
            "keys/sealant.key",
            "--public-key",
            "keys/sealant.pub",
            "hostile.yaml",
        ],
    ];
    env.write("secret.yaml", SECRET);
    for (shape, text) in sealant_core::input::hostile_samples(1024 * 1024) {
        env.write("hostile.yaml", &text);
        for args in commands {
            let started = std::time::Instant::now();
            let out = env.sealant().args(*args).output().unwrap();
            let took = started.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!("{shape}: sealant {}: {took:?}: {}", args[0], stderr.trim());
            assert!(!out.status.success(), "{shape}: {args:?} succeeded");
            assert_eq!(stderr.lines().count(), 1, "{shape}: {args:?}: {stderr}");
            assert!(
                stderr.contains("hostile.yaml: document 1: nested deeper than 100 levels (line ")
                    || stderr.contains("hostile.yaml: document 1: aliases expand to more than "),
                "{shape}: {args:?}: {stderr}"
            );
            assert!(
                took < std::time::Duration::from_secs(1),
                "{shape}: {args:?}: {took:?}"
            );
        }
    }
}

/// Ordinary large input still works: a Secret of 1,000 keys seals, and its recovery gives every
/// key back.
#[test]
fn a_secret_of_a_thousand_keys_seals_and_recovers() {
    let env = Env::new();
    let data: String = (0..1000)
        .map(|i| format!("  key{i}: dmFsdWUte2l9\n"))
        .collect();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\n  namespace: production\ndata:\n{data}"
    );
    env.write("sealed.yaml", &env.seal(&secret, &[]));
    let recovered = stdout_of(env.sealant().args([
        "recover",
        "--private-key",
        "keys/sealant.key",
        "sealed.yaml",
    ]));
    let back: serde_yaml::Value = serde_yaml::from_str(&recovered).unwrap();
    assert_eq!(back["data"].as_mapping().map(|m| m.len()), Some(1000));
}

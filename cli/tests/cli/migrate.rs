//! `sealant migrate` end to end, on bitnami-format fixtures this test builds itself: RSA keys in
//! a `kind: List` backup as kubectl prints it, values sealed as bitnami's `HybridEncrypt`
//! (pkg/crypto/crypto.go) seals them, for all three scopes. Every migrated value must open with
//! `sealant recover` to the original bytes, with the same scope; every refused input must fail
//! with exit 2 and leave every file as it was.

#![cfg(feature = "migrate")]
#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use std::path::PathBuf;

use assert_cmd::Command;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

// --- bitnami's side, after pkg/crypto/crypto.go -------------------------------------------

/// `HybridEncrypt`: uint16 BE length || RSA-OAEP(SHA-256, label)(32-byte session key) ||
/// AES-256-GCM(session key, zero nonce, no AAD)(plaintext), then standard base64 as
/// `NewSealedSecret` stores it.
fn bitnami_seal(key: &PrivateDecryptingKey, plaintext: &[u8], label: &str) -> String {
    let mut session = [0u8; 32];
    SystemRandom::new().fill(&mut session).unwrap();
    let public = OaepPublicEncryptingKey::new(key.public_key()).unwrap();
    let mut rsa = vec![0u8; public.ciphertext_size()];
    let rsa = public
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            &session,
            &mut rsa,
            Some(label.as_bytes()),
        )
        .unwrap()
        .to_vec();
    let mut out = u16::try_from(rsa.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(&rsa);
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &session).unwrap());
    let mut body = plaintext.to_vec();
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
        Aad::empty(),
        &mut body,
    )
    .unwrap();
    out.extend_from_slice(&body);
    STANDARD.encode(out)
}

/// A key and its PEM as bitnami's controller writes it (`RSA PRIVATE KEY`, PKCS#1).
fn bitnami_key() -> (PrivateDecryptingKey, String) {
    let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&key).unwrap();
    (key, pem("RSA PRIVATE KEY", &pkcs8_to_pkcs1(pkcs8.as_ref())))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out + &format!("-----END {label}-----\n")
}

/// The `RSAPrivateKey` OCTET STRING inside a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_to_pkcs1(der: &[u8]) -> Vec<u8> {
    fn read(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, hdr) = if der[1] < 0x80 {
            (usize::from(der[1]), 2)
        } else {
            let n = usize::from(der[1] & 0x7f);
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (&der[hdr..hdr + len], &der[hdr + len..])
    }
    let (body, _) = read(der);
    let (_, rest) = read(body); // version
    let (_, rest) = read(rest); // algorithm identifier
    let (key, _) = read(rest);
    key.to_vec()
}

/// The backup as `kubectl get secret -n kube-system -l
/// sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` prints it.
fn backup_list(keys: &[(&str, &str)]) -> String {
    let mut out = String::from("apiVersion: v1\nitems:\n");
    for (name, pem) in keys {
        out += &format!(
            "- apiVersion: v1
  data:
    tls.crt: {}
    tls.key: {}
  kind: Secret
  metadata:
    labels:
      sealedsecrets.bitnami.com/sealed-secrets-key: active
    name: {name}
    namespace: kube-system
  type: kubernetes.io/tls
",
            STANDARD.encode(pem_cert()),
            STANDARD.encode(pem)
        );
    }
    out + "kind: List\nmetadata:\n  resourceVersion: \"\"\n"
}

fn pem_cert() -> String {
    pem("CERTIFICATE", b"not parsed by migrate")
}

// --- the fixtures -----------------------------------------------------------------------------

const PASSWORD: &[u8] = b"hunter2";
const BINARY: &[u8] = b"\x00\xff\x10binary\n";
const TOKEN: &[u8] = b"tok-123";
const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

struct Env {
    dir: TempDir,
    a: PrivateDecryptingKey,
    b: PrivateDecryptingKey,
}

impl Env {
    fn new() -> Env {
        let (a, a_pem) = bitnami_key();
        let (b, b_pem) = bitnami_key();
        let env = Env {
            dir: TempDir::new().unwrap(),
            a,
            b,
        };
        env.sealant()
            .args(["keygen", "--out-dir", "keys"])
            .assert()
            .success();
        env.write(
            "bitnami-keys.yaml",
            &backup_list(&[
                ("sealed-secrets-keyaaaaa", &a_pem),
                ("sealed-secrets-keybbbbb", &b_pem),
            ]),
        );
        env.write(
            "b.pem",
            &format!("Bag Attributes\n    friendlyName: old\n{b_pem}"),
        );
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

    fn sealant(&self) -> Command {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env("HOME", self.dir.path());
        cmd
    }

    fn migrate(&self, extra: &[&str]) -> Command {
        let mut cmd = self.sealant();
        cmd.args([
            "migrate",
            "--sealed-secrets-keys",
            "bitnami-keys.yaml",
            "--public-key",
            "keys/sealant.pub",
        ])
        .args(extra);
        cmd
    }

    /// A strict SealedSecret as kubeseal writes it, sealed with key A, plus a namespace-wide
    /// one sealed with key B and a ConfigMap, in one multi-document file.
    fn repo_yaml(&self) -> String {
        format!(
            "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  creationTimestamp: null
  name: db-creds
  namespace: production
  labels:
    app.kubernetes.io/part-of: billing
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
    kubectl.kubernetes.io/last-applied-configuration: '{{}}'
spec:
  encryptedData:
    password: {password}
    blob: {blob}
  template:
    metadata:
      creationTimestamp: null
      name: db-creds
      namespace: production
      labels:
        app: billing
      annotations:
        team: data
        sealedsecrets.bitnami.com/managed: \"true\"
    type: kubernetes.io/basic-auth
    immutable: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: production
data:
  mode: fast
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: api-token
  namespace: staging
  annotations:
    sealedsecrets.bitnami.com/namespace-wide: \"true\"
spec:
  encryptedData:
    token: {token}
",
            password = bitnami_seal(&self.a, PASSWORD, "production/db-creds"),
            blob = bitnami_seal(&self.a, BINARY, "production/db-creds"),
            token = bitnami_seal(&self.b, TOKEN, "staging"),
        )
    }

    /// A JSON `List` holding a cluster-wide SealedSecret without a namespace.
    fn cluster_json(&self) -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [{
                "apiVersion": "bitnami.com/v1alpha1",
                "kind": "SealedSecret",
                "metadata": {
                    "name": "ca-bundle",
                    "annotations": {"sealedsecrets.bitnami.com/cluster-wide": "true"}
                },
                "spec": {
                    "encryptedData": {"ca.crt": bitnami_seal(&self.b, CA, "")},
                    "template": {"type": "Opaque"}
                }
            }]
        }))
        .unwrap()
    }

    /// Recovers a migrated file with the sealant key and returns its Secrets.
    fn recover(&self, file: &str, extra: &[&str]) -> Vec<serde_yaml::Value> {
        let out = self
            .sealant()
            .args(["recover", "--private-key", "keys/sealant.key", file])
            .args(extra)
            .assert()
            .success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    }
}

fn data(secret: &serde_yaml::Value, key: &str) -> Vec<u8> {
    STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap()
}

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(out.get_output().stderr.clone()).unwrap()
}

// --- migration ------------------------------------------------------------------------------

#[test]
fn a_repository_with_all_three_scopes_migrates_in_place_and_recovers_to_the_same_bytes() {
    let env = Env::new();
    env.write("repo.yaml", &env.repo_yaml());
    env.write("cluster.json", &env.cluster_json());

    let out = env
        .migrate(&["-w", "repo.yaml", "cluster.json"])
        .assert()
        .success();
    assert!(out.get_output().stdout.is_empty(), "-w prints nothing");
    let report = stderr(&out);
    assert!(
        report.contains(
            "repo.yaml: document 1: production/db-creds (strict): blob, password opened with sealed-secrets-keyaaaaa (bitnami-keys.yaml: document 1, item 1)"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "repo.yaml: document 3: staging/api-token (namespace-wide): token opened with sealed-secrets-keybbbbb (bitnami-keys.yaml: document 1, item 2)"
        ),
        "{report}"
    );
    assert!(
        report.contains("cluster.json: document 1, item 1: ca-bundle (cluster-wide): ca.crt opened with sealed-secrets-keybbbbb"),
        "{report}"
    );
    assert!(
        report.contains("migrated 3 SealedSecrets to 1 public key"),
        "{report}"
    );

    let repo = env.read("repo.yaml");
    assert!(
        !repo.contains("bitnami.com"),
        "bitnami's annotations and API are gone:\n{repo}"
    );
    assert!(!repo.contains("last-applied"), "{repo}");
    assert!(
        !repo.contains("aHVudGVyMg") && !repo.contains("hunter2"),
        "{repo}"
    );
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&repo)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0]["apiVersion"], "sealant.dev/v1alpha1");
    assert_eq!(
        docs[0]["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "billing"
    );
    assert_eq!(
        docs[0]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
        "1"
    );
    assert_eq!(docs[1]["kind"], "ConfigMap", "other documents are kept");
    assert_eq!(docs[1]["data"]["mode"], "fast");

    // Every value opens with `sealant recover` to the original bytes.
    let secrets = env.recover("repo.yaml", &[]);
    assert_eq!(secrets.len(), 2);
    assert_eq!(data(&secrets[0], "password"), PASSWORD);
    assert_eq!(data(&secrets[0], "blob"), BINARY);
    assert_eq!(secrets[0]["metadata"]["namespace"], "production");
    assert_eq!(secrets[0]["metadata"]["labels"]["app"], "billing");
    assert_eq!(secrets[0]["metadata"]["annotations"]["team"], "data");
    assert!(
        secrets[0]["metadata"]["annotations"]
            .get("sealedsecrets.bitnami.com/managed")
            .is_none()
    );
    assert_eq!(secrets[0]["type"], "kubernetes.io/basic-auth");
    assert_eq!(secrets[0]["immutable"], true);
    assert_eq!(data(&secrets[1], "token"), TOKEN);
    assert_eq!(secrets[1]["metadata"]["name"], "api-token");
    let json: serde_json::Value =
        serde_json::from_str(&env.read("cluster.json")).expect("a JSON file stays JSON");
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][0]["apiVersion"], "sealant.dev/v1alpha1");
    assert_eq!(json["items"][0]["metadata"]["name"], "ca-bundle");
    assert!(json["items"][0]["metadata"].get("annotations").is_none());
    let cluster = env.recover("cluster.json", &["-n", "anywhere"]);
    assert_eq!(data(&cluster[0], "ca.crt"), CA);
    assert_eq!(cluster[0]["type"], "Opaque");

    // Same scope: verify names it, and a namespace-wide value opens under another name.
    let verified = env
        .sealant()
        .args([
            "verify",
            "--public-key",
            "keys/sealant.pub",
            "repo.yaml",
            "cluster.json",
        ])
        .assert()
        .success();
    let verified = String::from_utf8(verified.get_output().stdout.clone()).unwrap();
    for expected in [
        "production/db-creds: password: ok (strict",
        "staging/api-token: token: ok (namespace-wide",
        "ca-bundle: ca.crt: ok (cluster-wide",
    ] {
        assert!(verified.contains(expected), "{expected} in:\n{verified}");
    }
    let renamed = env
        .read("repo.yaml")
        .replace("name: api-token", "name: renamed");
    env.write("renamed.yaml", &renamed);
    let secrets = env.recover("renamed.yaml", &[]);
    assert_eq!(data(&secrets[1], "token"), TOKEN);
}

#[test]
fn without_in_place_the_result_goes_to_stdout_and_a_plain_pem_backup_works() {
    let env = Env::new();
    let token_only = format!(
        "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {{name: api-token, namespace: staging, annotations: {{sealedsecrets.bitnami.com/namespace-wide: \"true\"}}}}
spec:
  encryptedData:
    token: {}
",
        bitnami_seal(&env.b, TOKEN, "staging")
    );
    env.write("token.yaml", &token_only);
    let out = env
        .sealant()
        .args([
            "migrate",
            "--sealed-secrets-keys",
            "b.pem",
            "--public-key",
            "keys/sealant.pub",
            "token.yaml",
        ])
        .assert()
        .success();
    assert_eq!(
        env.read("token.yaml"),
        token_only,
        "the input is not touched"
    );
    assert!(
        stderr(&out).contains("token opened with b.pem"),
        "{}",
        stderr(&out)
    );
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    env.write("out.yaml", &printed);
    assert_eq!(data(&env.recover("out.yaml", &[])[0], "token"), TOKEN);
}

// --- refusals: exit 2, one line naming file, document and field, nothing written ------------

/// Runs a migration of `files` that must fail; checks exit 2, the error line, and that no file
/// changed and nothing was printed.
fn refused(env: &Env, files: &[(&str, String)], extra: &[&str]) -> String {
    for (name, text) in files {
        env.write(name, text);
    }
    let mut args: Vec<&str> = vec!["-w"];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|(n, _)| *n));
    let out = env.migrate(&args).assert().code(2);
    assert!(out.get_output().stdout.is_empty());
    for (name, text) in files {
        assert_eq!(&env.read(name), text, "{name} must not be written");
    }
    let err = stderr(&out);
    let first = err.lines().next().unwrap().to_string();
    assert!(first.starts_with("sealant: error: "), "{err}");
    assert!(
        err.lines().skip(1).all(|l| l.starts_with("  hint: ")),
        "one error line and at most a hint:\n{err}"
    );
    first
}

#[test]
fn a_value_no_backup_key_opens_is_refused_and_nothing_is_written() {
    let env = Env::new();
    let (stranger, _) = bitnami_key();
    let foreign = format!(
        "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {{name: db-creds, namespace: production}}
spec:
  encryptedData:
    password: {}
",
        bitnami_seal(&stranger, PASSWORD, "production/db-creds")
    );
    // The first file would migrate on its own; the second fails, so neither is written.
    let err = refused(
        &env,
        &[("good.yaml", env.repo_yaml()), ("foreign.yaml", foreign)],
        &[],
    );
    assert_eq!(
        err,
        "sealant: error: foreign.yaml: document 1 (kind SealedSecret): spec.encryptedData.password: no key of the backup opens it (2 tried): it was sealed with a key that is not in the backup, or for another namespace, name or scope"
    );
}

#[test]
fn a_strict_value_moved_to_another_namespace_does_not_open() {
    let env = Env::new();
    let moved = env
        .repo_yaml()
        .replacen("namespace: production", "namespace: staging", 1);
    let err = refused(&env, &[("moved.yaml", moved)], &[]);
    assert!(
        err.contains("moved.yaml: document 1 (kind SealedSecret): spec.encryptedData.blob: no key of the backup opens it"),
        "{err}"
    );
}

#[test]
fn a_tampered_value_is_refused_as_altered() {
    let env = Env::new();
    let sealed = bitnami_seal(&env.a, PASSWORD, "production/db-creds");
    let mut bytes = STANDARD.decode(&sealed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = format!(
        "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {{name: db-creds, namespace: production}}
spec:
  encryptedData:
    password: {}
",
        STANDARD.encode(bytes)
    );
    let err = refused(&env, &[("tampered.yaml", tampered)], &[]);
    assert_eq!(
        err,
        "sealant: error: tampered.yaml: document 1 (kind SealedSecret): spec.encryptedData.password: its session key opens with sealed-secrets-keyaaaaa (bitnami-keys.yaml: document 1, item 1) but the value fails authentication (altered or truncated)"
    );
}

#[test]
fn a_template_with_data_is_refused_naming_the_key_and_what_to_do() {
    let env = Env::new();
    let templated = format!(
        "---
apiVersion: v1
kind: List
items:
- apiVersion: bitnami.com/v1alpha1
  kind: SealedSecret
  metadata: {{name: db-creds, namespace: production}}
  spec:
    encryptedData:
      password: {}
    template:
      data:
        url: 'postgres://app:{{{{ .password }}}}@db/app'
",
        bitnami_seal(&env.a, PASSWORD, "production/db-creds")
    );
    let err = refused(&env, &[("templated.yaml", templated.clone())], &[]);
    assert_eq!(
        err,
        "sealant: error: templated.yaml: document 1, item 1 (kind SealedSecret): spec.template.data.url: bitnami renders this key from the decrypted values with a Go template; sealant has no templates"
    );
    let out = env.migrate(&["templated.yaml"]).assert().code(2);
    assert!(stderr(&out).contains("hint: render the value yourself"));
}

#[test]
fn bitnami_behaviours_sealant_lacks_and_bad_backups_are_refused() {
    let env = Env::new();
    let patch = env.repo_yaml().replacen(
        "        team: data",
        "        team: data\n        sealedsecrets.bitnami.com/patch: \"true\"",
        1,
    );
    let err = refused(&env, &[("patch.yaml", patch)], &[]);
    assert!(
        err.contains("patch.yaml: document 1 (kind SealedSecret): spec.template.metadata.annotations.sealedsecrets.bitnami.com/patch: bitnami patches an existing Secret without owning it; in sealant the existing Secret opts in instead"),
        "{err}"
    );

    let no_namespace = env.repo_yaml().replacen("  namespace: production\n", "", 1);
    let err = refused(&env, &[("nons.yaml", no_namespace)], &[]);
    assert!(
        err.contains("nons.yaml: document 1 (kind SealedSecret): metadata.namespace: missing, and a strict bitnami SealedSecret is bound to its namespace"),
        "{err}"
    );

    env.write(
        "bitnami-keys.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {tls.crt: eA==}\n",
    );
    let err = refused(&env, &[("repo.yaml", env.repo_yaml())], &[]);
    assert_eq!(
        err,
        "sealant: error: --sealed-secrets-keys bitnami-keys.yaml: document 1 (kind Secret): data.tls.key: missing"
    );
    env.write("bitnami-keys.yaml", "just text");
    let err = refused(&env, &[("repo.yaml", env.repo_yaml())], &[]);
    assert!(
        err.contains("--sealed-secrets-keys") && err.contains("bitnami-keys.yaml: document 1"),
        "{err}"
    );
}

#[test]
fn help_shows_examples_and_the_backup_command() {
    let env = Env::new();
    let out = env.sealant().args(["migrate", "--help"]).assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        help.contains("$ sealant migrate --sealed-secrets-keys"),
        "{help}"
    );
    assert!(
        help.contains("-l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml"),
        "{help}"
    );
    let out = env.sealant().arg("--help").assert().success();
    let top = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(top.contains("  migrate "), "{top}");
}

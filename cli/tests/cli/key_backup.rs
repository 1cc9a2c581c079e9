//! `sealant keys backup` / `keys restore` against the in-memory API server: the backup is private
//! and clean, a restore creates the Secrets without a last-applied copy, is idempotent, and never
//! replaces another key.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use sealant_core::PrivateKey;
use sealant_core::key_secret::{
    KEY_CREATED_ANNOTATION, PRIVATE_KEY_DATA, PUBLIC_KEY_DATA, SEALING_KEY_LABEL,
};
use sealant_core::resource::LAST_APPLIED_ANNOTATION;
use sealant_test_apiserver::TestApiServer;
use tempfile::TempDir;

const NS: &str = "sealant-system";

/// A key Secret as the controller writes it, plus (optionally) the annotation `kubectl apply`
/// leaves behind, which holds the private key a second time.
fn key_secret(key: &PrivateKey, name: &str, last_applied: bool) -> Secret {
    let mut annotations = BTreeMap::from([(
        KEY_CREATED_ANNOTATION.to_string(),
        "2026-11-01T00:00:00Z".to_string(),
    )]);
    if last_applied {
        annotations.insert(
            LAST_APPLIED_ANNOTATION.to_string(),
            format!(
                "{{\"data\":{{\"private-key\":\"{}\"}}}}",
                key.to_file_text().as_str()
            ),
        );
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NS.to_string()),
            labels: Some(BTreeMap::from([(
                SEALING_KEY_LABEL.to_string(),
                "active".to_string(),
            )])),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([
            (
                PRIVATE_KEY_DATA.to_string(),
                ByteString(key.to_file_text().as_bytes().to_vec()),
            ),
            (
                PUBLIC_KEY_DATA.to_string(),
                ByteString(format!("{}\n", key.public()).into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

async fn server_with_namespace() -> TestApiServer {
    let server = TestApiServer::start().await;
    let namespaces: Api<Namespace> = Api::all(server.client());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(NS.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    server
}

fn sealant(dir: &Path, kubeconfig: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sealant").unwrap();
    cmd.current_dir(dir)
        .env("HOME", dir)
        .arg("--kubeconfig")
        .arg(kubeconfig);
    cmd
}

/// Runs the command off the async runtime, so the server keeps answering.
async fn run(cmd: Command) -> std::process::Output {
    let mut cmd = cmd;
    cmd.args(["--controller-namespace", NS]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_round_trip_keys_without_a_last_applied_copy() {
    let dir = TempDir::new().unwrap();
    let old = server_with_namespace().await;
    old.write_kubeconfig(dir.path().join("old.kubeconfig"))
        .unwrap();
    let first = PrivateKey::generate().unwrap();
    let second = PrivateKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(old.client(), NS);
    for (key, name, applied) in [
        (&first, "sealing-key-a", true),
        (&second, "sealing-key-b", false),
    ] {
        secrets
            .create(&PostParams::default(), &key_secret(key, name, applied))
            .await
            .unwrap();
    }

    let mut backup = sealant(dir.path(), &dir.path().join("old.kubeconfig"));
    backup.args(["keys", "backup", "-w", "keys-backup.yaml"]);
    let out = run(backup).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "private keys never go to stdout");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("backed up 2 key(s)"), "{stderr}");
    assert!(stderr.contains(&first.id().to_string()), "{stderr}");
    let path = dir.path().join("keys-backup.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds private keys");
    }
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(LAST_APPLIED_ANNOTATION), "{file}");
    assert!(!file.contains("resourceVersion"), "{file}");
    assert!(!file.contains("uid"), "{file}");
    assert!(file.contains(KEY_CREATED_ANNOTATION), "{file}");

    // Restore into a fresh cluster.
    let new = server_with_namespace().await;
    new.write_kubeconfig(dir.path().join("new.kubeconfig"))
        .unwrap();
    let mut restore = sealant(dir.path(), &dir.path().join("new.kubeconfig"));
    restore.args(["keys", "restore", "--yes", "keys-backup.yaml"]);
    let out = run(restore).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("created: Secret sealant-system/sealing-key-a"));
    let restored: Api<Secret> = Api::namespaced(new.client(), NS);
    for (key, name) in [(&first, "sealing-key-a"), (&second, "sealing-key-b")] {
        let secret = restored.get(name).await.unwrap();
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        assert!(!annotations.contains_key(LAST_APPLIED_ANNOTATION), "{name}");
        assert_eq!(
            annotations.get(KEY_CREATED_ANNOTATION).map(String::as_str),
            Some("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            secret
                .metadata
                .labels
                .unwrap()
                .get(SEALING_KEY_LABEL)
                .map(String::as_str),
            Some("active")
        );
        let data = secret.data.unwrap();
        let opened =
            PrivateKey::from_file_text(std::str::from_utf8(&data[PRIVATE_KEY_DATA].0).unwrap())
                .unwrap();
        assert_eq!(opened.id(), key.id());
    }

    // Restoring again changes nothing and succeeds.
    let version = new.resource_version();
    let mut again = sealant(dir.path(), &dir.path().join("new.kubeconfig"));
    again.args(["keys", "restore", "--yes", "keys-backup.yaml"]);
    let out = run(again).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("unchanged: Secret sealant-system/sealing-key-b"));
    assert_eq!(
        new.resource_version(),
        version,
        "an idempotent restore writes nothing"
    );

    // The backup opens SealedSecrets like the key files do.
    std::fs::write(
        dir.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: a\nstringData:\n  k: v\n",
    )
    .unwrap();
    let mut seal = Command::cargo_bin("sealant").unwrap();
    seal.current_dir(dir.path())
        .args([
            "seal",
            "-f",
            "secret.yaml",
            "-w",
            "sealed.yaml",
            "--public-key",
        ])
        .arg(second.public().to_string())
        .assert()
        .success();
    let mut recover = Command::cargo_bin("sealant").unwrap();
    let out = recover
        .current_dir(dir.path())
        .args([
            "recover",
            "--private-key",
            "keys-backup.yaml",
            "sealed.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_to_replace_a_different_key_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let old = server_with_namespace().await;
    old.write_kubeconfig(dir.path().join("old.kubeconfig"))
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(old.client(), NS);
    for name in ["sealing-key-a", "sealing-key-b"] {
        let key = PrivateKey::generate().unwrap();
        secrets
            .create(&PostParams::default(), &key_secret(&key, name, false))
            .await
            .unwrap();
    }
    let mut backup = sealant(dir.path(), &dir.path().join("old.kubeconfig"));
    backup.args(["keys", "backup", "-w", "keys-backup.yaml"]);
    assert!(run(backup).await.status.success());

    // The target cluster already has another key under the second name.
    let new = server_with_namespace().await;
    new.write_kubeconfig(dir.path().join("new.kubeconfig"))
        .unwrap();
    let other = PrivateKey::generate().unwrap();
    let target: Api<Secret> = Api::namespaced(new.client(), NS);
    target
        .create(
            &PostParams::default(),
            &key_secret(&other, "sealing-key-b", false),
        )
        .await
        .unwrap();
    let mut restore = sealant(dir.path(), &dir.path().join("new.kubeconfig"));
    restore.args(["keys", "restore", "--yes", "keys-backup.yaml"]);
    let out = run(restore).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Secret sealant-system/sealing-key-b in the cluster already exists and does not hold key"),
        "{stderr}"
    );
    assert!(
        target.get_opt("sealing-key-a").await.unwrap().is_none(),
        "nothing was created"
    );
    let kept = target.get("sealing-key-b").await.unwrap();
    let data = kept.data.unwrap();
    let still = PrivateKey::from_file_text(std::str::from_utf8(&data[PRIVATE_KEY_DATA].0).unwrap())
        .unwrap();
    assert_eq!(still.id(), other.id(), "the existing key is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_requires_an_output_file_and_reports_an_empty_namespace() {
    let dir = TempDir::new().unwrap();
    let server = server_with_namespace().await;
    server
        .write_kubeconfig(dir.path().join("kubeconfig"))
        .unwrap();
    let mut no_file = sealant(dir.path(), &dir.path().join("kubeconfig"));
    no_file.args(["keys", "backup"]);
    let out = run(no_file).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--write <FILE>"),
        "{}",
        text(&out.stderr)
    );
    let mut empty = sealant(dir.path(), &dir.path().join("kubeconfig"));
    empty.args(["keys", "backup", "-w", "b.yaml"]);
    let out = run(empty).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no key Secrets"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("b.yaml").exists());
}

/// The same round trip on a real kube-apiserver (skipped, with a line saying so, without assets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_api_server_round_trips_the_keys_without_a_last_applied_annotation() {
    let shared = tokio::task::spawn_blocking(sealant_envtest::ControlPlane::shared);
    let Some(plane) = shared.await.unwrap() else {
        return;
    };
    let ns = "keys-backup-real";
    let admin = plane.admin_client().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), ns);
    let key = PrivateKey::generate().unwrap();
    let mut secret = key_secret(&key, "sealing-key-real", true);
    secret.metadata.namespace = Some(ns.to_string());
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

    let dir = TempDir::new().unwrap();
    let kubeconfig = plane.admin_kubeconfig().to_path_buf();
    let cmd = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(dir.path())
            .env("HOME", dir.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .args(["--controller-namespace", ns]);
        cmd
    };
    let mut backup = cmd(&["keys", "backup", "-w", "backup.yaml"]);
    let out = tokio::task::spawn_blocking(move || backup.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = std::fs::read_to_string(dir.path().join("backup.yaml")).unwrap();
    assert!(!file.contains(LAST_APPLIED_ANNOTATION), "{file}");

    secrets
        .delete("sealing-key-real", &Default::default())
        .await
        .unwrap();
    let mut restore = cmd(&["keys", "restore", "--yes", "backup.yaml"]);
    let out = tokio::task::spawn_blocking(move || restore.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let restored = secrets.get("sealing-key-real").await.unwrap();
    let annotations = restored.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key(LAST_APPLIED_ANNOTATION),
        "restored with a last-applied copy of the key"
    );
    let data = restored.data.unwrap();
    let back = PrivateKey::from_file_text(std::str::from_utf8(&data[PRIVATE_KEY_DATA].0).unwrap())
        .unwrap();
    assert_eq!(back.id(), key.id());
}

/// The tampered backup of issue 19: a bootstrap-token Secret for kube-system and an attacker's
/// key dated 2099 (which would stay the newest sealing key) next to a real key. Restore refuses
/// it by name and writes nothing, anywhere. Then each other way a document can differ from the
/// key layout is refused the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_backup_is_refused_and_nothing_is_written() {
    let dir = TempDir::new().unwrap();
    let server = server_with_namespace().await;
    server
        .write_kubeconfig(dir.path().join("kubeconfig"))
        .unwrap();
    // The test API server, like a real one, has kube-system already.
    let real = key_secret(&PrivateKey::generate().unwrap(), "sealing-key-real", false);
    let mut planted = key_secret(&PrivateKey::generate().unwrap(), "sealing-key-z", false);
    planted.metadata.annotations = Some(BTreeMap::from([(
        KEY_CREATED_ANNOTATION.to_string(),
        "2099-01-01T00:00:00Z".to_string(),
    )]));
    let bootstrap = Secret {
        metadata: ObjectMeta {
            name: Some("bootstrap-token-abcdef".to_string()),
            namespace: Some("kube-system".to_string()),
            labels: Some(BTreeMap::from([(
                SEALING_KEY_LABEL.to_string(),
                "active".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".to_string()),
        string_data: None,
        data: Some(BTreeMap::from([
            ("token-id".to_string(), ByteString(b"abcdef".to_vec())),
            (
                "token-secret".to_string(),
                ByteString(b"0123456789abcdef".to_vec()),
            ),
            (
                "usage-bootstrap-authentication".to_string(),
                ByteString(b"true".to_vec()),
            ),
        ])),
        ..Secret::default()
    };
    let list = |items: &[&Secret]| {
        serde_yaml::to_string(
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )
        .unwrap()
    };
    let version = server.resource_version();
    let written = |name: &'static str| {
        let client = server.client();
        async move {
            let ours: Api<Secret> = Api::namespaced(client.clone(), NS);
            let theirs: Api<Secret> = Api::namespaced(client, "kube-system");
            (
                ours.list(&Default::default()).await.unwrap().items.len(),
                theirs.list(&Default::default()).await.unwrap().items.len(),
                name,
            )
        }
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "the issue's backup",
            list(&[&real, &bootstrap, &planted]),
            "metadata.namespace: bootstrap-token-abcdef is in 'kube-system', but keys are restored only into the controller's namespace 'sealant-system'",
        ),
        (
            "the 2099 key alone",
            list(&[&real, &planted]),
            "metadata.annotations.sealant.dev/created-at: 2099-01-01T00:00:00Z is in the future",
        ),
        (
            "the bootstrap token in our namespace",
            {
                let mut moved = bootstrap.clone();
                moved.metadata.namespace = None;
                list(&[&real, &moved])
            },
            "type: 'bootstrap.kubernetes.io/token', but key Secrets are Opaque",
        ),
        (
            "another type",
            {
                let mut typed = real.clone();
                typed.metadata.name = Some("sealing-key-t".to_string());
                typed.type_ = Some("kubernetes.io/service-account-token".to_string());
                list(&[&typed])
            },
            "type: 'kubernetes.io/service-account-token', but key Secrets are Opaque",
        ),
        (
            "a mismatched public key",
            {
                let mut swapped = real.clone();
                let other = PrivateKey::generate().unwrap();
                swapped.data.as_mut().unwrap().insert(
                    PUBLIC_KEY_DATA.to_string(),
                    ByteString(format!("{}\n", other.public()).into_bytes()),
                );
                list(&[&swapped])
            },
            "data.public-key is not the public key of data.private-key",
        ),
        (
            "an extra label",
            {
                let mut labelled = real.clone();
                labelled
                    .metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert("app".to_string(), "x".to_string());
                list(&[&labelled])
            },
            "metadata.labels.app: a key Secret carries only the sealant.dev/sealing-key label",
        ),
        (
            "no key Secret at all",
            {
                let mut config = serde_json::to_value(&real).unwrap();
                config["kind"] = serde_json::json!("ConfigMap");
                serde_yaml::to_string(&config).unwrap()
            },
            "expected key Secrets only",
        ),
    ];
    for (name, backup, message) in cases {
        std::fs::write(dir.path().join("backup.yaml"), backup).unwrap();
        let mut restore = sealant(dir.path(), &dir.path().join("kubeconfig"));
        restore.args(["keys", "restore", "--yes", "--make-newest", "backup.yaml"]);
        let out = run(restore).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(stderr.contains("nothing was restored"), "{name}: {stderr}");
        assert_eq!(
            written(name).await,
            (0, 0, name),
            "{name}: something was written"
        );
    }
    assert_eq!(
        server.resource_version(),
        version,
        "nothing was written at all"
    );
}

/// Restore shows its plan, needs --yes without a terminal, and makes a restored key the newest
/// sealing key of a cluster that already has keys only with --make-newest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_shows_the_plan_and_needs_yes_and_make_newest() {
    let dir = TempDir::new().unwrap();
    let server = server_with_namespace().await;
    server
        .write_kubeconfig(dir.path().join("kubeconfig"))
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(server.client(), NS);
    let current = PrivateKey::generate().unwrap();
    let mut existing = key_secret(&current, "sealing-key-current", false);
    existing.metadata.annotations = Some(BTreeMap::from([(
        KEY_CREATED_ANNOTATION.to_string(),
        "2026-01-01T00:00:00Z".to_string(),
    )]));
    secrets
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();
    // The backup's key is dated after the cluster's key, so it would become the newest.
    let restored = PrivateKey::generate().unwrap();
    let backup = key_secret(&restored, "sealing-key-restored", false);
    std::fs::write(
        dir.path().join("backup.yaml"),
        serde_yaml::to_string(&backup).unwrap(),
    )
    .unwrap();

    let mut no_yes = sealant(dir.path(), &dir.path().join("kubeconfig"));
    no_yes.args(["keys", "restore", "--make-newest", "backup.yaml"]);
    let out = run(no_yes).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!(
        "create Secret sealant-system/sealing-key-restored: key {} (x25519), active, created 2026-11-01T00:00:00Z",
        restored.id()
    )), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "newest sealing key after the restore: {} (x25519), a RESTORED key",
            restored.id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("run again with --yes"), "{stderr}");
    assert!(
        secrets
            .get_opt("sealing-key-restored")
            .await
            .unwrap()
            .is_none()
    );

    let mut not_newest = sealant(dir.path(), &dir.path().join("kubeconfig"));
    not_newest.args(["keys", "restore", "--yes", "backup.yaml"]);
    let out = run(not_newest).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "restored key {} would become the newest sealing key in place of {}",
            restored.id(),
            current.id()
        )),
        "{stderr}"
    );
    assert!(
        secrets
            .get_opt("sealing-key-restored")
            .await
            .unwrap()
            .is_none()
    );

    let mut both = sealant(dir.path(), &dir.path().join("kubeconfig"));
    both.args(["keys", "restore", "--yes", "--make-newest", "backup.yaml"]);
    let out = run(both).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        secrets
            .get_opt("sealing-key-restored")
            .await
            .unwrap()
            .is_some()
    );
}

/// Discovery reads only the configured namespace: a tenant's ConfigMap of the expected name in
/// their own namespace is never used, and a pinned fingerprint that does not match the
/// controller's key is an error that says what changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_discovery_reads_only_the_configured_namespace_and_checks_the_pin() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use sealant_core::key_secret::PUBLIC_KEY_DATA as LINE;
    use sealant_core::resource::PUBLIC_KEYS_CONFIGMAP;
    let dir = TempDir::new().unwrap();
    let server = server_with_namespace().await;
    server
        .write_kubeconfig(dir.path().join("kubeconfig"))
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(server.client());
    let tenant = Namespace {
        metadata: ObjectMeta {
            name: Some("tenant".to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
    let attacker = PrivateKey::generate().unwrap();
    let map = |key: &PrivateKey| ConfigMap {
        metadata: ObjectMeta {
            name: Some(PUBLIC_KEYS_CONFIGMAP.to_string()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            LINE.to_string(),
            format!("{}\n", key.public()),
        )])),
        ..ConfigMap::default()
    };
    let tenant_maps: Api<ConfigMap> = Api::namespaced(server.client(), "tenant");
    tenant_maps
        .create(&PostParams::default(), &map(&attacker))
        .await
        .unwrap();
    // No controller key yet: the tenant's ConfigMap must not be found by a search.
    let fetch = |extra: &[&str]| {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        cmd.current_dir(dir.path())
            .env("HOME", dir.path())
            .env_remove("SEALANT_CONTROLLER_NAMESPACE")
            .arg("--kubeconfig")
            .arg(dir.path().join("kubeconfig"))
            .args(["fetch-key"])
            .args(extra);
        cmd
    };
    let cmd = fetch(&[]);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sealant-system/sealant-public-keys"),
        "{stderr}"
    );
    assert!(
        !text(&out.stdout).contains(&attacker.public().to_string()),
        "the tenant's key was used"
    );

    let controller = PrivateKey::generate().unwrap();
    let ours: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    ours.create(&PostParams::default(), &map(&controller))
        .await
        .unwrap();
    let cmd = fetch(&["--controller-fingerprint", &controller.id().to_string()]);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), controller.public().to_string());
    assert!(
        text(&out.stderr).contains(&controller.id().to_string()),
        "the fingerprint is printed"
    );

    // A pin in .sealant.toml that the controller's key does not match.
    std::fs::write(
        dir.path().join(".sealant.toml"),
        format!(
            "[seal]\ncontroller-fingerprints = [\"{}\"]\n",
            attacker.id()
        ),
    )
    .unwrap();
    let cmd = fetch(&[]);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!(
        "the controller's key in ConfigMap sealant-system/sealant-public-keys is {} (x25519), but the pinned fingerprint is {} (.sealant.toml)",
        controller.id(),
        attacker.id()
    )), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing written on a pin mismatch");
}

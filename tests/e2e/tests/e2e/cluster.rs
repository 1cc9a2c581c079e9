//! The path a new user walks with a cluster, using only the real binaries and kubectl: the test
//! API server stands in for the cluster (owner garbage collection on), the controller runs out of
//! cluster with the kubeconfig.
//!
//! install CRD + RBAC → controller → `sealant fetch-key` → `kubectl create secret --dry-run |
//! sealant seal | kubectl apply` → Secret appears → `merge-into` + apply → Secret updated →
//! delete the SealedSecret → Secret garbage-collected → back up the keys → fresh cluster and
//! controller from the backup → the old SealedSecret opens.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sealant_e2e::{Kube, Running, b64, binary, kubectl_available, repo};

/// The test API server as a separate process, and kubectl/sealant pointed at it.
struct Cluster {
    _server: Running,
    kube: Kube,
}

impl Deref for Cluster {
    type Target = Kube;

    fn deref(&self) -> &Kube {
        &self.kube
    }
}

impl Cluster {
    fn start(dir: &Path, name: &str) -> Cluster {
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        let mut child = Command::new(binary("test-apiserver"))
            .args(["--port", "0", "--gc", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("test-apiserver starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        assert!(
            line.starts_with("test-apiserver ready"),
            "unexpected first line: {line}"
        );
        Cluster {
            _server: Running(child),
            kube: Kube::new(&kubeconfig, dir),
        }
    }

    /// Installs what `deploy/` installs that the controller needs from the API: the namespace,
    /// the CRD and the RBAC objects.
    fn install(&self) {
        let deploy = repo().join("deploy");
        for file in [
            "namespace.yaml",
            "crd.yaml",
            "serviceaccount.yaml",
            "rbac.yaml",
        ] {
            let path = deploy.join(file);
            self.kubectl_ok(&format!("apply -f {}", path.display()), None);
        }
    }

    fn start_controller(&self) -> Running {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary("sealant-controller"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", "sealant-system", "--log-level", "warn"])
            .args(["--listen-addr", &format!("127.0.0.1:{port}")])
            .env_remove("POD_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sealant-controller starts");
        Running(child)
    }
}

/// `sealant` with environment variables set (and none of sealant's inherited from the test's).
fn sealant_with_env(kube: &Kube, vars: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Output {
    const DEFAULTS: [&str; 3] = [
        "SEALANT_PUBLIC_KEY",
        "SEALANT_CONTROLLER_NAMESPACE",
        "SEALANT_CONTROLLER_NAME",
    ];
    kube.run_with_env(&binary("sealant"), args, Some(stdin), vars, &DEFAULTS)
}

/// Defaults from the environment, as kubeseal users set `SEALED_SECRETS_*`: the controller's
/// namespace and Service name, and the public key (which then wins over the cluster's).
fn environment_gives_the_defaults(cluster: &Kube, dir: &Path, cluster_key: &str) {
    let elsewhere = sealant_with_env(
        cluster,
        &[("SEALANT_CONTROLLER_NAMESPACE", "elsewhere")],
        &["fetch-key"],
        b"",
    );
    let stderr = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(!elsewhere.status.success(), "no controller in 'elsewhere'");
    assert!(
        stderr.contains("elsewhere"),
        "the error names the namespace: {stderr}"
    );
    let here = sealant_with_env(
        cluster,
        &[("SEALANT_CONTROLLER_NAMESPACE", "sealant-system")],
        &["fetch-key"],
        b"",
    );
    assert!(
        here.status.success(),
        "{}",
        String::from_utf8_lossy(&here.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&here.stdout), cluster_key);

    // A key of the user's own, from the environment: sealed to it, not to the cluster's.
    cluster.sealant(
        &format!("keygen --out-dir {}", dir.join("own").display()),
        None,
    );
    let own = std::fs::read_to_string(dir.join("own/sealant.pub")).expect("own public key");
    let own = own
        .lines()
        .find(|l| l.starts_with("sealant-pub"))
        .expect("a key line in sealant.pub");
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: env, namespace: apps}\ndata: {k: dg==}\n";
    let sealed = sealant_with_env(
        cluster,
        &[("SEALANT_PUBLIC_KEY", own)],
        &["seal"],
        secret.as_bytes(),
    );
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let sealed = String::from_utf8_lossy(&sealed.stdout);
    assert!(
        sealed.contains(own),
        "sealed to the key of SEALANT_PUBLIC_KEY: {sealed}"
    );
    assert!(
        !sealed.contains(cluster_key.trim()),
        "not to the cluster's key: {sealed}"
    );

    // The controller's Service name, for --online requests.
    std::fs::write(dir.join("env.sealed.yaml"), sealed.as_bytes()).expect("write");
    let named = sealant_with_env(
        cluster,
        &[("SEALANT_CONTROLLER_NAME", "no-such-controller")],
        &["verify", "--online", "env.sealed.yaml"],
        b"",
    );
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert!(!named.status.success(), "no Service of that name");
    assert!(
        stderr.contains("no-such-controller"),
        "the error names the Service: {stderr}"
    );
}

const KEYS: &str = "get secret -n sealant-system -l sealant.dev/sealing-key";
const PASSWORD: &str = "get secret db-creds -n apps -o jsonpath={.data.password}";

#[test]
fn a_new_user_seals_applies_updates_deletes_and_restores_from_backup() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let cluster = Cluster::start(d, "first");
    cluster.install();
    let controller = cluster.start_controller();

    // The controller publishes its key; fetch-key finds it by itself.
    cluster.wait_for(
        "get configmap sealant-public-keys -n sealant-system -o jsonpath={.data.public-key}",
        None,
        "the public key ConfigMap",
    );
    let key = cluster.sealant("fetch-key", None);
    assert!(key.starts_with("sealant-pub-v1:"), "{key}");
    environment_gives_the_defaults(&cluster, d, &key);

    // kubectl create secret --dry-run | sealant seal | kubectl apply
    cluster.kubectl_ok("create namespace apps", None);
    let secret = cluster.kubectl_ok(
        "create secret generic db-creds -n apps --from-literal=password=s3cr3t --dry-run=client -o yaml",
        None,
    );
    let sealed = cluster.sealant("seal", Some(secret.as_bytes()));
    assert!(
        !sealed.contains(&b64("s3cr3t")),
        "plaintext in sealed output"
    );
    std::fs::write(d.join("sealed.yaml"), &sealed).expect("write sealed.yaml");
    cluster.kubectl_ok("apply -f -", Some(sealed.as_bytes()));

    cluster.wait_for(PASSWORD, Some(&b64("s3cr3t")), "the unsealed Secret");
    cluster.wait_for(
        r#"get sealedsecret db-creds -n apps -o jsonpath={.status.conditions[?(@.type=="Synced")].status}"#,
        Some("True"),
        "Synced=True",
    );

    // Edit: seal a changed and a new key into the file, apply it again.
    let update = cluster.kubectl_ok(
        "create secret generic db-creds -n apps --from-literal=password=n3w --from-literal=user=admin --dry-run=client -o yaml",
        None,
    );
    cluster.sealant("merge-into sealed.yaml", Some(update.as_bytes()));
    cluster.kubectl_ok("apply -f sealed.yaml", None);
    cluster.wait_for(PASSWORD, Some(&b64("n3w")), "the updated password");
    cluster.wait_for(
        "get secret db-creds -n apps -o jsonpath={.data.user}",
        Some(&b64("admin")),
        "the new key",
    );

    // Back up the keys as the docs say, before deleting anything.
    let backup = cluster.kubectl_ok(&format!("{KEYS} -o yaml"), None);
    assert!(
        backup.contains("private-key"),
        "the backup holds the private keys"
    );
    std::fs::write(d.join("keys-backup.yaml"), &backup).expect("write backup");

    // Deleting the SealedSecret deletes the Secret it owns.
    cluster.kubectl_ok("delete sealedsecret db-creds -n apps", None);
    cluster.wait_gone("get secret db-creds -n apps", "the owned Secret");
    drop(controller);

    // A fresh cluster restored from the backup opens the old SealedSecret.
    let fresh = Cluster::start(d, "fresh");
    let namespace = repo().join("deploy/namespace.yaml");
    fresh.kubectl_ok(&format!("apply -f {}", namespace.display()), None);
    fresh.kubectl_ok("create -f keys-backup.yaml", None);
    fresh.install();
    let _controller = fresh.start_controller();
    fresh.kubectl_ok("create namespace apps", None);
    fresh.kubectl_ok("apply -f sealed.yaml", None);
    fresh.wait_for(
        PASSWORD,
        Some(&b64("n3w")),
        "the Secret unsealed with the restored key",
    );
    let keys = fresh.kubectl_ok(&format!("{KEYS} -o name"), None);
    assert_eq!(
        keys.lines().count(),
        backup.matches("kind: Secret").count(),
        "no new key was generated: {keys}"
    );
}

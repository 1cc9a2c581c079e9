//! The test API server driven by the real `kubectl` (skipped, with a message, when kubectl is not
//! installed): get/create/apply/apply --server-side/patch/delete/get -w on namespaces, Secrets,
//! ConfigMaps, CRDs and custom resources, and the `test-apiserver` binary.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use sealant_test_apiserver::{FaultMatch, TestApiServer};

fn kubectl_missing() -> bool {
    let found = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: kubectl is not installed; the kubectl tests need it on PATH");
    }
    !found
}

struct Kubectl {
    dir: TempDir,
}

impl Kubectl {
    fn for_server(server: &TestApiServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        Kubectl { dir }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG");
        cmd
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
    }

    /// Runs kubectl, asserts success, returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None).await
    }

    async fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout
    }

    /// Runs kubectl, asserts failure, returns stderr.
    async fn fails_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_secrets_and_configmaps() {
    if kubectl_missing() {
        return;
    }
    let server = TestApiServer::start().await;
    let k = Kubectl::for_server(&server);
    let namespaces = k.ok(&["get", "namespaces", "-o", "name"]).await;
    assert!(
        namespaces.contains("namespace/default") && namespaces.contains("namespace/kube-system"),
        "{namespaces}"
    );

    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&[
        "-n",
        "team-a",
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=hunter2",
    ])
    .await;
    let value = k
        .ok(&[
            "-n",
            "team-a",
            "get",
            "secret",
            "db",
            "-o",
            "jsonpath={.data.password}",
        ])
        .await;
    assert_eq!(value, "aHVudGVyMg==");
    let table = k.ok(&["-n", "team-a", "get", "secrets"]).await;
    assert!(
        table.contains("NAME") && table.contains("db") && table.contains("Opaque"),
        "{table}"
    );

    let err = k
        .fails_with(
            &[
                "-n",
                "team-a",
                "create",
                "secret",
                "generic",
                "db",
                "--from-literal=a=b",
            ],
            None,
        )
        .await;
    assert!(
        err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let err = k
        .fails_with(&["-n", "team-a", "get", "secret", "nope"], None)
        .await;
    assert!(
        err.contains("NotFound") && err.contains("\"nope\" not found"),
        "{err}"
    );

    k.ok(&[
        "-n",
        "team-a",
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ])
    .await;
    let cms = k.ok(&["get", "configmaps", "-A"]).await;
    assert!(cms.contains("team-a") && cms.contains("settings"), "{cms}");
    k.ok(&["-n", "team-a", "label", "configmap", "settings", "tier=web"])
        .await;
    let selected = k
        .ok(&[
            "-n",
            "team-a",
            "get",
            "cm",
            "-l",
            "tier in (web,api)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(selected.trim(), "configmap/settings");

    k.ok(&["-n", "team-a", "delete", "secret", "db"]).await;
    let err = k
        .fails_with(&["-n", "team-a", "get", "secret", "db"], None)
        .await;
    assert!(err.contains("not found"), "{err}");
    // Deleting the namespace removes what is in it.
    k.ok(&["delete", "namespace", "team-a"]).await;
    let left = k.ok(&["get", "configmaps", "-A", "-o", "name"]).await;
    assert!(!left.contains("settings"), "{left}");
}

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {app: web}
data:
  a: \"1\"
  b: \"2\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_client_side_server_side_and_patch() {
    if kubectl_missing() {
        return;
    }
    let server = TestApiServer::start().await;
    let k = Kubectl::for_server(&server);
    assert!(
        k.ok_with(&["apply", "-f", "-"], Some(CONFIGMAP))
            .await
            .contains("configmap/applied created")
    );
    let changed = CONFIGMAP.replace("b: \"2\"", "b: \"3\"");
    assert!(
        k.ok_with(&["apply", "-f", "-"], Some(&changed))
            .await
            .contains("configured")
    );
    assert!(
        k.ok_with(&["apply", "-f", "-"], Some(&changed))
            .await
            .contains("unchanged")
    );
    let data = k
        .ok(&["get", "cm", "applied", "-o", "jsonpath={.data.b}"])
        .await;
    assert_eq!(data, "3");

    // Server-side apply: a second manager conflicts on a field it would change...
    assert!(
        k.ok_with(&["apply", "--server-side", "-f", "-"], Some(&changed))
            .await
            .contains("serverside-applied")
    );
    let other =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"other\"\n";
    let err = k
        .fails_with(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(other),
        )
        .await;
    assert!(err.contains("conflict") && err.contains(".data.a"), "{err}");
    // ...unless it forces.
    k.ok_with(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(other),
    )
    .await;
    assert_eq!(
        k.ok(&["get", "cm", "applied", "-o", "jsonpath={.data.a}"])
            .await,
        "other"
    );
    let managers = k
        .ok(&[
            "get",
            "cm",
            "applied",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(managers.contains("other"), "{managers}");

    k.ok(&[
        "patch",
        "cm",
        "applied",
        "-p",
        "{\"data\":{\"s\":\"strategic\"}}",
    ])
    .await;
    k.ok(&[
        "patch",
        "cm",
        "applied",
        "--type=merge",
        "-p",
        "{\"data\":{\"b\":null}}",
    ])
    .await;
    let json = k.ok(&["get", "cm", "applied", "-o", "json"]).await;
    let cm: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(cm["data"]["s"], "strategic");
    assert!(cm["data"].get("b").is_none(), "{json}");
    let err = k
        .fails_with(
            &[
                "patch",
                "cm",
                "applied",
                "--type=json",
                "-p",
                "[{\"op\":\"test\",\"path\":\"/data/s\",\"value\":\"x\"}]",
            ],
            None,
        )
        .await;
    assert!(
        err.contains("invalid") || err.contains("Invalid") || err.contains("rejected"),
        "{err}"
    );
    k.ok(&[
        "patch",
        "cm",
        "applied",
        "--type=json",
        "-p",
        "[{\"op\":\"test\",\"path\":\"/data/s\",\"value\":\"strategic\"}]",
    ])
    .await;

    let deleted = k.ok_with(&["delete", "-f", "-"], Some(&changed)).await;
    assert!(
        deleted.contains("configmap \"applied\" deleted"),
        "{deleted}"
    );
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_and_custom_resources() {
    if kubectl_missing() {
        return;
    }
    let server = TestApiServer::start().await;
    let k = Kubectl::for_server(&server);
    k.ok_with(&["apply", "-f", "-"], Some(CRD)).await;
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/widgets.example.com",
        "--timeout=10s",
    ])
    .await;
    assert!(
        k.ok_with(&["apply", "-f", "-"], Some(WIDGET))
            .await
            .contains("widget.example.com/w1 created")
    );
    let table = k.ok(&["get", "wd"]).await;
    assert!(
        table.contains("SIZE") && table.contains("w1") && table.contains('3'),
        "{table}"
    );
    let bigger = WIDGET.replace("size: 3", "size: 4");
    assert!(
        k.ok_with(&["apply", "-f", "-"], Some(&bigger))
            .await
            .contains("configured")
    );
    k.ok_with(&["apply", "--server-side", "-f", "-"], Some(&bigger))
        .await;
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        "{\"status\":{\"ready\":true}}",
    ])
    .await;
    let got = k
        .ok(&[
            "get",
            "widget",
            "w1",
            "-o",
            "jsonpath={.metadata.generation} {.spec.size} {.status.ready}",
        ])
        .await;
    assert_eq!(got, "2 4 true");
    let err = k
        .fails_with(
            &[
                "patch",
                "widget",
                "w1",
                "--type=strategic",
                "-p",
                "{\"spec\":{\"size\":5}}",
            ],
            None,
        )
        .await;
    assert!(
        err.contains("not supported")
            || err.contains("UnsupportedMediaType")
            || err.contains("unknown"),
        "{err}"
    );

    k.ok(&["delete", "widget", "w1"]).await;
    k.ok(&["delete", "crd", "widgets.example.com"]).await;
    let err = k.fails_with(&["get", "widgets"], None).await;
    assert!(
        err.contains("the server doesn't have a resource type") || err.contains("could not find"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_changes_as_they_happen() {
    if kubectl_missing() {
        return;
    }
    let server = TestApiServer::start().await;
    let k = Kubectl::for_server(&server);
    let mut child = k
        .command(&["get", "configmaps", "--watch", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Once kubectl has listed and started watching, change things.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while server.request_count(&FaultMatch::new("watch", "configmaps")) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl never started watching"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("watched".into());
    api.create(&PostParams::default(), &cm).await.unwrap();
    api.delete("watched", &DeleteParams::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let collect = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let columns: Vec<String> = line
                .split_whitespace()
                .take(2)
                .map(str::to_string)
                .collect();
            seen.push(columns.join(" "));
            if line.starts_with("DELETED") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .unwrap();
    assert_eq!(seen, vec!["EVENT NAME", "ADDED watched", "DELETED watched"]);
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_ready_line_and_serves_kubectl() {
    if kubectl_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_test-apiserver"))
        .args(["--port", "0", "--gc", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        ready.starts_with("test-apiserver ready url=http://127.0.0.1:"),
        "{ready}"
    );
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "get",
            "namespace",
            "default",
            "-o",
            "jsonpath={.status.phase}",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Active");
    child.kill().await.unwrap();
}

/// Restoring a backup: `kubectl get -o yaml` prints a `kind: List` whose items still carry the
/// old cluster's resourceVersion and uid; `kubectl create -f` validates the List (through
/// OpenAPI v2) and creates the items with those fields cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_printed_by_get_is_created_again_elsewhere() {
    if kubectl_missing() {
        return;
    }
    let first = TestApiServer::start().await;
    let k1 = Kubectl::for_server(&first);
    k1.ok(&[
        "create",
        "secret",
        "generic",
        "backup-me",
        "--from-literal=k=v",
    ])
    .await;
    k1.ok(&["label", "secret", "backup-me", "role=key"]).await;
    let listed = k1
        .ok(&["get", "secret", "-l", "role=key", "-o", "yaml"])
        .await;
    assert!(
        listed.contains("kind: List") && listed.contains("resourceVersion"),
        "{listed}"
    );

    let second = TestApiServer::start().await;
    let k2 = Kubectl::for_server(&second);
    let created = k2.ok_with(&["create", "-f", "-"], Some(&listed)).await;
    assert!(created.contains("secret/backup-me created"), "{created}");
    let value = k2
        .ok(&["get", "secret", "backup-me", "-o", "jsonpath={.data.k}"])
        .await;
    assert_eq!(value, "dg==");
}

/// What `deploy/` installs besides the CRD: ServiceAccount, RBAC, Deployment, PDB and
/// NetworkPolicy objects are stored and served as a real API server would, so the end-to-end
/// test can `kubectl apply` the manifests unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_manifests_apply() {
    if kubectl_missing() {
        return;
    }
    let server = TestApiServer::start().await;
    let k = Kubectl::for_server(&server);
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for file in [
        "namespace.yaml",
        "serviceaccount.yaml",
        "rbac.yaml",
        "deployment.yaml",
        "service.yaml",
        "networkpolicy.yaml",
        "pdb.yaml",
    ] {
        let path = deploy.join(file);
        k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
    }
    let roles = k.ok(&["get", "clusterroles", "-o", "name"]).await;
    assert!(
        roles.contains("clusterrole.rbac.authorization.k8s.io/sealant-controller"),
        "{roles}"
    );
    let deployment = k
        .ok(&[
            "get",
            "deployment",
            "sealant-controller",
            "-n",
            "sealant-system",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await;
    assert_eq!(deployment, "2");
}

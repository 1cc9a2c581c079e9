//! The harness itself: what a test gets from it is a real, authenticating, authorizing API
//! server, and nothing is left running afterwards.

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use sealant_envtest::{Assets, ControlPlane, Options, assets_or_skip};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

async fn create_namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

#[test]
fn admin_users_and_service_accounts_are_authenticated_and_authorized_for_real() {
    let Some(plane) = ControlPlane::shared() else {
        return;
    };
    runtime().block_on(async {
        let admin = plane.admin_client().await.expect("admin client");
        create_namespace(&admin, "harness-authz").await;

        // An ordinary user with no grants is authenticated but may do nothing.
        let alice = plane
            .user_client("alice", &["developers"])
            .await
            .expect("alice");
        let err = Api::<ConfigMap>::namespaced(alice, "harness-authz")
            .create(&PostParams::default(), &config_map("from-alice"))
            .await
            .expect_err("alice has no grants");
        assert!(forbidden(&err), "{err}");

        // A ServiceAccount's token authenticates as the ServiceAccount.
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("robot".into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        Api::<ServiceAccount>::namespaced(admin.clone(), "harness-authz")
            .create(&PostParams::default(), &sa)
            .await
            .expect("create sa");
        let robot = plane
            .service_account_client("harness-authz", "robot")
            .await
            .expect("robot");
        let err = Api::<ConfigMap>::namespaced(robot, "harness-authz")
            .list(&Default::default())
            .await
            .expect_err("robot has no grants");
        assert!(forbidden(&err), "{err}");
        let message = match &err {
            kube::Error::Api(s) => s.message.clone(),
            other => other.to_string(),
        };
        assert!(
            message.contains("system:serviceaccount:harness-authz:robot"),
            "the API server names the ServiceAccount: {message}"
        );

        // The admin can, and the audit log counts its requests by verb.
        Api::<ConfigMap>::namespaced(admin, "harness-authz")
            .create(&PostParams::default(), &config_map("from-admin"))
            .await
            .expect("admin creates");
    });
    let counts = plane.requests_by_verb("alice").expect("audit log");
    assert!(
        counts.get("create").copied().unwrap_or(0) >= 1,
        "{counts:?}"
    );
    let robot = plane
        .requests_by_verb("system:serviceaccount:harness-authz:robot")
        .expect("audit log");
    assert!(robot.get("list").copied().unwrap_or(0) >= 1, "{robot:?}");
}

#[test]
fn kubectl_works_with_the_kubeconfigs_and_rbac_answers_can_i() {
    let Some(plane) = ControlPlane::shared() else {
        return;
    };
    let Some(kubectl) = plane.kubectl() else {
        eprintln!("skipped: kubectl is not installed");
        return;
    };
    let bob = plane
        .user_kubeconfig("bob", &["developers", "team-b"])
        .expect("bob");
    let can_i = |verb: &str, resource: &str| {
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&bob)
            .args(["auth", "can-i", verb, resource, "-n", "default"])
            .output()
            .expect("kubectl runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(can_i("get", "secrets"), "no");
    // Grant the second group (written under the same O attribute) and ask again. (Not the
    // aggregated `view` role: no clusterrole-aggregation controller runs here.)
    let admin = |args: &[&str]| {
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(plane.admin_kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    admin(&[
        "create",
        "role",
        "cm-reader",
        "-n",
        "default",
        "--verb=list",
        "--resource=configmaps",
    ]);
    admin(&[
        "create",
        "rolebinding",
        "team-b-cm",
        "-n",
        "default",
        "--role=cm-reader",
        "--group=team-b",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while can_i("list", "configmaps") != "yes" {
        assert!(
            Instant::now() < deadline,
            "the grant to team-b never applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        can_i("get", "secrets"),
        "no",
        "the grant is for ConfigMaps only"
    );
}

/// Whether a process with this id is still running (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
}

fn pids_in(dir: &std::path::Path) -> Vec<u32> {
    // Every process whose command line names the control plane's folder.
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

#[test]
fn a_dropped_control_plane_leaves_no_process_and_no_folder() {
    let Some(assets) = assets_or_skip() else {
        return;
    };
    let started = Instant::now();
    let plane = ControlPlane::start(&assets, Options::default()).expect("starts");
    let took = started.elapsed();
    let dir = plane.dir().to_path_buf();
    let pids = pids_in(&dir);
    assert!(
        pids.len() >= 3,
        "etcd, kube-apiserver, kube-controller-manager: {pids:?}"
    );
    assert!(took < Duration::from_secs(60), "started in {took:?}");
    drop(plane);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) || dir.exists() {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}, folder exists: {}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn missing_assets_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Assets::in_dir(dir.path()).expect_err("an empty folder has no kube-apiserver");
    assert!(err.to_string().contains("kube-apiserver"), "{err}");
    let err = Assets::in_dir(&dir.path().join("nope")).expect_err("no folder");
    assert!(err.to_string().contains("is not a folder"), "{err}");
}

/// Run by `a_killed_test_process_leaves_no_process_and_no_folder` in a child process: starts a
/// control plane, prints its folder and dies without unwinding.
#[test]
fn child_starts_a_control_plane_and_aborts() {
    if std::env::var_os("SEALANT_ENVTEST_CHILD").is_none() {
        return;
    }
    let assets = Assets::from_env().expect("assets").expect("assets set");
    let plane = ControlPlane::start(&assets, Options::default()).expect("starts");
    println!("DIR={}", plane.dir().display());
    std::process::abort();
}

#[test]
fn a_killed_test_process_leaves_no_process_and_no_folder() {
    if assets_or_skip().is_none() {
        return;
    }
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_starts_a_control_plane_and_aborts",
            "--nocapture",
        ])
        .env("SEALANT_ENVTEST_CHILD", "1")
        .output()
        .expect("child runs");
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("DIR="))
        .unwrap_or_else(|| panic!("no DIR= line: {stdout}"));
    let dir = std::path::PathBuf::from(dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<u32> = pids_in(&dir).into_iter().filter(|p| alive(*p)).collect();
        if pids.is_empty() && !dir.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the test process died: still running {pids:?}, folder exists: {}",
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

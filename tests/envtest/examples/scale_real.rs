//! Scale bench on a real control plane (run by `controller/benches/scale.sh --real`): starts etcd
//! and kube-apiserver from the envtest assets, installs the CRD, deploy/'s ServiceAccount and
//! RBAC and one sealing key, creates the SealedSecrets, then starts the release
//! `sealant-controller` with a token of its own ServiceAccount and prints the time until every
//! Secret is written, its peak RSS (VmHWM), its CPU time, and its API requests by verb (from the
//! API server's audit log). Then it restarts the controller on the converged cluster and prints
//! the requests the restart sent.
//!
//! Usage: scale_real CONTROLLER_BINARY [--objects N] [--values N] [--settle SECONDS]

#![allow(clippy::unwrap_used)] // A bench: any unexpected error should stop it loudly.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, CustomResourceExt};

use sealant_controller::keys::key_secret;
use sealant_core::format::Scope;
use sealant_core::keys::PrivateKey;
use sealant_core::resource::{MANAGED_BY_LABEL, SealedSecret, seal_secret};
use sealant_envtest::{ControlPlane, Options, Process, assets_or_skip};

const BENCH_NS: &str = "bench";
const CONTROLLER_NS: &str = "sealant-system";
const CONTROLLER_USER: &str = "system:serviceaccount:sealant-system:sealant-controller";

struct Args {
    controller: String,
    objects: usize,
    values: usize,
    settle: u64,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let controller = args.next().expect(
        "usage: scale_real CONTROLLER_BINARY [--objects N] [--values N] [--settle SECONDS]",
    );
    let mut parsed = Args {
        controller,
        objects: 10_000,
        values: 5,
        settle: 15,
    };
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--objects" => parsed.objects = value,
            "--values" => parsed.values = value,
            "--settle" => parsed.settle = value as u64,
            other => panic!("unknown flag {other}"),
        }
    }
    parsed
}

fn main() {
    let args = args();
    let Some(assets) = assets_or_skip() else {
        std::process::exit(2);
    };
    let plane = ControlPlane::start(
        &assets,
        Options {
            garbage_collector: false,
        },
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let setup = Instant::now();
    runtime.block_on(install(&plane, &args));
    eprintln!(
        "setup: {} SealedSecrets x {} values on a real kube-apiserver in {:.1}s",
        args.objects,
        args.values,
        setup.elapsed().as_secs_f64()
    );
    let kubeconfig = plane
        .service_account_kubeconfig(CONTROLLER_NS, "sealant-controller")
        .unwrap();

    // First sync.
    let before = plane.requests_by_verb(CONTROLLER_USER).unwrap();
    let start = Instant::now();
    let mut controller = start_controller(&plane, &args.controller, &kubeconfig);
    runtime.block_on(wait_all(&plane, &mut controller, args.objects, start));
    let all_written = start.elapsed();
    std::thread::sleep(Duration::from_secs(args.settle));
    let (hwm, _) = memory(controller.id());
    let cpu = cpu_seconds(controller.id());
    let first = diff(&plane.requests_by_verb(CONTROLLER_USER).unwrap(), &before);
    controller.terminate(Duration::from_secs(10));

    // Restart on the converged cluster: what does it send for unchanged objects?
    let before = plane.requests_by_verb(CONTROLLER_USER).unwrap();
    let mut restarted = start_controller(&plane, &args.controller, &kubeconfig);
    std::thread::sleep(Duration::from_secs(args.settle));
    let restart_cpu = cpu_seconds(restarted.id());
    let restart = diff(&plane.requests_by_verb(CONTROLLER_USER).unwrap(), &before);
    restarted.terminate(Duration::from_secs(10));

    let per = |counts: &BTreeMap<String, u64>| {
        counts
            .iter()
            .map(|(verb, n)| format!("{verb}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let total = |counts: &BTreeMap<String, u64>| counts.values().sum::<u64>();
    println!(
        "server=real objects={} values={} time_to_all_secrets_s={:.2} peak_rss_mib={:.1} controller_cpu_s={:.2} requests_total={} requests_per_object={:.2} requests: {}",
        args.objects,
        args.values,
        all_written.as_secs_f64(),
        hwm as f64 / 1024.0,
        cpu,
        total(&first),
        total(&first) as f64 / args.objects.max(1) as f64,
        per(&first)
    );
    println!(
        "restart (converged, {} s): controller_cpu_s={:.2} requests_total={} writes={} requests: {}",
        args.settle,
        restart_cpu,
        total(&restart),
        ["create", "update", "patch", "delete"]
            .iter()
            .map(|v| restart.get(*v).copied().unwrap_or(0))
            .sum::<u64>(),
        per(&restart)
    );
}

async fn install(plane: &ControlPlane, args: &Args) {
    let client = plane.admin_client().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [CONTROLLER_NS, BENCH_NS] {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
    }
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let kubectl = plane.kubectl().expect("kubectl");
    let status = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(plane.admin_kubeconfig())
        .args(["apply", "-f"])
        .arg(deploy.join("serviceaccount.yaml"))
        .args(["-f"])
        .arg(deploy.join("rbac.yaml"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "kubectl apply deploy/ RBAC");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &SealedSecret::crd())
        .await
        .unwrap();
    // The CRD serves once it is established.
    let sealed_api: Api<SealedSecret> = Api::namespaced(client.clone(), BENCH_NS);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sealed_api
        .list(&ListParams::default().limit(1))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the CRD never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key = PrivateKey::generate().unwrap();
    Api::<Secret>::namespaced(client.clone(), CONTROLLER_NS)
        .create(
            &PostParams::default(),
            &key_secret(&key, jiff::Timestamp::now()),
        )
        .await
        .unwrap();
    let values = args.values;
    let objects: Vec<SealedSecret> = (0..args.objects)
        .map(|i| {
            let data: BTreeMap<String, ByteString> = (0..values)
                .map(|v| {
                    (
                        format!("value-{v}"),
                        ByteString(format!("secret-{i}-{v}-{}", "x".repeat(24)).into_bytes()),
                    )
                })
                .collect();
            let plain = Secret {
                metadata: ObjectMeta {
                    name: Some(format!("s-{i:05}")),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..Secret::default()
            };
            seal_secret(
                &plain,
                BENCH_NS,
                Scope::Strict,
                std::slice::from_ref(key.public()),
            )
            .unwrap()
        })
        .collect();
    futures::stream::iter(objects)
        .map(|object| {
            let api = sealed_api.clone();
            async move {
                api.create(&PostParams::default(), &object)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
}

fn start_controller(plane: &ControlPlane, binary: &str, kubeconfig: &Path) -> Process {
    let log = std::fs::File::create(plane.dir().join("scale-controller.log")).unwrap();
    let mut command = Command::new(binary);
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--namespace", CONTROLLER_NS, "--leader-election=false"])
        .args(["--listen-addr", "127.0.0.1:0", "--log-level", "warn"])
        .args(["--key-renew-period", "0"])
        .env_remove("POD_NAMESPACE")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    plane.spawn("sealant-controller", command).unwrap()
}

/// Polls (metadata only, once a second) until every SealedSecret has its Secret.
async fn wait_all(plane: &ControlPlane, controller: &mut Process, objects: usize, start: Instant) {
    let client: Client = plane.admin_client().await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, BENCH_NS);
    loop {
        let count = secrets
            .list_metadata(&ListParams::default().labels(MANAGED_BY_LABEL))
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        if count >= objects {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "timed out: {count} of {objects} Secrets"
        );
        if let Some(status) = controller.try_wait() {
            panic!("the controller exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

fn diff(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(verb, n)| (verb.clone(), n - before.get(verb).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// VmHWM and VmRSS of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU time of a running process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    let per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks as f64 / per_second
}

//! Scale bench (run by `controller/benches/scale.sh`): fills an in-process test API server with
//! SealedSecrets (and optionally unrelated Secrets), starts the release `sealant-controller`
//! binary as a separate process against it, and prints the time from process start until every
//! Secret is written, and the controller's peak RSS (VmHWM from /proc/PID/status).
//!
//! Usage: scale CONTROLLER_BINARY [--objects N] [--values N] [--unrelated N]

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
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
use sealant_test_apiserver::TestApiServer;

const BENCH_NS: &str = "bench";
const NOISE_NS: &str = "noise";
const CONTROLLER_NS: &str = "sealant";

struct Args {
    controller: String,
    objects: usize,
    values: usize,
    unrelated: usize,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let controller = args
        .next()
        .expect("usage: scale CONTROLLER_BINARY [--objects N] [--values N] [--unrelated N]");
    let mut parsed = Args {
        controller,
        objects: 10_000,
        values: 5,
        unrelated: 0,
    };
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number after each flag");
        match flag.as_str() {
            "--objects" => parsed.objects = value,
            "--values" => parsed.values = value,
            "--unrelated" => parsed.unrelated = value,
            other => panic!("unknown flag {other}"),
        }
    }
    parsed
}

#[tokio::main]
async fn main() {
    let args = args();
    let server = TestApiServer::start().await;
    let client = server.client();
    let kubeconfig =
        std::env::temp_dir().join(format!("sealant-scale-{}.kubeconfig", std::process::id()));
    server.write_kubeconfig(&kubeconfig).unwrap();

    let setup = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [CONTROLLER_NS, BENCH_NS, NOISE_NS] {
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
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &SealedSecret::crd())
        .await
        .unwrap();
    let key = PrivateKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&key, jiff::Timestamp::now()),
        )
        .await
        .unwrap();

    create_all(&client, args.objects, |i| {
        let values: BTreeMap<String, ByteString> = (0..args.values)
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
            data: Some(values),
            ..Secret::default()
        };
        let sealed = seal_secret(
            &plain,
            BENCH_NS,
            Scope::Strict,
            std::slice::from_ref(key.public()),
        )
        .unwrap();
        Item::Sealed(Box::new(sealed))
    })
    .await;
    create_all(&client, args.unrelated, |i| {
        let data: BTreeMap<String, ByteString> = (0..4)
            .map(|v| (format!("k{v}"), ByteString(vec![b'n'; 256])))
            .collect();
        Item::Secret(Box::new(Secret {
            metadata: ObjectMeta {
                name: Some(format!("noise-{i:05}")),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        }))
    })
    .await;
    let baseline = server.object_count("", "secrets");
    eprintln!(
        "setup: {} SealedSecrets x {} values, {} unrelated Secrets in {:.1}s",
        args.objects,
        args.values,
        args.unrelated,
        setup.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let mut child = Command::new(&args.controller)
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .args([
            "--namespace",
            CONTROLLER_NS,
            "--leader-election=false",
            "--listen-addr",
            "127.0.0.1:0",
        ])
        .args(["--log-level", "warn", "--key-renew-period", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let target = baseline + args.objects;
    loop {
        let count = server.object_count("", "secrets");
        if count >= target {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out: {} of {} Secrets",
            count - baseline,
            args.objects
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the controller exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_written = start.elapsed();
    // Let the status updates that follow the last Secrets finish, then read the peak.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (hwm, rss) = memory(pid);
    let _ = child.kill();
    let _ = child.wait();

    // Spot-check content: every written Secret has all values.
    let written: Api<Secret> = Api::namespaced(client.clone(), BENCH_NS);
    let list = written
        .list(&ListParams::default().labels(MANAGED_BY_LABEL))
        .await
        .unwrap();
    assert_eq!(list.items.len(), args.objects);
    assert!(
        list.items
            .iter()
            .all(|s| s.data.as_ref().map_or(0, BTreeMap::len) == args.values)
    );
    let _ = std::fs::remove_file(&kubeconfig);

    println!(
        "objects={} values={} unrelated={} time_to_all_secrets_s={:.2} peak_rss_mib={:.1} rss_mib={:.1}",
        args.objects,
        args.values,
        args.unrelated,
        all_written.as_secs_f64(),
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0
    );
}

enum Item {
    Sealed(Box<SealedSecret>),
    Secret(Box<Secret>),
}

/// Creates `n` objects, 64 requests at a time.
async fn create_all(client: &Client, n: usize, make: impl Fn(usize) -> Item) {
    let items: Vec<Item> = (0..n).map(make).collect();
    futures::stream::iter(items)
        .map(|item| {
            let client = client.clone();
            async move {
                match item {
                    Item::Sealed(object) => {
                        let api: Api<SealedSecret> = Api::namespaced(client, BENCH_NS);
                        api.create(&PostParams::default(), &object)
                            .await
                            .map(|_| ())
                    }
                    Item::Secret(object) => {
                        let api: Api<Secret> = Api::namespaced(client, NOISE_NS);
                        api.create(&PostParams::default(), &object)
                            .await
                            .map(|_| ())
                    }
                }
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
}

/// VmHWM and VmRSS of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
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

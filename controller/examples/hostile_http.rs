//! HTTP bench under attack (run by `controller/benches/hostile_http.sh`): the release
//! `sealant-controller` binary with its default limits, 20 clients (each its own source address)
//! sending 1 MiB hostile YAML bodies (deep flow nesting, deep indentation, expanding aliases) to
//! `/v1/verify` and `/v1/rotate` in a loop, and another client asking for `/v1/public-key`.
//!
//! Prints the public key's latency (p50, p99, max over the samples), and how the hostile requests
//! were answered (status classes, slowest answer). Figures, not a pass/fail test: issue 18 asks for
//! a 4xx to each hostile body and the public key in under 100 ms while 20 are in flight.
//!
//! Usage: hostile_http CONTROLLER_BINARY [--samples N]

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use kube::api::{Api, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use sealant_controller::keys::key_secret;
use sealant_core::keys::PrivateKey;
use sealant_core::resource::SealedSecret;
use sealant_test_apiserver::TestApiServer;

const CONTROLLER_NS: &str = "sealant";
const ATTACKERS: u8 = 20;

/// One request on its own connection from `source`; the status code (0: no answer).
async fn request(source: IpAddr, addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let Ok(mut stream) = socket.connect(addr).await else {
        return 0;
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\
         Content-Type: application/yaml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    // The server may answer (413, 429) before reading the whole body and close.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let controller = args
        .next()
        .expect("usage: hostile_http CONTROLLER_BINARY [--samples N]");
    let samples: usize = match (args.next().as_deref(), args.next()) {
        (Some("--samples"), Some(n)) => n.parse().expect("a number after --samples"),
        _ => 200,
    };

    let server = TestApiServer::start().await;
    let client = server.client();
    let kubeconfig =
        std::env::temp_dir().join(format!("sealant-hostile-{}.kubeconfig", std::process::id()));
    server.write_kubeconfig(&kubeconfig).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(CONTROLLER_NS.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
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

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = Command::new(&controller)
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .args(["--namespace", CONTROLLER_NS, "--leader-election=false"])
        .args(["--listen-addr", &addr.to_string()])
        .args(["--log-level", "error", "--key-renew-period", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let viewer = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1));
    let started = Instant::now();
    while request(viewer, addr, "GET", "/v1/public-key", b"").await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the controller did not serve its key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let bodies = sealant_core::input::hostile_samples(1024 * 1024 - 1024);
    let stop = Arc::new(AtomicBool::new(false));
    // (status, how long the answer took) of every hostile request.
    let answers = Arc::new(Mutex::new(Vec::<(u16, Duration)>::new()));
    let mut attackers = Vec::new();
    for i in 0..ATTACKERS {
        let (_, body) = bodies[usize::from(i) % bodies.len()].clone();
        let (stop, answers) = (Arc::clone(&stop), Arc::clone(&answers));
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + i));
        let path = if i % 2 == 0 {
            "/v1/verify"
        } else {
            "/v1/rotate"
        };
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let status = request(source, addr, "POST", path, body.as_bytes()).await;
                answers.lock().await.push((status, asked.elapsed()));
            }
        }));
    }
    // Let every attacker have a request in flight first.
    while answers.lock().await.len() < usize::from(ATTACKERS) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let asked = Instant::now();
        let status = request(viewer, addr, "GET", "/v1/public-key", b"").await;
        latencies.push(asked.elapsed());
        assert_eq!(status, 200, "the public key was refused under attack");
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&kubeconfig);

    latencies.sort();
    let answers = answers.lock().await;
    let class =
        |range: std::ops::Range<u16>| answers.iter().filter(|(s, _)| range.contains(s)).count();
    let mut hostile: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    hostile.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "public_key_ms p50={:.1} p99={:.1} max={:.1} samples={} hostile_in_flight={ATTACKERS}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
        latencies.len(),
    );
    println!(
        "hostile answers={} 4xx={} (429={}) 2xx={} 5xx={} none={} answer_ms p50={:.1} p99={:.1} max={:.1}",
        answers.len(),
        class(400..500),
        answers.iter().filter(|(s, _)| *s == 429).count(),
        class(200..300),
        class(500..600),
        class(0..1),
        ms(percentile(&hostile, 0.5)),
        ms(percentile(&hostile, 0.99)),
        ms(*hostile.last().unwrap()),
    );
}

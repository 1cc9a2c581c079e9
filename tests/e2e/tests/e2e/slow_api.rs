//! Liveness and log volume when the network to the API server is slow or gone (issue 18, points
//! 5 and 6), on a real kube-apiserver: the controller talks to it through a TCP proxy started by
//! the test (127.0.0.1 only, bounded) that delays every chunk by a set latency in each direction,
//! or refuses and cuts every connection (an outage). kubectl, as the admin, goes direct.
//!
//! Without Kubernetes assets (`KUBEBUILDER_ASSETS`) every test prints one skip line; with
//! `CI=true` they fail instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sealant_e2e::{Kube, binary, converge, repo, seal_many, secrets_with, settled};
use sealant_envtest::{ControlPlane, Options, Process, assets_or_skip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SYSTEM: &str = "sealant-system";

/// A TCP proxy on 127.0.0.1 that forwards to one loopback address, delaying each chunk by the
/// current latency (each way), and that can be taken down (every connection cut, new ones
/// refused) and brought back. At most [`DelayProxy::MAX_CONNECTIONS`] connections at once, and
/// at most [`DelayProxy::QUEUED_CHUNKS`] chunks of 16 KiB in flight per direction.
struct DelayProxy {
    port: u16,
    latency_ms: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
    /// Bumped on each outage: connections of an older epoch close.
    epoch: Arc<AtomicU64>,
    runtime: tokio::runtime::Runtime,
}

impl DelayProxy {
    const MAX_CONNECTIONS: usize = 512;
    const QUEUED_CHUNKS: usize = 64;

    fn start(upstream: SocketAddr) -> DelayProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the proxy");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let latency_ms = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (l, d, e) = (latency_ms.clone(), down.clone(), epoch.clone());
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if d.load(Ordering::SeqCst) || open.load(Ordering::SeqCst) >= Self::MAX_CONNECTIONS
                {
                    drop(client);
                    continue;
                }
                let (l, e, open) = (l.clone(), e.clone(), open.clone());
                open.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let born = e.load(Ordering::SeqCst);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let up = pipe(cr, sw, l.clone(), e.clone(), born);
                        let downstream = pipe(sr, cw, l, e, born);
                        // Either direction ending (or the epoch moving on) ends the connection.
                        tokio::select! {
                            () = up => {}
                            () = downstream => {}
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        DelayProxy {
            port,
            latency_ms,
            down,
            epoch,
            runtime,
        }
    }

    fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// Cuts every connection and refuses new ones.
    fn down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// An outage of `outage`: [`DelayProxy::down`] now, and up again on its own when it has
    /// lasted that long. The simulated outage's length lives here, in the fake network, so
    /// that the test waits on what the controller does rather than sleeping through it.
    fn down_for(&self, outage: Duration) {
        self.down();
        let down = Arc::clone(&self.down);
        self.runtime.spawn(async move {
            tokio::time::sleep(outage).await;
            down.store(false, Ordering::SeqCst);
        });
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.down();
        // The runtime (and every connection task) goes with it.
        let _ = &self.runtime;
    }
}

/// Copies `from` to `to`, each chunk written `latency` after it was read, until either side
/// closes or the proxy's epoch moves past `born`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    latency_ms: Arc<AtomicU64>,
    epoch: Arc<AtomicU64>,
    born: u64,
) {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(DelayProxy::QUEUED_CHUNKS);
    let cut = {
        let epoch = epoch.clone();
        move || epoch.load(Ordering::SeqCst) != born
    };
    let reader = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::time::timeout(Duration::from_millis(200), from.read(&mut buffer))
                .await
            {
                Err(_) if cut() => return,
                Err(_) => continue,
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => n,
            };
            let due = tokio::time::Instant::now()
                + Duration::from_millis(latency_ms.load(Ordering::SeqCst));
            if tx.send((due, buffer[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let writer = async {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if cut() || to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = reader => {}
        () = writer => {}
    }
    let _ = to.shutdown().await;
}

fn deploy() -> String {
    repo().join("deploy").display().to_string()
}

/// A fresh control plane with `deploy/` installed.
fn fresh_cluster() -> Option<(ControlPlane, Kube)> {
    let assets = assets_or_skip()?;
    let plane = ControlPlane::start(&assets, Options::default()).expect("a fresh control plane");
    let mut admin = Kube::new(plane.admin_kubeconfig(), plane.dir());
    if let Some(kubectl) = plane.kubectl() {
        admin.kubectl = kubectl.to_path_buf();
    }
    admin.kubectl_ok(&format!("apply --server-side -k {}", deploy()), None);
    admin.wait_for(
        "get crd sealedsecrets.sealant.dev -o jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
        Some("True"),
        "the SealedSecret CRD to be established",
    );
    Some((plane, admin))
}

/// The controller, as its ServiceAccount, talking to the API server through `proxy`; its logs
/// (stdout and stderr, text format as an operator would read them) go to a file.
struct Replica {
    process: Process,
    log: PathBuf,
    port: u16,
}

impl Replica {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_lines(&self) -> usize {
        self.log().lines().count()
    }

    /// The last 40 lines of the log, for failure messages.
    fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `GET /readyz` on the controller's HTTP port: the status code (0 when it does not answer).
    fn readyz(&self) -> u16 {
        self.readyz_answer().0
    }

    /// `GET /readyz`: the status code and the whole answer.
    fn readyz_answer(&self) -> (u16, String) {
        self.get("/readyz")
    }

    /// The SealedSecrets in the controller's cache, as `/metrics` counts them by status.
    fn cached_sealed_secrets(&self) -> f64 {
        self.get("/metrics")
            .1
            .lines()
            .filter(|l| l.starts_with("sealant_sealedsecrets{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// `GET path` over HTTP/1.0 (a whole body, never chunked): the status code and the answer.
    fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        use std::io::{Read, Write};
        if stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .is_err()
        {
            return (0, String::new());
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let code = answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (code, answer)
    }
}

fn start_replica(
    plane: &ControlPlane,
    proxy: &DelayProxy,
    identity: &str,
    extra: &[&str],
) -> Replica {
    let kubeconfig = plane
        .service_account_kubeconfig(SYSTEM, "sealant-controller")
        .expect("a token for the controller's ServiceAccount");
    let text = std::fs::read_to_string(&kubeconfig).expect("read the kubeconfig");
    let proxied = text.replace(plane.server(), &format!("https://127.0.0.1:{}", proxy.port));
    assert_ne!(text, proxied, "the kubeconfig names {}", plane.server());
    let proxied_path = plane
        .dir()
        .join(format!("controller-{identity}.kubeconfig"));
    std::fs::write(&proxied_path, proxied).expect("write the proxied kubeconfig");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let log = plane.dir().join(format!("controller-{identity}.log"));
    let file = std::fs::File::create(&log).expect("controller log");
    let mut command = Command::new(binary("sealant-controller"));
    command
        .arg("--kubeconfig")
        .arg(&proxied_path)
        .args(["--namespace", SYSTEM])
        .args(["--listen-addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("POD_NAME", identity)
        .env_remove("POD_NAMESPACE")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("log file")))
        .stderr(Stdio::from(file));
    let process = plane
        .spawn(&format!("controller-{identity}"), command)
        .expect("sealant-controller starts");
    Replica { process, log, port }
}

/// The upstream address of the API server (`https://127.0.0.1:PORT`).
fn upstream(plane: &ControlPlane) -> SocketAddr {
    let server = plane.server();
    let hostport = server.trim_start_matches("https://").trim_end_matches('/');
    hostport
        .parse()
        .expect("the API server listens on an IP:port")
}

/// Point 5: with 2 s added each way between the controller and the API server, 50 new
/// SealedSecrets and then 50 edits still converge, and the controller stays leader and ready
/// throughout. Then a leader that keeps its Lease but whose reconciles all fail (calls slower
/// than its `--api-call-timeout`) says not-ready, and ready again once they succeed.
///
/// Point 6: an outage of 60 s costs fewer than 100 log lines (text format, as an operator reads
/// it), with no ANSI colour codes in a log that is not a terminal, and the reachability lines do
/// not flap; the changes made meanwhile converge afterwards.
#[test]
fn a_slow_api_server_still_converges_and_an_outage_is_quiet() {
    let Some((plane, admin)) = fresh_cluster() else {
        return;
    };
    let proxy = DelayProxy::start(upstream(&plane));
    // Not ready after 10 s of failures without a success (the default is 60 s).
    let mut replica = start_replica(&plane, &proxy, "slow", &["--unready-after=10s"]);
    admin.wait_for(
        "get configmap sealant-public-keys -n sealant-system -o jsonpath={.data.public-key}",
        None,
        "the public key ConfigMap",
    );
    converge("ready at start", Duration::from_secs(60), || {
        replica.readyz() == 200
    });

    proxy.set_latency(Duration::from_secs(2));
    let ns = "e2e-slow";
    admin.kubectl_ok(&format!("create namespace {ns}"), None);
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 50, "first").as_bytes()),
    );
    let unready_while_converging = std::cell::RefCell::new(Vec::new());
    let note_unready = || {
        let (code, answer) = replica.readyz_answer();
        if code != 200 {
            let reason = answer.lines().last().unwrap_or_default().to_string();
            unready_while_converging.borrow_mut().push(reason);
        }
    };
    let took = converge(
        "50 SealedSecrets at 2 s latency each way",
        Duration::from_secs(240),
        || {
            note_unready();
            secrets_with(&admin, ns, "s", "first") == 50
        },
    );
    eprintln!("2 s each way: 50 new SealedSecrets converged in {took:?}");
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 50, "second").as_bytes()),
    );
    let took = converge(
        "50 edits at 2 s latency each way",
        Duration::from_secs(240),
        || {
            note_unready();
            secrets_with(&admin, ns, "s", "second") == 50
        },
    );
    eprintln!("2 s each way: 50 edits converged in {took:?}");
    let unready = unready_while_converging.take();
    assert!(
        unready.is_empty(),
        "not ready while SealedSecrets converged: {unready:?}\n{}",
        replica.tail()
    );
    assert_eq!(admin.kubectl_ok(HOLDER, None), "slow");
    assert!(
        !replica.log().contains("no longer leading"),
        "the leader lost its Lease at 2 s latency:\n{}",
        replica.tail()
    );

    // The outage: 60 s with nothing reaching the API server (the proxy comes back on its own);
    // SealedSecrets are edited meanwhile, once the controller has said the server is gone.
    proxy.set_latency(Duration::ZERO);
    let lines_before = replica.log_lines();
    proxy.down_for(Duration::from_secs(60));
    let cut = Instant::now();
    converge(
        "the log to say the API server is unreachable",
        Duration::from_secs(30),
        || {
            replica
                .log()
                .lines()
                .skip(lines_before)
                .any(|l| l.contains("is unreachable"))
        },
    );
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 50, "third").as_bytes()),
    );
    converge(
        "the edits made during the outage",
        Duration::from_secs(60).saturating_sub(cut.elapsed()) + Duration::from_secs(120),
        || secrets_with(&admin, ns, "s", "third") == 50,
    );
    let took = cut.elapsed().saturating_sub(Duration::from_secs(60));
    eprintln!("outage: edits converged {took:?} after it ended");
    // Reachability is looked at once a second.
    converge(
        "the log to say the API server is back",
        Duration::from_secs(10),
        || {
            replica
                .log()
                .lines()
                .skip(lines_before)
                .any(|l| l.contains("reachable again"))
        },
    );
    let log = replica.log();
    let outage_log: Vec<&str> = log.lines().skip(lines_before).collect();
    eprintln!("outage: {} log lines for 60 s", outage_log.len());
    assert!(
        outage_log.len() < 100,
        "{} log lines during and after a 60 s outage:\n{}",
        outage_log.len(),
        outage_log.join("\n")
    );
    let unreachable = outage_log
        .iter()
        .filter(|l| l.contains("is unreachable"))
        .count();
    let back = outage_log
        .iter()
        .filter(|l| l.contains("reachable again"))
        .count();
    assert!(
        (1..=2).contains(&unreachable) && (1..=2).contains(&back),
        "reachability reported {unreachable} times down and {back} times back:\n{}",
        outage_log.join("\n")
    );
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a log file:\n{log}"
    );

    // A leader that keeps its Lease while every reconcile fails: a replica whose calls may take
    // 3 s, behind 2 s each way (4 s a call). The Lease has its own deadline and still renews.
    replica.process.kill();
    let mut stuck = start_replica(
        &plane,
        &proxy,
        "stuck",
        &["--unready-after=10s", "--api-call-timeout=3s"],
    );
    admin.wait_for(HOLDER, Some("stuck"), "the second replica to lead");
    converge("the second replica ready", Duration::from_secs(60), || {
        stuck.readyz() == 200
    });
    proxy.set_latency(Duration::from_secs(2));
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 50, "fourth").as_bytes()),
    );
    let unready = converge(
        "not ready while leading and no reconcile succeeds",
        Duration::from_secs(90),
        || stuck.readyz() == 503,
    );
    let (_, answer) = stuck.readyz_answer();
    assert!(answer.contains("no reconcile has succeeded"), "{answer}");
    assert_eq!(admin.kubectl_ok(HOLDER, None), "stuck", "still the leader");
    // (Some Secrets may already hold the new values: a write can reach the API server and its
    // answer come back after the caller gave up. Those reconciles still failed.)
    eprintln!("stuck leader: /readyz 503 {unready:?} after the edits");
    proxy.set_latency(Duration::ZERO);
    converge(
        "ready once reconciles succeed",
        Duration::from_secs(60),
        || stuck.readyz() == 200,
    );
    converge(
        "the edits once reconciles succeed",
        Duration::from_secs(120),
        || secrets_with(&admin, ns, "s", "fourth") == 50,
    );
    let log = format!("{log}{}", stuck.log());
    for value in ["first0", "second0", "third0", "fourth0"] {
        assert!(!log.contains(value), "plaintext in the log");
    }
    stuck.process.kill();
}

const HOLDER: &str =
    "get lease sealant-controller -n sealant-system -o jsonpath={.spec.holderIdentity}";

/// Point 6: deleting a namespace with many SealedSecrets (the Secrets and SealedSecrets go
/// together, in whatever order the garbage collector and the namespace controller pick) does not
/// write a WARN line per object.
#[test]
fn deleting_a_namespace_of_sealed_secrets_is_not_a_warning_per_object() {
    let Some((plane, admin)) = fresh_cluster() else {
        return;
    };
    let proxy = DelayProxy::start(upstream(&plane));
    let replica = start_replica(&plane, &proxy, "doomed", &[]);
    admin.wait_for(
        "get configmap sealant-public-keys -n sealant-system -o jsonpath={.data.public-key}",
        None,
        "the public key ConfigMap",
    );
    let ns = "e2e-doomed";
    admin.kubectl_ok(&format!("create namespace {ns}"), None);
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 100, "v").as_bytes()),
    );
    converge("100 SealedSecrets", Duration::from_secs(120), || {
        secrets_with(&admin, ns, "s", "v") == 100
    });
    let lines_before = replica.log_lines();
    // Edited just before the deletion: the controller is writing Secrets, statuses and Events
    // into the namespace while it is being terminated.
    admin.kubectl_ok(
        "apply -f -",
        Some(seal_many(&admin, ns, "s", 100, "w").as_bytes()),
    );
    admin.kubectl_ok(&format!("delete namespace {ns} --wait=false"), None);
    admin.wait_gone(&format!("get namespace {ns}"), "the namespace");
    // The controller has seen every deletion once its cache is empty; then whatever it retries
    // finds nothing to do. Read once its log has been quiet for two seconds.
    converge(
        "the controller to see every deletion",
        Duration::from_secs(60),
        || replica.cached_sealed_secrets() == 0.0,
    );
    settled(
        "the controller's log",
        Duration::from_secs(2),
        Duration::from_secs(60),
        || replica.log_lines(),
    );
    let log = replica.log();
    let after: Vec<&str> = log.lines().skip(lines_before).collect();
    let warnings = after.iter().filter(|l| l.contains("WARN")).count();
    eprintln!(
        "namespace deletion: {} lines, {warnings} WARN, for 100 SealedSecrets",
        after.len()
    );
    assert!(
        warnings <= 5,
        "{warnings} WARN lines for deleting a namespace:\n{}",
        after.join("\n")
    );
}

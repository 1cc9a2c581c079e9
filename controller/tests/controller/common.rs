//! Shared pieces of the integration tests: a test API server with the CRD, controllers run
//! in-process, sealing helpers, polling and a tiny HTTP client.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, CustomResourceExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use sealant_controller::Config;
use sealant_controller::leader::LeaseTiming;
use sealant_core::format::Scope;
use sealant_core::keys::PublicKey;
use sealant_core::resource::{PUBLIC_KEYS_CONFIGMAP, SealedSecret, seal_secret};
use sealant_test_apiserver::TestApiServer;

/// The controller's namespace in every test.
pub const CONTROLLER_NS: &str = "sealant";
/// How long a test waits for the controller to converge.
pub const CONVERGE: Duration = Duration::from_secs(20);

/// A test API server with owner-reference GC and the SealedSecret CRD installed.
pub async fn server() -> TestApiServer {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| LogTee)
        .try_init();
    let server = TestApiServer::builder().gc(true).start().await;
    let namespaces: Api<Namespace> = Api::all(server.client());
    for name in [
        CONTROLLER_NS,
        "prod",
        "staging",
        "team-a",
        "team-b",
        "team-c",
    ] {
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
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    crds.create(&PostParams::default(), &SealedSecret::crd())
        .await
        .unwrap();
    server
}

/// Every log line of this test binary (all its tests: they share one subscriber), for tests
/// that search the logs for what must never be there.
pub static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// The log lines written so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Writes log output to [`LOGS`] and to the test's captured output.
struct LogTee;

impl std::io::Write for LogTee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        print!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A config for tests: no leader election unless asked, short lease timings.
pub fn config(identity: &str) -> Config {
    let mut config = Config::new(CONTROLLER_NS, identity);
    config.leader_election = false;
    config.lease = LeaseTiming {
        duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    config
}

/// A controller running in-process on a loopback port.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), sealant_controller::Error>>>,
}

impl Running {
    /// Stops the controller gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("controller stops")
                .unwrap()
                .unwrap();
        }
    }

    /// Stops the controller at once, like a crashed process (no lease release).
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub async fn start(client: Client, config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(sealant_controller::serve(
        config,
        client,
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or panics naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `check` holds at every look (every 50 ms) for `window`, panicking naming `what`
/// the first time it does not: for what must *not* happen, where nothing the test can see says
/// that the controller has had its chance (a retry it must not make, a namespace it must not
/// watch). The window is the claim under test, not a wait for something to finish.
pub async fn holds_for<F, Fut>(what: &str, window: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + window;
    loop {
        assert!(check().await, "{what}");
        if tokio::time::Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `sample` has answered the same for `quiet` (looking every 50 ms) and returns that
/// answer, or panics naming `what` after [`CONVERGE`]: e.g. the test API server's request counts,
/// once the echoes of the controller's own writes have come back and been looked at.
pub async fn settled<T: PartialEq + std::fmt::Debug>(
    what: &str,
    quiet: Duration,
    mut sample: impl FnMut() -> T,
) -> T {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    let mut last = sample();
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = sample();
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() >= quiet {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never settled (last: {last:?})"
        );
    }
}

/// Lease reads the test API server has answered: a follower's elector reads the Lease on each
/// attempt to acquire it (a leader renews with writes only), so a rise says "the follower tried".
pub fn lease_reads(server: &TestApiServer) -> u64 {
    server.request_count(&sealant_test_apiserver::FaultMatch::new("get", "leases"))
}

/// Waits until the test API server has seen `more` Lease reads after `since` (a count from
/// [`lease_reads`]).
pub async fn lease_reads_after(server: &TestApiServer, since: u64, more: u64) {
    wait_for(&format!("{more} more Lease reads"), || async {
        (lease_reads(server) >= since + more).then_some(())
    })
    .await;
}

/// The published public key (newest active), once the ConfigMap exists.
pub async fn published_key(client: &Client) -> PublicKey {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    wait_for("the public key ConfigMap", || async {
        let cm = api.get_opt(PUBLIC_KEYS_CONFIGMAP).await.ok()??;
        cm.data?.get("public-key")?.trim().parse().ok()
    })
    .await
}

/// A Secret with string data, to be sealed.
pub fn plain_secret(name: &str, values: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".to_string(), "db".to_string())])),
            annotations: Some(BTreeMap::from([("team".to_string(), "data".to_string())])),
            ..ObjectMeta::default()
        },
        data: Some(
            values
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        // basic-auth when the values allow it: a real API server (and the test one) refuses a
        // kubernetes.io/basic-auth Secret with neither username nor password.
        type_: Some(
            if values
                .iter()
                .any(|(k, _)| matches!(*k, "username" | "password"))
            {
                "kubernetes.io/basic-auth"
            } else {
                "Opaque"
            }
            .to_string(),
        ),
        ..Secret::default()
    }
}

/// Seals `values` for `namespace`/`name` to `key`.
pub fn sealed(
    name: &str,
    namespace: &str,
    key: &PublicKey,
    values: &[(&str, &str)],
    scope: Scope,
) -> SealedSecret {
    seal_secret(
        &plain_secret(name, values),
        namespace,
        scope,
        std::slice::from_ref(key),
    )
    .unwrap()
}

pub async fn create_sealed(client: &Client, sealed: &SealedSecret) -> SealedSecret {
    let ns = sealed.metadata.namespace.as_deref().unwrap();
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), sealed).await.unwrap()
}

/// The Secret's data as strings.
pub fn data_of(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
        .collect()
}

/// Waits for the Secret and returns it once `ok` accepts it.
pub async fn wait_secret(
    client: &Client,
    ns: &str,
    name: &str,
    ok: impl Fn(&Secret) -> bool,
) -> Secret {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    wait_for(&format!("Secret {ns}/{name}"), || async {
        let secret = api.get_opt(name).await.ok()??;
        ok(&secret).then_some(secret)
    })
    .await
}

/// Waits for the Synced condition to have `reason` and returns it.
pub async fn wait_condition(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
) -> (SealedSecret, Condition) {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_for(
        &format!("SealedSecret {ns}/{name} to be {reason}"),
        || async {
            let object = api.get_opt(name).await.ok()??;
            let condition = object
                .status
                .as_ref()?
                .conditions
                .iter()
                .find(|c| c.type_ == "Synced")?
                .clone();
            (condition.reason == reason).then_some((object, condition))
        },
    )
    .await
}

/// The Events about one object, as (type, reason, note).
pub async fn events_about(client: &Client, ns: &str, name: &str) -> Vec<(String, String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let list = api.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits until the Events about one object satisfy `ok` and returns them. The controller writes
/// the status before it publishes the Event, so a test that saw the condition must still wait.
pub async fn wait_events(
    client: &Client,
    ns: &str,
    name: &str,
    ok: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    wait_for(&format!("the Events about {ns}/{name}"), || async {
        let events = events_about(client, ns, name).await;
        ok(&events).then_some(events)
    })
    .await
}

/// A minimal HTTP/1.1 exchange: returns status, content type and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, String) {
    http_from(None, addr, method, path, content_type, body).await
}

/// [`http`] from a chosen loopback source address (e.g. 127.0.0.2), so tests can play several
/// clients.
pub async fn http_from(
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = match source {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(ip, 0)).unwrap();
            socket.connect(addr).await.unwrap()
        }
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body and close; ignore write errors.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, content_type, body)
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

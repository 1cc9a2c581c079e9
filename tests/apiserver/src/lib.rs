//! An in-memory Kubernetes API server that speaks the real REST protocol, for sealant's tests.
//!
//! ```no_run
//! # async fn demo() {
//! use sealant_test_apiserver::TestApiServer;
//!
//! let server = TestApiServer::builder().gc(true).start().await;
//! let client: kube::Client = server.client();
//! server.write_kubeconfig("/tmp/kubeconfig").unwrap();
//! // ... kubectl --kubeconfig /tmp/kubeconfig get secrets -A
//! server.shutdown().await;
//! # }
//! ```
//!
//! It serves plain HTTP on 127.0.0.1 (a random port unless one is chosen), keeps every object in
//! memory with one global resourceVersion, and follows kube-apiserver where behaviour matters to
//! a controller: watches with bookmarks and 410 Gone, optimistic concurrency, finalizers,
//! server-side apply with field managers and conflicts, status subresources, CRDs that start
//! serving on creation, and (optionally) owner-reference garbage collection. Faults can be
//! injected per verb and resource.

// Unit tests unwrap freely: a panic is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod discovery;
mod error;
mod faults;
mod fields;
mod http;
mod openapi;
mod proto;
mod proxy;
mod resources;
mod schema;
mod selectors;
mod store;
mod tables;
mod validation;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use crate::faults::FaultMatch;
use crate::faults::Faults;
use crate::http::AppState;
use crate::store::{ChangeKind, DeleteOpts, FOREGROUND, ORPHAN, Store};

/// Why the server could not start or write its kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("building a kube client for {url}")]
    Client {
        url: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing kubeconfig {path}")]
    WriteKubeconfig {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Options for [`TestApiServer`]; start with [`TestApiServer::builder`].
#[derive(Clone, Debug)]
pub struct Builder {
    port: u16,
    gc: bool,
    gc_interval: Duration,
    bookmark_interval: Duration,
    watch_history: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            port: 0,
            gc: false,
            gc_interval: Duration::from_millis(100),
            bookmark_interval: Duration::from_secs(1),
            watch_history: 200_000,
        }
    }
}

impl Builder {
    /// Listen on this port (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Run owner-reference garbage collection (off by default, like a bare kube-apiserver).
    pub fn gc(mut self, enabled: bool) -> Self {
        self.gc = enabled;
        self
    }

    /// How soon after an owner disappears its dependents are collected (default 100 ms).
    pub fn gc_interval(mut self, interval: Duration) -> Self {
        self.gc_interval = interval;
        self
    }

    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK (default 1 s).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How many changes are kept for watch replay (default 200,000); a watch from a
    /// resourceVersion older than that gets 410 Gone.
    pub fn watch_history(mut self, changes: usize) -> Self {
        self.watch_history = changes;
        self
    }

    /// Starts the server.
    ///
    /// # Panics
    /// When no loopback port can be bound; use [`Builder::try_start`] to handle that.
    pub async fn start(self) -> TestApiServer {
        match self.try_start().await {
            Ok(server) => server,
            Err(err) => panic!("test-apiserver failed to start: {}", error_chain(&err)),
        }
    }

    pub async fn try_start(self) -> Result<TestApiServer, Error> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|source| Error::Bind {
                port: self.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            port: self.port,
            source,
        })?;
        let url = format!("http://{addr}");
        let store = Arc::new(Store::new(self.watch_history, self.gc));
        let faults = Arc::new(Faults::default());
        let (watch_epoch, _) = watch::channel(0u64);
        let state = AppState {
            store: Arc::clone(&store),
            faults: Arc::clone(&faults),
            watch_epoch: watch_epoch.clone(),
            bookmark_interval: self.bookmark_interval,
            address: addr.to_string(),
        };
        let client = client_for(&url)?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = http::router(state);
        // Watch events are small writes on a long response: without TCP_NODELAY, Nagle and
        // delayed ACKs hold each one back for tens of milliseconds.
        let listener = listener.tap_io(|tcp| {
            // Only latency is at stake if this fails; the connection still works.
            let _ = tcp.set_nodelay(true);
        });
        let serve = tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_rx.await;
            };
            // Serving ends only on shutdown or a listener failure; neither needs reporting here.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        let gc = self
            .gc
            .then(|| tokio::spawn(garbage_collector(Arc::clone(&store), self.gc_interval)));
        Ok(TestApiServer {
            addr,
            url,
            store,
            faults,
            watch_epoch,
            client,
            stop: Some(stop_tx),
            serve: Some(serve),
            gc,
        })
    }
}

fn client_for(url: &str) -> Result<kube::Client, Error> {
    let uri: ::http::Uri = url
        .parse()
        .map_err(|e: ::http::uri::InvalidUri| Error::Client {
            url: url.to_string(),
            source: kube::Error::Service(Box::new(e)),
        })?;
    let mut config = kube::Config::new(uri);
    config.default_namespace = "default".into();
    kube::Client::try_from(config).map_err(|source| Error::Client {
        url: url.to_string(),
        source,
    })
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A running in-memory API server. Dropping it stops serving.
pub struct TestApiServer {
    addr: SocketAddr,
    url: String,
    store: Arc<Store>,
    faults: Arc<Faults>,
    watch_epoch: watch::Sender<u64>,
    client: kube::Client,
    stop: Option<oneshot::Sender<()>>,
    serve: Option<JoinHandle<()>>,
    gc: Option<JoinHandle<()>>,
}

impl TestApiServer {
    /// Starts a server with default options on a random port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> TestApiServer {
        Builder::default().start().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A client for this server (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig text that `kubectl` and `kube::Config` accept for this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_text(&self.url)
    }

    /// Writes [`TestApiServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        write_kubeconfig_file(&self.url, path.as_ref())
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.store.resource_version()
    }

    /// How many objects of `group`/`plural` are stored (e.g. `("", "secrets")`).
    pub fn object_count(&self, group: &str, plural: &str) -> usize {
        self.store.count(&resources::StorageKey {
            group: group.into(),
            plural: plural.into(),
        })
    }

    /// Fails the next `times` requests matching `matcher` with HTTP `code` (a `metav1.Status`
    /// body with the matching reason: 409 Conflict, 429 TooManyRequests, 500 InternalError...).
    pub fn fail_next(&self, matcher: FaultMatch, code: u16, times: u32) {
        self.faults.fail_next(matcher, code, times);
    }

    /// How many resource requests matching `matcher` were served so far (e.g.
    /// `FaultMatch::new("patch", "secrets")`; `*` matches any verb or resource).
    pub fn request_count(&self, matcher: &FaultMatch) -> u64 {
        self.faults.count(matcher)
    }

    /// Adds this delay before every resource request (zero removes it).
    pub fn set_latency(&self, latency: Duration) {
        self.faults.set_latency(latency);
    }

    /// Removes all injected failures and latency.
    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    /// Ends every open watch stream now (clients see the stream close and re-watch).
    pub fn drop_watches(&self) {
        self.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Forgets watch history, so a watch from any resourceVersion issued so far gets 410 Gone
    /// (what etcd compaction does to a real apiserver).
    pub fn compact(&self) {
        self.store.compact();
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(serve) = self.serve.take() {
            let _ = serve.await;
        }
    }

    fn stop_now(&mut self) {
        self.drop_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(gc) = self.gc.take() {
            gc.abort();
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(serve) = self.serve.take() {
            serve.abort();
        }
    }
}

/// A kubeconfig for a plain-HTTP server at `url`, context `test-apiserver`, namespace `default`.
pub fn kubeconfig_text(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test-apiserver\n  cluster:\n    server: {url}\ncontexts:\n- name: test-apiserver\n  context:\n    cluster: test-apiserver\n    user: test-user\n    namespace: default\ncurrent-context: test-apiserver\nusers:\n- name: test-user\n  user: {{}}\npreferences: {{}}\n"
    )
}

pub fn write_kubeconfig_file(url: &str, path: &Path) -> Result<(), Error> {
    std::fs::write(path, kubeconfig_text(url)).map_err(|source| Error::WriteKubeconfig {
        path: path.display().to_string(),
        source,
    })
}

/// Deletes objects whose owners are all gone, soon after any delete (like the kube-controller-
/// manager's garbage collector with background propagation).
async fn garbage_collector(store: Arc<Store>, interval: Duration) {
    let mut changes = store.subscribe();
    let mut dirty = true;
    loop {
        if dirty {
            dirty = false;
            collect_garbage(&store);
        }
        tokio::time::sleep(interval).await;
        loop {
            match changes.try_recv() {
                Ok(change) => {
                    // An owner went away, a dependent appeared (its owner may never have
                    // existed), or a deletion now waits for the collector; other updates do
                    // not need a scan.
                    let meta = &change.object["metadata"];
                    let owned = meta.get("ownerReferences").is_some();
                    let waiting = meta.get("deletionTimestamp").is_some()
                        && store::finalizers(&change.object)
                            .iter()
                            .any(|f| f == FOREGROUND || f == ORPHAN);
                    match change.kind {
                        ChangeKind::Deleted => dirty = true,
                        ChangeKind::Added if owned => dirty = true,
                        ChangeKind::Modified if waiting => dirty = true,
                        _ => {}
                    }
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => dirty = true,
                Err(_) => break,
            }
        }
    }
}

/// One pass of the collector: orphans go (background propagation); owners deleted with
/// `Foreground` wait until their dependents are gone, `Orphan` owners first release theirs.
fn collect_garbage(store: &Store) {
    // Failures below mean the object changed or went away meanwhile; the next pass sees that.
    for (storage, (ns, name)) in store.orphans() {
        if let Some(view) = store.view_of(&storage) {
            let _ = store.delete(&view, &ns, &name, &DeleteOpts::default());
        }
    }
    for (storage, (ns, name), uid, finalizer) in store.gc_finalizing() {
        let dependents = store.dependents_of(&uid);
        if finalizer == FOREGROUND && !dependents.is_empty() {
            for (d_storage, (d_ns, d_name)) in dependents {
                if let Some(view) = store.view_of(&d_storage) {
                    let _ = store.delete(&view, &d_ns, &d_name, &DeleteOpts::default());
                }
            }
            continue;
        }
        if finalizer == ORPHAN {
            for (d_storage, (d_ns, d_name)) in dependents {
                let _ = gc_update(store, &d_storage, &d_ns, &d_name, |obj| {
                    if let Some(owners) = obj["metadata"]["ownerReferences"].as_array_mut() {
                        owners.retain(|o| o["uid"] != uid.as_str());
                    }
                });
            }
        }
        let _ = gc_update(store, &storage, &ns, &name, |obj| {
            if let Some(list) = obj["metadata"]["finalizers"].as_array_mut() {
                list.retain(|f| f != finalizer);
            }
        });
    }
}

/// An update made by the collector (field manager `generic-garbage-collector`).
fn gc_update(
    store: &Store,
    storage: &resources::StorageKey,
    ns: &str,
    name: &str,
    change: impl FnOnce(&mut serde_json::Value),
) -> Result<(), error::ApiError> {
    let Some(view) = store.view_of(storage) else {
        return Ok(());
    };
    let part = if view.status_subresource {
        fields::Part::MainOnly
    } else {
        fields::Part::Whole
    };
    let opts = store::WriteOpts {
        part,
        manager: Some("generic-garbage-collector".into()),
        dry_run: false,
    };
    store.write(&view, ns, name, &opts, |current| {
        let current =
            current.ok_or_else(|| error::ApiError::not_found(&view.plural, &view.group, name))?;
        let mut object = (*resources::present(&view, current)).clone();
        change(&mut object);
        Ok(object)
    })?;
    Ok(())
}

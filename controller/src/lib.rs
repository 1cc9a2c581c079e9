//! `sealant-controller`: unseals SealedSecrets into Secrets, manages the sealing keys, serves the
//! public key and a few helpers over HTTP, and elects a leader so that several replicas can run.
//!
//! [`run`] is the whole program minus argument parsing and logging setup, so that tests can start
//! a controller in-process against a test API server.
//!
//! Every replica loads the keys (a watch on the key Secrets) and serves HTTP; only the leader
//! reconciles SealedSecrets, generates and renews keys and publishes the public keys.

pub mod apply;
pub mod cache;
pub mod conditions;
pub mod context;
pub mod controller;
pub mod errors;
pub mod events;
pub mod fair;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod outage;
pub mod policy;
pub mod readiness;
pub mod reconcile;
pub mod status;
#[cfg(test)]
mod test_support;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use kube::Client;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::context::Context;
use crate::keys::KeyManager;
use crate::leader::{LeaderElector, Leadership, LeaseTiming, LeaseTimingError};
use crate::metrics::Metrics;
use crate::policy::Policy;

/// Field manager of every server-side apply, and the reporting controller of Events.
pub const FIELD_MANAGER: &str = "sealant-controller";
/// How long running reconciliations may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Name of the Lease used for leader election, in the controller's namespace.
pub const LEASE_NAME: &str = "sealant-controller";

/// Everything the controller needs besides a client; built from flags by `main`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the keys, the public-key ConfigMap and the Lease live.
    pub namespace: String,
    /// Namespaces whose SealedSecrets are reconciled; empty means all.
    pub watch_namespaces: Vec<String>,
    /// Generate a new key when the newest active key is this old; `None` disables renewal.
    pub key_renew_period: Option<Duration>,
    /// Generate a new key at start when the newest active key was created before this.
    pub key_cutoff: Option<Timestamp>,
    /// Whether to elect a leader; without it this replica always reconciles.
    pub leader_election: bool,
    /// This replica's name in the Lease and in Events.
    pub identity: String,
    /// Lease duration, renew deadline and retry period.
    pub lease: LeaseTiming,
    /// How long a SealedSecret that cannot be unsealed (wrong scope, unknown key, tampered, Secret
    /// not owned) waits before it is tried again; new keys and edits retrigger it sooner.
    pub permanent_error_requeue: Duration,
    /// How often a synced SealedSecret is checked again even if nothing changed.
    pub resync: Duration,
    /// How many SealedSecrets are reconciled at once (0 = unlimited).
    pub concurrency: u16,
    /// HTTP limits.
    pub http: http::Limits,
    /// What SealedSecrets may make the controller do (see [`policy`]).
    pub policy: Policy,
    /// The type of the keys generated from now on (X25519, or the X-Wing post-quantum hybrid).
    pub key_type: sealant_core::keys::KeyType,
    /// Serve the sealing page at `/ui` ([`ui`]); off by default.
    pub web_ui: bool,
    /// The deadline of each API call but watches (zero: none). Each call of a reconcile has its
    /// own; none bounds a whole reconcile.
    pub api_call_timeout: Duration,
    /// `/readyz` says not-ready once the leader's reconciles and watches have only failed for
    /// this long (zero: never).
    pub unready_after: Duration,
    /// While the API server is unreachable, one summary line per this period (zero: none).
    pub outage_summary_period: Duration,
    /// Whether a generated key may be weaker than the newest existing key (see
    /// [`policy::generated_key_type`]).
    pub allow_key_type_downgrade: bool,
}

impl Config {
    /// Defaults for everything but the namespace and identity.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Config {
        let namespace = namespace.into();
        Config {
            policy: Policy::new(namespace.clone()),
            key_type: sealant_core::keys::KeyType::default(),
            allow_key_type_downgrade: false,
            namespace,
            watch_namespaces: Vec::new(),
            key_renew_period: Some(Duration::from_secs(30 * 24 * 3600)),
            key_cutoff: None,
            leader_election: true,
            identity: identity.into(),
            lease: LeaseTiming::default(),
            permanent_error_requeue: Duration::from_secs(3600),
            resync: Duration::from_secs(3600),
            concurrency: 64,
            http: http::Limits::default(),
            web_ui: false,
            api_call_timeout: Duration::from_secs(30),
            unready_after: Duration::from_secs(60),
            outage_summary_period: Duration::from_secs(60),
        }
    }
}

/// The controller could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding the HTTP listener failed.
    #[error("binding the HTTP listener on {addr}")]
    BindHttp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("serving HTTP")]
    ServeHttp(#[source] std::io::Error),
    /// The lease timings cannot keep one leader at a time.
    #[error(transparent)]
    LeaseTiming(#[from] LeaseTimingError),
}

/// Binds `config`'s listen address and runs the controller until `shutdown` resolves.
/// `lease_client` is used for the Lease alone: a client of its own (its own connections), so
/// that renewals never wait for a connection behind the reconcilers' requests, which over a slow
/// link cost a TLS handshake (two round trips) more than the renewal could afford.
pub async fn run(
    config: Config,
    client: Client,
    lease_client: Client,
    listen_addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listener = TcpListener::bind(listen_addr)
        .await
        .map_err(|source| Error::BindHttp {
            addr: listen_addr,
            source,
        })?;
    serve_with_lease_client(config, client, lease_client, listener, shutdown).await
}

/// Runs the controller on an already bound listener (tests bind port 0 and read the address)
/// until `shutdown` resolves: key loading and HTTP in every replica, leader election, and, while
/// leading, the reconcilers and key renewal. Returns once everything has stopped.
pub async fn serve(
    config: Config,
    client: Client,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let lease_client = client.clone();
    serve_with_lease_client(config, client, lease_client, listener, shutdown).await
}

/// [`serve`] with a separate client for the Lease (see [`run`]).
pub async fn serve_with_lease_client(
    config: Config,
    client: Client,
    lease_client: Client,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // Every request, the Lease's included, has its own deadline and tells whether the API server
    // answers; an outage is logged as state changes and summaries, not once per failed request.
    let client = outage::observed_client(client, config.api_call_timeout);
    // The Lease calls have their own deadline (the renew deadline, see `leader`).
    let lease_client = outage::observed_client(lease_client, Duration::ZERO);
    let _outage_log = Task(tokio::spawn(outage::watch(config.outage_summary_period)));
    // Leader election. The elector owns the only sender of `leadership`: if its task ends, this
    // replica is not leading.
    let elector = if config.leader_election {
        config.lease.validate()?;
        Some(LeaderElector::new(
            lease_client,
            &config.namespace,
            LEASE_NAME,
            &config.identity,
            config.lease,
        ))
    } else {
        None
    };
    let leadership = elector
        .as_ref()
        .map_or_else(Leadership::unelected, LeaderElector::leadership);
    // Every write of the reconcilers and the key upkeep goes through this client, which refuses
    // it unless `leadership.may_write()` at that moment (a replica woken from a pause, or one
    // that could not renew in time, writes nothing). Reads and watches pass through.
    let client = leader::fenced_client(client, leadership.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = shutdown.then(move |()| async move {
        let _ = stop_tx.send(true);
    });
    let _shutdown_task = Task(tokio::spawn(shutdown));

    let metrics = Arc::new(Metrics::default());
    let key_manager = KeyManager::new(client.clone(), &config.namespace)
        .with_key_type(config.key_type)
        .allow_weaker_key_type(config.allow_key_type_downgrade);
    let keys = key_manager.keys();
    let scraped = keys.clone();
    metrics.watch_keys(move || {
        let current = scraped.current();
        crate::metrics::KeyFigures {
            loaded: current.keys.len(),
            newest_active: current.newest_active().map(|k| k.created_at),
        }
    });
    let context = Arc::new(Context::new(
        client.clone(),
        &config,
        keys.clone(),
        Arc::clone(&metrics),
    ));

    let key_watch = Task(tokio::spawn(
        key_manager.clone().watch(stopped(stop_rx.clone())),
    ));

    // The elector stops (and releases the Lease) only once the leader's work has stopped.
    let (release_tx, release_rx) = watch::channel(false);
    let elector = elector.map(|elector| Task(tokio::spawn(elector.run(stopped(release_rx)))));

    let state = http::AppState::new(Arc::clone(&context), config.http.clone());
    let mut app = http::router(state, &config.http);
    if config.web_ui {
        app = app.merge(ui::router(Arc::clone(&context)));
    }
    let http_stop = stopped(stop_rx.clone());
    let http_task = Task(tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(http_stop)
        .await
    }));

    lead_while_elected(
        &config,
        &context,
        &key_manager,
        &leadership,
        stop_rx.clone(),
    )
    .await;

    let _ = release_tx.send(true);
    if let Some(elector) = elector {
        let _ = elector.join().await;
    }
    let _ = key_watch.join().await;
    let served = http_task.join().await;
    match served {
        Ok(result) => result.map_err(Error::ServeHttp),
        Err(join) => {
            warn!(error = %join, "HTTP task ended abnormally");
            Ok(())
        }
    }
}

/// Runs the leader's work (reconcilers and key upkeep) each time this replica is elected, and
/// drops it as soon as it may no longer write (lease lost, renew deadline passed, elector gone).
/// Returns on shutdown once that work has stopped.
async fn lead_while_elected(
    config: &Config,
    context: &Arc<Context>,
    key_manager: &KeyManager,
    leadership: &Leadership,
    stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            acquired = leadership.acquired() => if !acquired {
                warn!(identity = %config.identity, "leader election stopped: not leading");
                stopped(stop.clone()).await;
                return;
            },
            () = stopped(stop.clone()) => return,
        }
        if *stop.borrow() {
            return;
        }
        info!(identity = %config.identity, "leading: starting reconcilers and key upkeep");
        context.set_leading(true);
        let work = futures::future::join(
            controller::run(Arc::clone(context), config.clone(), stopped(stop.clone())),
            key_manager.lead(
                config.key_renew_period,
                config.key_cutoff,
                stopped(stop.clone()),
            ),
        );
        tokio::select! {
            _ = work => {}
            () = leadership.lost() => {
                info!(identity = %config.identity, "no longer leading: stopped reconciling and key upkeep");
            }
            // Reconcilers finish what they are doing on shutdown, but a Controller whose cache
            // never synced (the CRD missing, no RBAC) would wait forever: bound the wait.
            () = async { stopped(stop.clone()).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                warn!("reconcilers did not stop within {SHUTDOWN_GRACE:?}; stopping them now");
            }
        }
        context.set_leading(false);
        if *stop.borrow() {
            return;
        }
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A spawned task that is aborted when dropped, so that dropping [`serve`]'s future (a crash in
/// tests, a panic) stops everything it started.
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T> Task<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

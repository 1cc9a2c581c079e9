//! Wiring: one kube `Controller` per watched namespace (or one for all), fed by the SealedSecret
//! watch, the owned-Secrets watch, new keys and completed (re-)lists, running [`reconcile`] with
//! [`error_policy`].
//!
//! The phases live in their own modules: [`crate::reconcile`] decides, [`crate::apply`] writes
//! the Secret, [`crate::status`] reports; [`crate::cache`] and [`crate::context`] hold what they
//! share.

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{debug, warn};

use sealant_core::resource::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, SealedSecret};

use crate::Config;
use crate::cache::{LIST_PAGE, changes, every_object, relist_signal, slim, slim_secret};
use crate::context::Context;
use crate::errors::error_chain;
use crate::keys::Keys;
use crate::reconcile::{error_policy, reconcile};

/// Runs one Controller per watched namespace (or one for all) until `stop` resolves; then lets
/// running reconciliations finish.
pub async fn run(
    context: Arc<Context>,
    config: Config,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let stop = stop.shared();
    // Reconciling before the keys are read would report every object as UnknownKey; wait for
    // the first key (the leader's key upkeep, running alongside, creates one if there is none).
    let mut keys = context.keys.subscribe();
    tokio::select! {
        _ = keys.wait_for(|keys| keys.loaded && !keys.ring.is_empty()) => {}
        () = stop.clone() => return,
    }
    let namespaces: Vec<Option<String>> = if config.watch_namespaces.is_empty() {
        vec![None]
    } else {
        config.watch_namespaces.iter().cloned().map(Some).collect()
    };
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let mut stores = Vec::new();
    let mut secret_stores = Vec::new();
    let mut runs = Vec::new();
    for namespace in namespaces {
        // Api<PartialObjectMeta<_>>: the requests ask for metadata only.
        let (sealed, secrets): (Api<SealedSecret>, Api<PartialObjectMeta<Secret>>) =
            match &namespace {
                None => (
                    Api::all(context.client.clone()),
                    Api::all(context.client.clone()),
                ),
                Some(ns) => (
                    Api::namespaced(context.client.clone(), ns),
                    Api::namespaced(context.client.clone(), ns),
                ),
            };
        // The cache holds every SealedSecret: keep only what reconciling reads. managedFields
        // (a JSON tree per writer) would otherwise be most of its memory.
        let (store, writer) = reflector::store();
        let (relisted, sealed_relisted) = relist_signal();
        let (ready, sealed_ready) = tokio::sync::watch::channel(false);
        let objects = changes(
            watcher(sealed, watcher::Config::default().page_size(LIST_PAGE))
                .default_backoff()
                .modify(slim)
                .reflect(writer),
            relisted,
            ready,
        );
        // Only our Secrets (label selector), and only their metadata: the controller never
        // holds the cluster's other Secrets, nor the plaintext of its own. The cache tells the
        // reconciler whether a Secret is already as it should be, so an unchanged SealedSecret
        // costs no request (on restart, resync, or after its own writes).
        let (secret_store, secret_writer) = reflector::store();
        let (relisted, secrets_relisted) = relist_signal();
        let (ready, secrets_ready) = tokio::sync::watch::channel(false);
        let owned = changes(
            watcher(secrets, watcher::Config::default().labels(&selector))
                .default_backoff()
                .modify(slim_secret)
                .reflect(secret_writer),
            relisted,
            ready,
        );
        secret_stores.push((secret_store, secrets_ready));
        let every = every_object(
            futures::stream::select(sealed_relisted, secrets_relisted),
            store.clone(),
        );
        let controller = Controller::for_stream(objects, store)
            // A Secret is the SealedSecret of the same name and namespace's (also one kept
            // without an ownerReference): its changes reconcile that SealedSecret.
            .reconcile_on(owned.filter_map(|secret| {
                futures::future::ready(match secret {
                    Ok(s) => s
                        .metadata
                        .name
                        .zip(s.metadata.namespace)
                        .map(|(name, ns)| ObjectRef::new(&name).within(&ns)),
                    Err(error) => {
                        if !crate::outage::unreachable(&error) {
                            warn!(error = %error_chain(&error), "watching Secrets");
                        }
                        None
                    }
                })
            }))
            .reconcile_all_on(new_keys(context.keys.clone()))
            // A (re-)list replaces a cache at once when it completes; objects that changed while
            // the watch was down are only right after that, so look at every object then (the
            // cache makes that free for those that did not change).
            .reconcile_on(every)
            // No limit here: each reconcile waits for a slot from `context.slots`, which hands
            // them out round-robin by namespace (kube's queue is first come, first served, so a
            // flood in one namespace would delay every other). A waiting reconcile holds only the
            // slim cached object.
            .with_config(ControllerConfig::default().concurrency(0))
            .graceful_shutdown_on(stop.clone());
        stores.push((controller.store(), sealed_ready));
        let progress_of = Arc::clone(&context);
        let run = controller
            .run(reconcile, error_policy, Arc::clone(&context))
            .for_each(move |result| {
                let context = Arc::clone(&progress_of);
                async move {
                    match result {
                        Ok((object, _)) => debug!(%object, "reconciled"),
                        // Watch failures (CRD not installed, RBAC, the API server down) would
                        // otherwise go unseen; reconcile failures are logged by error_policy.
                        Err(error @ kube::runtime::controller::Error::QueueError(_)) => {
                            context.progress.failed();
                            if !crate::outage::unreachable(&error) {
                                warn!(error = %error_chain(&error), "watching SealedSecrets or Secrets");
                            }
                        }
                        Err(error) => debug!(error = %error_chain(&error), "reconcile loop"),
                    }
                }
            });
        runs.push(run);
    }
    if let Ok(mut slot) = context.secrets.write() {
        *slot = secret_stores;
    }
    if let Ok(mut slot) = context.sealed.write() {
        *slot = stores.iter().map(|(store, _)| store.clone()).collect();
    }
    context.metrics.set_stores(stores);
    futures::future::join_all(runs).await;
}

/// A stream that yields whenever a key id appears that was not there before, so that
/// SealedSecrets waiting for a key (restored backup, key added by hand) are retried at once.
pub(crate) fn new_keys(keys: Keys) -> impl futures::Stream<Item = ()> + Send {
    let receiver = keys.subscribe();
    let seen: Vec<_> = keys.current().ring.ids();
    futures::stream::unfold((receiver, seen), |(mut receiver, mut seen)| async move {
        loop {
            receiver.changed().await.ok()?;
            let ids = receiver.borrow_and_update().ring.ids();
            let added = ids.iter().any(|id| !seen.contains(id));
            seen = ids;
            if added {
                return Some(((), (receiver, seen)));
            }
        }
    })
}

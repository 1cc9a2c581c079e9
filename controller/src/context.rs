//! What reconcilers, the error policy and the HTTP server share: the client, keys, policy,
//! metrics, the caches and the fair reconcile slots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use sealant_core::resource::SealedSecret;

use crate::cache::{CacheOf, await_version};
use crate::events::{self};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::{Config, FIELD_MANAGER};

/// How many SealedSecrets too large for the cache are read (and held) at once: each may be up to
/// [`crate::policy::MAX_SPEC_BYTES`], so this bounds what reconciling them adds to memory.
pub(crate) const LARGE_READS: usize = 2;

/// What reconcilers, the error policy and the HTTP server share.
pub struct Context {
    pub client: Client,
    /// Who publishes Events (the reporting instance is this replica's identity).
    pub reporter: events::Reporter,
    pub metrics: Arc<Metrics>,
    pub keys: Keys,
    /// What SealedSecrets may make the controller do.
    pub policy: Policy,
    /// Whether reconciles succeed, for `/readyz` (see [`crate::readiness`]).
    pub progress: crate::readiness::Progress,
    pub(crate) leading: AtomicBool,
    pub(crate) failures: Mutex<HashMap<ObjectRef<SealedSecret>, u32>>,
    /// The owned Secrets' metadata caches (one per watch) and whether each has its first list,
    /// set by [`run`].
    pub(crate) secrets: RwLock<Vec<CacheOf<PartialObjectMeta<Secret>>>>,
    /// The SealedSecret caches the reconcilers read from, set by [`run`].
    pub(crate) sealed: RwLock<Vec<Store<SealedSecret>>>,
    pub(crate) permanent_error_requeue: Duration,
    pub(crate) resync: Duration,
    /// Hands out the reconcile slots round-robin across namespaces.
    pub(crate) slots: crate::fair::FairQueue,
    /// SealedSecrets too large to be cached whole are read one or two at a time.
    pub(crate) large_reads: tokio::sync::Semaphore,
}

impl Context {
    pub fn new(client: Client, config: &Config, keys: Keys, metrics: Arc<Metrics>) -> Context {
        let reporter = events::Reporter {
            controller: FIELD_MANAGER.to_string(),
            instance: config.identity.clone(),
        };
        Context {
            reporter,
            client,
            metrics,
            keys,
            policy: config.policy.clone(),
            progress: crate::readiness::Progress::new(config.unready_after),
            leading: AtomicBool::new(false),
            failures: Mutex::new(HashMap::new()),
            secrets: RwLock::new(Vec::new()),
            sealed: RwLock::new(Vec::new()),
            permanent_error_requeue: config.permanent_error_requeue,
            resync: config.resync,
            slots: crate::fair::FairQueue::new(usize::from(config.concurrency)),
            large_reads: tokio::sync::Semaphore::new(LARGE_READS),
        }
    }

    /// Whether this replica is the leader (and so runs the reconcilers).
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.progress.reset();
        self.leading.store(leading, Ordering::SeqCst);
        if !leading {
            self.metrics.set_stores(Vec::new());
        }
    }

    /// Counts one more consecutive failure of `object`; returns the count.
    pub(crate) fn failed(&self, object: ObjectRef<SealedSecret>) -> u32 {
        let Ok(mut failures) = self.failures.lock() else {
            return 1;
        };
        let count = failures.entry(object).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// The cached metadata of Secret `namespace/name`, once the caches have their first list
    /// (`None`: not one of ours, or not there).
    pub(crate) async fn cached_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<PartialObjectMeta<Secret>>> {
        let stores = self.secrets.read().map(|s| s.clone()).unwrap_or_default();
        let key = ObjectRef::new(name).within(namespace);
        for (store, mut ready) in stores {
            if ready.wait_for(|ready| *ready).await.is_err() {
                continue;
            }
            if let Some(found) = store.get(&key) {
                return Some(found);
            }
        }
        None
    }

    /// Waits (briefly) until the owned-Secrets cache shows the Secret at `version`, the
    /// resourceVersion the controller's own write returned.
    pub(crate) async fn await_cached(&self, namespace: &str, name: &str, version: &str) {
        let stores: Vec<_> = self
            .secrets
            .read()
            .map(|s| s.iter().map(|(store, _)| store.clone()).collect())
            .unwrap_or_default();
        await_version(&stores, namespace, name, version).await;
    }

    /// The same for the SealedSecret cache, after a status write: the reconcile that the status
    /// change triggers then reads the status just written, and writes nothing.
    pub(crate) async fn await_sealed_cached(&self, namespace: &str, name: &str, version: &str) {
        let stores = self.sealed.read().map(|s| s.clone()).unwrap_or_default();
        await_version(&stores, namespace, name, version).await;
    }

    pub(crate) fn succeeded(&self, object: &ObjectRef<SealedSecret>) {
        self.progress.succeeded();
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(object);
        }
    }
}

//! The reconciler: each SealedSecret becomes a Secret of the same name and namespace, written by
//! server-side apply and owned by the SealedSecret; its `Synced` condition says how that went.
//!
//! Failures that retrying cannot fix (a value sealed for another place, to an unknown key,
//! tampered with, or a Secret that is not ours) are reported on the condition and in an Event and
//! retried slowly (new keys and edits retrigger them at once); failures of the API are returned as
//! errors and retried with backoff by [`error_policy`]. Either way the existing Secret is left as
//! it was.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use sealant_core::resource::{
    ADOPT_ANNOTATION, ConvertError, LAST_APPLIED_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    SealedSecret, open_values, secret_of,
};

use crate::events::{self, EventType};
use crate::keys::{Keys, error_chain, zeroize_secret};
use crate::metrics::Metrics;
use crate::policy::{Policy, Refusal, RefusalKind};
use crate::{Config, FIELD_MANAGER};

/// The one condition type.
pub const SYNCED: &str = "Synced";
/// Backoff of transient failures: first retry, and the cap.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How soon a SealedSecret blocked by someone else's Secret is looked at again.
const NOT_OWNED_RECHECK: Duration = Duration::from_secs(60);
/// Polls `stores` until one holds `namespace/name` at resourceVersion `version`, for at most
/// [`CACHE_CATCH_UP`] (a lagging watch only costs a redundant write later, never a wrong one).
async fn await_version<K>(stores: &[Store<K>], namespace: &str, name: &str, version: &str)
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let key = ObjectRef::<K>::new(name).within(namespace);
    let deadline = tokio::time::Instant::now() + CACHE_CATCH_UP;
    while tokio::time::Instant::now() < deadline {
        let seen = stores.iter().find_map(|store| store.get(&key));
        if seen.is_some_and(|o| o.meta().resource_version.as_deref() == Some(version)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many SealedSecrets too large for the cache are read (and held) at once: each may be up to
/// [`crate::policy::MAX_SPEC_BYTES`], so this bounds what reconciling them adds to memory.
const LARGE_READS: usize = 2;
/// Objects per page when a watch (re-)lists SealedSecrets. A page is held whole while it is
/// decoded; an object can be ~1.5 MB (the API server's limit), so a page of 500 (the default)
/// could need most of a gigabyte before the cache drops what it does not keep.
const LIST_PAGE: u32 = 10;
/// Annotation, in the SealedSecret cache only: the spec was dropped from the cached copy; its
/// value is the spec's size in bytes ([`crate::policy::spec_bytes`]).
const CACHED_SPEC_DROPPED_ANNOTATION: &str = "sealant.dev/cached-spec-dropped";

/// How long a reconcile waits for the cache to show its own Secret write.
const CACHE_CATCH_UP: Duration = Duration::from_secs(2);
/// Annotation on each Secret the controller writes: the `metadata.generation` of the
/// SealedSecret it was unsealed from. With the Secret's field owners it tells, from the metadata
/// cache alone, that the Secret is already as it should be.
pub const SEALED_GENERATION_ANNOTATION: &str = "sealant.dev/sealed-generation";

/// A reconciliation failed in a way that retrying may fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The keys have not been read yet.
    #[error("sealing keys are not loaded yet")]
    KeysNotLoaded,
    /// The SealedSecret has no namespace (it is namespaced; the API server always sets one).
    #[error("SealedSecret {0} has no namespace")]
    MissingNamespace(String),
    /// Reading the existing Secret failed.
    #[error("reading Secret {namespace}/{name}")]
    ReadSecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Writing the Secret failed.
    #[error("applying Secret {namespace}/{name}")]
    ApplySecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading a SealedSecret too large to be cached whole failed.
    #[error("reading SealedSecret {namespace}/{name}")]
    ReadSealedSecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading the labels of the SealedSecret's namespace failed.
    #[error("reading Namespace {0}")]
    ReadNamespace(String, #[source] kube::Error),
    /// Writing the SealedSecret's status failed.
    #[error("applying status of SealedSecret {namespace}/{name}")]
    ApplyStatus {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// The variant's name: a fixed metric label.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::KeysNotLoaded => "KeysNotLoaded",
            Error::MissingNamespace(_) => "MissingNamespace",
            Error::ReadSecret { .. } => "ReadSecret",
            Error::ApplySecret { .. } => "ApplySecret",
            Error::ReadSealedSecret { .. } => "ReadSealedSecret",
            Error::ReadNamespace(..) => "ReadNamespace",
            Error::ApplyStatus { .. } => "ApplyStatus",
        }
    }
}

/// The reasons of the `Synced` condition: a fixed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Unsealed,
    InvalidSealedValue,
    WrongScope,
    UnknownKey,
    Tampered,
    SecretNotOwned,
    /// The API server refused the Secret (422/400: invalid for its type, an immutable field
    /// changed, a bad label value); retried only when the SealedSecret or its Secret changes.
    SecretRejected,
    /// Writing the Secret failed in a way that may pass (5xx, the API server unreachable).
    ApplyFailed,
    /// Refused by the policy: in the controller's own namespace.
    ControllerNamespace,
    /// Refused by the policy: a template label or annotation reserved for the controller.
    ReservedMetadata,
    /// Refused by the policy: a credential-minting Secret type the operator did not allow.
    ForbiddenSecretType,
    /// Refused by the policy: the spec is over the documented size.
    TooLarge,
    /// Refused by the policy: a cluster-wide value where the operator does not allow them.
    ClusterWideNotAllowed,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::Unsealed,
        Reason::InvalidSealedValue,
        Reason::WrongScope,
        Reason::UnknownKey,
        Reason::Tampered,
        Reason::SecretNotOwned,
        Reason::SecretRejected,
        Reason::ApplyFailed,
        Reason::ControllerNamespace,
        Reason::ReservedMetadata,
        Reason::ForbiddenSecretType,
        Reason::TooLarge,
        Reason::ClusterWideNotAllowed,
    ];

    /// The condition reason (and metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unsealed => "Unsealed",
            Reason::InvalidSealedValue => "InvalidSealedValue",
            Reason::WrongScope => "WrongScope",
            Reason::UnknownKey => "UnknownKey",
            Reason::Tampered => "Tampered",
            Reason::SecretNotOwned => "SecretNotOwned",
            Reason::SecretRejected => "SecretRejected",
            Reason::ApplyFailed => "ApplyFailed",
            Reason::ControllerNamespace => "ControllerNamespace",
            Reason::ReservedMetadata => "ReservedMetadata",
            Reason::ForbiddenSecretType => "ForbiddenSecretType",
            Reason::TooLarge => "TooLarge",
            Reason::ClusterWideNotAllowed => "ClusterWideNotAllowed",
        }
    }

    /// The reason named `text`, if it is one of ours.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The reason of an [`sealant_core::format::OpenError::reason`] identifier.
    fn of_open_error(reason: &str) -> Reason {
        Reason::parse(reason).unwrap_or(Reason::InvalidSealedValue)
    }
}

/// What one reconciliation found: the condition to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub reason: Reason,
    /// Says what was expected; never any plaintext.
    pub message: String,
}

impl Outcome {
    fn synced(values: usize) -> Outcome {
        Outcome {
            reason: Reason::Unsealed,
            message: format!("unsealed {values} value(s) into the Secret"),
        }
    }

    fn ok(&self) -> bool {
        self.reason == Reason::Unsealed
    }

    fn refused(refusal: Refusal) -> Outcome {
        Outcome {
            reason: match refusal.kind {
                RefusalKind::ControllerNamespace => Reason::ControllerNamespace,
                RefusalKind::ReservedMetadata => Reason::ReservedMetadata,
                RefusalKind::ForbiddenSecretType => Reason::ForbiddenSecretType,
                RefusalKind::TooLarge => Reason::TooLarge,
                RefusalKind::ClusterWideNotAllowed => Reason::ClusterWideNotAllowed,
            },
            message: refusal.message,
        }
    }
}

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
    leading: AtomicBool,
    failures: Mutex<HashMap<ObjectRef<SealedSecret>, u32>>,
    /// The owned Secrets' metadata caches (one per watch) and whether each has its first list,
    /// set by [`run`].
    secrets: RwLock<Vec<CacheOf<PartialObjectMeta<Secret>>>>,
    /// The SealedSecret caches the reconcilers read from, set by [`run`].
    sealed: RwLock<Vec<Store<SealedSecret>>>,
    permanent_error_requeue: Duration,
    resync: Duration,
    /// Hands out the reconcile slots round-robin across namespaces.
    slots: crate::fair::FairQueue,
    /// SealedSecrets too large to be cached whole are read one or two at a time.
    large_reads: tokio::sync::Semaphore,
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
    fn failed(&self, object: ObjectRef<SealedSecret>) -> u32 {
        let Ok(mut failures) = self.failures.lock() else {
            return 1;
        };
        let count = failures.entry(object).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// The cached metadata of Secret `namespace/name`, once the caches have their first list
    /// (`None`: not one of ours, or not there).
    async fn cached_secret(
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
    async fn await_cached(&self, namespace: &str, name: &str, version: &str) {
        let stores: Vec<_> = self
            .secrets
            .read()
            .map(|s| s.iter().map(|(store, _)| store.clone()).collect())
            .unwrap_or_default();
        await_version(&stores, namespace, name, version).await;
    }

    /// The same for the SealedSecret cache, after a status write: the reconcile that the status
    /// change triggers then reads the status just written, and writes nothing.
    async fn await_sealed_cached(&self, namespace: &str, name: &str, version: &str) {
        let stores = self.sealed.read().map(|s| s.clone()).unwrap_or_default();
        await_version(&stores, namespace, name, version).await;
    }

    fn succeeded(&self, object: &ObjectRef<SealedSecret>) {
        self.progress.succeeded();
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(object);
        }
    }
}

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

/// A cache and whether it has its first complete list.
pub type CacheOf<K> = (Store<K>, tokio::sync::watch::Receiver<bool>);

/// Every object of `store` each time `signal` fires.
fn every_object(
    signal: impl futures::Stream<Item = ()> + Send + 'static,
    store: Store<SealedSecret>,
) -> impl futures::Stream<Item = ObjectRef<SealedSecret>> + Send + 'static {
    signal.flat_map(move |()| {
        let refs: Vec<ObjectRef<SealedSecret>> = store
            .state()
            .iter()
            .map(|object| ObjectRef::from_obj(&**object))
            .collect();
        debug!(
            objects = refs.len(),
            "a list completed: looking at every SealedSecret"
        );
        futures::stream::iter(refs)
    })
}

/// A sender that [`changes`] fires when a (re-)list completes, and the stream of those signals.
fn relist_signal() -> (
    futures::channel::mpsc::UnboundedSender<()>,
    futures::channel::mpsc::UnboundedReceiver<()>,
) {
    futures::channel::mpsc::unbounded()
}

/// The objects that changed, from a reflected watch: `Apply` and `Delete` events. The objects of
/// a (re-)list (`InitApply`) are not passed on one by one: until the list completes, the cache
/// still holds the old state, and a reconcile started then would read a stale copy (an edit
/// undone) or none at all (a new object dropped). Instead `relisted` fires once the list is
/// complete and the cache replaced, and every object is reconciled from it; `ready` turns true
/// then. (kube's `Store::wait_until_ready` wakes only one of several concurrent waiters, so
/// reconcilers wait on `ready` instead.)
fn changes<K, S>(
    events: S,
    relisted: futures::channel::mpsc::UnboundedSender<()>,
    ready: tokio::sync::watch::Sender<bool>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    events.filter_map(move |event| {
        let item = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => Some(Ok(object)),
            Ok(watcher::Event::InitDone) => {
                ready.send_replace(true);
                let _ = relisted.unbounded_send(());
                None
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
            Err(error) => Some(Err(error)),
        };
        futures::future::ready(item)
    })
}

/// Drops what the up-to-date check never reads from a cached Secret's metadata: of
/// `managedFields`, only who owns the data, type and immutability is kept.
fn slim_secret(object: &mut PartialObjectMeta<Secret>) {
    let summary = content_owners(
        object
            .metadata
            .managed_fields
            .as_deref()
            .unwrap_or_default(),
    );
    object.metadata.managed_fields = None;
    let annotations = object
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    annotations.remove(LAST_APPLIED_ANNOTATION);
    // Local to the cache (never written): a few bytes instead of a JSON tree per writer, which
    // was most of the memory of 10,000 cached Secrets.
    annotations.insert(CACHED_CONTENT_ANNOTATION.to_string(), summary);
}

/// Who owns a Secret's content, from its `managedFields`, on one line:
/// `OURS|FOREIGN|META`: the data keys (`f:KEY`, comma separated, sorted) the controller's own
/// writes own, those anyone else owns, and `1` when anyone else owns the type or
/// `immutable` (else `0`). Secret keys never contain `,` or `|`.
fn content_owners(
    entries: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry],
) -> String {
    let mut ours = std::collections::BTreeSet::new();
    let mut foreign = std::collections::BTreeSet::new();
    let mut meta = false;
    for entry in entries {
        let Some(FieldsV1(Value::Object(fields))) = &entry.fields_v1 else {
            continue;
        };
        // The controller's own writes: its server-side applies, and the create of a new Secret
        // (an "Update" entry of the same manager). A key the create owns and a later apply
        // dropped is removed as an extra key (`remove_extra_keys`), so counting both as ours
        // hides nothing.
        let mine = entry.manager.as_deref() == Some(FIELD_MANAGER)
            && matches!(entry.operation.as_deref(), Some("Apply" | "Update"))
            && entry.subresource.as_deref().unwrap_or_default().is_empty();
        let keys = match fields.get("f:data") {
            Some(Value::Object(data)) => data
                .keys()
                .filter(|k| k.as_str() != ".")
                .map(String::as_str)
                .collect(),
            _ => Vec::new(),
        };
        if mine {
            ours.extend(keys);
        } else {
            foreign.extend(keys);
            meta |= fields.contains_key("f:type") || fields.contains_key("f:immutable");
        }
    }
    let join =
        |set: std::collections::BTreeSet<&str>| set.into_iter().collect::<Vec<_>>().join(",");
    format!("{}|{}|{}", join(ours), join(foreign), u8::from(meta))
}

/// Annotation, in the owned-Secrets cache only, holding [`content_owners`]'s summary.
const CACHED_CONTENT_ANNOTATION: &str = "sealant.dev/cached-content-owners";

/// Keeps of a SealedSecret only what reconciling (and the metrics) read, so that what the cache
/// holds per object does not depend on what its author wrote: the identity (name, namespace,
/// uid, generation, resourceVersion), the controller's own annotations, the `Synced` condition,
/// and the spec only if it is at most [`crate::policy::CACHED_SPEC_BYTES`] (else its size, and the
/// reconcile reads the object). Labels, other annotations, owner references, finalizers and
/// managedFields are dropped: a tenant can put hundreds of kilobytes into each.
fn slim(object: &mut SealedSecret) {
    let meta = &mut object.metadata;
    meta.managed_fields = None;
    meta.labels = None;
    meta.owner_references = None;
    meta.finalizers = None;
    let kept: BTreeMap<String, String> = meta
        .annotations
        .take()
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            (k == crate::policy::KEEP_SECRET_ANNOTATION
                || k == crate::policy::ALLOW_EXTRA_KEYS_ANNOTATION)
                && v == "true"
        })
        .collect();
    meta.annotations = Some(kept).filter(|a| !a.is_empty());
    if let Some(status) = object.status.as_mut() {
        // Written by the controller through the status subresource; bounded all the same.
        status.scope.take_if(|scope| scope.len() > 16);
        status.conditions.retain(|c| c.type_ == SYNCED);
        for condition in &mut status.conditions {
            condition.message = events::truncate(&condition.message, events::MAX_NOTE_BYTES);
        }
    }
    let bytes = crate::policy::spec_bytes(object);
    if bytes > crate::policy::CACHED_SPEC_BYTES {
        object.spec.encrypted_data = BTreeMap::new();
        object.spec.recipients = Vec::new();
        object.spec.template = None;
        object
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                CACHED_SPEC_DROPPED_ANNOTATION.to_string(),
                bytes.to_string(),
            );
    }
}

/// The spec size of a cached SealedSecret whose spec was dropped by [`slim`].
fn dropped_spec(sealed: &SealedSecret) -> Option<usize> {
    sealed
        .metadata
        .annotations
        .as_ref()?
        .get(CACHED_SPEC_DROPPED_ANNOTATION)?
        .parse()
        .ok()
}

/// The SealedSecret to reconcile: the cached one, or, when the cache holds only its size, the
/// object read from the API server (`None`: deleted meanwhile). A size over the limit is
/// refused from the cache alone.
async fn full_object(
    sealed: Arc<SealedSecret>,
    context: &Context,
    namespace: &str,
    name: &str,
) -> Result<Result<Option<Arc<SealedSecret>>, Refusal>, Error> {
    let Some(bytes) = dropped_spec(&sealed) else {
        return Ok(Ok(Some(sealed)));
    };
    if let Err(refusal) = crate::policy::check_spec_size(bytes) {
        return Ok(Err(refusal));
    }
    let _reading = context.large_reads.acquire().await;
    let api: Api<SealedSecret> = Api::namespaced(context.client.clone(), namespace);
    let read = api
        .get_opt(name)
        .await
        .map_err(|source| Error::ReadSealedSecret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })?;
    Ok(Ok(read.map(|mut object| {
        object.metadata.managed_fields = None;
        Arc::new(object)
    })))
}

/// A stream that yields whenever a key id appears that was not there before, so that
/// SealedSecrets waiting for a key (restored backup, key added by hand) are retried at once.
fn new_keys(keys: Keys) -> impl futures::Stream<Item = ()> + Send {
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

/// Brings the Secret of one SealedSecret in line with it and reports the outcome in its status.
pub async fn reconcile(sealed: Arc<SealedSecret>, context: Arc<Context>) -> Result<Action, Error> {
    let _timer = context.metrics.count_and_measure();
    let name = sealed.name_any();
    let namespace = sealed
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(name.clone()))?;
    let keys = context.keys.current();
    if !keys.loaded {
        return Err(Error::KeysNotLoaded);
    }
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let _slot = context.slots.acquire(&namespace).await;
    let sealed = match full_object(Arc::clone(&sealed), &context, &namespace, &name).await {
        Ok(Ok(Some(full))) => full,
        // Deleted since the watch saw it.
        Ok(Ok(None)) => return Ok(Action::await_change()),
        Ok(Err(refusal)) => {
            let outcome = Outcome::refused(refusal);
            context.metrics.unseal_failed(outcome.reason.as_str());
            report(&sealed, &context, &outcome, &namespace, &name).await?;
            context.succeeded(&ObjectRef::from_obj(&*sealed));
            return Ok(Action::await_change());
        }
        Err(error) => return Err(error),
    };

    let refusal = match context.policy.check(&sealed) {
        Err(refusal) => Some(refusal),
        Ok(()) if context.policy.needs_namespace_labels(&sealed) => {
            let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
                Api::all(context.client.clone());
            let labels = namespaces
                .get_metadata_opt(&namespace)
                .await
                .map_err(|source| Error::ReadNamespace(namespace.clone(), source))?
                .and_then(|n| n.metadata.labels)
                .unwrap_or_default();
            context.policy.check_cluster_wide(&sealed, &labels).err()
        }
        Ok(()) => None,
    };
    let result = if let Some(refusal) = refusal {
        Ok(Outcome::refused(refusal))
    } else {
        let cached = context.cached_secret(&namespace, &name).await;
        if cached.as_deref().is_some_and(|c| up_to_date(c, &sealed)) {
            // Already written from this generation and nobody else changed its content: no
            // request at all (restarts, resyncs, the echo of the controller's own writes).
            Ok(Outcome::synced(sealed.spec.encrypted_data.len()))
        } else {
            match open_values(&sealed, &keys.ring) {
                Err(error) => Ok(unseal_failure(&error)),
                Ok(values) => {
                    let written = write_secret(
                        &sealed, &context, &secrets, &namespace, &name, values, cached,
                    )
                    .await;
                    if let Ok((_, Some(version))) = &written {
                        context.metrics.unsealed(sealed.spec.encrypted_data.len());
                        // Until the cache shows this write, the echo of the status patch below
                        // would find the Secret "not up to date" and write it again.
                        context.await_cached(&namespace, &name, version).await;
                    }
                    written.map(|(outcome, _)| outcome)
                }
            }
        }
    };
    let outcome = match &result {
        Ok(outcome) => outcome.clone(),
        // This replica may not write any more (the lease is lost or lapsed): report nothing,
        // the new leader will.
        Err(Error::ApplySecret { source, .. }) if crate::outage::not_leader(source) => {
            return result.map(|_| Action::await_change());
        }
        // The namespace is being deleted (the SealedSecret goes with it): nothing to report, and
        // a Warning per object would only drown the log.
        Err(Error::ApplySecret { source, .. }) if crate::outage::gone(source) => {
            debug!(%namespace, %name, error = %error_chain(source), "namespace going away");
            return Ok(Action::await_change());
        }
        Err(Error::ApplySecret { source, .. }) => Outcome {
            reason: Reason::ApplyFailed,
            message: format!("writing the Secret failed: {}", api_error_summary(source)),
        },
        // Nothing was learned about the SealedSecret; leave its status as it is.
        Err(_) => {
            return result.map(|_| Action::await_change());
        }
    };
    if outcome.ok() {
        debug!(%namespace, %name, "unsealed");
    } else {
        context.metrics.unseal_failed(outcome.reason.as_str());
    }
    if let Err(error) = report(&sealed, &context, &outcome, &namespace, &name).await {
        // Deleted (or its namespace is) while it was reconciled.
        if crate::outage::gone(&error) {
            debug!(%namespace, %name, error = %error_chain(&error), "gone while reconciled");
            return Ok(Action::await_change());
        }
        return Err(error);
    }
    result?;
    context.succeeded(&ObjectRef::from_obj(&sealed));
    Ok(match outcome.reason {
        Reason::Unsealed => Action::requeue(context.resync),
        // Not a crypto failure: the other Secret may be deleted or annotated for adoption at
        // any time, and the Secret watch (by our label) cannot see it, so look again soon.
        Reason::SecretNotOwned => {
            Action::requeue(NOT_OWNED_RECHECK.min(context.permanent_error_requeue))
        }
        // The API server will refuse the same Secret again: wait for the SealedSecret or the
        // Secret (both watched) to change.
        Reason::SecretRejected => Action::await_change(),
        _ => Action::requeue(context.permanent_error_requeue),
    })
}

/// The condition for a SealedSecret whose values do not open. The message names the value and
/// what was expected, from the authenticated header; it never holds plaintext.
fn unseal_failure(error: &ConvertError) -> Outcome {
    let reason = match error {
        ConvertError::Open { source, .. } => Reason::of_open_error(source.reason()),
        _ => Reason::InvalidSealedValue,
    };
    Outcome {
        reason,
        message: error.to_string(),
    }
}

/// Writes the Secret unless one exists that is not ours; the opened values are cleared on return.
/// A Secret in the owned-Secrets cache that this SealedSecret owns is written at once; otherwise
/// (a new Secret, or someone else's) its metadata is read first.
async fn write_secret(
    sealed: &SealedSecret,
    context: &Context,
    secrets: &Api<Secret>,
    namespace: &str,
    name: &str,
    values: BTreeMap<String, Zeroizing<Vec<u8>>>,
    cached: Option<Arc<PartialObjectMeta<Secret>>>,
) -> Result<(Outcome, Option<String>), Error> {
    let owned_in_cache = cached
        .as_deref()
        .is_some_and(|c| crate::policy::may_write(c, sealed));
    if cached.is_none() {
        // No Secret of ours by that name (the usual case for a new SealedSecret): create it, one
        // request, instead of reading whether someone else's is there and then applying. The
        // API server refuses the create if any Secret of that name exists (409): then read it
        // and decide as for a Secret found in the cache.
        let secret = desired_secret(sealed, &values, false);
        let count = secret.data.as_ref().map_or(0, BTreeMap::len);
        let created = secrets
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.to_string()),
                    ..PostParams::default()
                },
                &secret,
            )
            .await;
        zeroize_secret(secret);
        match created {
            Ok(written) => {
                let version = written.metadata.resource_version.clone();
                zeroize_secret(written);
                return Ok((Outcome::synced(count), version));
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => {
                return Ok((rejected(&status), None));
            }
            Err(source) => {
                return Err(Error::ApplySecret {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    source,
                });
            }
        }
    }
    let existing = if owned_in_cache {
        None
    } else {
        secrets
            .get_metadata_opt(name)
            .await
            .map_err(|source| Error::ReadSecret {
                namespace: namespace.to_string(),
                name: name.to_string(),
                source,
            })?
    };
    if let Some(existing) = &existing
        && !crate::policy::may_write(existing, sealed)
    {
        return Ok((
            Outcome {
                reason: Reason::SecretNotOwned,
                message: format!(
                    "Secret {namespace}/{name} exists and is not owned by this SealedSecret; left untouched \
                 (annotate it {ADOPT_ANNOTATION}=\"true\" to let the controller adopt it)"
                ),
            },
            None,
        ));
    }
    let patch = existing
        .as_ref()
        .map(crate::policy::patch_only)
        .or_else(|| cached.as_deref().map(crate::policy::patch_only))
        .unwrap_or(false);
    let secret = desired_secret(sealed, &values, patch);
    drop(values);
    let applied = secrets
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await;
    let count = secret.data.as_ref().map_or(0, BTreeMap::len);
    zeroize_secret(secret);
    match applied {
        Ok(written) => {
            let mut version = written.metadata.resource_version.clone();
            // Server-side apply leaves keys other writers own: the Secret's data must be what
            // was sealed, so keys added by anyone else are removed (unless the Secret is only
            // patched, where other keys are legitimately someone else's, or the SealedSecret
            // allows extra keys).
            let extra: Vec<String> = if patch || crate::policy::allows_extra_keys(sealed) {
                Vec::new()
            } else {
                written
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .filter(|k| !sealed.spec.encrypted_data.contains_key(*k))
                    .cloned()
                    .collect()
            };
            zeroize_secret(written);
            if !extra.is_empty() {
                version = remove_extra_keys(sealed, context, secrets, namespace, name, &extra)
                    .await?
                    .or(version);
            }
            Ok((Outcome::synced(count), version))
        }
        Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => {
            Ok((rejected(&status), None))
        }
        Err(source) => Err(Error::ApplySecret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        }),
    }
}

/// The outcome for a Secret the API server refused (422, 400). The server's own words say what
/// is wrong (the field and the rule), but only up to where it redacts a value: Kubernetes
/// replaces the value with a marker, then appends the parser's error, and Go's JSON errors quote
/// the offending character (`invalid character 'h' ...` for a .dockerconfigjson that is not JSON).
fn rejected(status: &kube::core::Status) -> Outcome {
    Outcome {
        reason: Reason::SecretRejected,
        message: format!(
            "the API server refused the Secret ({} {}): {}",
            status.code,
            status.reason,
            if status.message.is_empty() {
                "no message".to_string()
            } else {
                withhold_values(&status.message)
            }
        ),
    }
}

/// Removes `extra` keys (not in the SealedSecret) from its Secret with a JSON merge patch, and
/// publishes one Event naming them (never their values). Returns the new resourceVersion.
async fn remove_extra_keys(
    sealed: &SealedSecret,
    context: &Context,
    secrets: &Api<Secret>,
    namespace: &str,
    name: &str,
    extra: &[String],
) -> Result<Option<String>, Error> {
    let removals: serde_json::Map<String, Value> =
        extra.iter().map(|k| (k.clone(), Value::Null)).collect();
    let patched = secrets
        .patch(
            name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({ "data": removals })),
        )
        .await
        .map_err(|source| Error::ApplySecret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })?;
    let version = patched.metadata.resource_version.clone();
    zeroize_secret(patched);
    let keys = extra
        .iter()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    info!(%namespace, %name, keys = extra.len(), "removed keys added to the Secret by others");
    let event = events::Event {
        type_: EventType::Warning,
        reason: "ExtraKeysRemoved",
        note: format!(
            "removed key(s) {keys} from Secret {namespace}/{name}: not in the SealedSecret, \
             whose Secret holds exactly what was sealed (annotate the SealedSecret \
             {}=\"true\" to keep keys others add)",
            crate::policy::ALLOW_EXTRA_KEYS_ANNOTATION
        ),
        action: "Unseal",
    };
    if let Err(error) = events::publish(&context.client, &context.reporter, &event, sealed).await {
        warn!(%namespace, %name, error = %error_chain(&error), "publishing an Event");
    }
    Ok(version)
}

/// The server's message about a Secret it refused, up to where it redacts a value: what follows
/// the marker is the parser's error about that value, which can quote its bytes.
pub fn withhold_values(message: &str) -> String {
    const MARKER: &str = "<secret contents redacted>";
    match message.find(MARKER) {
        Some(at) => format!(
            "{}{MARKER}\" (the rest is withheld: it can quote the value)",
            &message[..at]
        ),
        None => message.to_string(),
    }
}

/// The Secret to apply: the template's metadata, type and immutability, the opened values, the
/// managed-by label and a controller ownerReference to the SealedSecret.
pub fn desired_secret(
    sealed: &SealedSecret,
    values: &BTreeMap<String, Zeroizing<Vec<u8>>>,
    patch: bool,
) -> Secret {
    let mut secret = secret_of(sealed, values);
    secret
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string());
    if let Some(generation) = sealed.metadata.generation {
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                SEALED_GENERATION_ANNOTATION.to_string(),
                generation.to_string(),
            );
    }
    if let Some(uid) = &sealed.metadata.uid {
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(crate::policy::OWNER_UID_ANNOTATION.to_string(), uid.clone());
    }
    secret.metadata.owner_references = if patch || crate::policy::keeps_secret(sealed) {
        // Omitted from the apply: an ownerReference written before is removed.
        None
    } else {
        sealed.controller_owner_ref(&()).map(|owner| vec![owner])
    };
    if patch {
        // The Secret's type and immutability stay its owner's.
        secret.type_ = None;
        secret.immutable = None;
    } else {
        secret.type_.get_or_insert_with(|| "Opaque".to_string());
    }
    if secret.data.is_none() {
        secret.data = Some(BTreeMap::<String, ByteString>::new());
    }
    secret
}

/// Whether the cached Secret is already what applying the SealedSecret would make it: owned by it
/// (controller reference by uid), written from its current generation, carrying every template
/// label and annotation, and with its content (data, type, immutability) owned by the controller
/// alone, the data keys exactly the SealedSecret's. Anyone else who changed a value, the type or
/// `immutable` owns that field in `managedFields`; a removed key is missing from the controller's
/// fields. Any doubt means "not up to date": the Secret is applied again.
pub fn up_to_date(cached: &PartialObjectMeta<Secret>, sealed: &SealedSecret) -> bool {
    let meta = &cached.metadata;
    let (Some(uid), Some(_)) = (sealed.metadata.uid.as_deref(), sealed.metadata.generation) else {
        return false;
    };
    let has_owner_reference = meta
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true));
    let patch = crate::policy::patch_only(cached);
    // Owned, and with an ownerReference exactly when the Secret is neither kept nor patched.
    if !crate::policy::owned_by(cached, sealed)
        || has_owner_reference == (patch || crate::policy::keeps_secret(sealed))
    {
        return false;
    }
    let desired = desired_secret(sealed, &BTreeMap::new(), patch).metadata;
    let contains = |have: &Option<BTreeMap<String, String>>,
                    want: &Option<BTreeMap<String, String>>| {
        want.iter()
            .flatten()
            .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    if !contains(&meta.labels, &desired.labels)
        || !contains(&meta.annotations, &desired.annotations)
    {
        return false;
    }
    let summary = match meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(CACHED_CONTENT_ANNOTATION))
    {
        Some(cached) => cached.clone(),
        None => content_owners(meta.managed_fields.as_deref().unwrap_or_default()),
    };
    let mut parts = summary.split('|');
    let (Some(ours), Some(foreign), Some(type_owned)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let wanted: Vec<String> = sealed
        .spec
        .encrypted_data
        .keys()
        .map(|k| format!("f:{k}"))
        .collect();
    if ours != wanted.join(",") {
        return false;
    }
    if patch {
        // Other keys, the type and immutability are someone else's; ours must be ours alone.
        let foreign: Vec<&str> = foreign.split(',').collect();
        !wanted.iter().any(|k| foreign.contains(&k.as_str()))
    } else if crate::policy::allows_extra_keys(sealed) {
        // Others' keys may stay, but not over ours, nor the type or immutability.
        let foreign: Vec<&str> = foreign.split(',').collect();
        !wanted.iter().any(|k| foreign.contains(&k.as_str())) && type_owned == "0"
    } else {
        foreign.is_empty() && type_owned == "0"
    }
}

/// A short description of an API failure that may pass: code, reason and the server's message,
/// or what went wrong on the way.
fn api_error_summary(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                axum::http::StatusCode::from_u16(status.code)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("error")
            } else {
                status.reason.as_str()
            };
            let mut text = format!("{} {reason}", status.code);
            if !status.message.is_empty() {
                text.push_str(": ");
                text.push_str(&withhold_values(&status.message));
            }
            text.trim_end().to_string()
        }
        other => format!(
            "the API server could not be reached ({})",
            error_chain(other)
        ),
    }
}

/// Applies the status when it changed, and publishes an Event when the condition changed.
async fn report(
    sealed: &SealedSecret,
    context: &Context,
    outcome: &Outcome,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    let previous = sealed
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == SYNCED));
    let generation = sealed.metadata.generation;
    let observed = sealed.status.as_ref().and_then(|s| s.observed_generation);
    let condition = next_condition(previous, outcome, generation, Timestamp::now());
    let shown_scope = sealed.status.as_ref().and_then(|s| s.scope.as_deref());
    let same = previous.is_some_and(|p| same_condition(p, &condition)) && observed == generation;
    // The spec cannot change without a new generation, so a shown scope of this generation is
    // still right: the headers are read again only when something else changed.
    if same && (shown_scope.is_some() || !outcome.ok()) {
        return Ok(());
    }
    // Only values that opened have authenticated headers: no scope is shown for others.
    let scope = if outcome.ok() {
        sealant_core::resource::scope_summary(sealed)
    } else {
        None
    };
    if same && scope == shown_scope {
        return Ok(());
    }
    let mut status = json!({ "observedGeneration": generation, "conditions": [condition] });
    if let Some(scope) = scope {
        status["scope"] = json!(scope);
    }
    let patch = json!({
        "apiVersion": "sealant.dev/v1alpha1",
        "kind": "SealedSecret",
        "status": status,
    });
    let api: Api<SealedSecret> = Api::namespaced(context.client.clone(), namespace);
    let written = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| Error::ApplyStatus {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })?;

    let transition =
        previous.is_none_or(|p| p.status != condition.status || p.reason != condition.reason);
    if transition {
        if outcome.ok() {
            info!(%namespace, %name, "unsealed into Secret");
        } else {
            warn!(%namespace, %name, reason = outcome.reason.as_str(), detail = %outcome.message, "cannot unseal");
        }
        let event = events::Event {
            type_: if outcome.ok() {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: if outcome.ok() {
                "Unsealed"
            } else {
                "UnsealFailed"
            },
            note: if outcome.ok() {
                outcome.message.clone()
            } else {
                format!("{}: {}", outcome.reason.as_str(), outcome.message)
            },
            action: "Unseal",
        };
        if let Err(error) =
            events::publish(&context.client, &context.reporter, &event, sealed).await
        {
            if crate::outage::gone(&error) || crate::outage::unreachable(&error) {
                debug!(%namespace, %name, error = %error_chain(&error), "publishing an Event");
            } else {
                warn!(%namespace, %name, error = %error_chain(&error), "publishing an Event");
            }
        }
    }
    if let Some(version) = written.metadata.resource_version.as_deref() {
        context.await_sealed_cached(namespace, name, version).await;
    }
    Ok(())
}

/// The `Synced` condition for `outcome`; `lastTransitionTime` is kept unless the status changes.
pub fn next_condition(
    previous: Option<&Condition>,
    outcome: &Outcome,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if outcome.ok() { "True" } else { "False" };
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(now),
    };
    Condition {
        type_: SYNCED.to_string(),
        status: status.to_string(),
        reason: outcome.reason.as_str().to_string(),
        message: events::truncate(&outcome.message, events::MAX_NOTE_BYTES),
        observed_generation: generation,
        last_transition_time,
    }
}

fn same_condition(a: &Condition, b: &Condition) -> bool {
    a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
        && a.last_transition_time == b.last_transition_time
}

/// Records the failure and retries with exponential backoff per SealedSecret.
pub fn error_policy(sealed: Arc<SealedSecret>, error: &Error, context: Arc<Context>) -> Action {
    let attempts = context.failed(ObjectRef::from_obj(&sealed));
    context.progress.failed();
    context.metrics.reconcile_failed(error.metric_label());
    let delay = backoff(attempts);
    if crate::outage::not_leader(error)
        || crate::outage::unreachable(error)
        || crate::outage::gone(error)
    {
        debug!(
            namespace = %sealed.namespace().unwrap_or_default(),
            name = %sealed.name_any(),
            error = %error_chain(error),
            retry_in = ?delay,
            "reconcile failed: not leading, or the API server is unreachable"
        );
    } else {
        warn!(
            namespace = %sealed.namespace().unwrap_or_default(),
            name = %sealed.name_any(),
            error = %withhold_values(&error_chain(error)),
            retry_in = ?delay,
            "reconcile failed"
        );
    }
    Action::requeue(delay)
}

/// 1 s, 2 s, 4 s ... capped at 5 minutes.
fn backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use sealant_core::format::{Binding, KeyRing, Location, Scope, seal};
    use sealant_core::keys::PrivateKey;
    use sealant_core::resource::{SealedSecretSpec, SecretTemplate, TemplateMetadata};

    fn sealed_secret(key: &PrivateKey, scope: Scope, sealed_for: (&str, &str)) -> SealedSecret {
        let binding = Binding::new(
            scope,
            &Location::new(sealed_for.0, sealed_for.1, "password"),
        )
        .unwrap();
        let value = seal(b"hunter2", &binding, &[key.public().clone()]).unwrap();
        SealedSecret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("prod".into()),
                uid: Some("uid-1".into()),
                generation: Some(3),
                ..ObjectMeta::default()
            },
            spec: SealedSecretSpec {
                encrypted_data: BTreeMap::from([("password".to_string(), value)]),
                recipients: vec![],
                template: Some(SecretTemplate {
                    metadata: Some(TemplateMetadata {
                        labels: Some(BTreeMap::from([("app".to_string(), "db".to_string())])),
                        annotations: None,
                    }),
                    type_: None,
                    immutable: None,
                }),
            },
            status: None,
        }
    }

    #[test]
    fn the_desired_secret_is_labeled_owned_and_typed() {
        let key = PrivateKey::from_bytes(&[1; 32]);
        let sealed = sealed_secret(&key, Scope::Strict, ("prod", "db"));
        let ring: KeyRing = [key].into_iter().collect();
        let values = open_values(&sealed, &ring).unwrap();
        let secret = desired_secret(&sealed, &values, false);
        assert_eq!(secret.data.as_ref().unwrap()["password"].0, b"hunter2");
        let labels = secret.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "db");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY_VALUE);
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
        let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller, owner.kind.as_str()),
            ("uid-1", Some(true), "SealedSecret")
        );
    }

    #[test]
    fn open_failures_map_to_fixed_reasons_without_plaintext() {
        let key = PrivateKey::from_bytes(&[1; 32]);
        let ring: KeyRing = [PrivateKey::from_bytes(&[1; 32])].into_iter().collect();
        let moved = sealed_secret(&key, Scope::Strict, ("staging", "db"));
        let outcome = unseal_failure(&open_values(&moved, &ring).unwrap_err());
        assert_eq!(outcome.reason, Reason::WrongScope);
        assert!(
            outcome.message.contains("staging/db"),
            "{}",
            outcome.message
        );

        let other = PrivateKey::from_bytes(&[2; 32]);
        let unknown = sealed_secret(&other, Scope::Strict, ("prod", "db"));
        assert_eq!(
            unseal_failure(&open_values(&unknown, &ring).unwrap_err()).reason,
            Reason::UnknownKey
        );

        let mut garbage = sealed_secret(&key, Scope::Strict, ("prod", "db"));
        garbage
            .spec
            .encrypted_data
            .insert("password".into(), "!!".into());
        assert_eq!(
            unseal_failure(&open_values(&garbage, &ring).unwrap_err()).reason,
            Reason::InvalidSealedValue
        );
        assert!(!outcome.message.contains("hunter2"));
    }

    #[test]
    fn last_transition_time_changes_only_when_the_status_does() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let failed = Outcome {
            reason: Reason::WrongScope,
            message: "m".into(),
        };
        let first = next_condition(None, &failed, Some(1), t0);
        assert_eq!(first.last_transition_time, Time(t0));
        let tampered = Outcome {
            reason: Reason::Tampered,
            message: "m".into(),
        };
        let second = next_condition(Some(&first), &tampered, Some(2), t1);
        assert_eq!(second.last_transition_time, Time(t0), "still False");
        assert_eq!(second.reason, "Tampered");
        let third = next_condition(Some(&second), &Outcome::synced(1), Some(2), t1);
        assert_eq!(
            (third.status.as_str(), third.last_transition_time.clone()),
            ("True", Time(t1))
        );
    }

    #[test]
    fn the_cache_keeps_the_same_few_bytes_whatever_a_tenant_writes() {
        let key = PrivateKey::from_bytes(&[1; 32]);
        let small = sealed_secret(&key, Scope::Strict, ("prod", "db"));
        let mut cached_small = small.clone();
        slim(&mut cached_small);
        assert_eq!(cached_small.spec.encrypted_data, small.spec.encrypted_data);
        assert_eq!(dropped_spec(&cached_small), None);

        // A megabyte of sealed "values", hundreds of kilobytes of labels and annotations.
        let mut hostile = small.clone();
        hostile
            .spec
            .encrypted_data
            .insert("junk".into(), "A".repeat(1 << 20));
        hostile.metadata.annotations = Some(BTreeMap::from([
            ("filler".to_string(), "B".repeat(200_000)),
            (
                crate::policy::KEEP_SECRET_ANNOTATION.to_string(),
                "true".to_string(),
            ),
        ]));
        hostile.metadata.labels = Some(
            (0..1000)
                .map(|i| (format!("l{i}"), "v".repeat(60)))
                .collect(),
        );
        let bytes = crate::policy::spec_bytes(&hostile);
        slim(&mut hostile);
        let kept = serde_json::to_vec(&hostile).unwrap().len();
        assert!(kept < 1024, "{kept} bytes cached");
        assert_eq!(dropped_spec(&hostile), Some(bytes));
        assert!(crate::policy::keeps_secret(&hostile));
        assert!(hostile.spec.encrypted_data.is_empty() && hostile.spec.template.is_none());
    }

    #[test]
    fn a_refusal_keeps_the_server_words_up_to_the_redacted_value() {
        let message = "Secret \"x\" is invalid: data[.dockerconfigjson]: Invalid value: \
                       \"<secret contents redacted>\": invalid character '~' looking for \
                       beginning of value";
        let kept = withhold_values(message);
        assert!(kept.contains("data[.dockerconfigjson]"), "{kept}");
        assert!(!kept.contains('~'), "{kept}");
        assert_eq!(withhold_values("field is immutable"), "field is immutable");
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(30), BACKOFF_MAX);
    }
}

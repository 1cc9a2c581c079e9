//! What the controller keeps of each watched object, and the watch streams around the caches.
//!
//! The SealedSecret cache keeps only what reconciling reads ([`slim`]), so what it holds per
//! object does not depend on what a tenant writes (docs/operations.md#memory); the owned-Secrets
//! cache keeps metadata and a one-line summary of who owns the content ([`slim_secret`]).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
use kube::Resource;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde_json::Value;
use tracing::debug;

use sealant_core::resource::{LAST_APPLIED_ANNOTATION, SealedSecret};

use crate::FIELD_MANAGER;
use crate::conditions::SYNCED;
use crate::events::{self};

/// Polls `stores` until one holds `namespace/name` at resourceVersion `version`, for at most
/// [`CACHE_CATCH_UP`] (a lagging watch only costs a redundant write later, never a wrong one).
pub(crate) async fn await_version<K>(
    stores: &[Store<K>],
    namespace: &str,
    name: &str,
    version: &str,
) where
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

/// Objects per page when a watch (re-)lists SealedSecrets. A page is held whole while it is
/// decoded; an object can be ~1.5 MB (the API server's limit), so a page of 500 (the default)
/// could need most of a gigabyte before the cache drops what it does not keep.
pub(crate) const LIST_PAGE: u32 = 10;

/// Annotation, in the SealedSecret cache only: the spec was dropped from the cached copy; its
/// value is the spec's size in bytes ([`crate::policy::spec_bytes`]).
pub(crate) const CACHED_SPEC_DROPPED_ANNOTATION: &str = "sealant.dev/cached-spec-dropped";

/// How long a reconcile waits for the cache to show its own Secret write.
pub(crate) const CACHE_CATCH_UP: Duration = Duration::from_secs(2);

/// A cache and whether it has its first complete list.
pub type CacheOf<K> = (Store<K>, tokio::sync::watch::Receiver<bool>);

/// Every object of `store` each time `signal` fires.
pub(crate) fn every_object(
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
pub(crate) fn relist_signal() -> (
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
pub(crate) fn changes<K, S>(
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
pub(crate) fn slim_secret(object: &mut PartialObjectMeta<Secret>) {
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
pub(crate) fn content_owners(
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
pub(crate) const CACHED_CONTENT_ANNOTATION: &str = "sealant.dev/cached-content-owners";

/// Keeps of a SealedSecret only what reconciling (and the metrics) read, so that what the cache
/// holds per object does not depend on what its author wrote: the identity (name, namespace,
/// uid, generation, resourceVersion), the controller's own annotations, the `Synced` condition,
/// and the spec only if it is at most [`crate::policy::CACHED_SPEC_BYTES`] (else its size, and the
/// reconcile reads the object). Labels, other annotations, owner references, finalizers and
/// managedFields are dropped: a tenant can put hundreds of kilobytes into each.
pub(crate) fn slim(object: &mut SealedSecret) {
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
pub(crate) fn dropped_spec(sealed: &SealedSecret) -> Option<usize> {
    sealed
        .metadata
        .annotations
        .as_ref()?
        .get(CACHED_SPEC_DROPPED_ANNOTATION)?
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::sealed_secret;
    use sealant_core::format::Scope;
    use sealant_core::keys::PrivateKey;

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
}

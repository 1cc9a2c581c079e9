//! In-memory storage with one global, strictly increasing resourceVersion.
//!
//! Every write (create, update, delete, finalizer removal) takes the next resourceVersion and
//! produces exactly one [`Change`]. Changes go to a bounded log (watch replay from an older
//! resourceVersion; older than the log is `410 Gone`) and to a broadcast channel (live watches).
//! Objects are `Arc<Value>` in one `BTreeMap` per storage keyed by (namespace, name), which is
//! also the order a real apiserver lists in; a list clones `Arc`s under the lock and serializes
//! outside it.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::fields::{self, Part};
use crate::resources::{ApiResource, Registry, StorageKey, ingest};
use crate::selectors::{FieldSelector, LabelSelector};

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watches see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) storage: StorageKey,
    pub(crate) namespace: String,
    pub(crate) kind: ChangeKind,
    pub(crate) object: Arc<Value>,
    /// The previous version, for MODIFIED (selectors may stop or start matching).
    pub(crate) old: Option<Arc<Value>>,
}

/// How a write may change the object, and who makes it.
#[derive(Clone, Debug)]
pub(crate) struct WriteOpts {
    pub(crate) part: Part,
    /// Field manager for update-style writes; `None` for apply, which tracks fields itself.
    pub(crate) manager: Option<String>,
    pub(crate) dry_run: bool,
}

/// A delete request's options.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOpts {
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
    pub(crate) dry_run: bool,
    /// `propagationPolicy`: `Foreground` and `Orphan` add the garbage collector's finalizers
    /// (only when it runs; without it they would hold the object forever).
    pub(crate) propagation: Option<String>,
}

/// The finalizers the garbage collector acts on.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
pub(crate) const ORPHAN: &str = "orphan";

/// One page of a list.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub(crate) resource_version: u64,
    pub(crate) items: Vec<Arc<Value>>,
    pub(crate) continue_token: Option<String>,
}

/// Where a watch starts.
pub(crate) enum WatchStart {
    /// Send the current state as ADDED events first (resourceVersion unset or "0").
    Snapshot,
    /// Replay every change after this resourceVersion.
    After(u64),
}

/// What a new watch gets: initial events and the live feed, taken atomically.
pub(crate) struct WatchFeed {
    pub(crate) initial: Vec<Arc<Change>>,
    pub(crate) live: broadcast::Receiver<Arc<Change>>,
    pub(crate) resource_version: u64,
}

pub(crate) struct State {
    rv: u64,
    pub(crate) registry: Registry,
    tables: HashMap<StorageKey, BTreeMap<ObjKey, Arc<Value>>>,
    uids: HashSet<String>,
    log: VecDeque<Arc<Change>>,
    log_capacity: usize,
    /// Changes at or below this resourceVersion may be missing from the log.
    compacted: u64,
}

pub(crate) struct Store {
    state: Mutex<State>,
    changes: broadcast::Sender<Arc<Change>>,
    uid_seed: RandomState,
    uid_counter: AtomicU64,
    gc: bool,
}

/// The capacity of the live-change channel; a watch that falls this far behind is closed and
/// the client resumes from its last resourceVersion through the log.
const LIVE_CAPACITY: usize = 1 << 16;

const DEFAULT_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl Store {
    pub(crate) fn new(log_capacity: usize, gc: bool) -> Self {
        let (changes, _) = broadcast::channel(LIVE_CAPACITY);
        let store = Store {
            state: Mutex::new(State {
                rv: 0,
                registry: Registry::with_builtins(),
                tables: HashMap::new(),
                uids: HashSet::new(),
                log: VecDeque::new(),
                log_capacity,
                compacted: 0,
            }),
            changes,
            uid_seed: RandomState::new(),
            uid_counter: AtomicU64::new(0),
            gc,
        };
        let namespaces = store.lock().registry.lookup("", "v1", "namespaces");
        if let Some(ns) = namespaces {
            let opts = WriteOpts {
                part: Part::Whole,
                manager: Some("kube-apiserver".into()),
                dry_run: false,
            };
            for name in DEFAULT_NAMESPACES {
                let object =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                // Creating a fresh namespace in an empty store has no failure path.
                let _ = store.write(&ns, "", name, &opts, |_| Ok(object));
            }
        }
        store
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this crate; the data stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Forgets the watch history: watches from any earlier resourceVersion now get 410 Gone.
    pub(crate) fn compact(&self) {
        let mut state = self.lock();
        state.log.clear();
        state.compacted = state.rv;
    }

    pub(crate) fn count(&self, storage: &StorageKey) -> usize {
        self.lock().tables.get(storage).map_or(0, BTreeMap::len)
    }

    pub(crate) fn get(
        &self,
        res: &ApiResource,
        ns: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let state = self.lock();
        state
            .tables
            .get(&res.storage)
            .and_then(|t| t.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&res.plural, &res.group, name))
    }

    pub(crate) fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let ns = ns.or(fields.exact_namespace());
        let state = self.lock();
        let (rv, start) = match continue_token {
            Some(token) => {
                let (rv, start) = decode_continue(token)?;
                if rv < state.compacted {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ));
                }
                (rv, Some(start))
            }
            None => (state.rv, None),
        };
        let mut page = ListPage {
            resource_version: rv,
            items: Vec::new(),
            continue_token: None,
        };
        let empty = BTreeMap::new();
        let table = state.tables.get(&res.storage).unwrap_or(&empty);
        let lower = match (&start, ns) {
            (Some(key), _) => std::ops::Bound::Excluded(key.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.to_string(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let in_range = |key_ns: &str, key_name: &str| {
            start
                .as_ref()
                .is_none_or(|(s_ns, s_name)| (key_ns, key_name) > (s_ns.as_str(), s_name.as_str()))
                && ns.is_none_or(|ns| key_ns == ns)
        };
        // A continued list shows the state at the first page's resourceVersion, as etcd's
        // snapshot would: objects changed since then are seen as they were, objects created
        // since are left out and objects deleted since are put back, from the change log.
        let (then, deleted_since) = if rv < state.rv {
            state.state_at(&res.storage, rv, &in_range)
        } else {
            (HashMap::new(), Vec::new())
        };
        let current = table
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|(key, _)| ns.is_none_or(|ns| key.0 == ns))
            .filter_map(|(key, object)| match then.get(key) {
                Some(Some(old)) => Some((key, old)),
                Some(None) => None,
                None => Some((key, object)),
            });
        let limit = limit.filter(|l| *l > 0);
        let mut last: Option<&ObjKey> = None;
        for (key, object) in merge_sorted(current, deleted_since.iter().map(|(k, v)| (k, v))) {
            if let Some(name) = fields.exact_name()
                && key.1 != name
            {
                continue;
            }
            if !labels.matches(object) || !fields.matches(object) {
                continue;
            }
            if limit.is_some_and(|l| page.items.len() >= l) {
                if let Some(last) = last {
                    page.continue_token = Some(encode_continue(rv, last));
                }
                break;
            }
            page.items.push(Arc::clone(object));
            last = Some(key);
        }
        Ok(page)
    }

    /// Starts a watch: the replayed (or snapshot) changes and a live receiver with no gap between.
    pub(crate) fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        start: WatchStart,
    ) -> Result<WatchFeed, ApiError> {
        let state = self.lock();
        let live = self.changes.subscribe();
        let initial = match start {
            WatchStart::After(from) => {
                if from < state.compacted {
                    return Err(ApiError::expired(format!(
                        "too old resource version: {from} ({})",
                        state.compacted + 1
                    )));
                }
                state
                    .changes_after(from)
                    .filter(|c| c.storage == res.storage)
                    .filter(|c| ns.is_none_or(|ns| c.namespace == ns))
                    .cloned()
                    .collect()
            }
            WatchStart::Snapshot => state
                .tables
                .get(&res.storage)
                .map(|table| {
                    table
                        .iter()
                        .filter(|(key, _)| ns.is_none_or(|ns| key.0 == ns))
                        .map(|(key, object)| {
                            Arc::new(Change {
                                rv: object_rv(object),
                                storage: res.storage.clone(),
                                namespace: key.0.clone(),
                                kind: ChangeKind::Added,
                                object: Arc::clone(object),
                                old: None,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok(WatchFeed {
            initial,
            live,
            resource_version: state.rv,
        })
    }

    /// Read-modify-write of one object. `propose` gets the current stored object (if any) and
    /// returns the object the client asks for (in the served form of `res`); the store then
    /// applies what the apiserver itself enforces and commits.
    pub(crate) fn write<F>(
        &self,
        res: &ApiResource,
        ns: &str,
        name: &str,
        opts: &WriteOpts,
        propose: F,
    ) -> Result<Arc<Value>, ApiError>
    where
        F: FnOnce(Option<&Arc<Value>>) -> Result<Value, ApiError>,
    {
        let mut state = self.lock();
        let key = (ns.to_string(), name.to_string());
        let old = state
            .tables
            .get(&res.storage)
            .and_then(|t| t.get(&key))
            .cloned();
        let proposed = ingest(res, propose(old.as_ref())?);
        let now = now();
        let mut new = match &old {
            None => self.prepare_create(&state, res, ns, proposed, opts, &now)?,
            Some(old) => prepare_update(res, old, proposed, opts)?,
        };
        if let Some(manager) = &opts.manager {
            fields::track_update(
                old.as_deref(),
                &mut new,
                manager,
                &res.api_version(),
                opts.part,
                &now,
            );
        }
        if let Some(old) = &old
            && same_content(old, &new)
        {
            return Ok(Arc::clone(old));
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let key = (ns.to_string(), name);
        if old.is_none()
            && state
                .tables
                .get(&res.storage)
                .is_some_and(|t| t.contains_key(&key))
        {
            return Err(ApiError::already_exists(&res.plural, &res.group, &key.1));
        }
        if res.storage.group == "apiextensions.k8s.io" {
            state.registry.register_crd(&new)?;
        }
        let finished =
            new.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&new).is_empty();
        if finished {
            let removed = self.commit_delete(&mut state, &res.storage, &key, new);
            return Ok(removed);
        }
        Ok(self.commit_put(&mut state, &res.storage, key, new, old))
    }

    fn prepare_create(
        &self,
        state: &State,
        res: &ApiResource,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
        now: &str,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let mut name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            match obj["metadata"]["generateName"].as_str() {
                Some(prefix) if !prefix.is_empty() => {
                    name = format!("{prefix}{}", self.random_suffix())
                }
                _ => {
                    return Err(ApiError::invalid(
                        &res.kind,
                        &res.group,
                        "",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    ));
                }
            }
        }
        if let Err(why) = validate_name(&name, res.plural == "namespaces") {
            return Err(ApiError::invalid(
                &res.kind,
                &res.group,
                &name,
                "metadata.name",
                &format!("Invalid value: {name:?}: {why}"),
            ));
        }
        let meta = &mut obj["metadata"];
        meta["name"] = json!(name);
        if res.namespaced {
            if !state
                .tables
                .get(&ns_storage())
                .is_some_and(|t| t.contains_key(&(String::new(), ns.to_string())))
            {
                return Err(ApiError::not_found("namespaces", "", ns));
            }
            if state.namespace_terminating(ns) {
                return Err(ApiError::forbidden(
                    &res.plural,
                    &res.group,
                    &name,
                    &format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    ),
                ));
            }
            meta["namespace"] = json!(ns);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        if let Some(m) = meta.as_object_mut() {
            for server_owned in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                m.remove(server_owned);
            }
        }
        meta["uid"] = json!(self.new_uid());
        meta["creationTimestamp"] = json!(now);
        if res.has_generation {
            meta["generation"] = json!(1);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("generation");
        }
        if res.status_subresource
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if opts.part == Part::StatusOnly {
            return Err(ApiError::not_found(&res.plural, &res.group, &name));
        }
        admit(res, None, &mut obj)?;
        Ok(obj)
    }

    fn new_uid(&self) -> String {
        let n = self.uid_counter.fetch_add(1, Ordering::Relaxed);
        let mut a = self.uid_seed.build_hasher();
        a.write_u64(n);
        let hi = a.finish();
        a.write_u64(!n);
        let lo = a.finish();
        let bytes = ((hi as u128) << 64) | lo as u128;
        let s = format!("{bytes:032x}");
        format!(
            "{}-{}-4{}-a{}-{}",
            &s[0..8],
            &s[8..12],
            &s[13..16],
            &s[17..20],
            &s[20..32]
        )
    }

    fn random_suffix(&self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut h = self.uid_seed.build_hasher();
        h.write_u64(self.uid_counter.fetch_add(1, Ordering::Relaxed));
        let mut x = h.finish();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                x /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    fn commit_put(
        &self,
        state: &mut State,
        storage: &StorageKey,
        key: ObjKey,
        mut new: Value,
        old: Option<Arc<Value>>,
    ) -> Arc<Value> {
        state.rv += 1;
        new["metadata"]["resourceVersion"] = json!(state.rv.to_string());
        if let Some(uid) = new["metadata"]["uid"].as_str() {
            state.uids.insert(uid.to_string());
        }
        let new = Arc::new(new);
        state
            .tables
            .entry(storage.clone())
            .or_default()
            .insert(key.clone(), Arc::clone(&new));
        let kind = if old.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        self.record(
            state,
            Change {
                rv: state.rv,
                storage: storage.clone(),
                namespace: key.0,
                kind,
                object: Arc::clone(&new),
                old,
            },
        );
        new
    }

    fn commit_delete(
        &self,
        state: &mut State,
        storage: &StorageKey,
        key: &ObjKey,
        mut last: Value,
    ) -> Arc<Value> {
        state.rv += 1;
        last["metadata"]["resourceVersion"] = json!(state.rv.to_string());
        let previous = state
            .tables
            .get_mut(storage)
            .and_then(|table| table.remove(key));
        if let Some(uid) = last["metadata"]["uid"].as_str() {
            state.uids.remove(uid);
        }
        let last = Arc::new(last);
        self.record(
            state,
            Change {
                rv: state.rv,
                storage: storage.clone(),
                namespace: key.0.clone(),
                kind: ChangeKind::Deleted,
                object: Arc::clone(&last),
                old: previous,
            },
        );
        self.after_delete(state, storage, key);
        if *storage != ns_storage() {
            self.finish_namespace(state, &key.0);
        }
        last
    }

    /// Cascades a real apiserver performs on its own: a CRD's objects, a namespace's contents.
    fn after_delete(&self, state: &mut State, storage: &StorageKey, key: &ObjKey) {
        if storage.group == "apiextensions.k8s.io" && storage.plural == "customresourcedefinitions"
        {
            let Some((plural, group)) = key.1.split_once('.') else {
                return;
            };
            let defined = StorageKey {
                group: group.to_string(),
                plural: plural.to_string(),
            };
            let keys: Vec<ObjKey> = state
                .tables
                .get(&defined)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys {
                let last = state
                    .tables
                    .get(&defined)
                    .and_then(|t| t.get(&k))
                    .map(|o| (**o).clone());
                if let Some(last) = last {
                    self.commit_delete(state, &defined, &k, last);
                }
            }
            state.tables.remove(&defined);
            state.registry.unregister(&defined);
        } else if *storage == ns_storage() {
            let ns = key.1.clone();
            let storages: Vec<StorageKey> = state
                .tables
                .keys()
                .filter(|s| **s != ns_storage())
                .cloned()
                .collect();
            for s in storages {
                let keys: Vec<ObjKey> = state
                    .tables
                    .get(&s)
                    .map(|t| {
                        t.range((ns.clone(), String::new())..)
                            .take_while(|(k, _)| k.0 == ns)
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for k in keys {
                    let last = state
                        .tables
                        .get(&s)
                        .and_then(|t| t.get(&k))
                        .map(|o| (**o).clone());
                    if let Some(last) = last {
                        self.commit_delete(state, &s, &k, last);
                    }
                }
            }
        }
    }

    fn record(&self, state: &mut State, change: Change) {
        let change = Arc::new(change);
        if state.log_capacity > 0 {
            if state.log.len() >= state.log_capacity
                && let Some(dropped) = state.log.pop_front()
            {
                state.compacted = dropped.rv;
            }
            state.log.push_back(Arc::clone(&change));
        } else {
            state.compacted = change.rv;
        }
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    /// Deletes one object. With finalizers it only gets a `deletionTimestamp`; the last
    /// finalizer's removal (an update) deletes it.
    pub(crate) fn delete(
        &self,
        res: &ApiResource,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        let key = (ns.to_string(), name.to_string());
        let Some(current) = state
            .tables
            .get(&res.storage)
            .and_then(|t| t.get(&key))
            .cloned()
        else {
            return Err(ApiError::not_found(&res.plural, &res.group, name));
        };
        let actual_uid = current["metadata"]["uid"].as_str().unwrap_or_default();
        if let Some(uid) = &opts.uid
            && uid != actual_uid
        {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual_uid}"
            );
            return Err(ApiError::conflict(&res.plural, &res.group, name, &why));
        }
        let actual_rv = current["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if let Some(rv) = &opts.resource_version
            && rv != actual_rv
        {
            let why = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual_rv}"
            );
            return Err(ApiError::conflict(&res.plural, &res.group, name, &why));
        }
        if res.storage == ns_storage() && !opts.dry_run {
            return Ok(self.terminate_namespace(&mut state, key, current));
        }
        let gc_finalizer = match opts.propagation.as_deref() {
            Some("Foreground") if self.gc => Some(FOREGROUND),
            Some("Orphan") if self.gc => Some(ORPHAN),
            _ => None,
        };
        if !finalizers(&current).is_empty() || gc_finalizer.is_some() {
            if current.pointer("/metadata/deletionTimestamp").is_some() || opts.dry_run {
                return Ok(current);
            }
            let mut marked = marked_for_deletion(&current);
            if let Some(f) = gc_finalizer {
                let mut list = finalizers(&marked);
                list.push(f.to_string());
                marked["metadata"]["finalizers"] = json!(list);
            }
            return Ok(self.commit_put(&mut state, &res.storage, key, marked, Some(current)));
        }
        if opts.dry_run {
            return Ok(current);
        }
        Ok(self.commit_delete(&mut state, &res.storage, &key, (*current).clone()))
    }

    /// Deletes a namespace as the namespace controller does: contents without finalizers go at
    /// once, the rest get a deletionTimestamp, and the namespace stays `Terminating` (no new
    /// objects) until the last of them is gone.
    fn terminate_namespace(
        &self,
        state: &mut State,
        key: ObjKey,
        current: Arc<Value>,
    ) -> Arc<Value> {
        let ns = key.1.clone();
        for (storage, k) in state.namespace_contents(&ns) {
            let Some(object) = state.tables.get(&storage).and_then(|t| t.get(&k)).cloned() else {
                continue;
            };
            if finalizers(&object).is_empty() {
                self.commit_delete(state, &storage, &k, (*object).clone());
            } else if object.pointer("/metadata/deletionTimestamp").is_none() {
                let marked = marked_for_deletion(&object);
                self.commit_put(state, &storage, k, marked, Some(object));
            }
        }
        if state.namespace_contents(&ns).is_empty() && finalizers(&current).is_empty() {
            return self.commit_delete(state, &ns_storage(), &key, (*current).clone());
        }
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return current;
        }
        let mut marked = marked_for_deletion(&current);
        marked["status"] = json!({"phase": "Terminating"});
        self.commit_put(state, &ns_storage(), key, marked, Some(current))
    }

    /// After an object in a Terminating namespace goes: the namespace goes too once empty.
    fn finish_namespace(&self, state: &mut State, ns: &str) {
        if ns.is_empty()
            || !state.namespace_terminating(ns)
            || !state.namespace_contents(ns).is_empty()
        {
            return;
        }
        let key = (String::new(), ns.to_string());
        let namespace = state
            .tables
            .get(&ns_storage())
            .and_then(|t| t.get(&key))
            .cloned();
        if let Some(namespace) = namespace
            && finalizers(&namespace).is_empty()
        {
            self.commit_delete(state, &ns_storage(), &key, (*namespace).clone());
        }
    }

    /// Objects all of whose owners are gone (by uid), for the garbage collector.
    pub(crate) fn orphans(&self) -> Vec<(StorageKey, ObjKey)> {
        let state = self.lock();
        let mut out = Vec::new();
        for (storage, table) in &state.tables {
            for (key, object) in table {
                let Some(owners) = object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                else {
                    continue;
                };
                if owners.is_empty() || object.pointer("/metadata/deletionTimestamp").is_some() {
                    continue;
                }
                let all_gone = owners.iter().all(|o| {
                    o["uid"]
                        .as_str()
                        .is_none_or(|uid| !state.uids.contains(uid))
                });
                if all_gone {
                    out.push((storage.clone(), key.clone()));
                }
            }
        }
        out
    }

    /// Objects being deleted that wait for the garbage collector: (storage, key, uid, finalizer).
    pub(crate) fn gc_finalizing(&self) -> Vec<(StorageKey, ObjKey, String, &'static str)> {
        let state = self.lock();
        let mut out = Vec::new();
        for (storage, table) in &state.tables {
            for (key, object) in table {
                if object.pointer("/metadata/deletionTimestamp").is_none() {
                    continue;
                }
                let uid = object["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let pending = finalizers(object);
                for f in [FOREGROUND, ORPHAN] {
                    if pending.iter().any(|p| p == f) {
                        out.push((storage.clone(), key.clone(), uid.clone(), f));
                    }
                }
            }
        }
        out
    }

    /// Objects with an ownerReference to `uid`.
    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<(StorageKey, ObjKey)> {
        let state = self.lock();
        let mut out = Vec::new();
        for (storage, table) in &state.tables {
            for (key, object) in table {
                let owned = object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|owners| owners.iter().any(|o| o["uid"] == uid));
                if owned {
                    out.push((storage.clone(), key.clone()));
                }
            }
        }
        out
    }

    /// A served view of a storage (for deletes that do not come from a request).
    pub(crate) fn view_of(&self, storage: &StorageKey) -> Option<Arc<ApiResource>> {
        let state = self.lock();
        let views = state.registry.views_of(storage);
        views
            .iter()
            .find(|v| v.preferred && v.conversion == crate::resources::Conversion::None)
            .or(views.first())
            .cloned()
    }
}

impl State {
    fn namespace_terminating(&self, ns: &str) -> bool {
        self.tables
            .get(&ns_storage())
            .and_then(|t| t.get(&(String::new(), ns.to_string())))
            .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some())
    }
}

/// Two key-ordered sequences as one (keys are never in both).
fn merge_sorted<'a>(
    a: impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)>,
    b: impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)>,
) -> impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) => {
            if ka <= kb {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

impl State {
    /// The logged changes with a resourceVersion above `rv`, oldest first. The log is ordered
    /// by resourceVersion, so this skips straight to them.
    fn changes_after(&self, rv: u64) -> impl Iterator<Item = &Arc<Change>> {
        let first = self.log.partition_point(|c| c.rv <= rv);
        self.log.range(first..)
    }

    /// How the objects of `storage` changed since resourceVersion `rv`, from the log: for each
    /// key changed since, its object at `rv` (`None`: it did not exist yet), and, sorted, the
    /// keys deleted since with their object at `rv`. Only keys `in_range` are considered.
    #[allow(clippy::type_complexity)]
    fn state_at(
        &self,
        storage: &StorageKey,
        rv: u64,
        in_range: &dyn Fn(&str, &str) -> bool,
    ) -> (
        HashMap<ObjKey, Option<Arc<Value>>>,
        Vec<(ObjKey, Arc<Value>)>,
    ) {
        let mut then: HashMap<ObjKey, Option<Arc<Value>>> = HashMap::new();
        for change in self.changes_after(rv).filter(|c| c.storage == *storage) {
            let name = change.object["metadata"]["name"]
                .as_str()
                .unwrap_or_default();
            if !in_range(&change.namespace, name) {
                continue;
            }
            let key = (change.namespace.clone(), name.to_string());
            // The earliest change after `rv` says what the object was at `rv`.
            then.entry(key).or_insert_with(|| match change.kind {
                ChangeKind::Added => None,
                ChangeKind::Modified | ChangeKind::Deleted => change.old.clone(),
            });
        }
        let table = self.tables.get(storage);
        let mut deleted_since: Vec<(ObjKey, Arc<Value>)> = then
            .iter()
            .filter(|(key, _)| table.is_none_or(|t| !t.contains_key(*key)))
            .filter_map(|(key, old)| old.clone().map(|o| (key.clone(), o)))
            .collect();
        deleted_since.sort_by(|a, b| a.0.cmp(&b.0));
        (then, deleted_since)
    }

    /// Every namespaced object in `ns`, across all resources.
    fn namespace_contents(&self, ns: &str) -> Vec<(StorageKey, ObjKey)> {
        let mut out = Vec::new();
        for (storage, table) in self.tables.iter().filter(|(s, _)| **s != ns_storage()) {
            let inside = table
                .range((ns.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == ns);
            out.extend(inside.map(|(k, _)| (storage.clone(), k.clone())));
        }
        out
    }
}

/// A copy of `object` with a deletionTimestamp (and the generation bump that comes with it).
fn marked_for_deletion(object: &Value) -> Value {
    let mut marked = object.clone();
    marked["metadata"]["deletionTimestamp"] = json!(now());
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    if let Some(generation) = marked["metadata"]["generation"].as_i64() {
        marked["metadata"]["generation"] = json!(generation + 1);
    }
    marked
}

fn ns_storage() -> StorageKey {
    StorageKey {
        group: String::new(),
        plural: "namespaces".into(),
    }
}

fn prepare_update(
    res: &ApiResource,
    old: &Value,
    mut new: Value,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    let name = old["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !new.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    let sent_rv = new["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    let old_rv = old["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if !sent_rv.is_empty() && sent_rv != old_rv {
        return Err(ApiError::conflict(
            &res.plural,
            &res.group,
            &name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let sent_uid = new["metadata"]["uid"].as_str().unwrap_or_default();
    let old_uid = old["metadata"]["uid"].as_str().unwrap_or_default();
    if !sent_uid.is_empty() && sent_uid != old_uid {
        let why = format!(
            "Precondition failed: UID in precondition: {sent_uid}, UID in object meta: {old_uid}"
        );
        return Err(ApiError::conflict(&res.plural, &res.group, &name, &why));
    }
    match opts.part {
        Part::StatusOnly => {
            let status = new.get("status").cloned();
            let managed = new["metadata"].get("managedFields").cloned();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            match managed {
                Some(m) => merged["metadata"]["managedFields"] = m,
                None => {
                    if let Some(m) = merged["metadata"].as_object_mut() {
                        m.remove("managedFields");
                    }
                }
            }
            new = merged;
        }
        Part::MainOnly | Part::Whole => {
            if res.status_subresource {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
        }
    }
    // Identity and server-owned metadata cannot be changed by a write.
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old["metadata"].get(key) {
            Some(v) => new["metadata"][key] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(key);
                }
            }
        }
    }
    if old.pointer("/metadata/deletionTimestamp").is_some() {
        let before = finalizers(old);
        if finalizers(&new).iter().any(|f| !before.contains(f)) {
            return Err(ApiError::invalid(
                &res.kind,
                &res.group,
                &name,
                "metadata.finalizers",
                "Forbidden: no new finalizers can be added if the object is being deleted",
            ));
        }
    }
    if res.has_generation && spec_changed(old, &new, res.status_subresource) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    admit(res, Some(old), &mut new)?;
    Ok(new)
}

/// Whether anything but metadata (and status, when it is a subresource) changed.
fn spec_changed(old: &Value, new: &Value, status_subresource: bool) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if status_subresource {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// Equal apart from resourceVersion and managedFields timestamps: a no-op write.
fn same_content(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        v
    };
    strip(old) == strip(new)
}

pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn object_rv(object: &Value) -> u64 {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Type-specific admission: what the real registry strategies do on create and update.
fn admit(res: &ApiResource, old: Option<&Value>, obj: &mut Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut causes = crate::validation::labels(obj);
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "secrets") => {
            normalize_secret(obj, &name)?;
            causes.extend(crate::validation::secret(old, obj));
            if causes.is_empty() {
                check_immutable(res, old, obj, &name, &["data", "immutable"])?;
            }
        }
        ("events.k8s.io", "events") => causes.extend(crate::validation::event_note(obj)),
        ("", "configmaps") => {
            check_immutable(res, old, obj, &name, &["data", "binaryData", "immutable"])?
        }
        ("", "namespaces") => {
            if obj.pointer("/status/phase").is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
            if old.is_none() && obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            crate::resources::resources_of_crd(obj)?;
            if let Some(old) = old {
                let changed = |p: &str| old.pointer(p) != obj.pointer(p);
                if changed("/spec/group") || changed("/spec/names/plural") {
                    return Err(ApiError::invalid(
                        &res.kind,
                        &res.group,
                        &name,
                        "spec.group",
                        "Invalid value: field is immutable",
                    ));
                }
            }
            let accepted = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
            let time = now();
            let condition = |type_: &str, reason: &str, message: &str| json!({"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": time});
            let stored: Vec<Value> = obj
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v["storage"] == json!(true))
                        .map(|v| v["name"].clone())
                        .collect()
                })
                .unwrap_or_default();
            let kept_conditions = old.and_then(|o| o.pointer("/status/conditions")).cloned();
            obj["status"] = json!({
                "acceptedNames": accepted,
                "storedVersions": stored,
                "conditions": kept_conditions.unwrap_or_else(|| json!([
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ])),
            });
        }
        _ => {}
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid_causes(
            &res.kind, &res.group, &name, &causes,
        ));
    }
    if let Some(schema) = res.schema.as_deref().filter(|_| !res.builtin) {
        crate::schema::prune_and_validate(schema, obj, &res.kind, &res.group)?;
    }
    Ok(())
}

/// `stringData` merges into `data` (write-only, never stored); `data` must be base64.
fn normalize_secret(obj: &mut Value, name: &str) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Ok(());
    };
    let string_data = map.remove("stringData");
    let data = map.entry("data").or_insert_with(|| json!({}));
    if data.is_null() {
        *data = json!({});
    }
    let Some(data) = data.as_object_mut() else {
        return Err(ApiError::bad_request(
            "Secret in version \"v1\" cannot be handled as a Secret: data must be an object",
        ));
    };
    for (key, value) in data.iter() {
        let Some(text) = value.as_str() else {
            return Err(ApiError::bad_request(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: data[{key}] must be a base64 string"
            )));
        };
        if let Err(e) = STANDARD.decode(text) {
            return Err(ApiError::bad_request(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{key}]: {e}"
            )));
        }
    }
    if let Some(Value::Object(sd)) = string_data {
        for (key, value) in sd {
            let Some(text) = value.as_str() else {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: stringData[{key}] must be a string"
                )));
            };
            data.insert(key, json!(STANDARD.encode(text)));
        }
    }
    for key in data.keys() {
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(ApiError::invalid(
                "Secret",
                "",
                name,
                &format!("data[{key}]"),
                &format!(
                    "Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
    }
    if data.is_empty() {
        map.remove("data");
    }
    if map
        .get("type")
        .is_none_or(|t| t.as_str().is_none_or(str::is_empty))
    {
        map.insert("type".into(), json!("Opaque"));
    }
    Ok(())
}

fn check_immutable(
    res: &ApiResource,
    old: Option<&Value>,
    new: &Value,
    name: &str,
    fields: &[&str],
) -> Result<(), ApiError> {
    let Some(old) = old else { return Ok(()) };
    if old["immutable"] != json!(true) {
        return Ok(());
    }
    for field in fields {
        if old.get(*field) != new.get(*field) {
            return Err(ApiError::invalid(
                &res.kind,
                &res.group,
                name,
                field,
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
    }
    Ok(())
}

/// DNS-1123 subdomain (or label, for namespaces).
fn validate_name(name: &str, label: bool) -> Result<(), String> {
    let max = if label { 63 } else { 253 };
    if name.len() > max {
        return Err(format!("must be no more than {max} characters"));
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.');
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name.chars().all(allowed) || !edge_ok(name.chars().next()) || !edge_ok(name.chars().last())
    {
        return Err("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".into());
    }
    Ok(())
}

/// The current time as Kubernetes writes `metav1.Time`: RFC 3339, whole seconds, UTC.
pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

fn encode_continue(rv: u64, last: &ObjKey) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": [last.0, last.1]});
    STANDARD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, ObjKey), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = STANDARD.decode(token).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rv = value["rv"].as_u64().ok_or_else(bad)?;
    let ns = value["start"][0].as_str().ok_or_else(bad)?;
    let name = value["start"][1].as_str().ok_or_else(bad)?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(store: &Store) -> Arc<ApiResource> {
        store.lock().registry.lookup("", "v1", "secrets").unwrap()
    }

    fn update_opts() -> WriteOpts {
        WriteOpts {
            part: Part::Whole,
            manager: Some("test".into()),
            dry_run: false,
        }
    }

    #[test]
    fn string_data_is_merged_into_data_and_not_kept() {
        let store = Store::new(100, false);
        let res = secrets(&store);
        let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "yy"}});
        let stored = store
            .write(&res, "default", "s", &update_opts(), |_| Ok(body))
            .unwrap();
        assert_eq!(stored["data"], json!({"a": "eA==", "b": "eXk="}));
        assert!(stored.get("stringData").is_none());
        assert_eq!(stored["type"], "Opaque");
    }

    #[test]
    fn bad_base64_is_rejected_with_400() {
        let store = Store::new(100, false);
        let res = secrets(&store);
        let body = json!({"metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        let err = store
            .write(&res, "default", "s", &update_opts(), |_| Ok(body))
            .unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn no_op_update_keeps_the_resource_version() {
        let store = Store::new(100, false);
        let res = secrets(&store);
        let body = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="}});
        let first = store
            .write(&res, "default", "s", &update_opts(), |_| Ok(body))
            .unwrap();
        let again = store
            .write(&res, "default", "s", &update_opts(), |old| {
                Ok((**old.unwrap()).clone())
            })
            .unwrap();
        assert_eq!(
            first["metadata"]["resourceVersion"],
            again["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn uids_are_unique_and_uuid_shaped() {
        let store = Store::new(1, false);
        let a = store.new_uid();
        let b = store.new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn continued_lists_show_the_first_pages_snapshot() {
        let store = Store::new(100, false);
        let res = secrets(&store);
        let put = |name: &str, value: &str| {
            let body = json!({"metadata": {"name": name}, "data": {"v": value}});
            store
                .write(&res, "default", name, &update_opts(), |_| Ok(body))
                .unwrap();
        };
        for name in ["a", "b", "c", "d", "e"] {
            put(name, "MQ==");
        }
        let (none, all) = (LabelSelector::default(), FieldSelector::default());
        let first = store
            .list(&res, Some("default"), &none, &all, Some(2), None)
            .unwrap();
        let token = first.continue_token.clone().unwrap();
        // After the first page: c changes, d goes, f (after the cursor) and bb appear.
        put("c", "Mg==");
        store
            .delete(&res, "default", "d", &DeleteOpts::default())
            .unwrap();
        put("f", "MQ==");
        put("bb", "MQ==");
        let rest = store
            .list(&res, Some("default"), &none, &all, None, Some(&token))
            .unwrap();
        assert_eq!(rest.resource_version, first.resource_version);
        let seen: Vec<(String, String)> = rest
            .items
            .iter()
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                    o["data"]["v"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected = [("c", "MQ=="), ("d", "MQ=="), ("e", "MQ==")];
        assert_eq!(
            seen,
            expected
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .to_vec()
        );
        // Once the log no longer reaches back, the token has expired.
        store.compact();
        let err = store
            .list(&res, Some("default"), &none, &all, None, Some(&token))
            .unwrap_err();
        assert_eq!(err.code, 410);
    }

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_400() {
        let key = ("ns".to_string(), "n".to_string());
        assert_eq!(
            decode_continue(&encode_continue(7, &key)).unwrap(),
            (7, key)
        );
        assert_eq!(decode_continue("%%%").unwrap_err().code, 400);
    }
}

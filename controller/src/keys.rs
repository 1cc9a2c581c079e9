//! The sealing keys: loaded from labeled Secrets in the controller's namespace by every replica,
//! generated, renewed and published by the leader.
//!
//! The key Secrets' layout (label `sealant.dev/sealing-key` active or retired, data `private-key`
//! and `public-key`, annotation `sealant.dev/created-at`) is `sealant_core::key_secret`'s; this
//! module builds, reads and watches them. The newest active key is the one published for
//! sealing; every key, active or retired, opens.
//!
//! Keys are watched, not read once, so that a key added by hand (bring your own key, a restored
//! backup) is picked up without a restart in every replica.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, pin_mut};
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde::Serialize;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use sealant_core::format::KeyRing;
use sealant_core::key_secret::{
    self, KEY_CREATED_ANNOTATION, PRIVATE_KEY_DATA, PUBLIC_KEY_DATA, SEALING_KEY_LABEL,
};
use sealant_core::keys::{KeyError, KeyId, KeyType, PrivateKey, PublicKey};
use sealant_core::resource::PUBLIC_KEYS_CONFIGMAP;

use crate::FIELD_MANAGER;
use crate::errors::error_chain;

/// Data key of the public-keys ConfigMap holding the newest active public key line.
pub const CONFIGMAP_PUBLIC_KEY: &str = "public-key";
/// Data key of the public-keys ConfigMap holding the JSON list of all keys.
pub const CONFIGMAP_PUBLIC_KEYS_JSON: &str = "public-keys.json";
/// Whether a key is the candidate for sealing or only opens (the label's value).
pub use sealant_core::key_secret::KeyState;
/// The Secret that stores a key the controller generates: labeled active, annotated with its
/// creation time.
pub use sealant_core::key_secret::build as key_secret;

/// How often the leader re-checks renewal when nothing else wakes it.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(60);
/// How long the leader waits for its watch to see a key it just created.
const NEW_KEY_VISIBLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Managing keys failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyManagerError {
    /// Generating a key pair failed (the system's randomness).
    #[error("generating a sealing key")]
    GenerateKey(#[source] KeyError),
    /// Storing a new key Secret failed.
    #[error("writing key Secret {namespace}/{name}")]
    WriteKey {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Publishing the public keys ConfigMap failed.
    #[error("publishing ConfigMap {namespace}/{PUBLIC_KEYS_CONFIGMAP}")]
    PublishPublicKeys {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    /// Encoding the public keys list failed.
    #[error("encoding the public keys list")]
    EncodePublicKeys(#[source] serde_json::Error),
}

/// Public facts about one key (no private material).
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// Name of the Secret holding the key.
    pub secret_name: String,
    /// The key id.
    pub id: KeyId,
    /// The public key.
    pub public: PublicKey,
    /// When the key was created.
    pub created_at: Timestamp,
    /// Active or retired.
    pub state: KeyState,
}

/// One entry of `public-keys.json` and of `GET /v1/public-keys`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyEntry {
    pub key_id: String,
    pub public_key: String,
    pub created_at: String,
    pub state: KeyState,
}

/// The keys as last seen by the watch: a key ring for opening and the public facts, oldest first.
#[derive(Default)]
pub struct KeySet {
    /// Every key (active and retired), by key id.
    pub ring: KeyRing,
    /// Public facts, sorted by creation time then key id.
    pub keys: Vec<KeyInfo>,
    /// Whether the watch has completed its first list.
    pub loaded: bool,
}

impl KeySet {
    /// The newest active key: the one published for sealing.
    pub fn newest_active(&self) -> Option<&KeyInfo> {
        self.keys.iter().rev().find(|k| k.state == KeyState::Active)
    }

    /// The list published in `public-keys.json`, oldest first.
    pub fn public_entries(&self) -> Vec<PublicKeyEntry> {
        self.keys
            .iter()
            .map(|k| PublicKeyEntry {
                key_id: k.id.to_string(),
                public_key: k.public.to_string(),
                created_at: k.created_at.to_string(),
                state: k.state,
            })
            .collect()
    }
}

/// A read handle on the current keys, cheap to clone.
#[derive(Clone)]
pub struct Keys(watch::Receiver<Arc<KeySet>>);

impl Keys {
    /// The keys as of now.
    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.0.borrow())
    }

    /// A receiver that is notified whenever the key set changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<KeySet>> {
        self.0.clone()
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.current();
        f.debug_struct("Keys")
            .field("loaded", &keys.loaded)
            .field("count", &keys.keys.len())
            .finish()
    }
}

/// A key read from a Secret: the private key file text (zeroized on drop) and its public facts.
struct LoadedKey {
    private_text: Zeroizing<String>,
    info: KeyInfo,
}

/// Loads keys (every replica) and generates, renews and publishes them (the leader).
#[derive(Clone)]
pub struct KeyManager {
    client: Client,
    namespace: String,
    /// The type of the keys this manager generates (existing keys of any type are used).
    key_type: KeyType,
    /// Whether a generated key may be of a weaker type than the newest existing key.
    allow_weaker_key_type: bool,
    tx: Arc<watch::Sender<Arc<KeySet>>>,
}

impl KeyManager {
    /// A manager for the key Secrets in `namespace`; nothing is read until [`KeyManager::watch`].
    pub fn new(client: Client, namespace: &str) -> KeyManager {
        let (tx, _) = watch::channel(Arc::new(KeySet::default()));
        KeyManager {
            client,
            namespace: namespace.to_string(),
            key_type: KeyType::default(),
            allow_weaker_key_type: false,
            tx: Arc::new(tx),
        }
    }

    /// Generates keys of `key_type` from now on.
    pub fn with_key_type(mut self, key_type: KeyType) -> KeyManager {
        self.key_type = key_type;
        self
    }

    /// Lets a generated key be of a weaker type than the newest existing key (an X25519 key after
    /// X-Wing keys): `--allow-key-type-downgrade`. Off, the newest key's type is kept.
    pub fn allow_weaker_key_type(mut self, allow: bool) -> KeyManager {
        self.allow_weaker_key_type = allow;
        self
    }

    /// A read handle on the keys.
    pub fn keys(&self) -> Keys {
        Keys(self.tx.subscribe())
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Watches the key Secrets until `stop` resolves, publishing each change to [`Keys`].
    pub async fn watch(self, stop: impl Future<Output = ()>) {
        let config = watcher::Config::default().labels(SEALING_KEY_LABEL);
        let events = watcher(self.secrets(), config).default_backoff();
        pin_mut!(events);
        pin_mut!(stop);
        let mut current: HashMap<String, LoadedKey> = HashMap::new();
        let mut pending: HashMap<String, LoadedKey> = HashMap::new();
        let mut loaded = false;
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                () = &mut stop => return,
            };
            match event {
                None => return,
                // An outage is reported once by `outage::watch`, not at every retry.
                Some(Err(error)) if crate::outage::unreachable(&error) => {
                    debug!(%error, namespace = %self.namespace, "watching key Secrets")
                }
                Some(Err(error)) => {
                    warn!(%error, namespace = %self.namespace, "watching key Secrets")
                }
                Some(Ok(watcher::Event::Init)) => pending.clear(),
                Some(Ok(watcher::Event::InitApply(secret))) => {
                    if let Some(key) = load_key(secret) {
                        pending.insert(key.info.secret_name.clone(), key);
                    }
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    current = std::mem::take(&mut pending);
                    loaded = true;
                    self.publish(&current);
                }
                Some(Ok(watcher::Event::Apply(secret))) => {
                    let name = secret.name_any();
                    match load_key(secret) {
                        Some(key) => current.insert(name, key),
                        None => current.remove(&name),
                    };
                    if loaded {
                        self.publish(&current);
                    }
                }
                Some(Ok(watcher::Event::Delete(secret))) => {
                    current.remove(&secret.name_any());
                    if loaded {
                        self.publish(&current);
                    }
                }
            }
        }
    }

    /// Rebuilds the key set from the loaded keys and hands it to every reader.
    fn publish(&self, loaded: &HashMap<String, LoadedKey>) {
        let mut ring = KeyRing::new();
        let mut keys = Vec::with_capacity(loaded.len());
        for key in loaded.values() {
            match PrivateKey::from_file_text(&key.private_text) {
                Ok(private) => ring.insert(private),
                // load_key parsed this text already; it cannot fail now, but never panic here.
                Err(_) => continue,
            }
            keys.push(key.info.clone());
        }
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        keys.dedup_by(|a, b| a.id == b.id);
        info!(keys = keys.len(), newest = ?keys.iter().rev().find(|k| k.state == KeyState::Active).map(|k| k.id), "sealing keys loaded");
        self.tx.send_replace(Arc::new(KeySet {
            ring,
            keys,
            loaded: true,
        }));
    }

    /// The leader's upkeep until `stop` resolves: make sure an active key exists (and is newer
    /// than `cutoff`), renew it every `renew_period`, and keep the public keys ConfigMap current.
    /// Failures are logged and retried; they never end the loop.
    pub async fn lead(
        &self,
        renew_period: Option<Duration>,
        cutoff: Option<Timestamp>,
        stop: impl Future<Output = ()>,
    ) {
        pin_mut!(stop);
        let mut changes = self.tx.subscribe();
        tokio::select! {
            _ = changes.wait_for(|keys| keys.loaded) => {}
            () = &mut stop => return,
        }
        let mut cutoff = cutoff;
        let mut published: Option<BTreeMap<String, String>> = None;
        // The key this leader generated last, and when (monotonic clock): a watch that lags
        // behind must not make it generate another, and another, key.
        let mut generated: Option<tokio::time::Instant> = None;
        loop {
            let keys = self.keys().current();
            let wanted = new_key_reason(&keys, renew_period, cutoff, Timestamp::now());
            let wait = match wanted {
                Some(reason) if !may_generate(generated, renew_period) => {
                    let wait = generation_wait(generated, renew_period);
                    if wait > GENERATION_HOLD {
                        warn!(
                            reason,
                            "a new sealing key is due, but this leader generated one less than a renewal period ago (not loaded yet?); waiting"
                        );
                    }
                    wait.min(GENERATION_HOLD)
                }
                Some(reason) => match self.generate(reason, cutoff).await {
                    Ok(id) => {
                        generated = Some(tokio::time::Instant::now());
                        cutoff = None;
                        let seen = tokio::time::timeout(
                            NEW_KEY_VISIBLE_TIMEOUT,
                            changes.wait_for(|keys| keys.keys.iter().any(|k| k.id == id)),
                        );
                        let _ = seen.await;
                        continue;
                    }
                    Err(error) => {
                        warn!(error = %error_chain(&error), "generating a sealing key; retrying");
                        Duration::from_secs(5)
                    }
                },
                None => {
                    if let Err(error) = self.publish_public_keys(&keys, &mut published).await {
                        warn!(error = %error_chain(&error), "publishing public keys; retrying");
                        published = None;
                        Duration::from_secs(5)
                    } else {
                        time_to_renewal(&keys, renew_period, Timestamp::now())
                            .unwrap_or(UPKEEP_INTERVAL)
                            .min(UPKEEP_INTERVAL)
                    }
                }
            };
            tokio::select! {
                // Re-apply on every timer tick (a no-op write when unchanged), so that a
                // deleted or edited ConfigMap is put back within a minute.
                () = tokio::time::sleep(wait) => published = None,
                _ = changes.changed() => {}
                () = &mut stop => return,
            }
        }
    }

    /// Generates a key pair and stores it as a new active key Secret; returns its id. The key is
    /// dated now, or at `cutoff` when this machine's clock is behind it (so that it satisfies
    /// `--key-cutoff` after a restart too).
    async fn generate(
        &self,
        reason: &str,
        cutoff: Option<Timestamp>,
    ) -> Result<KeyId, KeyManagerError> {
        let newest = self
            .keys()
            .current()
            .newest_active()
            .map(|k| k.public.key_type());
        let (key_type, kept) =
            crate::policy::generated_key_type(self.key_type, newest, self.allow_weaker_key_type);
        if kept {
            warn!(
                configured = %self.key_type,
                generated = %key_type,
                "the newest key is {key_type}: generating {key_type} instead of the weaker {} (pass --allow-key-type-downgrade to allow it)",
                self.key_type
            );
        }
        let key = PrivateKey::generate_with(key_type).map_err(KeyManagerError::GenerateKey)?;
        let id = key.id();
        let now = Timestamp::now();
        let secret = key_secret(&key, cutoff.map_or(now, |c| c.max(now)));
        let name = secret.name_any();
        let created = self.secrets().create(&PostParams::default(), &secret).await;
        zeroize_secret(secret);
        created.map_err(|source| KeyManagerError::WriteKey {
            namespace: self.namespace.clone(),
            name: name.clone(),
            source,
        })?;
        info!(key_id = %id, key_type = %key_type, secret = %name, reason, "generated a new sealing key");
        Ok(id)
    }

    /// Applies the public keys ConfigMap when its content changed since the last success.
    async fn publish_public_keys(
        &self,
        keys: &KeySet,
        published: &mut Option<BTreeMap<String, String>>,
    ) -> Result<(), KeyManagerError> {
        let data = public_keys_data(keys)?;
        if published.as_ref() == Some(&data) {
            return Ok(());
        }
        let configmap = ConfigMap {
            metadata: ObjectMeta {
                name: Some(PUBLIC_KEYS_CONFIGMAP.to_string()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            data: Some(data.clone()),
            ..ConfigMap::default()
        };
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        api.patch(
            PUBLIC_KEYS_CONFIGMAP,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&configmap),
        )
        .await
        .map_err(|source| KeyManagerError::PublishPublicKeys {
            namespace: self.namespace.clone(),
            source,
        })?;
        *published = Some(data);
        Ok(())
    }
}

/// Reads a key Secret; `None` (with a warning that names the Secret, never its content) when it
/// is not a usable key.
fn load_key(mut secret: Secret) -> Option<LoadedKey> {
    let name = secret.name_any();
    // Take the data out so that every byte of it is cleared when dropped.
    let mut data: BTreeMap<String, Zeroizing<Vec<u8>>> = secret
        .data
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, ByteString(v))| (k, Zeroizing::new(v)))
        .collect();
    let Some(state) = key_secret::state(&secret) else {
        warn!(secret = %name, label = SEALING_KEY_LABEL, "key Secret ignored: label value must be active or retired");
        return None;
    };
    if let Some(problem) = crate::policy::key_secret_problem(&secret) {
        warn!(secret = %name, "key Secret ignored: {problem}");
        return None;
    }
    let Some(bytes) = data.remove(PRIVATE_KEY_DATA) else {
        warn!(secret = %name, "key Secret ignored: no {PRIVATE_KEY_DATA} data");
        return None;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        warn!(secret = %name, "key Secret ignored: {PRIVATE_KEY_DATA} is not UTF-8");
        return None;
    };
    let private_text = Zeroizing::new(text.to_string());
    let private = match PrivateKey::from_file_text(&private_text) {
        Ok(private) => private,
        Err(error) => {
            // KeyError messages describe the form, never the key material.
            warn!(secret = %name, %error, "key Secret ignored: {PRIVATE_KEY_DATA} is not a private key");
            return None;
        }
    };
    let public = private.public().clone();
    if let Some(stated) = data
        .get(PUBLIC_KEY_DATA)
        .and_then(|b| std::str::from_utf8(b).ok())
    {
        match stated.trim().parse::<PublicKey>() {
            Ok(stated) if stated == public => {}
            _ => {
                warn!(secret = %name, key_id = %public.id(), "{PUBLIC_KEY_DATA} does not match the private key; using the private key's")
            }
        }
    }
    let annotated = key_secret::created_at(&secret).ok().flatten();
    let (created_at, clamped) = crate::policy::key_created_at(
        annotated,
        secret.metadata.creation_timestamp.as_ref().map(|t| t.0),
        Timestamp::now(),
    );
    if clamped {
        warn!(secret = %name, key_id = %public.id(), annotation = KEY_CREATED_ANNOTATION, "key Secret is dated in the future; counting it as created {created_at}");
    }
    Some(LoadedKey {
        private_text,
        info: KeyInfo {
            secret_name: name,
            id: public.id(),
            public,
            created_at,
            state,
        },
    })
}

/// How long the leader waits before looking again when a key is due but it may not generate one.
const GENERATION_HOLD: Duration = Duration::from_secs(30);
/// The least time between two keys this leader generates when renewal is off (a key is then
/// generated only when none is active).
const MIN_GENERATION_INTERVAL: Duration = Duration::from_secs(3600);

/// Whether the leader may generate a key now, given when it generated one last (monotonic
/// clock): not twice within a renewal period. So a watch that lags behind (the new key not loaded
/// yet), a clock that jumps or a key whose date is refused cost at most one key per period.
pub fn may_generate(
    generated: Option<tokio::time::Instant>,
    renew_period: Option<Duration>,
) -> bool {
    generation_wait(generated, renew_period).is_zero()
}

/// How long until [`may_generate`] allows the next key (zero: now).
fn generation_wait(
    generated: Option<tokio::time::Instant>,
    renew_period: Option<Duration>,
) -> Duration {
    generated.map_or(Duration::ZERO, |at| {
        renew_period
            .unwrap_or(MIN_GENERATION_INTERVAL)
            .saturating_sub(at.elapsed())
    })
}

/// Why a new key is needed now, if it is.
pub fn new_key_reason(
    keys: &KeySet,
    renew_period: Option<Duration>,
    cutoff: Option<Timestamp>,
    now: Timestamp,
) -> Option<&'static str> {
    let Some(newest) = keys.newest_active() else {
        return Some("no active key");
    };
    if cutoff.is_some_and(|cutoff| newest.created_at < cutoff) {
        return Some("newest key is older than --key-cutoff");
    }
    if time_to_renewal(keys, renew_period, now) == Some(Duration::ZERO) {
        return Some("renewal period elapsed");
    }
    None
}

/// How long until the newest active key is due for renewal (zero when due); `None` when
/// renewal is disabled or there is no key.
fn time_to_renewal(
    keys: &KeySet,
    renew_period: Option<Duration>,
    now: Timestamp,
) -> Option<Duration> {
    let period = renew_period.filter(|p| !p.is_zero())?;
    let newest = keys.newest_active()?;
    let age = now.duration_since(newest.created_at);
    let period = jiff::SignedDuration::try_from(period).ok()?;
    let left = period.checked_sub(age)?;
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

/// The ConfigMap data: the newest active public key line and the JSON list of all keys.
pub fn public_keys_data(keys: &KeySet) -> Result<BTreeMap<String, String>, KeyManagerError> {
    let mut data = BTreeMap::new();
    if let Some(newest) = keys.newest_active() {
        data.insert(
            CONFIGMAP_PUBLIC_KEY.to_string(),
            format!("{}\n", newest.public),
        );
    }
    let list = serde_json::to_string_pretty(&keys.public_entries())
        .map_err(KeyManagerError::EncodePublicKeys)?;
    data.insert(CONFIGMAP_PUBLIC_KEYS_JSON.to_string(), list);
    Ok(data)
}

/// Clears the data of a Secret that held secret material.
pub fn zeroize_secret(mut secret: Secret) {
    for (_, ByteString(bytes)) in secret.data.take().into_iter().flatten() {
        drop(Zeroizing::new(bytes));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(byte: u8, created: &str, state: KeyState) -> (PrivateKey, KeyInfo) {
        let key = PrivateKey::from_bytes(&[byte; 32]);
        let info = KeyInfo {
            secret_name: format!("k{byte}"),
            id: key.id(),
            public: key.public().clone(),
            created_at: created.parse().unwrap(),
            state,
        };
        (key, info)
    }

    fn set(entries: Vec<(PrivateKey, KeyInfo)>) -> KeySet {
        let mut keys: Vec<KeyInfo> = entries.iter().map(|(_, i)| i.clone()).collect();
        keys.sort_by_key(|k| k.created_at);
        KeySet {
            ring: entries.into_iter().map(|(k, _)| k).collect(),
            keys,
            loaded: true,
        }
    }

    #[test]
    fn newest_active_skips_retired_keys() {
        let keys = set(vec![
            info(1, "2026-01-01T00:00:00Z", KeyState::Active),
            info(2, "2026-03-01T00:00:00Z", KeyState::Retired),
        ]);
        assert_eq!(keys.newest_active().unwrap().secret_name, "k1");
    }

    #[test]
    fn a_new_key_is_needed_without_keys_after_the_period_and_before_the_cutoff() {
        let now: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(
            new_key_reason(&KeySet::default(), Some(day), None, now),
            Some("no active key")
        );

        let keys = set(vec![info(1, "2026-01-20T00:00:00Z", KeyState::Active)]);
        assert_eq!(new_key_reason(&keys, Some(30 * day), None, now), None);
        assert_eq!(
            new_key_reason(&keys, Some(12 * day), None, now),
            Some("renewal period elapsed")
        );
        assert_eq!(
            new_key_reason(&keys, None, None, now),
            None,
            "renewal disabled"
        );
        let cutoff = "2026-01-25T00:00:00Z".parse().ok();
        assert_eq!(
            new_key_reason(&keys, None, cutoff, now),
            Some("newest key is older than --key-cutoff")
        );
        let cutoff = "2026-01-10T00:00:00Z".parse().ok();
        assert_eq!(new_key_reason(&keys, None, cutoff, now), None);
        assert_eq!(time_to_renewal(&keys, Some(30 * day), now), Some(18 * day));
    }

    #[test]
    fn a_stored_key_loads_back_with_its_creation_time() {
        let key = PrivateKey::from_bytes(&[7; 32]);
        let created: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let loaded = load_key(key_secret(&key, created)).unwrap();
        assert_eq!(loaded.info.id, key.id());
        assert_eq!(loaded.info.created_at, created);
        assert_eq!(loaded.info.state, KeyState::Active);
        assert_eq!(loaded.info.secret_name, format!("sealant-key-{}", key.id()));
        assert_eq!(
            PrivateKey::from_file_text(&loaded.private_text)
                .unwrap()
                .id(),
            key.id()
        );
    }

    #[test]
    fn secrets_that_are_not_keys_are_ignored() {
        let key = PrivateKey::from_bytes(&[7; 32]);
        let mut wrong_label = key_secret(&key, Timestamp::now());
        wrong_label.metadata.labels = Some(BTreeMap::from([(
            SEALING_KEY_LABEL.to_string(),
            "yes".to_string(),
        )]));
        assert!(load_key(wrong_label).is_none());
        let mut garbage = key_secret(&key, Timestamp::now());
        garbage.data = Some(BTreeMap::from([(
            PRIVATE_KEY_DATA.to_string(),
            ByteString(b"not a key".to_vec()),
        )]));
        assert!(load_key(garbage).is_none());
    }

    #[test]
    fn published_data_names_the_newest_active_key_and_lists_all() {
        let keys = set(vec![
            info(1, "2026-01-01T00:00:00Z", KeyState::Active),
            info(2, "2026-02-01T00:00:00Z", KeyState::Active),
            info(3, "2026-03-01T00:00:00Z", KeyState::Retired),
        ]);
        let data = public_keys_data(&keys).unwrap();
        assert_eq!(
            data[CONFIGMAP_PUBLIC_KEY],
            format!("{}\n", keys.keys[1].public)
        );
        let list: serde_json::Value =
            serde_json::from_str(&data[CONFIGMAP_PUBLIC_KEYS_JSON]).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 3);
        assert_eq!(list[0]["keyId"], keys.keys[0].id.to_string());
        assert_eq!(list[0]["createdAt"], "2026-01-01T00:00:00Z");
        assert_eq!(list[2]["state"], "retired");
        assert!(!data[CONFIGMAP_PUBLIC_KEYS_JSON].contains("SEALANT-PRIVATE"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lagging_key_watch_does_not_make_the_leader_generate_key_after_key() {
        use k8s_openapi::api::core::v1::Namespace;
        let server = sealant_test_apiserver::TestApiServer::start().await;
        let namespaces: Api<Namespace> = Api::all(server.client());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some("sealant".into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let manager = KeyManager::new(server.client(), "sealant");
        // The watch listed an empty namespace and then saw nothing more: it lags behind every
        // key the leader writes.
        manager.tx.send_replace(Arc::new(KeySet {
            loaded: true,
            ..KeySet::default()
        }));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let leader = manager.clone();
        let lead = tokio::spawn(async move {
            leader
                .lead(Some(Duration::from_secs(30 * 86_400)), None, async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        // Longer than the leader waits for a new key to become visible.
        tokio::time::sleep(NEW_KEY_VISIBLE_TIMEOUT + Duration::from_secs(3)).await;
        let _ = stop_tx.send(());
        lead.await.unwrap();
        let secrets: Api<Secret> = Api::namespaced(server.client(), "sealant");
        let keys = secrets
            .list(&kube::api::ListParams::default().labels(SEALING_KEY_LABEL))
            .await
            .unwrap();
        assert_eq!(keys.items.len(), 1, "one key, not one per watch timeout");
    }

    #[test]
    fn keys_are_generated_at_most_once_per_period() {
        let period = Some(Duration::from_secs(3600));
        assert!(may_generate(None, period));
        assert!(!may_generate(Some(tokio::time::Instant::now()), period));
        assert!(!may_generate(Some(tokio::time::Instant::now()), None));
        let long_ago = tokio::time::Instant::now().checked_sub(Duration::from_secs(7200));
        if let Some(long_ago) = long_ago {
            assert!(may_generate(Some(long_ago), period));
        }
    }

    #[test]
    fn owned_or_managed_key_secrets_and_future_dates_are_not_trusted() {
        let key = PrivateKey::from_bytes(&[7; 32]);
        let mut owned = key_secret(&key, Timestamp::now());
        owned.metadata.owner_references = Some(vec![Default::default()]);
        assert!(load_key(owned).is_none());
        let future = load_key(key_secret(&key, "2099-01-01T00:00:00Z".parse().unwrap())).unwrap();
        assert!(future.info.created_at <= Timestamp::now());
    }
}

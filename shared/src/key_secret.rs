//! The layout of the controller's key Secrets, and of a key backup: the one place that knows it.
//!
//! A key Secret lives in the controller's namespace, is named `sealant-key-<key id>` when the
//! controller generates it (a restored or brought key may have any name), is `Opaque`, has no
//! owner, and carries:
//!
//! - the label `sealant.dev/sealing-key`: `active` (may be the newest key, published for
//!   sealing) or `retired` (only opens);
//! - the annotation `sealant.dev/created-at`: its creation time (RFC 3339), kept across backup
//!   and restore;
//! - the data `private-key` (the private key file, see [`crate::keys`]) and `public-key` (its
//!   public line, for people reading the Secret; the private key is what counts).
//!
//! A backup (`sealant keys backup`) is one `kind: List` of such Secrets, stripped to what a
//! restore needs ([`restorable`]) and preceded by [`BACKUP_HEADER`]. The controller builds
//! ([`build`]) and loads key Secrets, the CLI backs them up, checks a backup before restoring it
//! ([`check_layout`]) and reads keys out of one ([`private_key`]). Whether a key is trusted is the
//! controller's policy, not this module's.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::keys::{KeyError, KeyId, PrivateKey, PublicKey};
use crate::resource::LAST_APPLIED_ANNOTATION;

/// Label of the Secrets that hold the controller's private keys (`active` or `retired`).
pub const SEALING_KEY_LABEL: &str = "sealant.dev/sealing-key";
/// Data key of a key Secret holding the private key file.
pub const PRIVATE_KEY_DATA: &str = "private-key";
/// Data key of a key Secret holding the public key line.
pub const PUBLIC_KEY_DATA: &str = "public-key";
/// Annotation on a key Secret with its creation time (RFC 3339), kept across backup and restore.
pub const KEY_CREATED_ANNOTATION: &str = "sealant.dev/created-at";
/// Prefix of the names of generated key Secrets (followed by the key id).
pub const KEY_SECRET_PREFIX: &str = "sealant-key-";
/// The type of every key Secret.
pub const KEY_SECRET_TYPE: &str = "Opaque";
/// The first line of a key backup file.
pub const BACKUP_HEADER: &str =
    "# sealant key backup: PRIVATE KEYS. Encrypt this file; never commit it.\n";

/// Whether a key is the candidate for sealing or kept only for opening: the value of
/// [`SEALING_KEY_LABEL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// May be the newest key, published for sealing; opens.
    Active,
    /// Only opens (kept for old SealedSecrets).
    Retired,
}

impl KeyState {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }

    /// The state a label value names, if it names one.
    pub fn parse(value: &str) -> Option<KeyState> {
        match value {
            "active" => Some(KeyState::Active),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// A key Secret does not have the layout, or its key cannot be read. The message names the field
/// (callers put the Secret or document in front) and never holds key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeySecretError {
    /// No name.
    #[error("metadata.name: missing")]
    MissingName,
    /// No [`SEALING_KEY_LABEL`]: not a key Secret at all.
    #[error("metadata.labels: no {SEALING_KEY_LABEL} label, so {0} is not a key Secret")]
    NotAKeySecret(String),
    /// The label's value is neither `active` nor `retired`.
    #[error("metadata.labels.{SEALING_KEY_LABEL}: '{0}' (expected active or retired)")]
    State(String),
    /// A label other than [`SEALING_KEY_LABEL`].
    #[error("metadata.labels.{0}: a key Secret carries only the {SEALING_KEY_LABEL} label")]
    OtherLabel(String),
    /// An annotation other than [`KEY_CREATED_ANNOTATION`] (and kubectl's last-applied copy).
    #[error(
        "metadata.annotations.{0}: a key Secret carries only the {KEY_CREATED_ANNOTATION} annotation"
    )]
    OtherAnnotation(String),
    /// The creation time is not an RFC 3339 time.
    #[error(
        "metadata.annotations.{KEY_CREATED_ANNOTATION}: '{text}' is not an RFC 3339 time: {reason}"
    )]
    CreatedAt { text: String, reason: String },
    /// The creation time lies after the latest time allowed.
    #[error(
        "metadata.annotations.{KEY_CREATED_ANNOTATION}: {0} is in the future; such a key would stay the newest sealing key until then"
    )]
    CreatedInFuture(Timestamp),
    /// The Secret has an owner.
    #[error("metadata.ownerReferences: key Secrets have no owner")]
    Owned,
    /// The type is not [`KEY_SECRET_TYPE`].
    #[error("type: '{0}', but key Secrets are Opaque")]
    Type(String),
    /// `stringData` is set.
    #[error("stringData: a key backup holds data only")]
    StringData,
    /// A data key other than [`PRIVATE_KEY_DATA`] and [`PUBLIC_KEY_DATA`].
    #[error("data.{0}: a key Secret holds only {PRIVATE_KEY_DATA} and {PUBLIC_KEY_DATA}")]
    OtherData(String),
    /// No [`PRIVATE_KEY_DATA`].
    #[error("data.{PRIVATE_KEY_DATA}: missing")]
    MissingPrivateKey,
    /// [`PRIVATE_KEY_DATA`] is not text.
    #[error("data.{PRIVATE_KEY_DATA}: not UTF-8")]
    PrivateKeyNotText,
    /// [`PRIVATE_KEY_DATA`] is not a private key file.
    #[error("data.{PRIVATE_KEY_DATA}: {0}")]
    PrivateKey(KeyError),
    /// [`PUBLIC_KEY_DATA`] is not a public key.
    #[error("data.{PUBLIC_KEY_DATA}: {0}")]
    PublicKey(KeyError),
    /// [`PUBLIC_KEY_DATA`] is another key's.
    #[error("data.{PUBLIC_KEY_DATA} is not the public key of data.{PRIVATE_KEY_DATA}")]
    PublicKeyMismatch,
}

/// What a key Secret with the exact layout says about its key.
#[derive(Debug)]
pub struct CheckedKey {
    /// The key's public half.
    pub public: PublicKey,
    /// The creation time of the annotation, if there is one.
    pub created_at: Option<Timestamp>,
    /// The label's state.
    pub state: KeyState,
}

/// The name the controller gives the Secret of a key it generates.
pub fn name_of(id: KeyId) -> String {
    format!("{KEY_SECRET_PREFIX}{id}")
}

/// The Secret that stores `key`: labeled active, annotated with its creation time, holding the
/// private key file and its public line. (The caller clears its data when done with it.)
pub fn build(key: &PrivateKey, created_at: Timestamp) -> Secret {
    let private_text = key.to_file_text();
    Secret {
        metadata: ObjectMeta {
            name: Some(name_of(key.id())),
            labels: Some(BTreeMap::from([(
                SEALING_KEY_LABEL.to_string(),
                KeyState::Active.as_str().to_string(),
            )])),
            annotations: Some(BTreeMap::from([(
                KEY_CREATED_ANNOTATION.to_string(),
                created_at.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some(KEY_SECRET_TYPE.to_string()),
        data: Some(BTreeMap::from([
            (
                PRIVATE_KEY_DATA.to_string(),
                ByteString(private_text.as_bytes().to_vec()),
            ),
            (
                PUBLIC_KEY_DATA.to_string(),
                ByteString(format!("{}\n", key.public()).into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// The state the label gives, if the label is there with a known value.
pub fn state(secret: &Secret) -> Option<KeyState> {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(SEALING_KEY_LABEL))
        .and_then(|value| KeyState::parse(value))
}

/// The creation time the annotation gives: `None` without the annotation.
pub fn created_at(secret: &Secret) -> Result<Option<Timestamp>, KeySecretError> {
    secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(KEY_CREATED_ANNOTATION))
        .map(|text| {
            text.parse::<Timestamp>()
                .map_err(|e| KeySecretError::CreatedAt {
                    text: text.clone(),
                    reason: e.to_string(),
                })
        })
        .transpose()
}

/// The private key of a key Secret, read from [`PRIVATE_KEY_DATA`].
pub fn private_key(secret: &Secret) -> Result<PrivateKey, KeySecretError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(PRIVATE_KEY_DATA))
        .ok_or(KeySecretError::MissingPrivateKey)?;
    private_key_of(&bytes.0)
}

/// The private key of the bytes of [`PRIVATE_KEY_DATA`] (a private key file).
pub fn private_key_of(bytes: &[u8]) -> Result<PrivateKey, KeySecretError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeySecretError::PrivateKeyNotText)?;
    PrivateKey::from_file_text(text).map_err(KeySecretError::PrivateKey)
}

/// The public key [`PUBLIC_KEY_DATA`] states, if the Secret has one (it is informative: the
/// private key is what counts).
pub fn stated_public_key(secret: &Secret) -> Option<Result<PublicKey, KeySecretError>> {
    let bytes = secret.data.as_ref()?.get(PUBLIC_KEY_DATA)?;
    let line = std::str::from_utf8(&bytes.0).unwrap_or_default();
    Some(PublicKey::from_file_text(line).map_err(KeySecretError::PublicKey))
}

/// The private key of a key Secret whose stated public key, if any, must be its public half.
pub fn checked_private_key(secret: &Secret) -> Result<PrivateKey, KeySecretError> {
    let key = private_key(secret)?;
    if let Some(stated) = stated_public_key(secret)
        && &stated? != key.public()
    {
        return Err(KeySecretError::PublicKeyMismatch);
    }
    Ok(key)
}

/// Checks that a Secret has exactly the layout of a key Secret, as a restore requires: a name,
/// the label (active or retired) and no other, no annotation but the creation time (dated no later
/// than `latest`) and kubectl's last-applied copy, no owner, type `Opaque`, no `stringData`, the
/// private key and at most its public line as data.
pub fn check_layout(secret: &Secret, latest: Timestamp) -> Result<CheckedKey, KeySecretError> {
    let meta = &secret.metadata;
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(KeySecretError::MissingName)?;
    let labels = meta.labels.clone().unwrap_or_default();
    let label = labels
        .get(SEALING_KEY_LABEL)
        .ok_or(KeySecretError::NotAKeySecret(name))?;
    let state = KeyState::parse(label).ok_or_else(|| KeySecretError::State(label.clone()))?;
    if let Some(other) = labels.keys().find(|k| *k != SEALING_KEY_LABEL) {
        return Err(KeySecretError::OtherLabel(other.clone()));
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    if let Some(other) = annotations
        .keys()
        .find(|k| *k != KEY_CREATED_ANNOTATION && *k != LAST_APPLIED_ANNOTATION)
    {
        return Err(KeySecretError::OtherAnnotation(other.clone()));
    }
    let created_at = created_at(secret)?;
    if let Some(at) = created_at
        && at > latest
    {
        return Err(KeySecretError::CreatedInFuture(at));
    }
    if meta
        .owner_references
        .as_ref()
        .is_some_and(|o| !o.is_empty())
    {
        return Err(KeySecretError::Owned);
    }
    match secret.type_.as_deref() {
        None | Some(KEY_SECRET_TYPE) => {}
        Some(other) => return Err(KeySecretError::Type(other.to_string())),
    }
    if secret.string_data.is_some() {
        return Err(KeySecretError::StringData);
    }
    if let Some(other) = secret
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| *k != PRIVATE_KEY_DATA && *k != PUBLIC_KEY_DATA)
    {
        return Err(KeySecretError::OtherData(other.clone()));
    }
    let key = checked_private_key(secret)?;
    Ok(CheckedKey {
        public: key.public().clone(),
        created_at,
        state,
    })
}

/// Only what a restore needs, in `namespace`: name, labels, annotations (without kubectl's
/// last-applied copy, which would hold the private key a second time), type and data; no uid,
/// resourceVersion, timestamps, managed fields or owner references.
pub fn restorable(secret: &Secret, namespace: &str) -> Secret {
    let annotations = secret.metadata.annotations.clone().map(|mut a| {
        a.remove(LAST_APPLIED_ANNOTATION);
        a
    });
    Secret {
        metadata: ObjectMeta {
            name: secret.metadata.name.clone(),
            namespace: Some(namespace.to_string()),
            labels: secret.metadata.labels.clone(),
            annotations: annotations.filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        type_: secret.type_.clone(),
        data: secret.data.clone(),
        ..Secret::default()
    }
}

/// The backup of key Secrets (already [`restorable`]): one `kind: List`. Written after
/// [`BACKUP_HEADER`]; the value holds copies of the keys, so the caller drops it promptly.
pub fn backup_list(secrets: &[Secret]) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_built_key_secret_has_the_layout_and_its_key() {
        let key = PrivateKey::from_bytes(&[4u8; 32]);
        let secret = build(&key, "2026-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(
            secret.metadata.name,
            Some(format!("sealant-key-{}", key.id()))
        );
        let checked = check_layout(&secret, now()).unwrap();
        assert_eq!(&checked.public, key.public());
        assert_eq!(checked.state, KeyState::Active);
        assert_eq!(state(&secret), Some(KeyState::Active));
        assert_eq!(
            checked.created_at,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(private_key(&secret).unwrap().public(), key.public());
    }

    #[test]
    fn layout_errors_name_the_field() {
        let key = PrivateKey::from_bytes(&[4u8; 32]);
        let good = build(&key, "2026-01-01T00:00:00Z".parse().unwrap());
        let mut extra_label = good.clone();
        extra_label
            .metadata
            .labels
            .get_or_insert_default()
            .insert("app".into(), "x".into());
        assert_eq!(
            check_layout(&extra_label, now()).unwrap_err().to_string(),
            "metadata.labels.app: a key Secret carries only the sealant.dev/sealing-key label"
        );
        let future = build(&key, "2027-01-01T00:00:00Z".parse().unwrap());
        assert!(matches!(
            check_layout(&future, now()),
            Err(KeySecretError::CreatedInFuture(_))
        ));
        let mut other = good.clone();
        let other_key = PrivateKey::from_bytes(&[5u8; 32]);
        other.data.get_or_insert_default().insert(
            PUBLIC_KEY_DATA.into(),
            ByteString(other_key.public().to_string().into_bytes()),
        );
        assert_eq!(
            check_layout(&other, now()).unwrap_err().to_string(),
            "data.public-key is not the public key of data.private-key"
        );
        let mut no_key = good;
        no_key.data = None;
        assert_eq!(
            check_layout(&no_key, now()).unwrap_err(),
            KeySecretError::MissingPrivateKey
        );
    }

    #[test]
    fn restorable_keeps_only_what_a_restore_needs() {
        let key = PrivateKey::from_bytes(&[4u8; 32]);
        let mut secret = build(&key, "2026-01-01T00:00:00Z".parse().unwrap());
        secret.metadata.uid = Some("u".into());
        secret
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(LAST_APPLIED_ANNOTATION.into(), "{}".into());
        let clean = restorable(&secret, "sealant-system");
        assert_eq!(clean.metadata.uid, None);
        assert_eq!(clean.metadata.namespace.as_deref(), Some("sealant-system"));
        assert!(
            !clean
                .metadata
                .annotations
                .unwrap()
                .contains_key(LAST_APPLIED_ANNOTATION)
        );
        assert_eq!(
            backup_list(&[]).to_string(),
            r#"{"apiVersion":"v1","items":[],"kind":"List"}"#
        );
    }
}

//! The controller's trust boundary, in one place.
//!
//! Two kinds of people can make the controller act without holding its keys:
//!
//! - **whoever may create a SealedSecret in some namespace** (often every developer of a team):
//!   the controller decrypts with its private keys and writes a Secret with the controller's
//!   privileges, so everything the SealedSecret says about that Secret is attacker input;
//! - **whoever can reach the HTTP port** (every Pod in the cluster, and every user allowed to use
//!   the API server's service proxy): `POST /v1/verify` and `POST /v1/rotate` take a whole
//!   SealedSecret as the request body.
//!
//! This module answers, for both, what they may make the controller do; the reconciler, the key
//! loader and the HTTP handlers ask it and do nothing of their own accord:
//!
//! | question | answer | where |
//! | --- | --- | --- |
//! | May this SealedSecret be reconciled at all? | not in the controller's own namespace (unless the operator opts in) | [`Policy::check`] |
//! | Which template labels and annotations may it set? | none under `sealant.dev/` (the controller's own: key labels, managed-by, adoption) | [`Policy::check`] |
//! | Which Secret types may it create? | not those that make the cluster mint credentials (service-account and bootstrap tokens), unless the operator lists them | [`Policy::check`] |
//! | May it overwrite an existing Secret? | only one it owns (by uid) or one annotated for adoption | [`may_write`] |
//! | Which Secrets are sealing keys? | labeled ones in the controller's namespace that nothing owns and the controller did not write for a SealedSecret; a creation time in the future counts as now | [`key_secret_problem`], [`key_created_at`] |
//! | To which keys may rotate re-seal a value? | the controller's newest key, plus only the other recipients already in the value's authenticated header | [`rotate_recipients`] |
//! | How much work may one request cost? | at most [`MAX_VALUES_PER_REQUEST`] values | [`check_request_size`] |
//! | Where may cluster-wide values be unsealed? | everywhere, unless the operator gives `--cluster-wide-namespaces` (a namespace label selector) | [`Policy::check_cluster_wide`] |
//! | How large a SealedSecret is unsealed? | a spec (sealed values, template, recipients) of at most [`MAX_SPEC_BYTES`]; larger ones are refused without being read again | [`Policy::check`], [`check_spec_size`] |
//! | May extra keys stay in a managed Secret? | no (they are removed, with an Event naming the key), unless the SealedSecret is annotated `sealant.dev/allow-extra-keys: "true"` or the Secret is patched (`sealant.dev/managed: "patch"`) | [`allows_extra_keys`] |
//!
//! Each refusal of a SealedSecret becomes a `Synced=False` condition with its own reason and an
//! Event saying what to change; each refusal of a request is a 4xx with a reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{Resource, ResourceExt};

use sealant_core::format::{Envelope, KeyRing, Scope};
use sealant_core::keys::{KeyId, KeyType, PublicKey};
use sealant_core::resource::{ADOPT_ANNOTATION, GROUP, MANAGED_BY_LABEL, SealedSecret};

/// Secret types whose Secrets make the cluster issue credentials: the token controller fills a
/// `kubernetes.io/service-account-token` Secret with a token of the ServiceAccount its annotation
/// names, and a `bootstrap.kubernetes.io/token` Secret lets nodes join the cluster. A SealedSecret
/// author could otherwise obtain what their RBAC does not grant them.
pub const CREDENTIAL_MINTING_TYPES: [&str; 2] = [
    "kubernetes.io/service-account-token",
    "bootstrap.kubernetes.io/token",
];

/// How far in the future a key's `created-at` may lie (clock skew between the machine that made
/// it and the controller) before it is treated as made now.
pub const KEY_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The most values one verify or rotate request may hold: every value costs an X25519 agreement
/// to open and one per recipient to re-seal, so this bounds a request's CPU time.
pub const MAX_VALUES_PER_REQUEST: usize = 256;

/// The largest SealedSecret spec the controller unseals, in bytes (keys and sealed values of
/// `spec.encryptedData`, the template and the recipients as JSON). A Secret holds at most 1 MiB
/// and each sealed value is about 4/3 of its plaintext plus ~100 bytes per recipient, so this
/// admits Secrets of up to ~380 KB. What one tenant writes must not decide how much memory the
/// controller that serves every namespace needs: a larger SealedSecret is refused
/// (`Synced=False`, reason `TooLarge`) from the size the watch saw, without reading it again.
pub const MAX_SPEC_BYTES: usize = 512 * 1024;

/// Specs up to this size stay whole in the controller's watch cache (so an unchanged SealedSecret
/// costs no request); larger ones are cached as metadata and size only and read from the API
/// server when reconciled. Together with the metadata the cache keeps (name, uid, generation,
/// resourceVersion, the Synced condition) this bounds the cache's memory per object.
pub const CACHED_SPEC_BYTES: usize = 16 * 1024;

/// The size [`MAX_SPEC_BYTES`] is compared with.
pub fn spec_bytes(sealed: &SealedSecret) -> usize {
    let spec = &sealed.spec;
    let values: usize = spec
        .encrypted_data
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    let recipients: usize = spec.recipients.iter().map(String::len).sum();
    let template = spec
        .template
        .as_ref()
        .and_then(|t| serde_json::to_vec(t).ok())
        .map_or(0, |t| t.len());
    values + recipients + template
}

/// Refuses a spec of `bytes` bytes over [`MAX_SPEC_BYTES`].
pub fn check_spec_size(bytes: usize) -> Result<(), Refusal> {
    if bytes > MAX_SPEC_BYTES {
        return Err(Refusal {
            kind: RefusalKind::TooLarge,
            message: format!(
                "spec is {bytes} bytes; the controller unseals SealedSecrets of at most \
                 {MAX_SPEC_BYTES} bytes (docs/operations.md#memory); split the Secret"
            ),
        });
    }
    Ok(())
}

/// Annotation on a SealedSecret: keys added to its Secret by others stay (by default the
/// Secret's data is exactly what was sealed, and extra keys are removed).
pub const ALLOW_EXTRA_KEYS_ANNOTATION: &str = "sealant.dev/allow-extra-keys";

/// Whether keys that are not in `sealed` may stay in its Secret.
pub fn allows_extra_keys(sealed: &SealedSecret) -> bool {
    sealed
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(ALLOW_EXTRA_KEYS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// What the operator decided with flags.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The controller's own namespace (keys, public-keys ConfigMap, Lease).
    pub controller_namespace: String,
    /// Reconcile SealedSecrets in the controller's own namespace too (off by default: a Secret
    /// written there sits next to the private keys).
    pub reconcile_controller_namespace: bool,
    /// Credential-minting Secret types the operator allows templates to use.
    pub allowed_secret_types: BTreeSet<String>,
    /// Namespaces where cluster-wide values may be unsealed (`None`: every namespace).
    pub cluster_wide_namespaces: Option<NamespaceSelector>,
}

impl Policy {
    /// The default policy for a controller in `controller_namespace`.
    pub fn new(controller_namespace: impl Into<String>) -> Policy {
        Policy {
            controller_namespace: controller_namespace.into(),
            reconcile_controller_namespace: false,
            allowed_secret_types: BTreeSet::new(),
            cluster_wide_namespaces: None,
        }
    }

    /// Whether the controller may turn `sealed` into a Secret at all. The first refusal found is
    /// returned; its message says what to change.
    pub fn check(&self, sealed: &SealedSecret) -> Result<(), Refusal> {
        check_spec_size(spec_bytes(sealed))?;
        let namespace = sealed.namespace().unwrap_or_default();
        if namespace == self.controller_namespace && !self.reconcile_controller_namespace {
            return Err(Refusal {
                kind: RefusalKind::ControllerNamespace,
                message: format!(
                    "SealedSecrets in the controller's own namespace {namespace} are not unsealed (the \
                     sealing keys live there); create it in another namespace, or start the controller \
                     with --reconcile-controller-namespace"
                ),
            });
        }
        let template = sealed.spec.template.as_ref();
        let metadata = template.and_then(|t| t.metadata.as_ref());
        for (field, map) in [
            ("labels", metadata.and_then(|m| m.labels.as_ref())),
            ("annotations", metadata.and_then(|m| m.annotations.as_ref())),
        ] {
            if let Some(key) = map
                .into_iter()
                .flat_map(BTreeMap::keys)
                .find(|k| reserved(k))
            {
                return Err(Refusal {
                    kind: RefusalKind::ReservedMetadata,
                    message: format!(
                        "spec.template.metadata.{field}: {key:?} is reserved for the controller \
                         ({GROUP}/ prefix); remove it from the template"
                    ),
                });
            }
        }
        if let Some(type_) = template.and_then(|t| t.type_.as_deref())
            && CREDENTIAL_MINTING_TYPES.contains(&type_)
            && !self.allowed_secret_types.contains(type_)
        {
            return Err(Refusal {
                kind: RefusalKind::ForbiddenSecretType,
                message: format!(
                    "spec.template.type: {type_} Secrets make the cluster issue credentials and are not \
                     unsealed by default; use another type, or have the operator start the controller \
                     with --allow-secret-types={type_}"
                ),
            });
        }
        Ok(())
    }
}

impl Policy {
    /// Whether [`Policy::check_cluster_wide`] needs the namespace's labels for `sealed`: the
    /// operator restricted cluster-wide values and `sealed` holds one.
    pub fn needs_namespace_labels(&self, sealed: &SealedSecret) -> bool {
        self.cluster_wide_namespaces.is_some() && first_cluster_wide_key(sealed).is_some()
    }

    /// Whether the cluster-wide values of `sealed` may be unsealed in its namespace, whose labels
    /// are `labels`. A cluster-wide value opens in every namespace: anyone who can read it (in
    /// git, or in any namespace where it is applied) can have it unsealed wherever they may
    /// create a SealedSecret, unless the operator limits where. The scope comes from each value's
    /// authenticated header (a header that lies does not open).
    pub fn check_cluster_wide(
        &self,
        sealed: &SealedSecret,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), Refusal> {
        let (Some(selector), Some(key)) = (
            &self.cluster_wide_namespaces,
            first_cluster_wide_key(sealed),
        ) else {
            return Ok(());
        };
        if selector.matches(labels) {
            return Ok(());
        }
        Err(Refusal {
            kind: RefusalKind::ClusterWideNotAllowed,
            message: format!(
                "spec.encryptedData.{key} is sealed cluster-wide, and the operator allows \
                 cluster-wide values only in namespaces labeled {selector}; seal it for this \
                 namespace (--scope strict or namespace-wide), or have the namespace labeled"
            ),
        })
    }
}

/// The first key of `sealed` whose value's header says cluster-wide.
fn first_cluster_wide_key(sealed: &SealedSecret) -> Option<&str> {
    sealed
        .spec
        .encrypted_data
        .iter()
        .find(|(_, text)| {
            Envelope::from_base64(text).is_ok_and(|e| e.binding.scope() == Scope::ClusterWide)
        })
        .map(|(key, _)| key.as_str())
}

/// A namespace label selector of equality requirements (`key=value`) and existence
/// requirements (`key`), comma separated; all must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceSelector {
    requirements: Vec<(String, Option<String>)>,
}

impl std::str::FromStr for NamespaceSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_start_matches('=').to_string())),
                None => (part, None),
            };
            if key.is_empty() || key.contains(['!', ' ', '(', ')']) {
                return Err(format!(
                    "{part:?}: expected key=value or key (label selectors of equality and \
                     existence only, comma separated)"
                ));
            }
            requirements.push((key.to_string(), value));
        }
        Ok(NamespaceSelector { requirements })
    }
}

impl std::fmt::Display for NamespaceSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

impl NamespaceSelector {
    /// Whether a namespace with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|(key, value)| match value {
            Some(value) => labels.get(key) == Some(value),
            None => labels.contains_key(key),
        })
    }
}

/// Why a SealedSecret is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// Names the field and says what to change.
    pub message: String,
}

/// The kinds of refusal; each is its own condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// In the controller's own namespace.
    ControllerNamespace,
    /// A template label or annotation under `sealant.dev/`.
    ReservedMetadata,
    /// A credential-minting Secret type the operator did not allow.
    ForbiddenSecretType,
    /// A spec over [`MAX_SPEC_BYTES`].
    TooLarge,
    /// A cluster-wide value in a namespace the operator did not select for them.
    ClusterWideNotAllowed,
}

/// Whether a label or annotation key belongs to sealant (`sealant.dev/...` or
/// `<anything>.sealant.dev/...`).
pub fn reserved(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return false;
    };
    let prefix = prefix.to_ascii_lowercase();
    prefix == GROUP || prefix.ends_with(&format!(".{GROUP}"))
}

/// Whether the controller may write over an existing Secret: it is owned by this SealedSecret
/// (by uid: a controller ownerReference, or, for a SealedSecret annotated
/// `sealant.dev/keep-secret: "true"`, the controller's own `sealant.dev/owner-uid` annotation,
/// which templates cannot set), or annotated for adoption (`sealant.dev/managed: "true"`, set by
/// whoever may edit that Secret, which is a statement that they hand it over).
pub fn may_write(existing: &impl Resource, sealed: &SealedSecret) -> bool {
    owned_by(existing, sealed)
        || existing
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(ADOPT_ANNOTATION))
            .is_some_and(|v| v == "true" || v == PATCH_VALUE)
}

/// `sealant.dev/managed: "patch"` on an existing Secret (bitnami's `patch`): the controller
/// merges the SealedSecret's keys into it and leaves everything else (other keys, type,
/// ownership) to whoever owns them; it never owns the Secret, so deleting the SealedSecret
/// leaves it.
pub const PATCH_VALUE: &str = "patch";

/// Whether `existing` asks to be patched rather than owned.
pub fn patch_only(existing: &impl Resource) -> bool {
    existing
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(ADOPT_ANNOTATION))
        .is_some_and(|v| v == PATCH_VALUE)
}

/// Whether `existing` belongs to `sealed` (same uid, by ownerReference or owner annotation).
pub fn owned_by(existing: &impl Resource, sealed: &SealedSecret) -> bool {
    let Some(uid) = sealed.meta().uid.as_deref() else {
        return false;
    };
    let meta = existing.meta();
    meta.owner_references.iter().flatten().any(|o| o.uid == uid)
        || meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(OWNER_UID_ANNOTATION))
            .is_some_and(|v| v == uid)
}

/// Annotation on a SealedSecret: keep its Secret when the SealedSecret is deleted (the Secret
/// gets no ownerReference, so the garbage collector leaves it; from then on nothing manages it).
pub const KEEP_SECRET_ANNOTATION: &str = "sealant.dev/keep-secret";
/// Annotation the controller puts on every Secret it writes: the uid of its SealedSecret.
pub const OWNER_UID_ANNOTATION: &str = "sealant.dev/owner-uid";

/// Whether `sealed` asks for its Secret to outlive it.
pub fn keeps_secret(sealed: &SealedSecret) -> bool {
    sealed
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(KEEP_SECRET_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// Why a Secret carrying the sealing-key label is not a key, if it is not. Keys are written by
/// the controller's key upkeep or restored from a backup by `kubectl create`/`sealant keys
/// restore`; neither has an owner, and neither carries the label the controller puts on the
/// Secrets it unseals. (The watch only sees the controller's namespace.)
pub fn key_secret_problem(secret: &Secret) -> Option<&'static str> {
    if secret
        .meta()
        .owner_references
        .as_ref()
        .is_some_and(|o| !o.is_empty())
    {
        return Some("it has an owner (key Secrets are never owned)");
    }
    if secret.labels().contains_key(MANAGED_BY_LABEL) {
        return Some("it was written by the controller for a SealedSecret");
    }
    None
}

/// The creation time that counts for a key: its `created-at` annotation, unless that lies more
/// than [`KEY_CLOCK_SKEW`] after `now`, in which case the Secret's creation by the API server (or
/// `now`, whichever is earlier) counts. Returns the time and whether it was clamped. A key dated
/// in the future would otherwise stay the newest key, and never be renewed, until that date.
pub fn key_created_at(
    annotation: Option<Timestamp>,
    created_by_server: Option<Timestamp>,
    now: Timestamp,
) -> (Timestamp, bool) {
    let fallback = created_by_server.map_or(now, |t| t.min(now));
    match annotation {
        Some(at) if at <= now + skew() => (at, false),
        Some(_) => (fallback, true),
        None => (fallback, false),
    }
}

fn skew() -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(KEY_CLOCK_SKEW).unwrap_or(jiff::SignedDuration::ZERO)
}

/// Whether `--key-cutoff` is acceptable at `now`: not further in the future than the clock skew
/// (a cutoff in the future would ask for a new key at every start until then).
pub fn check_key_cutoff(cutoff: Timestamp, now: Timestamp) -> Result<(), String> {
    if cutoff > now + skew() {
        return Err(format!(
            "--key-cutoff {cutoff} is in the future (this machine's clock says {now}); give the time \
             of the suspected compromise, which has passed"
        ));
    }
    Ok(())
}

/// The type of a key the controller generates: the configured `--key-type`, unless the newest
/// existing key is of a stronger type (X-Wing, post-quantum) and `allow_weaker` is not set. A
/// controller restarted with a cutoff and the default type must not make an X25519 key the newest
/// after X-Wing keys: every new value would silently lose its post-quantum protection. Returns the
/// type and whether the configured one was overridden.
pub fn generated_key_type(
    configured: KeyType,
    newest: Option<KeyType>,
    allow_weaker: bool,
) -> (KeyType, bool) {
    let strength = |t: KeyType| match t {
        KeyType::X25519 => 0,
        KeyType::XWing => 1,
    };
    match newest {
        Some(newest) if !allow_weaker && strength(newest) > strength(configured) => (newest, true),
        _ => (configured, false),
    }
}

/// A verify or rotate request refused before any crypto.
pub fn check_request_size(values: usize) -> Result<(), String> {
    if values > MAX_VALUES_PER_REQUEST {
        return Err(format!(
            "spec.encryptedData has {values} values; at most {MAX_VALUES_PER_REQUEST} per request"
        ));
    }
    Ok(())
}

/// Rotate refused to re-seal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateRefusal {
    /// A fixed reason for the answer.
    pub reason: &'static str,
    pub message: String,
}

/// The recipients one value is re-sealed to by rotate: the controller's `newest` key first, then
/// every other recipient already in the value's authenticated header, with its public key taken
/// from `listed` (`spec.recipients`) where its key id matches. The controller's own keys (any key
/// in `ring`) are replaced by the newest one.
///
/// Refused: a listed key that is not a recipient of any value (the request would have the
/// controller seal plaintext to a key of the caller's choosing), and a recipient in a header
/// whose public key is not listed (re-sealing without it would silently drop that cluster).
pub fn rotate_recipients(
    key: &str,
    envelope: &Envelope,
    listed: &[PublicKey],
    ring: &KeyRing,
    newest: &PublicKey,
) -> Result<Vec<PublicKey>, RotateRefusal> {
    let mut recipients = vec![newest.clone()];
    for id in envelope.key_ids() {
        if ring.get(&id).is_some() {
            continue;
        }
        let Some(public) = listed.iter().find(|p| p.id() == id) else {
            return Err(RotateRefusal {
                reason: "MissingRecipient",
                message: format!(
                    "value {key:?} is also sealed to key {id}, whose public key is not in \
                     spec.recipients; add it there so that rotation keeps that recipient"
                ),
            });
        };
        if !recipients.iter().any(|r| r.id() == id) {
            recipients.push(public.clone());
        }
    }
    Ok(recipients)
}

/// Checks that every listed recipient is a recipient of at least one value (`headers`: the key
/// ids of each value's authenticated header) or one of the controller's keys.
pub fn check_listed_recipients(
    listed: &[PublicKey],
    headers: &[Vec<KeyId>],
    ring: &KeyRing,
) -> Result<(), RotateRefusal> {
    for (index, public) in listed.iter().enumerate() {
        let id = public.id();
        if ring.get(&id).is_some() || headers.iter().any(|ids| ids.contains(&id)) {
            continue;
        }
        return Err(RotateRefusal {
            reason: "UnexpectedRecipient",
            message: format!(
                "spec.recipients[{index}] (key {id}) is not a recipient of any value; rotate only \
                 re-seals to keys the values were already sealed to (seal again with `sealant seal` \
                 to add a cluster)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use sealant_core::format::{Binding, Location, Scope, seal};
    use sealant_core::keys::PrivateKey;
    use sealant_core::resource::{SealedSecretSpec, SecretTemplate, TemplateMetadata};

    fn sealed(namespace: &str, template: SecretTemplate) -> SealedSecret {
        SealedSecret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some(namespace.into()),
                uid: Some("uid-1".into()),
                ..ObjectMeta::default()
            },
            spec: SealedSecretSpec {
                encrypted_data: BTreeMap::new(),
                recipients: vec![],
                template: Some(template),
            },
            status: None,
        }
    }

    fn with_labels(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> SecretTemplate {
        let map = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        SecretTemplate {
            metadata: Some(TemplateMetadata {
                labels: map(labels),
                annotations: map(annotations),
            }),
            ..SecretTemplate::default()
        }
    }

    #[test]
    fn reserved_keys_are_sealants_own_prefix_and_its_subdomains() {
        for key in [
            "sealant.dev/sealing-key",
            "sealant.dev/managed-by",
            "sealant.dev/created-at",
            "SEALANT.DEV/x",
            "keys.sealant.dev/x",
        ] {
            assert!(reserved(key), "{key}");
        }
        for key in ["app", "example.com/x", "notsealant.dev/x", "sealant.dev"] {
            assert!(!reserved(key), "{key}");
        }
    }

    #[test]
    fn templates_cannot_claim_controller_labels_annotations_or_minting_types() {
        let policy = Policy::new("sealant");
        assert_eq!(
            policy.check(&sealed("prod", with_labels(&[("app", "db")], &[]))),
            Ok(())
        );
        let planted = sealed(
            "prod",
            with_labels(
                &[("sealant.dev/sealing-key", "active")],
                &[("sealant.dev/created-at", "2099-01-01T00:00:00Z")],
            ),
        );
        let refusal = policy.check(&planted).unwrap_err();
        assert_eq!(refusal.kind, RefusalKind::ReservedMetadata);
        assert!(
            refusal
                .message
                .contains("spec.template.metadata.labels: \"sealant.dev/sealing-key\""),
            "{}",
            refusal.message
        );
        let annotated = sealed("prod", with_labels(&[], &[("sealant.dev/managed", "true")]));
        assert_eq!(
            policy.check(&annotated).unwrap_err().kind,
            RefusalKind::ReservedMetadata
        );

        for type_ in CREDENTIAL_MINTING_TYPES {
            let minting = sealed(
                "prod",
                SecretTemplate {
                    type_: Some(type_.to_string()),
                    ..SecretTemplate::default()
                },
            );
            assert_eq!(
                policy.check(&minting).unwrap_err().kind,
                RefusalKind::ForbiddenSecretType
            );
            let mut allowing = policy.clone();
            allowing.allowed_secret_types.insert(type_.to_string());
            assert_eq!(allowing.check(&minting), Ok(()));
        }
    }

    #[test]
    fn the_controller_namespace_is_refused_unless_the_operator_opts_in() {
        let mut policy = Policy::new("sealant");
        let inside = sealed("sealant", SecretTemplate::default());
        assert_eq!(
            policy.check(&inside).unwrap_err().kind,
            RefusalKind::ControllerNamespace
        );
        policy.reconcile_controller_namespace = true;
        assert_eq!(policy.check(&inside), Ok(()));
    }

    #[test]
    fn only_unowned_secrets_not_written_for_a_sealed_secret_are_keys() {
        let mut secret = Secret::default();
        assert_eq!(key_secret_problem(&secret), None);
        secret.metadata.labels = Some(BTreeMap::from([(
            MANAGED_BY_LABEL.to_string(),
            "sealant-controller".to_string(),
        )]));
        assert!(key_secret_problem(&secret).is_some());
        secret.metadata.labels = None;
        secret.metadata.owner_references = Some(vec![OwnerReference::default()]);
        assert!(key_secret_problem(&secret).is_some());
    }

    #[test]
    fn a_new_key_is_never_weaker_than_the_newest_without_the_flag() {
        use KeyType::{X25519, XWing};
        assert_eq!(
            generated_key_type(X25519, Some(XWing), false),
            (XWing, true)
        );
        assert_eq!(
            generated_key_type(X25519, Some(XWing), true),
            (X25519, false)
        );
        assert_eq!(
            generated_key_type(XWing, Some(X25519), false),
            (XWing, false)
        );
        assert_eq!(
            generated_key_type(X25519, Some(X25519), false),
            (X25519, false)
        );
        assert_eq!(generated_key_type(X25519, None, false), (X25519, false));
    }

    #[test]
    fn a_future_key_date_counts_as_now_or_its_server_creation() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let past: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let created: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
        let future: Timestamp = "2099-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            key_created_at(Some(past), Some(created), now),
            (past, false)
        );
        assert_eq!(
            key_created_at(Some(future), Some(created), now),
            (created, true)
        );
        assert_eq!(key_created_at(Some(future), None, now), (now, true));
        let slightly: Timestamp = "2026-06-01T00:04:00Z".parse().unwrap();
        assert_eq!(key_created_at(Some(slightly), None, now), (slightly, false));
        assert!(check_key_cutoff(future, now).is_err());
        assert!(check_key_cutoff(past, now).is_ok());
    }

    #[test]
    fn rotate_reseals_only_to_recipients_already_in_the_header() {
        let ours = PrivateKey::generate().unwrap();
        let newest = PrivateKey::generate().unwrap();
        let other_cluster = PrivateKey::generate().unwrap();
        let attacker = PrivateKey::generate().unwrap();
        let ring: KeyRing = [PrivateKey::from_bytes(&[9; 32])].into_iter().collect();
        let ring = {
            let mut r = ring;
            r.insert(PrivateKey::from_file_text(&ours.to_file_text()).unwrap());
            r
        };
        let binding = Binding::new(Scope::Strict, &Location::new("prod", "db", "pw")).unwrap();
        let text = seal(
            b"x",
            &binding,
            &[ours.public().clone(), other_cluster.public().clone()],
        )
        .unwrap();
        let envelope = Envelope::from_base64(&text).unwrap();

        let listed = vec![other_cluster.public().clone()];
        let recipients =
            rotate_recipients("pw", &envelope, &listed, &ring, newest.public()).unwrap();
        assert_eq!(
            recipients.iter().map(PublicKey::id).collect::<Vec<_>>(),
            vec![newest.id(), other_cluster.id()]
        );

        // The attacker's key is listed: it is not a recipient of any value.
        let listed = vec![other_cluster.public().clone(), attacker.public().clone()];
        let refusal = check_listed_recipients(&listed, &[envelope.key_ids()], &ring).unwrap_err();
        assert_eq!(refusal.reason, "UnexpectedRecipient");
        assert!(refusal.message.contains("spec.recipients[1]"));
        // ... and it is never added to a value, listed or not.
        let recipients =
            rotate_recipients("pw", &envelope, &listed, &ring, newest.public()).unwrap();
        assert!(!recipients.iter().any(|r| r.id() == attacker.id()));

        // The other cluster's public key is missing: refused rather than dropped.
        let refusal = rotate_recipients("pw", &envelope, &[], &ring, newest.public()).unwrap_err();
        assert_eq!(refusal.reason, "MissingRecipient");
    }

    #[test]
    fn adoption_needs_the_uid_or_the_annotation() {
        let sealed = sealed("prod", SecretTemplate::default());
        let mut existing = Secret::default();
        assert!(!may_write(&existing, &sealed));
        existing.metadata.owner_references = Some(vec![OwnerReference {
            uid: "uid-1".into(),
            ..OwnerReference::default()
        }]);
        assert!(may_write(&existing, &sealed));
        existing.metadata.owner_references = None;
        existing.metadata.annotations = Some(BTreeMap::from([(
            ADOPT_ANNOTATION.to_string(),
            "true".to_string(),
        )]));
        assert!(may_write(&existing, &sealed));
        assert!(check_request_size(MAX_VALUES_PER_REQUEST).is_ok());
        assert!(check_request_size(MAX_VALUES_PER_REQUEST + 1).is_err());
    }
}

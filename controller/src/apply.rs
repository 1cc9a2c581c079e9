//! Writing the Secret: create it, or apply it by server-side apply when it is ours; refuse to
//! touch someone else's; remove keys others added; and tell, from the metadata cache alone, that
//! a Secret is already what applying would make it ([`up_to_date`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use serde_json::{Value, json};
use tracing::{info, warn};
use zeroize::Zeroizing;

use sealant_core::resource::{
    ADOPT_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SealedSecret, secret_of,
};

use crate::FIELD_MANAGER;
use crate::cache::{CACHED_CONTENT_ANNOTATION, content_owners};
use crate::conditions::{Outcome, Reason};
use crate::context::Context;
use crate::errors::Error;
use crate::errors::error_chain;
use crate::events::{self, EventType};
use crate::keys::zeroize_secret;

/// Annotation on each Secret the controller writes: the `metadata.generation` of the
/// SealedSecret it was unsealed from. With the Secret's field owners it tells, from the metadata
/// cache alone, that the Secret is already as it should be.
pub const SEALED_GENERATION_ANNOTATION: &str = "sealant.dev/sealed-generation";

/// Writes the Secret unless one exists that is not ours; the opened values are cleared on return.
/// A Secret in the owned-Secrets cache that this SealedSecret owns is written at once; otherwise
/// (a new Secret, or someone else's) its metadata is read first.
pub(crate) async fn write_secret(
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
pub(crate) fn rejected(status: &kube::core::Status) -> Outcome {
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
pub(crate) async fn remove_extra_keys(
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::sealed_secret;
    use sealant_core::format::{KeyRing, Scope};
    use sealant_core::keys::PrivateKey;
    use sealant_core::resource::open_values;

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
    fn a_refusal_keeps_the_server_words_up_to_the_redacted_value() {
        let message = "Secret \"x\" is invalid: data[.dockerconfigjson]: Invalid value: \
                       \"<secret contents redacted>\": invalid character '~' looking for \
                       beginning of value";
        let kept = withhold_values(message);
        assert!(kept.contains("data[.dockerconfigjson]"), "{kept}");
        assert!(!kept.contains('~'), "{kept}");
        assert_eq!(withhold_values("field is immutable"), "field is immutable");
    }
}

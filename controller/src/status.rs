//! Reporting a reconcile: the `Synced` condition and the scope in the SealedSecret's status, and
//! an Event when the condition changes.

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tracing::{debug, info, warn};

use sealant_core::resource::SealedSecret;

use crate::FIELD_MANAGER;
use crate::conditions::{Outcome, SYNCED, next_condition, same_condition};
use crate::context::Context;
use crate::errors::Error;
use crate::errors::error_chain;
use crate::events::{self, EventType};

/// Applies the status when it changed, and publishes an Event when the condition changed.
pub(crate) async fn report(
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

//! The decision for one SealedSecret: read it (the cache, or the API server for a large one),
//! check the trust policy, open its values, and hand the Secret to [`crate::apply`] and the result
//! to [`crate::status`].
//!
//! Failures that retrying cannot fix (a value sealed for another place, to an unknown key,
//! tampered with, or a Secret that is not ours) are reported on the condition and in an Event and
//! retried slowly (new keys and edits retrigger them at once); failures of the API are returned as
//! errors and retried with backoff by [`error_policy`]. Either way the existing Secret is left as
//! it was.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::{debug, warn};

use sealant_core::resource::{SealedSecret, open_values};

use crate::apply::{up_to_date, withhold_values, write_secret};
use crate::cache::dropped_spec;
use crate::conditions::{Outcome, Reason, unseal_failure};
use crate::context::Context;
use crate::errors::{Error, error_chain};
use crate::policy::Refusal;
use crate::status::report;

/// Backoff of transient failures: first retry, and the cap.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_secs(1);

pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How soon a SealedSecret blocked by someone else's Secret is looked at again.
pub(crate) const NOT_OWNED_RECHECK: Duration = Duration::from_secs(60);

/// The SealedSecret to reconcile: the cached one, or, when the cache holds only its size, the
/// object read from the API server (`None`: deleted meanwhile). A size over the limit is
/// refused from the cache alone.
pub(crate) async fn full_object(
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
        Err(Error::ApplySecret { source, .. }) if crate::errors::not_leader(source) => {
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

/// A short description of an API failure that may pass: code, reason and the server's message,
/// or what went wrong on the way.
pub(crate) fn api_error_summary(error: &kube::Error) -> String {
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

/// Records the failure and retries with exponential backoff per SealedSecret.
pub fn error_policy(sealed: Arc<SealedSecret>, error: &Error, context: Arc<Context>) -> Action {
    let attempts = context.failed(ObjectRef::from_obj(&sealed));
    context.progress.failed();
    context.metrics.reconcile_failed(error.metric_label());
    let delay = backoff(attempts);
    if crate::errors::not_leader(error)
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
pub(crate) fn backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(30), BACKOFF_MAX);
    }
}

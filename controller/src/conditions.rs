//! The `Synced` condition: its reasons (a fixed set, also metric labels), what one reconcile
//! found ([`Outcome`]), and the condition that reports it. Pure: no API calls, no other phase.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use sealant_core::resource::ConvertError;

use crate::events::{self};
use crate::policy::{Refusal, RefusalKind};

/// The one condition type.
pub const SYNCED: &str = "Synced";

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
    pub(crate) fn of_open_error(reason: &str) -> Reason {
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
    pub(crate) fn synced(values: usize) -> Outcome {
        Outcome {
            reason: Reason::Unsealed,
            message: format!("unsealed {values} value(s) into the Secret"),
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.reason == Reason::Unsealed
    }

    pub(crate) fn refused(refusal: Refusal) -> Outcome {
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

/// The condition for a SealedSecret whose values do not open. The message names the value and
/// what was expected, from the authenticated header; it never holds plaintext.
pub(crate) fn unseal_failure(error: &ConvertError) -> Outcome {
    let reason = match error {
        ConvertError::Open { source, .. } => Reason::of_open_error(source.reason()),
        _ => Reason::InvalidSealedValue,
    };
    Outcome {
        reason,
        message: error.to_string(),
    }
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

pub(crate) fn same_condition(a: &Condition, b: &Condition) -> bool {
    a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
        && a.last_transition_time == b.last_transition_time
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
}

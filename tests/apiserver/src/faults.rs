//! Fault injection: fail the next N requests that match a verb and resource, add latency.

use std::sync::Mutex;
use std::time::Duration;

use crate::error::ApiError;

/// Which requests an injected failure applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultMatch {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or `*`.
    pub verb: String,
    /// The plural resource (`secrets`, `sealedsecrets`, `secrets/status`), or `*`.
    pub resource: String,
}

impl FaultMatch {
    pub fn new(verb: impl Into<String>, resource: impl Into<String>) -> Self {
        FaultMatch {
            verb: verb.into(),
            resource: resource.into(),
        }
    }

    fn matches(&self, verb: &str, resource: &str) -> bool {
        (self.verb == "*" || self.verb == verb)
            && (self.resource == "*" || self.resource == resource)
    }
}

struct Rule {
    matcher: FaultMatch,
    code: u16,
    remaining: u32,
}

#[derive(Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Rule>>,
    latency: Mutex<Duration>,
    /// Requests seen, by (verb, resource): every request passes through [`Faults::check`].
    counts: Mutex<std::collections::HashMap<(String, String), u64>>,
}

impl Faults {
    pub(crate) fn fail_next(&self, matcher: FaultMatch, code: u16, times: u32) {
        self.rules_lock().push(Rule {
            matcher,
            code,
            remaining: times,
        });
    }

    pub(crate) fn clear(&self) {
        self.rules_lock().clear();
        *self.latency_lock() = Duration::ZERO;
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        *self.latency_lock() = latency;
    }

    pub(crate) fn latency(&self) -> Duration {
        *self.latency_lock()
    }

    /// The injected error for this request, consuming one use of the first matching rule.
    pub(crate) fn check(&self, verb: &str, resource: &str) -> Option<ApiError> {
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry((verb.to_string(), resource.to_string()))
                .or_insert(0) += 1;
        }
        let mut rules = self.rules_lock();
        let index = rules
            .iter()
            .position(|r| r.remaining > 0 && r.matcher.matches(verb, resource))?;
        let rule = &mut rules[index];
        rule.remaining -= 1;
        let code = rule.code;
        rules.retain(|r| r.remaining > 0);
        Some(ApiError::injected(code))
    }

    /// How many requests matching `matcher` were seen.
    pub(crate) fn count(&self, matcher: &FaultMatch) -> u64 {
        self.counts.lock().map_or(0, |counts| {
            counts
                .iter()
                .filter(|((verb, resource), _)| matcher.matches(verb, resource))
                .map(|(_, n)| n)
                .sum()
        })
    }

    fn rules_lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        // The rules stay consistent even if a holder panicked: every update is one statement.
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn latency_lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        self.latency.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_fires_exactly_n_times_for_matching_requests_only() {
        let faults = Faults::default();
        faults.fail_next(FaultMatch::new("create", "secrets"), 500, 2);
        assert!(faults.check("get", "secrets").is_none());
        assert!(faults.check("create", "configmaps").is_none());
        assert_eq!(faults.check("create", "secrets").map(|e| e.code), Some(500));
        assert_eq!(faults.check("create", "secrets").map(|e| e.code), Some(500));
        assert!(faults.check("create", "secrets").is_none());
    }

    #[test]
    fn wildcards_match_everything() {
        let faults = Faults::default();
        faults.fail_next(FaultMatch::new("*", "*"), 429, 1);
        let err = faults.check("watch", "leases").unwrap();
        assert_eq!((err.code, err.reason), (429, "TooManyRequests"));
    }
}

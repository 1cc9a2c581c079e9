//! API server reachability, judged from real API calls only, and logged as state changes plus a
//! periodic summary; and the deadline every API call gets.
//!
//! When the API server cannot be reached, every reconcile, watch and Lease call fails; logging
//! each failure wrote thousands of lines a minute. Instead [`observed_client`] sees every request
//! the controller makes: an HTTP answer (whatever its status) means reachable, no answer (refused,
//! reset, TLS failure, no answer within the call deadline) counts as a failure. [`watch`] turns
//! that into at most one line a second: one ERROR when the API server has not answered for
//! [`DOWN_AFTER`] and requests failed, one WARN summary per summary period while it stays so, one
//! INFO when it answers again. A reconcile that only read the cache says nothing about the API
//! server, so it cannot flip the state. Callers log the failures themselves at debug level when
//! [`unreachable`] classifies them as such.

use std::sync::Mutex;
use std::time::Duration;

use http::Request;
use kube::Client;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::errors::{error_chain, not_leader};

/// How long without any answer (and with failed requests) before the API server is reported
/// unreachable: one refused connection among answers is not an outage.
pub const DOWN_AFTER: Duration = Duration::from_secs(3);
/// How often [`watch`] looks at the counters: the most often a state change is logged.
const TICK: Duration = Duration::from_secs(1);

/// A call got no answer within its deadline.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the API server within {0:?}")]
pub struct CallTimedOut(pub Duration);

/// What the requests of this process found, for the whole process (it talks to one API server).
#[derive(Debug)]
struct State {
    /// When a request last got an HTTP answer.
    last_answer: Option<Instant>,
    /// Failed requests since the last answer, and the last failure (an error chain: it names
    /// addresses and operations, never objects' contents).
    failures: u64,
    last_failure: Option<(Instant, String)>,
    /// Whether the outage has been reported, since when, and failures counted during it.
    down_since: Option<Instant>,
    outage_failures: u64,
    last_summary: Option<Instant>,
}

static STATE: Mutex<State> = Mutex::new(State {
    last_answer: None,
    failures: 0,
    last_failure: None,
    down_since: None,
    outage_failures: 0,
    last_summary: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // Every update is a few assignments; a panicking holder cannot leave it inconsistent.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records an HTTP answer.
pub fn answered() {
    let mut state = state();
    state.last_answer = Some(Instant::now());
    state.failures = 0;
}

/// Records a request that got no answer.
pub fn failed(error: &(dyn std::error::Error + 'static)) {
    let mut state = state();
    state.failures = state.failures.saturating_add(1);
    state.outage_failures = state.outage_failures.saturating_add(1);
    state.last_failure = Some((Instant::now(), error_chain(error)));
}

/// Whether the API server is currently reported unreachable.
pub fn is_down() -> bool {
    state().down_since.is_some()
}

/// One step of the state machine, at `now`: the line to log, if any.
fn tick(now: Instant, summary_period: Duration) -> Option<Line> {
    let mut state = state();
    match state.down_since {
        None => {
            let (failed_at, last_error) = state.last_failure.clone()?;
            let silent_for = state
                .last_answer
                .map_or(DOWN_AFTER, |at| now.saturating_duration_since(at));
            let failed_since_answer = state.last_answer.is_none_or(|at| failed_at >= at);
            if state.failures == 0 || !failed_since_answer || silent_for < DOWN_AFTER {
                return None;
            }
            state.down_since = Some(now);
            state.last_summary = Some(now);
            state.outage_failures = state.failures;
            Some(Line::Down { last_error })
        }
        Some(since) => {
            let back = state.last_answer.is_some_and(|at| at >= since)
                || state
                    .last_answer
                    .zip(state.last_failure.as_ref())
                    .is_some_and(|(answer, (failure, _))| answer > *failure);
            if back {
                state.down_since = None;
                let failures = std::mem::take(&mut state.outage_failures);
                return Some(Line::Back {
                    after: now.saturating_duration_since(since),
                    failures,
                });
            }
            let last = state.last_summary.unwrap_or(since);
            if summary_period.is_zero() || now.saturating_duration_since(last) < summary_period {
                return None;
            }
            state.last_summary = Some(now);
            Some(Line::StillDown {
                for_: now.saturating_duration_since(since),
                failures: state.outage_failures,
                last_error: state
                    .last_failure
                    .as_ref()
                    .map(|(_, e)| e.clone())
                    .unwrap_or_default(),
            })
        }
    }
}

#[derive(Debug, PartialEq)]
enum Line {
    Down {
        last_error: String,
    },
    StillDown {
        for_: Duration,
        failures: u64,
        last_error: String,
    },
    Back {
        after: Duration,
        failures: u64,
    },
}

/// Logs reachability changes and, every `summary_period` of an outage, a summary, until dropped
/// (run it as a task).
pub async fn watch(summary_period: Duration) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tick(Instant::now(), summary_period) {
            None => {}
            Some(Line::Down { last_error }) => error!(
                error = %last_error,
                "the API server is unreachable; retrying with backoff (one summary every {summary_period:?} until it answers)"
            ),
            Some(Line::StillDown {
                for_,
                failures,
                last_error,
            }) => warn!(
                down_for = ?Duration::from_secs(for_.as_secs()),
                failed_requests = failures,
                error = %last_error,
                "the API server is still unreachable"
            ),
            Some(Line::Back { after, failures }) => info!(
                down_for = ?Duration::from_secs(after.as_secs()),
                failed_requests = failures,
                "the API server is reachable again"
            ),
        }
    }
}

/// A client whose every request is bounded by `call_timeout` (watches excepted: they are meant to
/// stay open, and the server ends them itself) and reported to the reachability state: an HTTP
/// answer of any status is "reachable", no answer is a failure. `call_timeout` zero: no deadline.
///
/// The deadline belongs to the call, not to whatever makes several calls: a reconcile that reads,
/// writes and reports makes progress at any latency below the deadline.
pub fn observed_client(client: Client, call_timeout: Duration) -> Client {
    let default_namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<kube::client::Body>| {
        let client = client.clone();
        async move {
            let watch = request.uri().query().is_some_and(|q| {
                q.split('&')
                    .any(|pair| pair == "watch=true" || pair == "watch=1")
            });
            let result = if watch || call_timeout.is_zero() {
                client.send(request).await.map_err(tower::BoxError::from)
            } else {
                match tokio::time::timeout(call_timeout, client.send(request)).await {
                    Ok(result) => result.map_err(tower::BoxError::from),
                    Err(_) => Err(CallTimedOut(call_timeout).into()),
                }
            };
            match &result {
                Ok(_) => answered(),
                Err(error) => failed(error.as_ref()),
            }
            result
        }
    });
    Client::new(service, default_namespace)
}

/// Whether `error` means the API server could not be reached (no HTTP answer at all, as opposed
/// to an answer with an error status): the caller should log it at debug level, since
/// [`watch`] reports the outage. A write refused for not leading is not an outage.
pub fn unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    if not_leader(error) {
        return false;
    }
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<CallTimedOut>().is_some() {
            return true;
        }
        if let Some(kube) = e.downcast_ref::<kube::Error>() {
            return !matches!(kube, kube::Error::Api(_));
        }
        current = e.source();
    }
    false
}

/// Whether `error` is the API server's answer that the object or its namespace is going away: a
/// 404, or a 403 for new content in a namespace being terminated. Deleting a namespace full of
/// SealedSecrets produces one per object; nothing is wrong and nothing can be done.
pub fn gone(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>() {
            let terminating = status.code == 403
                && (status.message.contains("being terminated")
                    || status.details.as_ref().is_some_and(|d| {
                        d.causes.iter().any(|c| c.reason == "NamespaceTerminating")
                    }));
            return status.code == 404 || terminating;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kube::core::Status;

    /// The state is process-wide: the tests that drive it run in one test function.
    #[test]
    fn an_outage_is_one_line_a_summary_per_period_and_one_line_back() {
        let refused = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let answered_error = kube::Error::Api(Box::new(Status::failure("boom", "InternalError")));
        assert!(unreachable(&refused));
        assert!(!unreachable(&answered_error));
        assert!(unreachable(&kube::Error::Service(Box::new(CallTimedOut(
            Duration::from_secs(1)
        )))));

        let period = Duration::from_secs(60);
        let t0 = Instant::now();
        answered();
        // A failure among answers is not an outage.
        failed(&refused);
        assert_eq!(tick(t0, period), None);
        // 1000 failures a second for 2 minutes, ticked every second: one line down (after
        // DOWN_AFTER), then a summary a minute.
        let mut lines = Vec::new();
        for second in 1..=121u64 {
            for _ in 0..1000 {
                failed(&refused);
            }
            if let Some(line) = tick(t0 + Duration::from_secs(second + 3), period) {
                lines.push(line);
            }
        }
        assert!(matches!(lines[0], Line::Down { .. }), "{lines:?}");
        assert!(is_down());
        let summaries = lines
            .iter()
            .filter(|l| matches!(l, Line::StillDown { .. }))
            .count();
        assert_eq!((lines.len(), summaries), (3, 2), "{lines:?}");
        // An answer: one line back, counting the failures.
        answered();
        let back = tick(Instant::now() + Duration::from_secs(200), period).unwrap();
        assert!(
            matches!(back, Line::Back { failures, .. } if failures >= 120_000),
            "{back:?}"
        );
        assert!(!is_down());
        assert_eq!(
            tick(Instant::now() + Duration::from_secs(201), period),
            None
        );
    }

    #[test]
    fn gone_means_not_found_or_a_terminating_namespace() {
        let mut status = Status::failure(
            "secrets \"a\" is forbidden: unable to create new content in namespace x because it is being terminated",
            "Forbidden",
        );
        status.code = 403;
        assert!(gone(&kube::Error::Api(Box::new(status))));
        let mut status = Status::failure("not found", "NotFound");
        status.code = 404;
        assert!(gone(&kube::Error::Api(Box::new(status))));
        let mut status = Status::failure("secrets is forbidden: User cannot", "Forbidden");
        status.code = 403;
        assert!(!gone(&kube::Error::Api(Box::new(status))));
    }
}

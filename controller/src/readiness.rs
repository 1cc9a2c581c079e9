//! Whether the leader is making progress, for `/readyz`: a leader whose reconciles (and watches)
//! have only failed for longer than a limit is not ready, whatever the Lease says. Without this,
//! a leader behind a slow or unreachable API server held the Lease, answered ready and converged
//! nothing.
//!
//! The state is one clock: since when failures have come without a single success in between.
//! Any successful reconcile stops it; the first failure after a success starts it. A leader with
//! nothing to do has no failures and stays ready; one whose watches fail (it cannot see its
//! work) counts those failures too.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Failures without success since when (`None`: the last outcome was a success, or nothing
/// happened yet).
#[derive(Debug, Default)]
pub struct Progress {
    failing_since: Mutex<Option<Instant>>,
    /// How long failures may last before [`Progress::stalled`] says so (zero: never).
    limit: Duration,
}

impl Progress {
    pub fn new(limit: Duration) -> Progress {
        Progress {
            failing_since: Mutex::new(None),
            limit,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // One Option: a panicking holder cannot leave it inconsistent.
        self.failing_since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A reconcile or a watch failed.
    pub fn failed(&self) {
        self.slot().get_or_insert_with(Instant::now);
    }

    /// A reconcile succeeded.
    pub fn succeeded(&self) {
        *self.slot() = None;
    }

    /// Forgets everything (leadership starts or ends).
    pub fn reset(&self) {
        *self.slot() = None;
    }

    /// How long only failures have come, if that is at least the limit.
    pub fn stalled(&self) -> Option<Duration> {
        if self.limit.is_zero() {
            return None;
        }
        self.slot()
            .map(|since| since.elapsed())
            .filter(|failing| *failing >= self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_without_a_success_for_the_limit_mean_stalled() {
        let progress = Progress::new(Duration::from_secs(30));
        assert_eq!(progress.stalled(), None, "nothing happened yet");
        progress.failed();
        tokio::time::advance(Duration::from_secs(20)).await;
        progress.failed();
        assert_eq!(progress.stalled(), None, "20 s of failures");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(progress.stalled().is_some(), "31 s of failures");
        let disabled = Progress::new(Duration::ZERO);
        disabled.failed();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(disabled.stalled(), None, "disabled");
        progress.succeeded();
        assert_eq!(progress.stalled(), None, "one success");
        progress.failed();
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(progress.stalled(), None, "the clock restarted");
    }
}

//! API server outages, logged once: when the API server cannot be reached, every reconcile and
//! every watch fails, and logging each failure would write thousands of lines a second. The first
//! failure that means "unreachable" is logged as an error, the rest at debug, and the first
//! success after it says the API server is back.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{error, info};

use crate::keys::error_chain;

/// Whether the API server was last seen unreachable, for the whole process (it talks to one).
static DOWN: AtomicBool = AtomicBool::new(false);

/// Whether `error` means the API server could not be reached (no HTTP answer at all, as opposed
/// to an answer with an error status). The first such error of an outage is logged here; the
/// caller should log the error itself at debug level when this returns true.
pub fn unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    if !is_unreachable(error) {
        return false;
    }
    if !DOWN.swap(true, Ordering::SeqCst) {
        error!(error = %error_chain(error), "the API server is unreachable; retrying with backoff (further failures are logged at debug level)");
    }
    true
}

/// Records a successful request; the first after an outage is logged.
pub fn reachable() {
    if DOWN.swap(false, Ordering::SeqCst) {
        info!("the API server is reachable again");
    }
}

fn is_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    if not_leader(error) {
        return false;
    }
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(kube) = e.downcast_ref::<kube::Error>() {
            return !matches!(kube, kube::Error::Api(_));
        }
        current = e.source();
    }
    false
}

/// Whether `error` is a write the fenced client refused because this replica may not write
/// (not leading, or its lease lapsed): not an outage, and nothing to report.
pub fn not_leader(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<crate::leader::NotLeader>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    #[test]
    fn an_answer_is_not_an_outage_but_no_answer_is() {
        let answered = kube::Error::Api(Box::new(Status::failure("boom", "InternalError")));
        assert!(!unreachable(&answered));
        let refused = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        assert!(unreachable(&refused));
        assert!(unreachable(&refused), "still down");
        reachable();
        assert!(!DOWN.load(Ordering::SeqCst));
    }
}

//! How the controller describes and classifies errors: one line for a chain of sources, and
//! whether a failure is a write this replica was not allowed to make, and the failures of a
//! reconcile that retrying may fix ([`Error`]). A leaf: it imports no
//! other module of the controller, so keys, leadership and outage reporting can all use it.

use std::time::Duration;

/// Why this replica may not do the leader's writes now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotLeader {
    #[error("this replica does not hold the leader lease")]
    Follower,
    #[error(
        "the leader lease was last renewed {age:?} ago, not within the renew deadline \
         {renew_deadline:?}: stepping down"
    )]
    Lapsed {
        age: Duration,
        renew_deadline: Duration,
    },
    #[error("leader election has stopped")]
    ElectionStopped,
    #[error("the write did not finish before another replica could hold the leader lease")]
    WriteOutlivedLease,
}

/// An error and its sources on one line (`a: b: c`), for logs and status messages.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether `error` is a write the fenced client refused because this replica may not write
/// (not leading, or its lease lapsed): not an outage, and nothing to report.
pub fn not_leader(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<NotLeader>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A reconciliation failed in a way that retrying may fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The keys have not been read yet.
    #[error("sealing keys are not loaded yet")]
    KeysNotLoaded,
    /// The SealedSecret has no namespace (it is namespaced; the API server always sets one).
    #[error("SealedSecret {0} has no namespace")]
    MissingNamespace(String),
    /// Reading the existing Secret failed.
    #[error("reading Secret {namespace}/{name}")]
    ReadSecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Writing the Secret failed.
    #[error("applying Secret {namespace}/{name}")]
    ApplySecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading a SealedSecret too large to be cached whole failed.
    #[error("reading SealedSecret {namespace}/{name}")]
    ReadSealedSecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading the labels of the SealedSecret's namespace failed.
    #[error("reading Namespace {0}")]
    ReadNamespace(String, #[source] kube::Error),
    /// Writing the SealedSecret's status failed.
    #[error("applying status of SealedSecret {namespace}/{name}")]
    ApplyStatus {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// The variant's name: a fixed metric label.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::KeysNotLoaded => "KeysNotLoaded",
            Error::MissingNamespace(_) => "MissingNamespace",
            Error::ReadSecret { .. } => "ReadSecret",
            Error::ApplySecret { .. } => "ApplySecret",
            Error::ReadSealedSecret { .. } => "ReadSealedSecret",
            Error::ReadNamespace(..) => "ReadNamespace",
            Error::ApplyStatus { .. } => "ApplyStatus",
        }
    }
}

//! Leader election on a `coordination.k8s.io/v1` Lease, in the style of client-go's
//! leaderelection, made to fail closed.
//!
//! The holder renews the Lease every retry period. Another replica takes it over once it has seen
//! the same record (holder, renew time, resourceVersion), unchanged, for the holder's advertised
//! lease duration, measured on its own monotonic clock (so clock skew between nodes does not
//! matter). Writes carry the resourceVersion read just before, so two replicas never both win.
//!
//! # Why a leader stops before anyone else can start
//!
//! A renewal counts from the moment its successful write *started* (the GET before it, if any,
//! does not count), on this replica's monotonic clock. The record it writes reaches the API
//! server after that, and another replica can only take over a whole lease duration after it
//! first saw that record, so never before `start + lease duration`. This replica treats itself as leader only until
//! `start + renew deadline`, and [`LeaseTiming::validate`] insists the renew deadline is shorter
//! than the lease duration by a margin (a tenth of it at least): that margin is the time a write
//! checked just before the deadline has to reach the API server.
//!
//! Leadership is a pure function of the last successful renewal and the clock
//! ([`Leadership::may_write`]); it does not depend on the election task having run. So a
//! replica that was paused (SIGSTOP, a frozen VM, a starved runtime) and wakes up refuses to write
//! even if its first task to run is a writer, and a Lease call that hangs cannot keep it
//! leading: each Lease call is bounded by [`LeaseTiming::call_timeout`], and [`Leadership::lost`]
//! fires on the deadline whatever the election task is doing.
//!
//! # Renewing over a slow network
//!
//! Deadlines belong to calls: each GET and each write has its own (the renew deadline), so a
//! renewal over a link with seconds of latency each way succeeds instead of being abandoned
//! half-way (which also dropped the connection, so the next attempt paid a new TLS handshake and
//! timed out again, forever). As in client-go, a leader renews with one write of the Lease it
//! last wrote (its resourceVersion guards against anyone else's write in between), and only falls
//! back to reading the Lease first when that write fails.
//!
//! The renewal age is the larger of the monotonic and the wall-clock age: on Linux the monotonic
//! clock stops while the machine is suspended, the wall clock does not. A wall clock stepped
//! forward can only end leadership early (fail closed), never extend it.
//!
//! # Using it
//!
//! * [`LeaderElector::leadership`] gives a cheap, cloneable [`Leadership`]; run the elector with
//!   [`LeaderElector::run`] in its own task. If that task ends or is aborted, every
//!   [`Leadership`] reports "not leading" ([`NotLeader::ElectionStopped`]).
//! * Call [`Leadership::may_write`] immediately before every write that only the leader may do,
//!   or send those writes through [`fenced_client`], which does it for every mutating request.
//! * Run the leader's work while [`Leadership::acquired`] .. [`Leadership::lost`]; stop the
//!   elector (which releases the Lease) only after that work has stopped.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::pin_mut;
use http::{Method, Request};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub use crate::errors::NotLeader;
use crate::errors::error_chain;

/// How often [`Leadership::lost`] looks at the wall clock between monotonic deadlines.
const WALL_CLOCK_RECHECK: Duration = Duration::from_millis(250);
/// The longest lease duration accepted (a longer one only delays failover).
const MAX_LEASE_DURATION: Duration = Duration::from_secs(3600);
/// client-go's `JitterFactor`: the renew deadline must exceed the retry period times this.
const JITTER_FACTOR: f64 = 1.2;

/// How long a Lease is valid, how long a leader keeps leading without a successful renewal, and
/// how often every replica tries to acquire or renew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    pub duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for LeaseTiming {
    /// client-go's defaults: 15 s, 10 s, 2 s.
    fn default() -> Self {
        LeaseTiming {
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Lease timings that cannot keep one leader at a time. Messages name the controller's flags.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseTimingError {
    #[error(
        "--lease-duration, --lease-renew-deadline and --lease-retry-period must all be greater than zero"
    )]
    Zero,
    #[error("--lease-duration {duration:?} is too long (at most {MAX_LEASE_DURATION:?})")]
    TooLong { duration: Duration },
    #[error(
        "--lease-renew-deadline {renew_deadline:?} must be shorter than --lease-duration {duration:?} \
         by at least {margin:?} (a tenth of it), so that a leader stops writing before another \
         replica can take the lease over"
    )]
    RenewDeadlineTooLong {
        renew_deadline: Duration,
        duration: Duration,
        margin: Duration,
    },
    #[error(
        "--lease-renew-deadline {renew_deadline:?} must be longer than 1.2 times --lease-retry-period \
         {retry_period:?}, so that a leader gets more than one try to renew"
    )]
    RetryPeriodTooLong {
        renew_deadline: Duration,
        retry_period: Duration,
    },
}

impl LeaseTiming {
    /// Checks client-go's rule, lease duration > renew deadline > retry period × 1.2, with the
    /// renew deadline at most nine tenths of the lease duration.
    pub fn validate(&self) -> Result<(), LeaseTimingError> {
        if self.duration.is_zero() || self.renew_deadline.is_zero() || self.retry_period.is_zero() {
            return Err(LeaseTimingError::Zero);
        }
        if self.duration > MAX_LEASE_DURATION {
            return Err(LeaseTimingError::TooLong {
                duration: self.duration,
            });
        }
        let margin = self.duration / 10;
        if self.renew_deadline + margin > self.duration {
            return Err(LeaseTimingError::RenewDeadlineTooLong {
                renew_deadline: self.renew_deadline,
                duration: self.duration,
                margin,
            });
        }
        if self.renew_deadline.as_secs_f64() <= self.retry_period.as_secs_f64() * JITTER_FACTOR {
            return Err(LeaseTimingError::RetryPeriodTooLong {
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        Ok(())
    }

    /// The bound on each Lease call (a GET, a create, a replace): the renew deadline. Leading
    /// does not depend on it (a renewal counts from its write's start, and leadership lapses at
    /// the renew deadline whatever a call is doing); it only stops a call that will never answer.
    pub fn call_timeout(&self) -> Duration {
        self.renew_deadline
    }

    /// `leaseDurationSeconds` to write: whole seconds, rounded up, so that other replicas never
    /// wait less than this replica assumes.
    fn advertised_seconds(&self) -> i32 {
        let mut seconds = self.duration.as_secs();
        if self.duration.subsec_nanos() > 0 || seconds == 0 {
            seconds += 1;
        }
        i32::try_from(seconds).unwrap_or(i32::MAX)
    }
}

/// What the elector last established, published to every [`Leadership`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Term {
    /// Not holding the Lease (or not known to).
    Follower,
    /// Holding the Lease, renewed by an attempt that started at these times.
    Leader {
        renewed: Instant,
        renewed_wall: SystemTime,
    },
    /// Leader election is disabled: this replica always leads.
    Unelected,
}

/// A read handle on this replica's leadership: cheap to clone and to query.
///
/// The leader's writes (Secret applies, status patches, Events, key Secrets, the public-key
/// ConfigMap) must each be preceded by [`Leadership::may_write`], or go through
/// [`fenced_client`], which checks it for every mutating request.
#[derive(Clone)]
pub struct Leadership {
    state: watch::Receiver<Term>,
    timing: LeaseTiming,
    /// Keeps the channel open when no elector owns it (leader election disabled).
    _unelected: Option<Arc<watch::Sender<Term>>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("may_write", &self.may_write().is_ok())
            .finish()
    }
}

impl Leadership {
    /// Leadership without election (`--leader-election=false`): always allowed to write.
    pub fn unelected() -> Leadership {
        let (tx, rx) = watch::channel(Term::Unelected);
        Leadership {
            state: rx,
            timing: LeaseTiming::default(),
            _unelected: Some(Arc::new(tx)),
        }
    }

    /// `Ok` when this replica may do the leader's writes right now: it holds the Lease and the
    /// attempt that last renewed it started less than the renew deadline ago (on the monotonic
    /// clock, and on the wall clock), and the elector is still running. Call it immediately
    /// before each write; an `Err` means: do not write, this replica has stepped down.
    pub fn may_write(&self) -> Result<(), NotLeader> {
        if self.state.has_changed().is_err() {
            return Err(NotLeader::ElectionStopped);
        }
        match *self.state.borrow() {
            Term::Unelected => Ok(()),
            Term::Follower => Err(NotLeader::Follower),
            Term::Leader {
                renewed,
                renewed_wall,
            } => {
                let age = renewal_age(renewed, renewed_wall);
                if age < self.timing.renew_deadline {
                    Ok(())
                } else {
                    Err(NotLeader::Lapsed {
                        age: Duration::from_millis(
                            u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                        ),
                        renew_deadline: self.timing.renew_deadline,
                    })
                }
            }
        }
    }

    /// Whether [`Leadership::may_write`] allows writing now.
    pub fn is_leading(&self) -> bool {
        self.may_write().is_ok()
    }

    /// The instant after which another replica could hold the Lease (`None`: never, election
    /// disabled), or why this replica may not write now. A write allowed by `may_write` that is
    /// still outstanding at this instant should be abandoned.
    pub fn write_deadline(&self) -> Result<Option<Instant>, NotLeader> {
        self.may_write()?;
        Ok(match *self.state.borrow() {
            Term::Leader { renewed, .. } => Some(renewed + self.timing.duration),
            Term::Follower | Term::Unelected => None,
        })
    }

    /// Waits until this replica may write. `false` when it never will (the elector has stopped).
    pub async fn acquired(&self) -> bool {
        let mut state = self.state.clone();
        loop {
            state.borrow_and_update();
            if self.may_write().is_ok() {
                return true;
            }
            if state.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Resolves as soon as this replica may no longer write: another replica holds the Lease,
    /// the renew deadline passed without a renewal (whatever the elector is doing), or the
    /// elector stopped. Never resolves without election.
    pub async fn lost(&self) {
        let mut state = self.state.clone();
        loop {
            state.borrow_and_update();
            if self.may_write().is_err() {
                return;
            }
            let deadline = match *state.borrow() {
                Term::Leader { renewed, .. } => Some(renewed + self.timing.renew_deadline),
                Term::Follower | Term::Unelected => None,
            };
            let wake = deadline.map(|d| d.min(Instant::now() + WALL_CLOCK_RECHECK));
            tokio::select! {
                () = sleep_until_some(wake) => {}
                changed = state.changed() => if changed.is_err() { return },
            }
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How long ago a renewal was, by the larger of the monotonic and the wall-clock age.
fn renewal_age(renewed: Instant, renewed_wall: SystemTime) -> Duration {
    let monotonic = Instant::now().saturating_duration_since(renewed);
    let wall = SystemTime::now()
        .duration_since(renewed_wall)
        .unwrap_or(Duration::ZERO);
    monotonic.max(wall)
}

/// A client that refuses every mutating request (anything but GET, HEAD, OPTIONS; watches are
/// GETs) unless `leadership` allows writing at that moment, and abandons a write still
/// outstanding when another replica could hold the Lease. Reads pass through unchanged.
///
/// A refused write fails with a `kube::Error::Service` whose source is a [`NotLeader`].
pub fn fenced_client(client: Client, leadership: Leadership) -> Client {
    let default_namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<kube::client::Body>| {
        let client = client.clone();
        let leadership = leadership.clone();
        async move {
            let read = matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS
            );
            if read {
                return client.send(request).await.map_err(tower::BoxError::from);
            }
            match leadership.write_deadline()? {
                None => client.send(request).await.map_err(tower::BoxError::from),
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, client.send(request)).await {
                        Ok(response) => response.map_err(tower::BoxError::from),
                        Err(_) => Err(NotLeader::WriteOutlivedLease.into()),
                    }
                }
            }
        }
    });
    Client::new(service, default_namespace)
}

/// Talking to the Lease failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("reading Lease {namespace}/{name}")]
    ReadLease {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing Lease {namespace}/{name}")]
    WriteLease {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{op} Lease {namespace}/{name}: no answer within {after:?}")]
    Timeout {
        op: &'static str,
        namespace: String,
        name: String,
        after: Duration,
    },
}

/// What was last seen of another holder's Lease, and when (on this replica's clock).
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    resource_version: Option<String>,
    at: Instant,
}

/// One replica's participation in the election. It owns the only sender of its [`Leadership`]:
/// when [`LeaderElector::run`] returns or its task is dropped, every handle says "not leading".
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timing: LeaseTiming,
    observed: Option<Observed>,
    state: watch::Sender<Term>,
    /// Whether the Lease may name this replica (the last attempt said so, failed after one that
    /// did, or was abandoned): then it is released on stop (which checks the holder first).
    may_hold: bool,
    /// The Lease as this replica last wrote it (while it holds it): renewed with one write.
    held: Option<Lease>,
    /// When the last write call started, on both clocks: a successful renewal counts from there.
    write_started: (Instant, SystemTime),
}

impl LeaderElector {
    /// An elector for the Lease `namespace/name`. `timing` should have passed
    /// [`LeaseTiming::validate`].
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> LeaderElector {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            timing,
            observed: None,
            state: watch::channel(Term::Follower).0,
            may_hold: false,
            held: None,
            write_started: (Instant::now(), SystemTime::now()),
        }
    }

    /// A handle on this elector's leadership.
    pub fn leadership(&self) -> Leadership {
        Leadership {
            state: self.state.subscribe(),
            timing: self.timing,
            _unelected: None,
        }
    }

    /// Tries to acquire or renew every retry period until `stop` resolves; then stops leading
    /// and releases the Lease if this replica may hold it. Resolve `stop` only once the leader's
    /// work has stopped.
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        pin_mut!(stop);
        loop {
            let started = Instant::now();
            if let Err(NotLeader::Lapsed { age, .. }) = self.leadership().may_write() {
                // Woken after a pause longer than the renew deadline: nothing was written since
                // (every writer checks), and nothing will be until a renewal succeeds.
                warn!(identity = %self.identity, lease = %self.name, ?age,
                    "the last lease renewal is older than the renew deadline: stepping down");
                self.state.send_replace(Term::Follower);
            }
            let attempt = tokio::select! {
                attempt = self.try_acquire_or_renew() => attempt,
                () = &mut stop => {
                    // A write of the abandoned attempt may still land and name this replica.
                    self.may_hold = true;
                    break;
                }
            };
            match attempt {
                Ok(true) => {
                    if !matches!(*self.state.borrow(), Term::Leader { .. }) {
                        info!(identity = %self.identity, lease = %self.name, "acquired the lease");
                    }
                    self.may_hold = true;
                    let (renewed, renewed_wall) = self.write_started;
                    self.state.send_replace(Term::Leader {
                        renewed,
                        renewed_wall,
                    });
                }
                Ok(false) => {
                    if matches!(*self.state.borrow(), Term::Leader { .. }) {
                        warn!(identity = %self.identity, lease = %self.name,
                            "another replica holds the lease: stepping down");
                    }
                    self.may_hold = false;
                    self.state.send_replace(Term::Follower);
                }
                Err(error) => {
                    // An outage is reported once by `outage::watch`, not every retry period.
                    if error.unreachable() {
                        debug!(identity = %self.identity, error = %error_chain(&error), "leader election");
                    } else {
                        warn!(identity = %self.identity, error = %error_chain(&error), "leader election");
                    }
                    let leader = matches!(*self.state.borrow(), Term::Leader { .. });
                    if leader && self.leadership().may_write().is_err() {
                        warn!(identity = %self.identity, lease = %self.name,
                            "could not renew the lease within the renew deadline: stepping down");
                        self.state.send_replace(Term::Follower);
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(started + self.timing.retry_period) => {}
                () = &mut stop => break,
            }
        }
        self.state.send_replace(Term::Follower);
        if self.may_hold
            && let Err(error) = self.release().await
        {
            warn!(identity = %self.identity, error = %error_chain(&error), "releasing the lease");
        }
    }

    /// One round, each call bounded by [`LeaseTiming::call_timeout`]: renew the Lease this
    /// replica last wrote with one write, or else read it and create it, renew it, or take it over
    /// when expired or released. `Ok(true)` when this replica holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaseError> {
        let duration_seconds = self.timing.advertised_seconds();
        if let Some(mut lease) = self.held.take()
            && self.leadership().may_write().is_ok()
        {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            spec.lease_duration_seconds = Some(duration_seconds);
            if let Ok(true) = self.write("writing", &lease).await {
                return Ok(true);
            }
            // Someone else wrote it (or the write is in doubt): read the Lease and decide.
        }
        let now = MicroTime(Timestamp::now());
        let current = self
            .bounded("reading", self.api.get_opt(&self.name))
            .await?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            self.write_started = (Instant::now(), SystemTime::now());
            let created = self
                .bounded("creating", self.api.create(&PostParams::default(), &lease))
                .await;
            return self.written(created);
        };
        let resource_version = lease.metadata.resource_version.clone();
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() != Some(self.identity.as_str()) {
            if holder.is_some()
                && !self.expired(
                    holder.clone(),
                    spec.renew_time.clone(),
                    resource_version,
                    spec.lease_duration_seconds,
                )
            {
                return Ok(false);
            }
            debug!(identity = %self.identity, previous = ?holder, "taking over the lease");
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(duration_seconds);
        self.write("writing", &lease).await
    }

    /// Replaces the Lease with `lease`, which carries the resourceVersion its holder last saw: a
    /// concurrent writer makes this a 409 (`Ok(false)`).
    async fn write(&mut self, op: &'static str, lease: &Lease) -> Result<bool, LeaseError> {
        self.write_started = (Instant::now(), SystemTime::now());
        let replaced = self
            .bounded(
                op,
                self.api.replace(&self.name, &PostParams::default(), lease),
            )
            .await;
        self.written(replaced)
    }

    /// A write's result as "holds the Lease", remembering the Lease written for the next renewal.
    fn written(&mut self, result: Result<Lease, LeaseError>) -> Result<bool, LeaseError> {
        self.held = None;
        let lease = conflict_is_false(result)?;
        let holds = lease.is_some();
        self.held = lease.filter(|l| {
            l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(&self.identity)
        });
        Ok(holds)
    }

    /// Runs one Lease call, failing it after [`LeaseTiming::call_timeout`].
    async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaseError> {
        let (namespace, name) = (self.namespace.clone(), self.name.clone());
        match tokio::time::timeout(self.timing.call_timeout(), call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) if op == "reading" => Err(LeaseError::ReadLease {
                namespace,
                name,
                source,
            }),
            Ok(Err(source)) => Err(LeaseError::WriteLease {
                namespace,
                name,
                source,
            }),
            Err(_) => Err(LeaseError::Timeout {
                op,
                namespace,
                name,
                after: self.timing.call_timeout(),
            }),
        }
    }

    /// Whether another holder's Lease has gone unrenewed for its duration, as seen from here.
    fn expired(
        &mut self,
        holder: Option<String>,
        renew_time: Option<MicroTime>,
        resource_version: Option<String>,
        duration_seconds: Option<i32>,
    ) -> bool {
        let duration = duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.timing.duration, Duration::from_secs);
        match &self.observed {
            Some(seen)
                if seen.holder == holder
                    && seen.renew_time == renew_time
                    && seen.resource_version == resource_version =>
            {
                seen.at.elapsed() >= duration
            }
            _ => {
                self.observed = Some(Observed {
                    holder,
                    renew_time,
                    resource_version,
                    at: Instant::now(),
                });
                false
            }
        }
    }

    /// Gives the Lease up (no holder, so the next replica to try takes it at once), if it still
    /// names this replica. Bounded like an attempt.
    async fn release(&self) -> Result<(), LeaseError> {
        let Some(mut lease) = self
            .bounded("reading", self.api.get_opt(&self.name))
            .await?
        else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        self.bounded(
            "releasing",
            self.api.replace(&self.name, &PostParams::default(), &lease),
        )
        .await?;
        info!(identity = %self.identity, lease = %self.name, "released the lease");
        Ok(())
    }
}

/// A write's result: the Lease written, or `None` for a 409 (another replica wrote first).
fn conflict_is_false(result: Result<Lease, LeaseError>) -> Result<Option<Lease>, LeaseError> {
    match result {
        Ok(lease) => Ok(Some(lease)),
        Err(LeaseError::WriteLease {
            source: kube::Error::Api(status),
            ..
        }) if status.code == 409 => Ok(None),
        Err(error) => Err(error),
    }
}

impl LeaseError {
    /// Whether the API server gave no answer (an outage), rather than an error answer.
    pub fn unreachable(&self) -> bool {
        match self {
            LeaseError::Timeout { .. } => true,
            LeaseError::ReadLease { source, .. } | LeaseError::WriteLease { source, .. } => {
                crate::outage::unreachable(source)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn timing() -> LeaseTiming {
        LeaseTiming {
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// A leadership whose last renewal started now, and the sender an elector would hold.
    fn renewed_now() -> (watch::Sender<Term>, Leadership) {
        let (tx, rx) = watch::channel(Term::Leader {
            renewed: Instant::now(),
            renewed_wall: SystemTime::now(),
        });
        let leadership = Leadership {
            state: rx,
            timing: timing(),
            _unelected: None,
        };
        (tx, leadership)
    }

    #[test]
    fn client_go_rules_hold_with_a_margin_and_errors_name_the_flags() {
        assert_eq!(LeaseTiming::default().validate(), Ok(()));
        let with = |d: u64, r: u64, p: u64| LeaseTiming {
            duration: Duration::from_millis(d),
            renew_deadline: Duration::from_millis(r),
            retry_period: Duration::from_millis(p),
        };
        assert_eq!(with(2000, 1500, 200).validate(), Ok(()));
        assert_eq!(with(15000, 0, 2000).validate(), Err(LeaseTimingError::Zero));
        // Equal, or closer than a tenth of the duration: a leader could still be writing when
        // another takes over.
        let equal = with(15000, 15000, 2000).validate().unwrap_err();
        assert!(matches!(
            equal,
            LeaseTimingError::RenewDeadlineTooLong { .. }
        ));
        let message = with(15000, 14000, 2000).validate().unwrap_err().to_string();
        assert!(message.contains("--lease-renew-deadline 14s"), "{message}");
        assert!(message.contains("--lease-duration 15s"), "{message}");
        assert!(!message.contains('\n'));
        assert_eq!(with(15000, 13500, 2000).validate(), Ok(()));
        // client-go: renewDeadline > retryPeriod × 1.2.
        let retry = with(15000, 10000, 9000).validate().unwrap_err();
        assert!(
            retry.to_string().contains("--lease-retry-period 9s"),
            "{retry}"
        );
        assert!(with(15000, 10000, 8000).validate().is_ok());
        assert!(with(7_200_000, 10000, 2000).validate().is_err());
    }

    #[test]
    fn advertised_seconds_round_up() {
        let mut timing = timing();
        assert_eq!(timing.advertised_seconds(), 15);
        timing.duration = Duration::from_millis(2500);
        assert_eq!(timing.advertised_seconds(), 3);
        timing.duration = Duration::from_millis(300);
        assert_eq!(timing.advertised_seconds(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_leader_refuses_writes_when_it_wakes_before_its_elector_runs() {
        let (tx, leadership) = renewed_now();
        assert_eq!(leadership.may_write(), Ok(()));
        tokio::time::advance(Duration::from_millis(9_900)).await;
        assert_eq!(
            leadership.may_write(),
            Ok(()),
            "still within the renew deadline"
        );
        // The process is stopped for a while: no task, the elector included, runs. The first
        // thing to run after waking is a writer, and nothing has updated the state.
        tokio::time::advance(Duration::from_secs(30)).await;
        let refused = leadership.may_write().unwrap_err();
        assert!(matches!(refused, NotLeader::Lapsed { .. }), "{refused:?}");
        assert!(refused.to_string().contains("renew deadline"), "{refused}");
        assert!(leadership.write_deadline().is_err());
        // `lost` resolves at once for the leader's work loop.
        tokio::time::timeout(Duration::from_millis(1), leadership.lost())
            .await
            .unwrap();
        // A later renewal makes it leader again.
        tx.send_replace(Term::Leader {
            renewed: Instant::now(),
            renewed_wall: SystemTime::now(),
        });
        assert_eq!(leadership.may_write(), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_fires_at_the_renew_deadline_without_any_news_from_the_elector() {
        let (_tx, leadership) = renewed_now();
        let start = Instant::now();
        leadership.lost().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_300),
            "{waited:?}"
        );
        assert!(!leadership.is_leading());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_elector_channel_means_not_leading() {
        let (tx, leadership) = renewed_now();
        let waiting = leadership.clone();
        let lost = tokio::spawn(async move { waiting.lost().await });
        tokio::task::yield_now().await;
        drop(tx);
        tokio::time::timeout(Duration::from_millis(1), lost)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leadership.may_write(), Err(NotLeader::ElectionStopped));
        assert!(!leadership.acquired().await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_may_not_write_and_waits_for_a_renewal() {
        let (tx, rx) = watch::channel(Term::Follower);
        let leadership = Leadership {
            state: rx,
            timing: timing(),
            _unelected: None,
        };
        assert_eq!(leadership.may_write(), Err(NotLeader::Follower));
        let waiting = leadership.clone();
        let acquired = tokio::spawn(async move { waiting.acquired().await });
        tokio::task::yield_now().await;
        assert!(!acquired.is_finished());
        // A stale renewal (a response that came back after the deadline) is not leadership.
        tx.send_replace(Term::Leader {
            renewed: Instant::now() - Duration::from_secs(11),
            renewed_wall: SystemTime::now() - Duration::from_secs(11),
        });
        tokio::task::yield_now().await;
        assert!(!acquired.is_finished());
        tx.send_replace(Term::Leader {
            renewed: Instant::now(),
            renewed_wall: SystemTime::now(),
        });
        assert!(acquired.await.unwrap());
    }

    #[test]
    fn a_wall_clock_jump_ends_leadership_even_if_the_monotonic_clock_stood_still() {
        // A suspended machine: the monotonic clock did not move, the wall clock did.
        let (_tx, rx) = watch::channel(Term::Leader {
            renewed: Instant::now(),
            renewed_wall: SystemTime::now() - Duration::from_secs(60),
        });
        let leadership = Leadership {
            state: rx,
            timing: timing(),
            _unelected: None,
        };
        assert!(matches!(
            leadership.may_write(),
            Err(NotLeader::Lapsed { .. })
        ));
    }

    #[test]
    fn without_election_writes_are_always_allowed() {
        let leadership = Leadership::unelected();
        assert_eq!(leadership.may_write(), Ok(()));
        assert_eq!(leadership.write_deadline(), Ok(None));
    }
}

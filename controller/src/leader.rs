//! Leader election on a `coordination.k8s.io/v1` Lease, in the style of client-go's
//! leaderelection: the holder renews the Lease every retry period; another replica takes it over
//! once it has seen the same holder and renew time, unchanged, for a whole lease duration
//! (measured on its own clock, so clock skew between nodes does not matter). Writes use the
//! resourceVersion read just before, so two replicas can never both win.
//!
//! A leader that sees another holder, or cannot renew within the renew deadline, stops leading
//! at once. On shutdown the leader gives the Lease up so that another replica takes over without
//! waiting for it to expire.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::pin_mut;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::keys::error_chain;

/// How long a Lease is valid, how long a leader keeps leading without a successful renewal, and
/// how often every replica tries to acquire or renew.
#[derive(Clone, Copy, Debug)]
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
}

/// What was last seen of another holder's Lease, and when (on this replica's clock).
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    at: Instant,
}

/// One replica's participation in the election.
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timing: LeaseTiming,
    observed: Option<Observed>,
}

impl LeaderElector {
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
        }
    }

    /// Tries to acquire or renew every retry period, sending whether this replica leads, until
    /// `stop` resolves; then releases the Lease if held.
    pub async fn run(mut self, leading: watch::Sender<bool>, stop: impl Future<Output = ()>) {
        pin_mut!(stop);
        let mut last_renewal: Option<Instant> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    if !*leading.borrow() {
                        info!(identity = %self.identity, lease = %self.name, "acquired the lease");
                    }
                    last_renewal = Some(Instant::now());
                    leading.send_replace(true);
                }
                Ok(false) => {
                    if *leading.borrow() {
                        warn!(identity = %self.identity, lease = %self.name, "another replica holds the lease");
                    }
                    last_renewal = None;
                    leading.send_replace(false);
                }
                Err(error) => {
                    warn!(identity = %self.identity, error = %error_chain(&error), "leader election");
                    let expired =
                        last_renewal.is_none_or(|at| at.elapsed() >= self.timing.renew_deadline);
                    if expired && *leading.borrow() {
                        warn!(identity = %self.identity, "could not renew the lease in time: stepping down");
                        leading.send_replace(false);
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.timing.retry_period) => {}
                () = &mut stop => break,
            }
        }
        if *leading.borrow()
            && let Err(error) = self.release().await
        {
            warn!(identity = %self.identity, error = %error_chain(&error), "releasing the lease");
        }
    }

    /// One round: create the Lease, renew it, or take it over when expired. `Ok(true)` when this
    /// replica holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaseError> {
        let now = MicroTime(Timestamp::now());
        let duration_seconds =
            i32::try_from(self.timing.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|source| self.read_error(source))?;
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
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(source) => Err(self.write_error(source)),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() != Some(self.identity.as_str()) {
            if holder.is_some()
                && !self.expired(
                    holder.clone(),
                    spec.renew_time.clone(),
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
        // `replace` sends the resourceVersion just read: a concurrent writer makes this a 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(source) => Err(self.write_error(source)),
        }
    }

    /// Whether another holder's Lease has gone unrenewed for its duration, as seen from here.
    fn expired(
        &mut self,
        holder: Option<String>,
        renew_time: Option<MicroTime>,
        duration_seconds: Option<i32>,
    ) -> bool {
        let duration = duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.timing.duration, Duration::from_secs);
        match &self.observed {
            Some(seen) if seen.holder == holder && seen.renew_time == renew_time => {
                seen.at.elapsed() >= duration
            }
            _ => {
                self.observed = Some(Observed {
                    holder,
                    renew_time,
                    at: Instant::now(),
                });
                false
            }
        }
    }

    /// Gives the Lease up: no holder, so the next replica to try takes it at once.
    async fn release(&self) -> Result<(), LeaseError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|source| self.read_error(source))?
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
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map_err(|source| self.write_error(source))?;
        info!(identity = %self.identity, lease = %self.name, "released the lease");
        Ok(())
    }

    fn read_error(&self, source: kube::Error) -> LeaseError {
        LeaseError::ReadLease {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    fn write_error(&self, source: kube::Error) -> LeaseError {
        LeaseError::WriteLease {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }
}

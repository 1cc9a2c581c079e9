//! Prometheus metrics. Every label value comes from a fixed set (a reason, an error variant's
//! name, a condition status): `/metrics` is served to anyone who can reach the HTTP port, so it
//! names no SealedSecret, namespace or key. Which SealedSecret fails is in its status and Events,
//! under the cluster's RBAC; `sealant_sealedsecrets{status,reason}` counts them.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use jiff::Timestamp;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use sealant_core::resource::SealedSecret;

use crate::conditions::SYNCED;

/// Labels of the unseal error counter: the condition reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Labels of the reconcile failure counter: the error variant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub error: &'static str,
}

/// Labels of `sealedsecrets`: the Synced condition's status and reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    status: &'static str,
    reason: &'static str,
}

/// The controller's metrics and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    unsealed: Counter,
    unsealed_values: Counter,
    unseal_errors: Family<ReasonLabels, Counter>,
    reconciles: Counter,
    reconcile_failures: Family<ErrorLabels, Counter>,
    reconcile_duration: Histogram,
    live: Arc<LiveState>,
}

/// A reconciler's SealedSecret cache and whether it has its first complete list.
pub type Cache = (
    kube::runtime::reflector::Store<SealedSecret>,
    tokio::sync::watch::Receiver<bool>,
);

/// The sealing keys as scrapes report them: how many are loaded, and when the newest active one
/// was created.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyFigures {
    pub loaded: usize,
    pub newest_active: Option<Timestamp>,
}

/// Reads the current [`KeyFigures`] at scrape time.
type KeyReader = Box<dyn Fn() -> KeyFigures + Send + Sync>;

/// What the scrape-time collector reads: the reconcilers' caches and the keys. Handed in by the
/// wiring, so that metrics imports none of the phases that report to it.
#[derive(Default)]
struct LiveState {
    stores: RwLock<Vec<Cache>>,
    keys: Mutex<Option<KeyReader>>,
}

impl std::fmt::Debug for LiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveState").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealant");
        let unsealed = Counter::default();
        registry.register(
            "unseal",
            "SealedSecrets unsealed into their Secret (one per Secret write)",
            unsealed.clone(),
        );
        let unsealed_values = Counter::default();
        registry.register(
            "unsealed_values",
            "Values unsealed into Secrets (a SealedSecret with three values counts three)",
            unsealed_values.clone(),
        );
        let unseal_errors = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "unseal_errors",
            "SealedSecrets that could not be unsealed, by reason",
            unseal_errors.clone(),
        );
        let reconciles = Counter::default();
        registry.register("reconciles", "Reconciliations run", reconciles.clone());
        let reconcile_failures = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed and were retried with backoff, by error",
            reconcile_failures.clone(),
        );
        let reconcile_duration =
            Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]);
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconciliation",
            reconcile_duration.clone(),
        );
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        registry.register("build", "Build information", build);
        let live = Arc::new(LiveState::default());
        registry.register_collector(Box::new(Arc::clone(&live)));
        Metrics {
            registry,
            unsealed,
            unsealed_values,
            unseal_errors,
            reconciles,
            reconcile_failures,
            reconcile_duration,
            live,
        }
    }
}

impl Metrics {
    /// Counts one SealedSecret unsealed into its Secret, holding `values` values.
    pub fn unsealed(&self, values: usize) {
        self.unsealed.inc();
        self.unsealed_values.inc_by(values as u64);
    }

    /// Counts a SealedSecret that failed with `reason` (a fixed condition reason).
    pub fn unseal_failed(&self, reason: &'static str) {
        self.unseal_errors
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts a reconciliation that returned `error` (an error variant's name).
    pub fn reconcile_failed(&self, error: &'static str) {
        self.reconcile_failures
            .get_or_create(&ErrorLabels { error })
            .inc();
    }

    /// Counts a reconciliation and measures it until the returned timer is dropped.
    pub fn count_and_measure(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: &self.reconcile_duration,
        }
    }

    /// Lets scrapes report key count and newest key age, read by `keys` at each scrape.
    pub fn watch_keys(&self, keys: impl Fn() -> KeyFigures + Send + Sync + 'static) {
        if let Ok(mut slot) = self.live.keys.lock() {
            *slot = Some(Box::new(keys));
        }
    }

    /// Sets the reconcilers' caches that `sealedsecrets` is counted from (empty when not leading).
    pub fn set_stores(&self, stores: Vec<Cache>) {
        if let Ok(mut slot) = self.live.stores.write() {
            *slot = stores;
        }
    }

    /// Whether every reconciler cache has completed its first list (vacuously true when none).
    pub fn stores_ready(&self) -> bool {
        self.live
            .stores
            .read()
            .map(|stores| stores.iter().all(|(_, ready)| *ready.borrow()))
            .unwrap_or(false)
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Observes the reconcile duration when dropped, so every return path is measured.
pub struct ReconcileTimer<'a> {
    start: Instant,
    histogram: &'a Histogram,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

impl Collector for LiveState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let conditions = Family::<ConditionLabels, Gauge>::default();
        if let Ok(stores) = self.stores.read() {
            for (store, _) in stores.iter() {
                for object in store.state() {
                    let (status, reason) = condition_of(&object);
                    conditions
                        .get_or_create(&ConditionLabels { status, reason })
                        .inc();
                }
            }
        }
        let metric = encoder.encode_descriptor(
            "sealedsecrets",
            "SealedSecrets by the status and reason of their Synced condition (leader only)",
            None,
            conditions.metric_type(),
        )?;
        conditions.encode(metric)?;

        let keys = self
            .keys
            .lock()
            .ok()
            .and_then(|k| k.as_ref().map(|read| read()));
        let count = Gauge::<i64>::default();
        let age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        if let Some(keys) = keys {
            count.set(i64::try_from(keys.loaded).unwrap_or(i64::MAX));
            if let Some(created) = keys.newest_active {
                age.set(Timestamp::now().duration_since(created).as_secs_f64());
            }
        }
        let metric = encoder.encode_descriptor(
            "keys",
            "Sealing keys loaded (active and retired)",
            None,
            count.metric_type(),
        )?;
        count.encode(metric)?;
        let metric = encoder.encode_descriptor(
            "newest_key_age_seconds",
            "Age of the newest active sealing key",
            None,
            age.metric_type(),
        )?;
        age.encode(metric)?;
        Ok(())
    }
}

/// The Synced condition's status and reason, mapped onto the fixed sets.
fn condition_of(object: &SealedSecret) -> (&'static str, &'static str) {
    let condition = object
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == SYNCED));
    match condition {
        None => ("Unknown", "Pending"),
        Some(c) => {
            let status = match c.status.as_str() {
                "True" => "True",
                "False" => "False",
                _ => "Unknown",
            };
            (
                status,
                crate::conditions::Reason::parse(&c.reason).map_or("Other", |r| r.as_str()),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_fixed_labels_and_durations_observed_on_drop() {
        let metrics = Metrics::default();
        metrics.unseal_failed("WrongScope");
        metrics.unseal_failed("WrongScope");
        metrics.reconcile_failed("ApplySecret");
        metrics.unsealed(5);
        metrics.unsealed(2);
        drop(metrics.count_and_measure());
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("sealant_unseal_errors_total{reason=\"WrongScope\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("sealant_reconcile_failures_total{error=\"ApplySecret\"} 1"),
            "{text}"
        );
        // Objects and values are counted apart: two SealedSecrets holding seven values.
        assert!(text.contains("sealant_unseal_total 2\n"), "{text}");
        assert!(text.contains("sealant_unsealed_values_total 7\n"), "{text}");
        assert!(
            text.contains("sealant_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("sealant_build_info{version=\""), "{text}");
        assert!(text.contains("sealant_keys 0"), "{text}");
    }
}

//! Shared state of every reconcile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::Recorder;
use kube::{Client, Resource, ResourceExt};

use super::cache::Caches;
use super::clock::Clock;
use super::error::ReconcileError;
use super::in_flight::InFlight;
use super::leader::LeaderState;
use super::metrics::Metrics;
use super::throttle::WriteLimiter;
use crate::api::AntflyClusterStatus;
use crate::compose::ExtensionResolver;

pub struct Context {
    /// API client, authenticated as the operator.
    pub client: Client,
    /// Live children, read instead of the API server.
    pub caches: Caches,
    /// Publishes Kubernetes events on AntflyClusters.
    pub recorder: Recorder,
    /// Prometheus metrics, also served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Plugin contributions; shared with `render`, so both build the same objects.
    pub resolver: Arc<dyn ExtensionResolver>,
    /// Whether this process holds the leader lease; checked before every write.
    pub leader: Arc<LeaderState>,
    /// Periodic resync of a healthy cluster.
    pub resync: Duration,
    /// Consecutive failures per cluster (namespace/name), for per-object backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// The last status this process wrote per cluster (namespace/name), until the cluster's
    /// watch delivers it: the drain and the autoscaler keep their state in the status, and
    /// acting on the older one would undo a step (scale back up, drain again).
    pub written_status: OwnWrites<AntflyClusterStatus>,
    /// The time reconciles read (schedules, run ids).
    pub clock: Arc<dyn Clock>,
    /// Image of backup and restore Jobs.
    pub job_image: String,
    /// The run (Job name) holding each cluster's (namespace/name) run slot.
    pub runs: Mutex<HashMap<String, String>>,
    /// The last drift repaired per object (kind/namespace/name): the desired hash and the
    /// field. The same drift again after its repair is not repaired twice.
    pub repaired_drift: Mutex<HashMap<String, (String, String)>>,
    /// Whether a rollout asks each updated pod's server for `/readyz` before the next restart.
    pub pod_health_checks: bool,
    /// The pods' health port (4200; tests point it at a double).
    pub pod_health_port: u16,
    /// The Antfly API of every cluster instead of its metadata Service (tests: a double).
    pub antfly_api_url: Option<String>,
    /// How often the autoscaler reads metrics.
    pub autoscale_interval: Duration,
    /// The client-side limit on writes.
    pub write_limiter: WriteLimiter,
    /// The data replicas this process last wrote per cluster (namespace/name), until the
    /// cache shows that write of the data StatefulSet.
    pub written_replicas: OwnWrites<i32>,
    /// When the autoscaler last read metrics per cluster. In memory: a restarted operator
    /// reads them at once, which changes nothing the status keeps (the cooldowns).
    pub autoscale_evaluations: Mutex<HashMap<String, tokio::time::Instant>>,
    /// The resourceVersion of each child (kind/namespace/name) this process last applied,
    /// until its watch delivers that version: the echo of a write the reconcile that made it
    /// has already accounted for, which then triggers no reconcile.
    pub applied_children: OwnWrites<()>,
    /// Children with an apply in flight, whose changes wait for its answer.
    pub applies_in_flight: InFlight,
}

/// Writes of this process per object, each with the resourceVersion the API server answered,
/// held until a watch shows that version: a reconcile that runs before then reads the write,
/// not the older cached object, and the watch's echo of the write is recognised.
#[derive(Debug)]
pub struct OwnWrites<T>(Mutex<HashMap<String, (u64, T)>>);

impl<T> Default for OwnWrites<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Clone> OwnWrites<T> {
    pub fn remember(&self, key: &str, version: u64, value: T) {
        if let Ok(mut written) = self.0.lock() {
            written.insert(key.to_string(), (version, value));
        }
    }

    /// What was written, while the cached object (at `cached`) does not show it yet; forgotten
    /// once it does.
    pub fn unseen(&self, key: &str, cached: Option<u64>) -> Option<T> {
        let mut written = self.0.lock().ok()?;
        let (version, value) = written.get(key)?;
        if cached.is_some_and(|cached| cached < *version) {
            return Some(value.clone());
        }
        written.remove(key);
        None
    }

    /// A watch delivered the object at `seen`: the write is forgotten once that reaches it.
    /// Whether this change is the write's own echo.
    pub fn seen(&self, key: &str, seen: Option<u64>) -> bool {
        let Ok(mut written) = self.0.lock() else { return false };
        let (Some(&(version, _)), Some(seen)) = (written.get(key), seen) else { return false };
        if seen >= version {
            written.remove(key);
        }
        seen == version
    }
}

/// `namespace/name`: the key of every per-cluster map here.
pub fn cluster_key<K: Resource>(cluster: &K) -> String {
    format!("{}/{}", cluster.namespace().unwrap_or_default(), cluster.name_any())
}

/// The key of a child in the per-object maps: kind/namespace/name.
pub fn child_key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

/// An object's resourceVersion as a number (etcd's revision), to tell whether the cache shows
/// a write of this process yet.
pub fn resource_version<K: Resource>(object: &K) -> Option<u64> {
    object.meta().resource_version.as_deref()?.parse().ok()
}

impl Context {
    /// Before every write: only the leader writes, and no faster than the write limit.
    pub async fn before_write(&self) -> Result<(), ReconcileError> {
        if !self.leader.is_leader() {
            return Err(ReconcileError::NotLeader);
        }
        self.write_limiter.acquire().await;
        // The lease may have gone while waiting.
        if self.leader.is_leader() { Ok(()) } else { Err(ReconcileError::NotLeader) }
    }

    /// Record one more failure of `key`; returns the attempt number.
    pub fn note_failure(&self, key: &str) -> u32 {
        let Ok(mut failures) = self.failures.lock() else { return 0 };
        let attempt = failures.entry(key.to_string()).or_insert(0);
        *attempt += 1;
        *attempt
    }

    /// Whether the autoscaler should read metrics for the cluster now.
    pub fn autoscale_due(&self, key: &str) -> bool {
        let Ok(evaluations) = self.autoscale_evaluations.lock() else { return true };
        evaluations.get(key).is_none_or(|at| at.elapsed() >= self.autoscale_interval)
    }

    pub fn note_autoscale_evaluation(&self, key: &str) {
        if let Ok(mut evaluations) = self.autoscale_evaluations.lock() {
            evaluations.insert(key.to_string(), tokio::time::Instant::now());
        }
    }

    /// Records a drift about to be repaired; `false` when this very drift was repaired
    /// already (and so came back).
    pub fn note_drift(&self, object: &str, hash: &str, path: &str) -> bool {
        let Ok(mut repaired) = self.repaired_drift.lock() else { return false };
        let entry = (hash.to_string(), path.to_string());
        if repaired.get(object) == Some(&entry) {
            return false;
        }
        repaired.insert(object.to_string(), entry);
        true
    }

    /// The object shows no drift: a later one is repaired again.
    pub fn forget_drift(&self, object: &str) {
        if let Ok(mut repaired) = self.repaired_drift.lock() {
            repaired.remove(object);
        }
    }

    pub fn clear_failures(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OwnWrites;

    #[test]
    fn only_the_change_at_the_applied_version_is_an_echo() {
        let applied = OwnWrites::default();
        applied.remember("StatefulSet/db/r-data", 10, ());
        assert!(!applied.seen("StatefulSet/db/r-data", Some(9)), "an older change");
        assert!(!applied.seen("StatefulSet/db/r-meta", Some(10)), "another object");
        assert!(!applied.seen("StatefulSet/db/r-data", None));
        assert!(applied.seen("StatefulSet/db/r-data", Some(10)));
        assert!(!applied.seen("StatefulSet/db/r-data", Some(10)), "forgotten once seen");
    }

    #[test]
    fn a_later_change_is_no_echo_and_forgets_the_write() {
        let applied = OwnWrites::default();
        applied.remember("ConfigMap/db/r-config", 10, ());
        assert!(!applied.seen("ConfigMap/db/r-config", Some(12)), "someone else's change");
        applied.remember("ConfigMap/db/r-config", 11, ());
        assert!(!applied.seen("ConfigMap/db/r-config", Some(12)));
        assert!(!applied.seen("ConfigMap/db/r-config", Some(11)), "the write was forgotten");
    }

    #[test]
    fn a_write_is_read_until_the_cache_shows_it() {
        let written = OwnWrites::default();
        written.remember("db/r", 10, 5);
        assert_eq!(written.unseen("db/r", Some(9)), Some(5), "the cache is behind the write");
        assert_eq!(written.unseen("db/r", Some(10)), None, "the cache shows it");
        assert_eq!(written.unseen("db/r", Some(9)), None, "forgotten");
        written.remember("db/r", 12, 3);
        assert_eq!(written.unseen("db/r", None), None, "no cached version: the cache is read");
    }
}

//! Applies in flight, by child. The watch can deliver the echo of a write before the write's
//! answer is read, and a trigger for that echo would run the cluster's reconcile again to
//! find nothing to do. So while a child's apply is in flight its changes trigger nothing; the
//! answer decides. The write's own version is dropped, and any other version (another
//! writer's change) triggers the cluster after all, as does every change held by an apply
//! that failed or was cancelled.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::runtime::reflector::ObjectRef;

use super::compact::Compact;
use crate::api::AntflyCluster;

pub type ClusterRef = ObjectRef<Compact<AntflyCluster>>;

/// The id of a flight and the versions of its child's changes held meanwhile.
type Held = (u64, Vec<Option<u64>>);

#[derive(Debug)]
pub struct InFlight {
    /// Per child (kind/namespace/name).
    held: Mutex<HashMap<String, Held>>,
    next_id: AtomicU64,
    triggers: UnboundedSender<ClusterRef>,
    receiver: Mutex<Option<UnboundedReceiver<ClusterRef>>>,
}

impl Default for InFlight {
    fn default() -> Self {
        let (triggers, receiver) = unbounded();
        Self { held: Mutex::default(), next_id: AtomicU64::new(0), triggers, receiver: Mutex::new(Some(receiver)) }
    }
}

impl InFlight {
    /// Holds the changes of `child` until the returned flight is answered or dropped.
    pub fn begin(&self, child: &str, cluster: ClusterRef) -> Flight<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut held) = self.held.lock() {
            held.insert(child.to_string(), (id, Vec::new()));
        }
        Flight { registry: self, child: child.to_string(), id, cluster: Some(cluster) }
    }

    /// Whether a change of `child` at `version` is held: an apply of it is in flight.
    pub fn hold(&self, child: &str, version: Option<u64>) -> bool {
        let Ok(mut held) = self.held.lock() else { return false };
        match held.get_mut(child) {
            Some((_, versions)) => {
                versions.push(version);
                true
            }
            None => false,
        }
    }

    /// The clusters to reconcile for held changes, for the controller; `None` after the
    /// first call.
    pub fn triggers(&self) -> Option<UnboundedReceiver<ClusterRef>> {
        self.receiver.lock().ok()?.take()
    }

    /// Ends the flight `id` of `child`: the versions held meanwhile.
    fn end(&self, child: &str, id: u64) -> Vec<Option<u64>> {
        let Ok(mut held) = self.held.lock() else { return Vec::new() };
        match held.get(child) {
            Some((current, _)) if *current == id => {
                held.remove(child).map(|(_, versions)| versions).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

/// One apply in flight; see [`InFlight`].
#[derive(Debug)]
pub struct Flight<'a> {
    registry: &'a InFlight,
    child: String,
    id: u64,
    cluster: Option<ClusterRef>,
}

impl Flight<'_> {
    /// The API server answered the apply with `version`: a held change at any other version
    /// triggers the cluster.
    pub fn answered(mut self, version: Option<u64>) {
        let held = self.registry.end(&self.child, self.id);
        if held.iter().any(|seen| seen.is_none() || *seen != version) {
            self.trigger();
        }
        self.cluster = None;
    }

    fn trigger(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            // The receiver lives as long as the controller; after it, nothing is to reconcile.
            let _ = self.registry.triggers.unbounded_send(cluster);
        }
    }
}

impl Drop for Flight<'_> {
    /// Not answered (the apply failed, or the reconcile was cancelled): every held change
    /// triggers the cluster, since no answer tells which was the write's echo.
    fn drop(&mut self) {
        if self.cluster.is_some() && !self.registry.end(&self.child, self.id).is_empty() {
            self.trigger();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "StatefulSet/db/r-data";

    fn cluster() -> ClusterRef {
        ObjectRef::new("r").within("db")
    }

    fn triggered(receiver: &mut UnboundedReceiver<ClusterRef>) -> Vec<ClusterRef> {
        let mut out = Vec::new();
        while let Ok(cluster) = receiver.try_recv() {
            out.push(cluster);
        }
        out
    }

    #[test]
    fn changes_are_held_only_while_an_apply_is_in_flight() {
        let registry = InFlight::default();
        assert!(!registry.hold(CHILD, Some(5)), "no apply in flight");
        let flight = registry.begin(CHILD, cluster());
        assert!(registry.hold(CHILD, Some(10)));
        assert!(!registry.hold("StatefulSet/db/r-meta", Some(10)), "another child");
        flight.answered(Some(10));
        assert!(!registry.hold(CHILD, Some(11)), "the flight is over");
    }

    #[test]
    fn the_echo_of_the_write_triggers_nothing() {
        let registry = InFlight::default();
        let mut receiver = registry.triggers().expect("receiver");
        let flight = registry.begin(CHILD, cluster());
        registry.hold(CHILD, Some(10));
        flight.answered(Some(10));
        assert!(triggered(&mut receiver).is_empty());
    }

    #[test]
    fn another_writers_change_held_in_flight_triggers_the_cluster_once() {
        let registry = InFlight::default();
        let mut receiver = registry.triggers().expect("receiver");
        let flight = registry.begin(CHILD, cluster());
        registry.hold(CHILD, Some(9));
        registry.hold(CHILD, Some(10));
        registry.hold(CHILD, Some(11));
        flight.answered(Some(10));
        assert_eq!(triggered(&mut receiver), vec![cluster()]);
    }

    #[test]
    fn held_changes_of_a_failed_apply_trigger_the_cluster() {
        let registry = InFlight::default();
        let mut receiver = registry.triggers().expect("receiver");
        let flight = registry.begin(CHILD, cluster());
        registry.hold(CHILD, Some(10));
        drop(flight);
        assert_eq!(triggered(&mut receiver), vec![cluster()]);
        assert!(!registry.hold(CHILD, Some(11)), "the flight is over");

        let quiet = registry.begin(CHILD, cluster());
        drop(quiet);
        assert!(triggered(&mut receiver).is_empty(), "nothing was held");
    }

    #[test]
    fn an_answer_without_a_version_treats_every_held_change_as_foreign() {
        let registry = InFlight::default();
        let mut receiver = registry.triggers().expect("receiver");
        let flight = registry.begin(CHILD, cluster());
        registry.hold(CHILD, Some(10));
        flight.answered(None);
        assert_eq!(triggered(&mut receiver), vec![cluster()]);
    }

    #[test]
    fn the_receiver_is_handed_out_once() {
        let registry = InFlight::default();
        assert!(registry.triggers().is_some());
        assert!(registry.triggers().is_none());
    }
}

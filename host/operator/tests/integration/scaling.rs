//! Data-node scaling on a real kube-apiserver with a real kube-controller-manager: drains
//! through the Antfly API double, and the autoscaler reading `metrics.k8s.io` through the API
//! server's aggregation layer from a test metrics server.

use std::collections::BTreeMap;
use std::time::Duration;

use antfly_double::DrainScript;
use antfly_operator::api::{ScaleDirection, ScaleDownPhase};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use serde_json::json;

use crate::day2::Day2;
use crate::support::*;

impl Day2 {
    async fn data_replicas(&self, cluster: &str) -> Option<i32> {
        let set = self.api::<StatefulSet>().get_opt(&format!("{cluster}-data")).await.ok().flatten()?;
        set.spec?.replicas
    }

    async fn scale_down_phase(&self, cluster: &str) -> Option<ScaleDownPhase> {
        self.status(cluster).await.data_scale_down_status.map(|s| s.phase)
    }

    /// Requests of `method` to a path starting with `prefix` that the double received.
    fn calls(&self, method: &str, prefix: &str) -> usize {
        self.double.requests().iter().filter(|r| r.is(method, prefix)).count()
    }

    /// Polls `check` for up to 60 s; on timeout, fails showing the cluster's status.
    async fn wait_for<F, Fut>(&self, cluster: &str, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for: {what}; status: {:#?}",
                self.status(cluster).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn event_reasons(&self) -> Vec<String> {
        let events = kube::Api::<Event>::namespaced(self.admin.clone(), &self.namespace)
            .list(&ListParams::default())
            .await
            .expect("events");
        events.items.into_iter().filter_map(|e| e.reason).collect()
    }
}

/// A manual scale-down drains each node before its pod goes, highest ordinal first; a
/// reversal mid-drain cancels the drain and keeps the pod; a scale below the replication
/// factor is refused.
#[tokio::test]
async fn a_scale_down_drains_then_removes_and_a_reversal_cancels() {
    let t = Day2::start("drains").await;
    t.double.add_node(5, DrainScript::completes_after(2)).add_node(4, DrainScript::stays_draining());
    t.create("s", json!({"metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 5}})).await;
    t.wait_rolled_out("s", "the new cluster to run").await;

    t.patch("s", json!({"dataNodes": {"replicas": 3}})).await.expect("scale down");
    eventually("node 5 drained and s-data-4 removed", || async { t.data_replicas("s").await == Some(4) }).await;
    assert!(t.calls("PUT", "/internal/v1/nodes/5/shutdown") >= 1, "asked to drain node 5");
    assert!(t.calls("GET", "/internal/v1/nodes/5/shutdown") >= 3, "polled until complete");
    eventually("node 5 finalized", || async { t.calls("DELETE", "/internal/v1/nodes/5") >= 1 }).await;
    eventually("node 4 draining", || async {
        let status = t.status("s").await.data_scale_down_status.unwrap_or_default();
        status.phase == ScaleDownPhase::Draining && status.draining_ordinal == Some(3) && status.node_id == Some(4)
    })
    .await;
    let status = t.status("s").await.data_scale_down_status.expect("scale-down status");
    assert_eq!((status.from, status.target, status.applied), (5, 3, 4));
    let draining_pod = t.pod_uids("s-data").await.get("s-data-3").cloned().expect("s-data-3 stays while draining");
    assert_eq!(t.data_replicas("s").await, Some(4), "nothing removed while the drain is unsafe");

    // Reversal mid-drain: the drain is cancelled and s-data-3 stays, the same pod.
    t.patch("s", json!({"dataNodes": {"replicas": 5}})).await.expect("scale back up");
    eventually("the drain cancelled", || async { t.scale_down_phase("s").await == Some(ScaleDownPhase::Cancelled) })
        .await;
    assert!(t.calls("DELETE", "/internal/v1/nodes/4/shutdown") >= 1, "cancelled on the server");
    eventually("five data pods", || async { t.pod_uids("s-data").await.len() == 5 }).await;
    assert_eq!(t.pod_uids("s-data").await.get("s-data-3"), Some(&draining_pod), "the draining pod was kept");
    assert!(t.event_reasons().await.contains(&"DrainCancelled".to_string()));

    // Below the replication factor (3): refused with a message, and nothing changes.
    t.patch("s", json!({"dataNodes": {"replicas": 2}})).await.expect("the API server cannot see the factor");
    eventually("refused", || async {
        t.status("s").await.conditions.iter().any(|c| {
            c.type_ == "ConfigurationValid"
                && c.status == "False"
                && c.message.contains("below the replication factor 3")
        })
    })
    .await;
    assert_eq!(t.data_replicas("s").await, Some(5));
    assert_eq!(t.calls("PUT", "/internal/v1/nodes/5/shutdown"), 1, "no new drain");
}

/// A drain that stays unsafe halts with a condition and an event and never removes the pod; a
/// finalize call that never answers blocks nothing; an operator restarted mid-drain resumes it.
#[tokio::test]
async fn a_stuck_drain_halts_a_hanging_finalize_blocks_nothing_and_a_restart_resumes() {
    let mut t = Day2::start("stuck").await;
    t.double.answer_remove_node(false);
    t.double.add_node(4, DrainScript::completes_after(6)).add_node(3, DrainScript::stays_draining());
    let config = "{\"replication_factor\": 2}";
    t.create(
        "d",
        json!({"metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 4, "drainTimeoutSeconds": 4},
               "config": config}),
    )
    .await;
    t.wait_rolled_out("d", "the new cluster to run").await;

    // Killed mid-drain, the operator resumes from the status: polls, then removes.
    t.patch("d", json!({"dataNodes": {"replicas": 3}})).await.expect("scale down");
    eventually("node 4 draining", || async { t.scale_down_phase("d").await == Some(ScaleDownPhase::Draining) }).await;
    t.restart_operator().await;
    eventually("node 4 drained and d-data-3 removed", || async { t.data_replicas("d").await == Some(3) }).await;
    assert_eq!(
        t.calls("PUT", "/internal/v1/nodes/4/shutdown"),
        1,
        "the restarted operator resumed, not restarted, the drain"
    );
    eventually("finalize called", || async { t.calls("DELETE", "/internal/v1/nodes/4") >= 1 }).await;
    assert_eq!(t.scale_down_phase("d").await, Some(ScaleDownPhase::Complete), "the hanging finalize blocked nothing");

    // Node 3 never drains: the scale-down halts after 4 s and the pod stays.
    let stuck_pod = t.pod_uids("d-data").await.get("d-data-2").cloned().expect("d-data-2");
    t.patch("d", json!({"dataNodes": {"replicas": 2}})).await.expect("scale down again");
    eventually("halted", || async { t.scale_down_phase("d").await == Some(ScaleDownPhase::Halted) }).await;
    let condition =
        t.status("d").await.conditions.into_iter().find(|c| c.type_ == "DataScaleDown").expect("DataScaleDown");
    assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "DrainHalted"));
    assert!(condition.message.contains("node 3 is still not safe to remove"), "{}", condition.message);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.data_replicas("d").await, Some(3), "a halted drain never removes the pod");
    assert_eq!(t.pod_uids("d-data").await.get("d-data-2"), Some(&stuck_pod));
    let halts = t.event_reasons().await.iter().filter(|r| *r == "DrainHalted").count();
    assert_eq!(halts, 1, "one event for the halt");
}

/// The autoscaler reads its own pods' CPU from metrics.k8s.io (through the aggregation layer,
/// selected by the labels the operator sets), scales up within a step, holds on partial
/// metrics, and scales down through a drain.
#[tokio::test]
async fn the_autoscaler_follows_real_metrics_within_its_steps() {
    let t = Day2::start("autoscale").await;
    let metrics = t.cp.start_metrics_server().await.expect("metrics server");
    t.create(
        "a",
        json!({"metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 3, "resources": {"cpu": "1"},
            "autoScaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 6,
                            "targetCPUUtilizationPercentage": 50, "scaleUpCooldown": "1s", "scaleDownCooldown": "1s"}}}),
    )
    .await;
    t.wait_rolled_out("a", "the new cluster to run").await;
    let labels = |ordinal: i32| {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "antfly-database".to_string()),
            ("app.kubernetes.io/instance".to_string(), "a".to_string()),
            ("app.kubernetes.io/component".to_string(), "data".to_string()),
            ("statefulset.kubernetes.io/pod-name".to_string(), format!("a-data-{ordinal}")),
        ])
    };
    let load = |ordinal: i32, cpu: &str| {
        metrics.set_pod("autoscale", &format!("a-data-{ordinal}"), labels(ordinal), [("antfly", cpu, "100Mi")]);
    };
    // A pod of another cluster, busy, that a selector by the wrong labels would count.
    metrics.set_pod("autoscale", "other-data-0", BTreeMap::new(), [("antfly", "4", "1Gi")]);

    // 90% of the request against a 50% target wants 6; one step from 3 is +2.
    for ordinal in 0..3 {
        load(ordinal, "900m");
    }
    t.wait_for("a", "scaled up to 5", || async { t.data_replicas("a").await == Some(5) }).await;
    eventually("the scale-up recorded", || async {
        let status = t.status("a").await.auto_scaling_status.unwrap_or_default();
        status.last_scale_direction == Some(ScaleDirection::Up) && status.last_scale_time.is_some()
    })
    .await;
    let reads: Vec<_> = metrics.requests().into_iter().filter(|r| r.is_pod_metrics()).collect();
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|r| r.remote_user.as_deref() == Some(OPERATOR_USER)), "the operator's own identity");
    let query = reads[0].query.clone().unwrap_or_default();
    assert!(query.contains("app.kubernetes.io%2Finstance%3Da"), "selected by the labels it sets: {query}");

    // The two new pods have no metrics yet: partial metrics mean no scaling, and a condition.
    t.wait_for("a", "held on partial metrics", || async {
        t.status("a").await.conditions.iter().any(|c| {
            c.type_ == "AutoScaling" && c.reason == "MetricsUnavailable" && c.message.contains("2 of 5 data pods")
        })
    })
    .await;
    assert_eq!(t.data_replicas("a").await, Some(5));

    // Idle: 10% wants 1, min is 3, one step down from 5 is -1; the drain goes through the
    // double (node 5 is unknown to it: not_found, safe to remove).
    for ordinal in 0..5 {
        load(ordinal, "100m");
    }
    t.wait_for("a", "scaled down through a drain", || async { t.data_replicas("a").await <= Some(4) }).await;
    assert!(t.calls("PUT", "/internal/v1/nodes/5/shutdown") >= 1, "drained before removal");
    eventually("the scale-down recorded as the autoscaler's", || async {
        let scale_down = t.status("a").await.data_scale_down_status.unwrap_or_default();
        scale_down.source == antfly_operator::api::ScaleSource::Autoscaler
    })
    .await;
    t.wait_for("a", "down to min", || async { t.data_replicas("a").await == Some(3) }).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.data_replicas("a").await, Some(3), "never below minReplicas");
    // One step (−1) at a time, each through its drain: node 5, then node 4, nothing else.
    // (A repeat of a PUT, which is idempotent, would be no second drain.)
    let mut drained: Vec<String> =
        t.double.requests().iter().filter(|r| r.is("PUT", "/internal/v1/nodes/")).map(|r| r.path.clone()).collect();
    drained.dedup();
    assert_eq!(drained, ["/internal/v1/nodes/5/shutdown", "/internal/v1/nodes/4/shutdown"]);
}

/// Growing the volumes and scaling down in one edit: the StatefulSet is recreated around its
/// pods, and the scale-down still drains before any pod goes.
#[tokio::test]
async fn a_scale_down_during_storage_growth_still_drains_first() {
    use k8s_openapi::api::core::v1::PersistentVolume;
    use k8s_openapi::api::storage::v1::StorageClass;
    use kube::api::PostParams;

    let t = Day2::start("growdown").await;
    t.double.add_node(4, DrainScript::completes_after(3));
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "grows"}, "provisioner": "example.com/pre-provisioned",
        "allowVolumeExpansion": true, "volumeBindingMode": "Immediate",
    }))
    .expect("storage class");
    kube::Api::<StorageClass>::all(t.admin.clone()).create(&PostParams::default(), &class).await.expect("class");
    let claims = ["data-g-metadata-0", "data-g-data-0", "data-g-data-1", "data-g-data-2", "data-g-data-3"];
    for claim in claims {
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": format!("pv-{claim}")},
            "spec": {"capacity": {"storage": "4Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "grows",
                     "hostPath": {"path": format!("/tmp/{claim}")},
                     "claimRef": {"namespace": "growdown", "name": claim}},
        }))
        .expect("volume");
        kube::Api::<PersistentVolume>::all(t.admin.clone()).create(&PostParams::default(), &volume).await.expect("pv");
    }
    t.create(
        "g",
        json!({"metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 4},
               "storage": {"storageClass": "grows", "metadataStorage": "1Gi", "dataStorage": "1Gi"}}),
    )
    .await;
    let pvcs = t.api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>();
    t.wait_for("g", "every claim bound", || async {
        let mut bound = 0;
        for claim in claims {
            let phase = pvcs.get_opt(claim).await.ok().flatten().and_then(|c| c.status).and_then(|s| s.phase);
            bound += usize::from(phase.as_deref() == Some("Bound"));
        }
        bound == claims.len()
    })
    .await;
    t.wait_rolled_out("g", "the new cluster to run").await;
    let uid = |set: StatefulSet| set.metadata.uid.unwrap_or_default();
    let before = uid(t.api::<StatefulSet>().get("g-data").await.expect("sts"));

    t.patch("g", json!({"dataNodes": {"replicas": 3}, "storage": {"dataStorage": "2Gi"}})).await.expect("edit");
    t.wait_for("g", "g-data-3 removed", || async { t.pod_uids("g-data").await.len() == 3 }).await;
    // The pod went only after its node's drain completed on the server.
    let polls = t.calls("GET", "/internal/v1/nodes/4/shutdown");
    assert!(polls >= 4, "removed after {polls} polls; the drain completes on the 4th");
    t.wait_for("g", "the StatefulSet recreated at 3 with 2Gi claims", || async {
        let Ok(Some(set)) = t.api::<StatefulSet>().get_opt("g-data").await else { return false };
        let size = set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_ref()).and_then(|c| {
            c[0].spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
        });
        set.metadata.uid.as_deref() != Some(before.as_str())
            && size.as_deref() == Some("2Gi")
            && set.spec.and_then(|s| s.replicas) == Some(3)
    })
    .await;
    t.wait_rolled_out("g", "the cluster to settle").await;
}

//! Upgrading the CRDs and the operator under existing clusters, against a real kube-apiserver:
//! the clusters keep running and the new operator adopts them without a single write.
//!
//! `crds/previous/antfly.io.yaml` holds the CRDs of the previous release; the upgrade goes to
//! `crds/antfly.io.yaml` as the Helm chart and the kustomize base install it.

use std::time::Duration;

use crate::support::*;
use antfly_envtest::ControlPlane;
use antfly_operator::api::{AntflyCluster, ClusterPhase};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

const NAMESPACE: &str = "upgrade";

async fn create_cluster(client: &Client, name: &str, spec: serde_json::Value) {
    let cluster: AntflyCluster = serde_json::from_value(json!({
        "apiVersion": "antfly.io/v1", "kind": "AntflyCluster",
        "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec,
    }))
    .expect("cluster");
    Api::<AntflyCluster>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &cluster)
        .await
        .expect("create cluster");
}

/// Play the StatefulSet controller and the kubelet: every replica is ready.
async fn report_all_ready(client: &Client, name: &str) {
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let replicas = statefulsets.get(name).await.expect("statefulset").spec.and_then(|s| s.replicas).unwrap_or(1);
    let status = json!({"status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}});
    statefulsets.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await.expect("patch status");
}

async fn resource_versions(client: &Client) -> Vec<(String, String)> {
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let clusters: Api<AntflyCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let mut versions: Vec<(String, String)> = Vec::new();
    for sts in statefulsets.list(&Default::default()).await.expect("statefulsets") {
        versions.push((format!("statefulset/{}", sts.name_any()), sts.resource_version().unwrap_or_default()));
    }
    for cluster in clusters.list(&Default::default()).await.expect("clusters") {
        versions
            .push((format!("antflycluster/{}", cluster.name_any()), cluster.resource_version().unwrap_or_default()));
    }
    versions
}

#[tokio::test]
async fn upgrading_the_crds_and_the_operator_leaves_running_clusters_untouched() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();

    // The previous release: its CRDs, the chart's RBAC, an operator, and two clusters that
    // reach Running.
    install_crds_from(&admin, "crds/previous/antfly.io.yaml").await;
    install_chart(&admin).await;
    apply_manifests(&admin, &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")).await;
    let previous = RunningOperator::start(operator_client(&cp), "previous");
    create_cluster(&admin, "plain", json!({})).await;
    create_cluster(
        &admin,
        "full",
        json!({
            "podDisruptionBudget": {"enabled": true},
            "publicAPI": {"enabled": true},
            "storage": {"pvcRetentionPolicy": {"whenDeleted": "Delete"}},
            "config": "{\"log\": {\"level\": \"info\"}}",
        }),
    )
    .await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), NAMESPACE);
    for cluster in ["plain", "full"] {
        for role in ["metadata", "data"] {
            let name = format!("{cluster}-{role}");
            eventually(&format!("{name} exists"), || async {
                statefulsets.get_opt(&name).await.ok().flatten().is_some()
            })
            .await;
            report_all_ready(&admin, &name).await;
        }
    }
    let clusters: Api<AntflyCluster> = Api::namespaced(admin.clone(), NAMESPACE);
    for cluster in ["plain", "full"] {
        eventually(&format!("{cluster} Running"), || async {
            clusters.get(cluster).await.ok().and_then(|c| c.status).and_then(|s| s.phase) == Some(ClusterPhase::Running)
        })
        .await;
    }
    // Steady state: a few resyncs (every 2 s) with nothing to write.
    let reconciles = previous.successful_reconciles();
    eventually("resyncs after Running", || async { previous.successful_reconciles() >= reconciles + 4 }).await;
    previous.stop().await;
    let before = resource_versions(&admin).await;

    // The upgrade, in the documented order: the new CRDs first, then the new operator.
    install_crds_from(&admin, "deploy/helm/antfly-operator/crds/antfly.io.yaml").await;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for name in ["antflyclusters.antfly.io", "antflybackups.antfly.io", "antflyrestores.antfly.io"] {
        eventually(&format!("{name} established"), || async {
            crds.get(name).await.ok().and_then(|c| c.status).is_some_and(|s| {
                s.conditions.iter().flatten().any(|c| c.type_ == "Established" && c.status == "True")
                    && s.stored_versions.iter().flatten().all(|v| v == "v1")
            })
        })
        .await;
    }
    let writes_before_upgrade = object_writes(&cp, OPERATOR_USER).len();
    assert!(writes_before_upgrade > 0, "the audit log shows the previous operator's writes");
    let upgraded = RunningOperator::start(operator_client(&cp), "upgraded");
    eventually("the upgraded operator resynced every cluster twice", || async {
        upgraded.successful_reconciles() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let writes = object_writes(&cp, OPERATOR_USER);
    assert_eq!(describe(&writes[writes_before_upgrade..]), Vec::<String>::new(), "the upgrade made spurious writes");
    assert_eq!(resource_versions(&admin).await, before, "an object changed across the upgrade");
    for cluster in ["plain", "full"] {
        let status = clusters.get(cluster).await.expect("cluster").status.expect("status");
        assert_eq!(status.phase, Some(ClusterPhase::Running), "{cluster}");
    }
    upgraded.stop().await;
}

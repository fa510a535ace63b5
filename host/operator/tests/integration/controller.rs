//! The controller against a real kube-apiserver and etcd (built by `.ci/control-plane.sh`).
//!
//! Most tests here run without a controller-manager: they play the kubelet and the StatefulSet
//! controller by patching StatefulSet status and by creating pods, and count the operator's
//! writes in the audit log. The drift test runs with the controller-manager; so do the day-2
//! tests (`day2.rs`, `scaling.rs`).

use std::time::Duration;

use crate::support::*;
use antfly_envtest::ControlPlane;
use antfly_operator::api::{AntflyCluster, ClusterPhase, SidecarInjectionStatus};
use antfly_operator::controller::metrics::KindLabel;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
}

fn cluster(name: &str, spec: serde_json::Value) -> AntflyCluster {
    serde_json::from_value(json!({
        "apiVersion": "antfly.io/v1", "kind": "AntflyCluster",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("cluster")
}

async fn create_cluster(
    client: &Client,
    ns: &str,
    name: &str,
    spec: serde_json::Value,
) -> Result<AntflyCluster, kube::Error> {
    Api::<AntflyCluster>::namespaced(client.clone(), ns).create(&PostParams::default(), &cluster(name, spec)).await
}

async fn patch_spec(client: &Client, ns: &str, name: &str, spec: serde_json::Value) {
    Api::<AntflyCluster>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": spec})))
        .await
        .expect("patch spec");
}

async fn status_of(client: &Client, ns: &str, name: &str) -> Option<antfly_operator::api::AntflyClusterStatus> {
    Api::<AntflyCluster>::namespaced(client.clone(), ns).get(name).await.ok().and_then(|c| c.status)
}

/// Play the kubelet and StatefulSet controller: report `ready` of `replicas` pods.
async fn report_ready(client: &Client, ns: &str, sts: &str, replicas: i32, ready: i32) {
    let status = json!({"status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}});
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .patch_status(sts, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("patch statefulset status");
}

async fn warning_reasons(client: &Client, ns: &str, cluster: &str) -> Vec<String> {
    let events = Api::<Event>::namespaced(client.clone(), ns).list(&ListParams::default()).await.expect("events");
    events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(cluster))
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn crds_are_accepted_and_cel_rules_reject_bad_clusters_at_admission() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "cel").await;

    let even = create_cluster(&admin, "cel", "even", json!({"metadataNodes": {"replicas": 4}})).await;
    let message = even.expect_err("even replicas rejected").to_string();
    assert!(message.contains("must be odd"), "{message}");

    let autopilot = create_cluster(
        &admin,
        "cel",
        "ap",
        json!({"gke": {"autopilot": true}, "dataNodes": {"nodeSelector": {"a": "b"}}}),
    )
    .await;
    let message = autopilot.expect_err("nodeSelector under autopilot rejected").to_string();
    assert!(message.contains("spec.dataNodes.nodeSelector conflicts with spec.gke.autopilot=true"), "{message}");

    let both =
        create_cluster(&admin, "cel", "both", json!({"gke": {"autopilot": true}, "eks": {"enabled": true}})).await;
    assert!(both.expect_err("gke and eks").to_string().contains("cannot both be enabled"));

    create_cluster(&admin, "cel", "ok", json!({"storage": {"storageClass": "fast"}})).await.expect("valid cluster");
    let api = Api::<AntflyCluster>::namespaced(admin.clone(), "cel");
    let change = api
        .patch("ok", &PatchParams::default(), &Patch::Merge(json!({"spec": {"storage": {"storageClass": "slow"}}})))
        .await;
    assert!(change.expect_err("storageClass is immutable").to_string().contains("storageClass is immutable"));
}

#[tokio::test]
async fn the_operator_creates_updates_and_then_leaves_children_alone() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "db").await;
    let operator = RunningOperator::start(operator_client(&cp), "replica-a");

    create_cluster(
        &admin,
        "db",
        "demo",
        json!({
            "podDisruptionBudget": {"enabled": true},
            "publicAPI": {"enabled": true},
            "config": "{\"log\": {\"level\": \"info\"}}",
        }),
    )
    .await
    .expect("create cluster");
    let uid =
        Api::<AntflyCluster>::namespaced(admin.clone(), "db").get("demo").await.expect("cluster").uid().expect("uid");

    // Every child appears with the seed's names and an owner reference to the cluster.
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), "db");
    eventually("StatefulSets exist", || async { statefulsets.get_opt("demo-data").await.ok().flatten().is_some() })
        .await;
    let owned_by_cluster = |refs: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>| {
        refs.unwrap_or_default().iter().any(|r| r.uid == uid && r.controller == Some(true))
    };
    let config_map = Api::<ConfigMap>::namespaced(admin.clone(), "db").get("demo-config").await.expect("config map");
    assert!(owned_by_cluster(config_map.metadata.owner_references.clone()));
    assert!(
        config_map.data.expect("data")["config.json"]
            .contains("demo-metadata-0.demo-metadata.db.svc.cluster.local:12377")
    );
    for name in ["demo-metadata", "demo-data", "demo-public-api"] {
        let service = Api::<Service>::namespaced(admin.clone(), "db").get(name).await.expect("service");
        assert!(owned_by_cluster(service.metadata.owner_references), "{name}");
    }
    for name in ["demo-metadata", "demo-data"] {
        assert!(owned_by_cluster(statefulsets.get(name).await.expect("sts").metadata.owner_references), "{name}");
    }
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(admin.clone(), "db");
    for name in ["demo-metadata-pdb", "demo-data-pdb"] {
        assert!(owned_by_cluster(pdbs.get(name).await.expect("pdb").metadata.owner_references), "{name}");
    }
    eventually("status Pending", || async {
        status_of(&admin, "db", "demo").await.is_some_and(|s| {
            s.phase == Some(ClusterPhase::Pending)
                && s.conditions.iter().any(|c| c.type_ == "ConfigurationValid" && c.status == "True")
        })
    })
    .await;

    // A spec change updates the children; a disabled PDB is deleted.
    patch_spec(&admin, "db", "demo", json!({"dataNodes": {"replicas": 5}, "podDisruptionBudget": {"enabled": false}}))
        .await;
    eventually("data StatefulSet scaled", || async {
        statefulsets.get("demo-data").await.ok().and_then(|s| s.spec).and_then(|s| s.replicas) == Some(5)
    })
    .await;
    eventually("PDBs deleted", || async { pdbs.list(&ListParams::default()).await.is_ok_and(|l| l.items.is_empty()) })
        .await;

    // Play the kubelet: Pending -> Running -> Degraded.
    report_ready(&admin, "db", "demo-metadata", 3, 3).await;
    report_ready(&admin, "db", "demo-data", 5, 5).await;
    eventually("Running", || async {
        status_of(&admin, "db", "demo")
            .await
            .is_some_and(|s| s.phase == Some(ClusterPhase::Running) && s.data_nodes_ready == 5)
    })
    .await;
    report_ready(&admin, "db", "demo-data", 5, 3).await;
    eventually("Degraded", || async {
        status_of(&admin, "db", "demo")
            .await
            .is_some_and(|s| s.phase == Some(ClusterPhase::Degraded) && s.data_nodes_ready == 3)
    })
    .await;
    eventually("Degraded event", || async {
        warning_reasons(&admin, "db", "demo").await.contains(&"Degraded".to_string())
    })
    .await;

    // Steady state: resyncs (every 2 s here) send no request at all, reads included: live
    // children come from the caches.
    let settle = object_requests(&cp, OPERATOR_USER).len();
    let reconciles = operator.successful_reconciles();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(operator.successful_reconciles() >= reconciles + 2, "resyncs ran");
    let after = object_requests(&cp, OPERATOR_USER);
    assert_eq!(describe(&after[settle..]), Vec::<String>::new(), "a steady-state resync sends no request");

    // A restarted operator adopts the existing objects without writing.
    operator.stop().await;
    let before_restart = object_requests(&cp, OPERATOR_USER).len();
    let restarted = RunningOperator::start(operator_client(&cp), "replica-a");
    eventually("restarted operator reconciled", || async { restarted.successful_reconciles() >= 2 }).await;
    let after: Vec<_> = object_requests(&cp, OPERATOR_USER)
        .split_off(before_restart)
        .into_iter()
        .filter(|e| e.verb != "list")
        .collect();
    assert_eq!(describe(&after), Vec::<String>::new(), "a restart sends nothing but the caches' first lists");

    // Invalid input that passes CEL is reported in status and events, and nothing panics.
    create_cluster(&admin, "db", "broken", json!({"config": "[1, 2]"})).await.expect("CEL cannot see JSON");
    eventually("Failed with ConfigurationValid=False", || async {
        status_of(&admin, "db", "broken").await.is_some_and(|s| {
            s.phase == Some(ClusterPhase::Failed)
                && s.conditions.iter().any(|c| {
                    c.type_ == "ConfigurationValid"
                        && c.status == "False"
                        && c.message.contains("spec.config: must be a JSON object, got an array")
                })
        })
    })
    .await;
    eventually("InvalidSpec event", || async {
        warning_reasons(&admin, "db", "broken").await.contains(&"InvalidSpec".to_string())
    })
    .await;
    assert!(statefulsets.get_opt("broken-data").await.expect("get").is_none(), "nothing is built for an invalid spec");

    // Pausing stops writes and says so.
    Api::<AntflyCluster>::namespaced(admin.clone(), "db")
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"antfly.io/reconcile-paused": "true"}}})),
        )
        .await
        .expect("pause");
    eventually("paused condition", || async {
        status_of(&admin, "db", "demo")
            .await
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "ReconcilePaused" && c.status == "True"))
    })
    .await;
    patch_spec(&admin, "db", "demo", json!({"dataNodes": {"replicas": 7}})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let replicas = statefulsets.get("demo-data").await.ok().and_then(|s| s.spec).and_then(|s| s.replicas);
    assert_eq!(replicas, Some(5), "a paused cluster is not changed");
    restarted.stop().await;
}

#[tokio::test]
async fn partial_sidecar_injection_is_reported_and_holds_the_rollout() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "mesh").await;
    let operator = RunningOperator::start(operator_client(&cp), "replica-a");
    create_cluster(
        &admin,
        "mesh",
        "m",
        json!({"serviceMesh": {"enabled": true, "annotations": {"sidecar.istio.io/inject": "true"}}}),
    )
    .await
    .expect("create");
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), "mesh");
    eventually("StatefulSets exist", || async { statefulsets.get_opt("m-data").await.ok().flatten().is_some() }).await;

    // Play the injector: one pod got a sidecar, one did not.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "mesh");
    for (name, containers) in [
        ("m-data-0", json!([{"name": "antfly", "image": "a"}, {"name": "istio-proxy", "image": "p"}])),
        ("m-data-1", json!([{"name": "antfly", "image": "a"}])),
    ] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "antfly-database", "app.kubernetes.io/instance": "m", "app.kubernetes.io/component": "data"}},
            "spec": {"containers": containers},
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod).await.expect("create pod");
    }
    eventually("Partial status", || async {
        status_of(&admin, "mesh", "m").await.is_some_and(|s| {
            s.service_mesh_status.as_ref().is_some_and(|m| {
                m.sidecar_injection_status == SidecarInjectionStatus::Partial
                    && m.pods_with_sidecars == 1
                    && m.total_pods == 2
            }) && s
                .conditions
                .iter()
                .any(|c| c.type_ == "ServiceMeshReady" && c.status == "False" && c.reason == "PartialInjection")
        })
    })
    .await;
    eventually("PartialSidecarInjection event", || async {
        warning_reasons(&admin, "mesh", "m").await.contains(&"PartialSidecarInjection".to_string())
    })
    .await;

    // The rollout is held: an image change does not reach the StatefulSets.
    patch_spec(&admin, "mesh", "m", json!({"image": "ghcr.io/antflydb/antfly:next"})).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let image = |sts: StatefulSet| sts.spec.and_then(|s| s.template.spec).and_then(|p| p.containers[0].image.clone());
    assert_eq!(
        image(statefulsets.get("m-data").await.expect("sts")).as_deref(),
        Some("ghcr.io/antflydb/antfly:latest")
    );

    // Once injection is consistent the rollout proceeds.
    pods.delete("m-data-1", &Default::default()).await.expect("delete pod");
    eventually("rollout resumes", || async {
        statefulsets.get("m-data").await.ok().and_then(image).as_deref() == Some("ghcr.io/antflydb/antfly:next")
    })
    .await;
    operator.stop().await;
}

/// Out-of-band changes to fields the operator sets are repaired within seconds of the watch
/// event; fields it does not set are left alone; and afterwards a resync writes nothing.
#[tokio::test]
async fn out_of_band_changes_are_repaired_and_other_fields_left_alone() {
    // With the controller-manager: StatefulSets make pods and write their status, so the
    // watch events of a living cluster set off reconciles that must still write nothing.
    let cp = ControlPlane::start_with_controller_manager().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "drift").await;
    let operator = RunningOperator::start(operator_client(&cp), "replica-a");
    create_cluster(&admin, "drift", "d", json!({})).await.expect("create cluster");
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), "drift");
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), "drift");
    let services: Api<Service> = Api::namespaced(admin.clone(), "drift");
    eventually("children exist", || async { statefulsets.get_opt("d-data").await.ok().flatten().is_some() }).await;
    let config = config_maps.get("d-config").await.expect("config map").data.expect("data")["config.json"].clone();

    // As a user would: kubectl scale, an edited ConfigMap, a removed label, plus a label and
    // an annotation of the user's own.
    let user = PatchParams { field_manager: Some("kubectl-edit".into()), ..PatchParams::default() };
    statefulsets.patch("d-data", &user, &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.expect("scale");
    config_maps
        .patch("d-config", &user, &Patch::Merge(json!({"data": {"config.json": "{\"tampered\": true}"}})))
        .await
        .expect("edit config");
    services
        .patch(
            "d-metadata",
            &user,
            &Patch::Merge(json!({"metadata": {
                "labels": {"app.kubernetes.io/component": null, "team": "search"},
                "annotations": {"note": "mine"},
            }})),
        )
        .await
        .expect("relabel");
    eventually("every drift repaired", || async {
        let replicas = statefulsets.get("d-data").await.ok().and_then(|s| s.spec).and_then(|s| s.replicas);
        let data = config_maps.get("d-config").await.ok().and_then(|c| c.data).map(|d| d["config.json"].clone());
        let labels = services.get("d-metadata").await.map(|s| s.labels().clone()).unwrap_or_default();
        replicas == Some(3)
            && data.as_ref() == Some(&config)
            && labels.get("app.kubernetes.io/component").map(String::as_str) == Some("metadata")
    })
    .await;
    let service = services.get("d-metadata").await.expect("service");
    assert_eq!(service.labels().get("team").map(String::as_str), Some("search"), "a user's label stays");
    assert_eq!(service.annotations().get("note").map(String::as_str), Some("mine"), "a user's annotation stays");
    assert!(operator.metrics.drift_repairs.get_or_create(&KindLabel { kind: "StatefulSet" }).get() >= 1);

    // Repaired, the objects are left alone: resyncs (every 2 s here) send nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settle = object_requests(&cp, OPERATOR_USER).len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = object_requests(&cp, OPERATOR_USER);
    assert_eq!(describe(&after[settle..]), Vec::<String>::new(), "a resync after the repairs sends no request");
    operator.stop().await;
}

#[tokio::test]
async fn only_the_leader_writes() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    // A second identity with the same ClusterRole, so the audit log tells the replicas apart.
    apply_manifests(
        &admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: antfly-operator-b
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: antfly-operator}
subjects: [{kind: User, name: operator-b, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: antfly-operator-b-leader
  namespace: antfly-system
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: antfly-operator-leader-election}
subjects: [{kind: User, name: operator-b, apiGroup: rbac.authorization.k8s.io}]
"#,
    )
    .await;
    namespace(&admin, "ha").await;
    let a = RunningOperator::start(operator_client(&cp), "replica-a");
    eventually("replica a leads", || async { a.leader.is_leader() }).await;
    let b = RunningOperator::start(client_as(&cp, "operator-b"), "replica-b");
    create_cluster(&admin, "ha", "h", json!({})).await.expect("create");
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), "ha");
    eventually("children exist", || async { statefulsets.get_opt("h-data").await.ok().flatten().is_some() }).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!b.leader.is_leader());
    assert_eq!(describe(&object_writes(&cp, "operator-b")), Vec::<String>::new(), "the standby replica writes nothing");
    assert!(!object_writes(&cp, OPERATOR_USER).is_empty());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn pvcs_are_deleted_only_when_the_retention_policy_says_so() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "pvc").await;
    let operator = RunningOperator::start(operator_client(&cp), "replica-a");
    let clusters: Api<AntflyCluster> = Api::namespaced(admin.clone(), "pvc");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(admin.clone(), "pvc");

    create_cluster(&admin, "pvc", "keep", json!({})).await.expect("create keep");
    create_cluster(&admin, "pvc", "drop", json!({"storage": {"pvcRetentionPolicy": {"whenDeleted": "Delete"}}}))
        .await
        .expect("create drop");
    eventually("finalizer on the Delete cluster", || async {
        clusters.get("drop").await.is_ok_and(|c| c.finalizers().iter().any(|f| f == "antfly.io/pvc-cleanup"))
    })
    .await;
    eventually("keep reconciled", || async { status_of(&admin, "pvc", "keep").await.is_some() }).await;
    assert!(clusters.get("keep").await.expect("keep").finalizers().is_empty(), "no finalizer when PVCs are retained");

    // Play the StatefulSet controller: one claim per cluster, labelled like the claim template.
    for cluster in ["keep", "drop"] {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": format!("data-{cluster}-data-0"), "labels": {
                "app.kubernetes.io/name": "antfly-database", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": "data"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }))
        .expect("claim");
        claims.create(&PostParams::default(), &claim).await.expect("create claim");
    }
    for cluster in ["keep", "drop"] {
        clusters.delete(cluster, &Default::default()).await.expect("delete cluster");
    }
    eventually("Delete cluster gone", || async { clusters.get_opt("drop").await.is_ok_and(|c| c.is_none()) }).await;
    eventually("its claim deleted", || async {
        // Without a controller-manager a deleted PVC keeps its protection finalizer: check deletion started.
        claims.get_opt("data-drop-data-0").await.ok().flatten().is_none_or(|c| c.metadata.deletion_timestamp.is_some())
    })
    .await;
    let kept = claims.get("data-keep-data-0").await.expect("retained claim");
    assert!(kept.metadata.deletion_timestamp.is_none(), "PVCs are never deleted under Retain");
    operator.stop().await;
}

/// A spec whose built objects break a Kubernetes limit (here the ConfigMap's 1 MiB) passes
/// the CRD, but the operator applies nothing and says why in ConfigurationValid.
#[tokio::test]
async fn objects_over_kubernetes_limits_are_never_applied() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    namespace(&admin, "limits").await;
    let operator = RunningOperator::start(operator_client(&cp), "replica-a");
    let config = format!("{{\"blob\": \"{}\"}}", "z".repeat(1_100_000));
    create_cluster(&admin, "limits", "big", json!({"config": config})).await.expect("the CRD accepts it");
    eventually("ConfigurationValid=False names the ConfigMap limit", || async {
        status_of(&admin, "limits", "big").await.is_some_and(|s| {
            s.phase == Some(ClusterPhase::Failed)
                && s.conditions.iter().any(|c| {
                    c.type_ == "ConfigurationValid"
                        && c.status == "False"
                        && c.message.contains("spec.config: the generated config.json is")
                        && c.message.contains("a ConfigMap holds at most 1048576")
                })
        })
    })
    .await;
    let config_maps = Api::<ConfigMap>::namespaced(admin.clone(), "limits");
    assert!(config_maps.get_opt("big-config").await.expect("get").is_none(), "nothing is applied");

    // Quantities stored as numbers (`cpu: 2`, as kubectl sends them) are read back as quantities.
    create_cluster(&admin, "limits", "num", json!({"dataNodes": {"resources": {"cpu": 2, "limits": {"cpu": 4}}}}))
        .await
        .expect("numbers are quantities");
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), "limits");
    eventually("the data StatefulSet requests 2 cpus", || async {
        statefulsets.get_opt("num-data").await.ok().flatten().is_some_and(|sts| {
            let resources = sts.spec.and_then(|s| s.template.spec).and_then(|p| p.containers[0].resources.clone());
            resources.and_then(|r| r.requests).is_some_and(|r| r.get("cpu").is_some_and(|q| q.0 == "2"))
        })
    })
    .await;
    operator.stop().await;
}

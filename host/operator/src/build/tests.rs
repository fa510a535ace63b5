//! Tests of the builders against the seed tables: names, ports, probes, labels, config, storage.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::compose::SchedulingContribution;
use crate::fixtures::validated;

fn build(spec: &str) -> ClusterResources {
    build_resources(&validated(spec), &Contributions::default())
}

fn pod(sts: &StatefulSet) -> &PodSpec {
    sts.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec")
}

fn container(sts: &StatefulSet) -> &Container {
    &pod(sts).containers[0]
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

#[test]
fn object_names_follow_the_architecture_table() {
    let r = build("  publicAPI:\n    enabled: true\n  podDisruptionBudget:\n    enabled: true\n");
    assert_eq!(name(&r.config_map.metadata), "c-config");
    assert_eq!(name(&r.metadata_service.metadata), "c-metadata");
    assert_eq!(name(&r.data_service.metadata), "c-data");
    assert_eq!(name(&r.public_api_service.as_ref().expect("public api").metadata), "c-public-api");
    assert_eq!(name(&r.metadata_statefulset.metadata), "c-metadata");
    assert_eq!(name(&r.data_statefulset.metadata), "c-data");
    assert_eq!(name(&r.metadata_pdb.as_ref().expect("pdb").metadata), "c-metadata-pdb");
    assert_eq!(name(&r.data_pdb.as_ref().expect("pdb").metadata), "c-data-pdb");
    for sts in [&r.metadata_statefulset, &r.data_statefulset] {
        let claim = &sts.spec.as_ref().expect("spec").volume_claim_templates.as_ref().expect("claims")[0];
        assert_eq!(name(&claim.metadata), "data", "PVCs are data-{{cluster}}-{{role}}-{{n}}");
    }
}

#[test]
fn optional_objects_are_absent_by_default() {
    let r = build("  image: x\n");
    assert!(r.public_api_service.is_none() && r.metadata_pdb.is_none() && r.data_pdb.is_none());
    assert!(r.service_account.is_none());
    assert_eq!(pod(&r.data_statefulset).service_account_name, None);
}

#[test]
fn ports_follow_the_port_defaults_table() {
    let r = build("  image: x\n");
    let ports = |c: &Container| -> Vec<(String, i32)> {
        c.ports.iter().flatten().map(|p| (p.name.clone().unwrap_or_default(), p.container_port)).collect()
    };
    let named = |v: &[(&str, i32)]| v.iter().map(|(n, p)| (n.to_string(), *p)).collect::<Vec<_>>();
    assert_eq!(ports(container(&r.metadata_statefulset)), named(&[("api", 12377), ("raft", 9017), ("health", 4200)]));
    assert_eq!(ports(container(&r.data_statefulset)), named(&[("api", 12380), ("raft", 9021), ("health", 4200)]));
    let service_ports: Vec<i32> = r
        .metadata_service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(service_ports, [12377, 9017, 4200]);
}

#[test]
fn public_api_listens_on_port_80_and_targets_the_metadata_api() {
    let r = build("  publicAPI:\n    enabled: true\n    serviceType: LoadBalancer\n");
    let spec = r.public_api_service.and_then(|s| s.spec).expect("public api");
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!((port.port, port.target_port.clone()), (80, Some(IntOrString::Int(12377))));
    assert_eq!(spec.selector.expect("selector")["app.kubernetes.io/component"], "metadata");
}

#[test]
fn headless_services_publish_not_ready_addresses() {
    let r = build("  image: x\n");
    for service in [&r.metadata_service, &r.data_service] {
        let spec = service.spec.as_ref().expect("spec");
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
    }
}

#[test]
fn probes_follow_the_health_check_table() {
    let r = build("  image: x\n");
    for sts in [&r.metadata_statefulset, &r.data_statefulset] {
        let c = container(sts);
        let summary = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
            let p = p.as_ref().expect("probe");
            let get = p.http_get.as_ref().expect("http get");
            (
                get.path.clone().unwrap_or_default(),
                get.port.clone(),
                p.initial_delay_seconds,
                p.period_seconds,
                p.failure_threshold,
            )
        };
        assert_eq!(
            summary(&c.startup_probe),
            ("/healthz".into(), IntOrString::Int(4200), Some(30), Some(10), Some(30))
        );
        assert_eq!(summary(&c.liveness_probe), ("/healthz".into(), IntOrString::Int(4200), None, Some(15), Some(3)));
        assert_eq!(summary(&c.readiness_probe), ("/readyz".into(), IntOrString::Int(4200), None, Some(5), Some(5)));
    }
}

#[test]
fn pod_templates_carry_the_seed_labels_and_select_by_them() {
    let r = build("  image: x\n");
    for (sts, component) in [(&r.metadata_statefulset, "metadata"), (&r.data_statefulset, "data")] {
        let spec = sts.spec.as_ref().expect("spec");
        let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).expect("labels");
        assert_eq!(
            labels,
            BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), "antfly-database".to_string()),
                ("app.kubernetes.io/instance".to_string(), "c".to_string()),
                ("app.kubernetes.io/component".to_string(), component.to_string()),
                ("app.kubernetes.io/managed-by".to_string(), "antfly-operator".to_string()),
            ])
        );
        let selector = spec.selector.match_labels.clone().expect("selector");
        assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)), "selector must match the pod labels");
        assert_eq!(spec.service_name.as_deref(), Some(name(&sts.metadata)));
    }
}

#[test]
fn metadata_command_uses_ordinal_plus_one_and_lists_raft_peers() {
    let r = build("  image: x\n");
    let command = container(&r.metadata_statefulset).command.clone().expect("command");
    assert_eq!(&command[..2], ["/bin/sh", "-c"]);
    let script = &command[2];
    assert!(script.starts_with("ID=$(( ${POD_NAME##*-} + 1 )); exec /antfly metadata --id \"$ID\""), "{script}");
    for flag in [
        "--config /config/config.json",
        "--api-host 0.0.0.0 --api-port 12377",
        "--raft-host 0.0.0.0 --raft-port 9017",
        "--health-port 4200",
    ] {
        assert!(script.contains(flag), "{flag} missing from {script}");
    }
    assert!(
        script.contains(concat!(
            "--cluster '{\"1\":\"http://c-metadata-0.c-metadata.ns.svc.cluster.local:9017\",",
            "\"2\":\"http://c-metadata-1.c-metadata.ns.svc.cluster.local:9017\",",
            "\"3\":\"http://c-metadata-2.c-metadata.ns.svc.cluster.local:9017\"}'"
        )),
        "{script}"
    );
}

#[test]
fn data_command_binds_the_pod_ip_from_the_downward_api() {
    let r = build("  image: x\n");
    let c = container(&r.data_statefulset);
    let script = &c.command.as_ref().expect("command")[2];
    assert!(
        script.contains("exec /antfly data --node-id \"$ID\" --store-id \"$ID\" --config /config/config.json"),
        "{script}"
    );
    assert!(script.contains(
        "--api-host \"$POD_IP\" --api-port 12380 --raft-host \"$POD_IP\" --raft-port 9021 --health-port 4200"
    ));
    let env: Vec<_> = c
        .env
        .iter()
        .flatten()
        .map(|e| {
            let path = e.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).map(|f| f.field_path.clone());
            (e.name.clone(), path.unwrap_or_default())
        })
        .collect();
    assert_eq!(env, [("POD_NAME".into(), "metadata.name".into()), ("POD_IP".into(), "status.podIP".into())]);
}

#[test]
fn config_is_mounted_at_config_json_and_data_at_antflydb() {
    let r = build("  image: x\n");
    let mounts: Vec<_> = container(&r.data_statefulset)
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    assert_eq!(mounts, [("config".into(), "/config".into()), ("data".into(), "/antflydb".into())]);
    let volume = &pod(&r.data_statefulset).volumes.as_ref().expect("volumes")[0];
    let source = volume.config_map.as_ref().expect("configmap volume");
    assert_eq!(source.name, "c-config");
    assert_eq!(source.items.as_ref().expect("items")[0].path, "config.json");
}

#[test]
fn generated_config_merges_user_json_and_forces_network_keys() {
    let cluster = validated(concat!(
        "  config: |\n",
        "    {\"log\": {\"level\": \"info\"}, \"replication_factor\": 2,\n",
        "     \"storage\": {\"s3\": {\"bucket\": \"b\"}, \"local\": {\"base_dir\": \"/elsewhere\"}},\n",
        "     \"metadata\": {\"orchestration_urls\": {\"9\": \"x\"}, \"keep\": true}}\n",
    ));
    let config = config::build_config_json(&cluster);
    assert_eq!(config["replication_factor"], 2, "the user's value beats the default");
    assert_eq!(config["max_shard_size_bytes"], 67108864);
    assert_eq!(config["disable_shard_alloc"], true);
    assert_eq!(config["default_shards_per_table"], 1);
    assert_eq!(config["log"]["level"], "info");
    assert_eq!(config["storage"]["s3"]["bucket"], "b", "storage.s3 survives the merge");
    assert_eq!(config["storage"]["local"]["base_dir"], "/antflydb", "forced");
    assert_eq!(config["metadata"]["keep"], true);
    let overwritten = config::build_config_json(&validated("  config: '{\"storage\": \"flat\"}'\n"));
    assert_eq!(overwritten["storage"]["local"]["base_dir"], "/antflydb", "a non-object parent is replaced");
    assert_eq!(
        config["metadata"]["orchestration_urls"],
        serde_json::json!({
            "1": "http://c-metadata-0.c-metadata.ns.svc.cluster.local:12377",
            "2": "http://c-metadata-1.c-metadata.ns.svc.cluster.local:12377",
            "3": "http://c-metadata-2.c-metadata.ns.svc.cluster.local:12377",
        }),
        "forced whole: the user's entry is replaced"
    );
}

#[test]
fn scaling_data_nodes_rewrites_no_config_and_no_pod_template() {
    let built = |replicas: i32| build(&format!("  dataNodes:\n    replicas: {replicas}\n"));
    let three = built(3);
    assert_eq!(config::build_config_json(&validated("  dataNodes:\n    replicas: 3\n"))["replication_factor"], 3);
    for replicas in [4, 5, 9] {
        let other = built(replicas);
        assert_eq!(other.config_map, three.config_map, "{replicas} data nodes");
        let template = |r: &ClusterResources| r.data_statefulset.spec.clone().map(|s| s.template);
        assert_eq!(template(&other), template(&three), "{replicas} data nodes");
        assert_eq!(other.metadata_statefulset, three.metadata_statefulset, "{replicas} data nodes");
    }
}

/// The config hash on one role's pod template.
fn config_hash(r: &ClusterResources, role: crate::base::Role) -> String {
    let sts = match role {
        crate::base::Role::Metadata => &r.metadata_statefulset,
        crate::base::Role::Data => &r.data_statefulset,
    };
    let annotations =
        sts.spec.clone().and_then(|s| s.template.metadata).and_then(|m| m.annotations).expect("annotations");
    annotations[crate::base::CONFIG_HASH_ANNOTATION].clone()
}

#[test]
fn a_config_change_changes_the_pod_template_hash_of_the_roles_it_concerns() {
    use crate::base::Role::{Data, Metadata};
    let info = build("  config: '{\"log\": {\"level\": \"info\"}}'\n");
    assert_eq!(config_hash(&info, Data).len(), 64);
    assert_eq!(config_hash(&info, Data), config_hash(&build("  config: '{\"log\": {\"level\": \"info\"}}'\n"), Data));
    let debug = build("  config: '{\"log\": {\"level\": \"debug\"}}'\n");
    assert_ne!(config_hash(&info, Data), config_hash(&debug, Data));
    assert_ne!(config_hash(&info, Metadata), config_hash(&debug, Metadata));

    // Shard placement is the metadata group's: only metadata pods restart.
    let bigger_shards = build("  config: '{\"log\": {\"level\": \"info\"}, \"max_shard_size_bytes\": 1}'\n");
    assert_eq!(config_hash(&info, Data), config_hash(&bigger_shards, Data));
    assert_ne!(config_hash(&info, Metadata), config_hash(&bigger_shards, Metadata));
}

#[test]
fn statefulsets_leave_restarts_to_the_operator() {
    let r = build("  image: antfly:1\n");
    for sts in [&r.metadata_statefulset, &r.data_statefulset] {
        let strategy = sts.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).expect("update strategy");
        assert_eq!(strategy.type_.as_deref(), Some("OnDelete"));
    }
}

#[test]
fn resources_and_storage_come_from_the_spec() {
    let r = build(concat!(
        "  dataNodes:\n    resources:\n      cpu: 500m\n      memory: 2Gi\n      limits:\n        memory: 4Gi\n",
        "  storage:\n    storageClass: fast\n    dataStorage: 50Gi\n    pvcRetentionPolicy:\n      whenDeleted: Delete\n",
    ));
    let resources = container(&r.data_statefulset).resources.clone().expect("resources");
    let requests = resources.requests.expect("requests");
    assert_eq!((requests["cpu"].0.as_str(), requests["memory"].0.as_str()), ("500m", "2Gi"));
    assert_eq!(resources.limits.expect("limits")["memory"].0, "4Gi");
    assert!(container(&r.metadata_statefulset).resources.is_none());
    let spec = r.data_statefulset.spec.expect("spec");
    let claim = spec.volume_claim_templates.expect("claims").remove(0).spec.expect("claim spec");
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(claim.resources.and_then(|r| r.requests).expect("requests")["storage"].0, "50Gi");
    let retention = spec.persistent_volume_claim_retention_policy.expect("retention");
    assert_eq!((retention.when_deleted.as_deref(), retention.when_scaled.as_deref()), (Some("Delete"), Some("Retain")));
}

#[test]
fn pvcs_are_retained_by_default() {
    let spec = build("  image: x\n").metadata_statefulset.spec.expect("spec");
    let retention = spec.persistent_volume_claim_retention_policy.expect("retention");
    assert_eq!((retention.when_deleted.as_deref(), retention.when_scaled.as_deref()), (Some("Retain"), Some("Retain")));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
}

#[test]
fn metadata_pdb_keeps_a_raft_majority() {
    let r = build(
        "  metadataNodes:\n    replicas: 3\n  dataNodes:\n    replicas: 6\n  podDisruptionBudget:\n    enabled: true\n    maxUnavailable: 2\n",
    );
    let max = |pdb: Option<k8s_openapi::api::policy::v1::PodDisruptionBudget>| {
        pdb.and_then(|p| p.spec).and_then(|s| s.max_unavailable)
    };
    assert_eq!(max(r.metadata_pdb), Some(IntOrString::Int(1)));
    assert_eq!(max(r.data_pdb), Some(IntOrString::Int(2)));
    let five = build(
        "  metadataNodes:\n    replicas: 5\n  gke:\n    podDisruptionBudget:\n      enabled: true\n      maxUnavailable: 3\n",
    );
    assert_eq!(max(five.metadata_pdb), Some(IntOrString::Int(2)), "the seed's gke.podDisruptionBudget spelling works");
}

#[test]
fn service_account_is_built_from_provider_annotations() {
    let cluster = validated("  image: x\n");
    let mut contributions = Contributions::default();
    contributions.data.scheduling.push(SchedulingContribution {
        service_account_annotations: BTreeMap::from([(
            "eks.amazonaws.com/role-arn".into(),
            "arn:aws:iam::123456789012:role/a".into(),
        )]),
        ..SchedulingContribution::default()
    });
    let r = build_resources(&cluster, &contributions);
    let sa = r.service_account.expect("service account");
    assert_eq!(sa.metadata.name.as_deref(), Some("c"));
    assert_eq!(
        sa.metadata.annotations.expect("annotations")["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/a"
    );
    for sts in [&r.metadata_statefulset, &r.data_statefulset] {
        assert_eq!(pod(sts).service_account_name.as_deref(), Some("c"));
    }
}

#[test]
fn owner_references_are_set_only_when_the_uid_is_known() {
    assert!(build("  image: x\n").config_map.metadata.owner_references.is_none());
    let mut cluster = crate::fixtures::parse("  image: x\n");
    cluster.metadata.uid = Some("1234".into());
    let validated = crate::validate::validate(&cluster).expect("valid");
    let r = build_resources(&validated, &Contributions::default());
    let owner = &r.data_statefulset.metadata.owner_references.expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str(), owner.controller),
        ("AntflyCluster", "c", "1234", Some(true))
    );
}

#[test]
fn render_order_is_the_documented_apply_order() {
    let r = build("  publicAPI:\n    enabled: true\n  podDisruptionBudget:\n    enabled: true\n");
    let kinds: Vec<String> = r
        .to_json_objects()
        .expect("json")
        .iter()
        .map(|o| {
            format!("{}/{}", o["kind"].as_str().unwrap_or_default(), o["metadata"]["name"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap/c-config",
            "Service/c-metadata",
            "Service/c-data",
            "Service/c-public-api",
            "StatefulSet/c-metadata",
            "StatefulSet/c-data",
            "PodDisruptionBudget/c-metadata-pdb",
            "PodDisruptionBudget/c-data-pdb"
        ]
    );
}

#[test]
fn composed_annotations_over_256_kib_are_reported_with_their_sources() {
    let cluster = validated("  serviceMesh:\n    enabled: true\n    annotations:\n      a: x\n");
    let mut contributions = Contributions::default();
    contributions.data.scheduling.push(SchedulingContribution {
        plugin: "acme".into(),
        pod_annotations: BTreeMap::from([("acme.io/blob".to_string(), "y".repeat(limits_max()))]),
        ..SchedulingContribution::default()
    });
    let resources = build_resources(&cluster, &contributions);
    let errors = limits::check(&cluster, &contributions, &resources);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "spec.serviceMesh.annotations");
    assert!(errors[0].message.starts_with("the data pods' annotations total"), "{errors:?}");
    assert!(errors[0].message.contains("from plugin \"acme\""), "{errors:?}");
    assert!(
        limits::check(&cluster, &Contributions::default(), &build_resources(&cluster, &Contributions::default()))
            .is_empty()
    );
}

fn limits_max() -> usize {
    crate::validate::MAX_ANNOTATIONS_BYTES
}

#[test]
fn a_plugin_spread_that_repeats_the_users_pair_is_reported() {
    let cluster = validated(
        "  dataNodes:\n    topologySpreadConstraints:\n      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}\n",
    );
    let mut contributions = Contributions::default();
    contributions.data.scheduling.push(SchedulingContribution {
        plugin: "acme".into(),
        topology_spread: vec![crate::compose::merge::default_zone_spread("c", crate::base::Role::Data)],
        ..SchedulingContribution::default()
    });
    let errors = limits::check(&cluster, &contributions, &build_resources(&cluster, &contributions));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "spec.dataNodes.topologySpreadConstraints");
}

#[test]
fn a_config_map_over_one_mib_is_reported() {
    let big = "z".repeat(super::limits::MAX_CONFIG_MAP_BYTES);
    let cluster = validated(&format!("  config: '{{\"blob\": \"{big}\"}}'\n"));
    let errors =
        limits::check(&cluster, &Contributions::default(), &build_resources(&cluster, &Contributions::default()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "spec.config");
    assert!(errors[0].message.contains("a ConfigMap holds at most 1048576"), "{errors:?}");
}

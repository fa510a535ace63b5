//! The first-party plugins, built for wasm32-wasip2 and run through the real host, give
//! exactly the values of the scheduling and service-mesh seeds.

use crate::common::{bundled, cluster, cluster_with_selectors, host, kv, mesh_view};
use antfly_plugin_host::wit::{
    ContainerView, ErrorCode, InitContainerView, NodeSelectorRequirement, PodView, PreferredTerm, Role,
    SchedulingContribution, Toleration,
};

fn contribution(plugin: &antfly_plugin_host::Plugin, settings: &str, role: Role) -> SchedulingContribution {
    let view = cluster(settings);
    plugin.validate_settings(&view).unwrap().unwrap();
    plugin.contribute(&view, role).unwrap().unwrap()
}

#[test]
fn eks_spot_puts_data_nodes_on_spot_with_toleration_and_25s_grace() {
    let host = host();
    let eks = bundled(&host, "eks");
    let data = contribution(&eks, r#"{"enabled":true,"spot":{"dataNodes":true}}"#, Role::Data);
    assert_eq!(data.role, Role::Data);
    assert_eq!(data.node_selector, vec![kv("eks.amazonaws.com/capacityType", "SPOT")]);
    assert_eq!(
        data.tolerations,
        vec![Toleration {
            key: "eks.amazonaws.com/spot".to_string(),
            operator: "Exists".to_string(),
            value: String::new(),
            effect: "NoSchedule".to_string(),
            toleration_seconds: None,
        }]
    );
    assert_eq!(data.termination_grace_period_seconds, Some(25));
    assert!(!data.clear_node_selector);
    assert!(!data.suppress_default_zone_spread);
}

#[test]
fn eks_spot_never_touches_metadata_nodes_whichever_spelling_enables_it() {
    let host = host();
    let eks = bundled(&host, "eks");
    for settings in [
        r#"{"enabled":true,"spot":{"dataNodes":true}}"#,
        r#"{"enabled":true,"useSpotInstances":true}"#,
        r#"{"enabled":true,"useSpotInstances":true,"spot":{"dataNodes":true},"instanceTypes":["m6i.2xlarge"]}"#,
    ] {
        let metadata = contribution(&eks, settings, Role::Metadata);
        assert_eq!(metadata.role, Role::Metadata);
        assert!(metadata.node_selector.is_empty(), "{settings}");
        assert!(metadata.tolerations.is_empty(), "{settings}");
        assert!(metadata.preferred_node_affinity.is_empty(), "{settings}");
        assert_eq!(metadata.termination_grace_period_seconds, None, "{settings}");
        let data = contribution(&eks, settings, Role::Data);
        assert_eq!(data.node_selector, vec![kv("eks.amazonaws.com/capacityType", "SPOT")]);
    }
}

#[test]
fn eks_instance_types_become_a_weight_100_preference_on_data_nodes() {
    let host = host();
    let eks = bundled(&host, "eks");
    let settings = r#"{"enabled":true,"spot":{"dataNodes":true},"instanceTypes":["m6i.2xlarge","m7i.2xlarge"]}"#;
    let data = contribution(&eks, settings, Role::Data);
    assert_eq!(
        data.preferred_node_affinity,
        vec![PreferredTerm {
            weight: 100,
            match_expressions: vec![NodeSelectorRequirement {
                key: "node.kubernetes.io/instance-type".to_string(),
                operator: "In".to_string(),
                values: vec!["m6i.2xlarge".to_string(), "m7i.2xlarge".to_string()],
            }],
        }]
    );
}

#[test]
fn eks_irsa_annotates_the_service_account_for_both_roles() {
    let host = host();
    let eks = bundled(&host, "eks");
    let arn = "arn:aws:iam::123456789012:role/antfly-backup";
    let settings = format!(r#"{{"enabled":true,"irsaRoleARN":"{arn}"}}"#);
    for role in [Role::Metadata, Role::Data] {
        let c = contribution(&eks, &settings, role);
        assert_eq!(c.service_account_annotations, vec![kv("eks.amazonaws.com/role-arn", arn)]);
        assert!(c.node_selector.is_empty());
    }
}

#[test]
fn eks_rejects_malformed_arns_and_unknown_volume_types_naming_the_fields() {
    let host = host();
    let eks = bundled(&host, "eks");
    let view = cluster(
        r#"{"enabled":true,"irsaRoleARN":"arn:aws:iam::1234:user/x","ebsVolumeType":"gp9","instanceTypes":["m6i.large","NOT A TYPE"]}"#,
    );
    let problems = eks.validate_settings(&view).unwrap().unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["ebsVolumeType", "irsaRoleARN", "instanceTypes[1]"]);
    assert!(problems.iter().all(|p| p.code == ErrorCode::InvalidSettings));
    for volume in ["gp2", "gp3", "io1", "io2", "st1", "sc1"] {
        let view = cluster(&format!(r#"{{"enabled":true,"ebsVolumeType":"{volume}"}}"#));
        assert!(eks.validate_settings(&view).unwrap().is_ok(), "{volume}");
    }
}

#[test]
fn gke_autopilot_clears_selectors_and_requests_the_balanced_class_for_both_roles() {
    let host = host();
    let gke = bundled(&host, "gke");
    for role in [Role::Metadata, Role::Data] {
        let c = contribution(&gke, r#"{"autopilot":true}"#, role);
        assert!(c.clear_node_selector);
        assert_eq!(c.pod_annotations, vec![kv("cloud.google.com/compute-class", "Balanced")]);
        assert_eq!(c.termination_grace_period_seconds, Some(15));
        assert!(c.suppress_default_zone_spread);
        assert!(c.node_selector.is_empty());
    }
    let c = contribution(&gke, r#"{"autopilot":true,"autopilotComputeClass":"Scale-Out"}"#, Role::Data);
    assert_eq!(c.pod_annotations, vec![kv("cloud.google.com/compute-class", "Scale-Out")]);
}

#[test]
fn gke_standard_spot_applies_to_data_nodes_only() {
    let host = host();
    let gke = bundled(&host, "gke");
    let settings = r#"{"spot":{"dataNodes":true}}"#;
    let data = contribution(&gke, settings, Role::Data);
    assert_eq!(data.node_selector, vec![kv("cloud.google.com/gke-spot", "true")]);
    assert_eq!(data.termination_grace_period_seconds, Some(15));
    assert!(!data.clear_node_selector);
    let metadata = contribution(&gke, settings, Role::Metadata);
    assert!(metadata.node_selector.is_empty());
    assert_eq!(metadata.termination_grace_period_seconds, None);
}

#[test]
fn gke_autopilot_rejects_a_user_node_selector_with_the_seed_message() {
    let host = host();
    let gke = bundled(&host, "gke");
    let view =
        cluster_with_selectors(r#"{"autopilot":true}"#, vec![kv("workload", "antfly")], vec![kv("workload", "antfly")]);
    let problems = gke.validate_settings(&view).unwrap().unwrap_err();
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "spec.metadataNodes.nodeSelector conflicts with spec.gke.autopilot=true",
            "spec.dataNodes.nodeSelector conflicts with spec.gke.autopilot=true",
        ]
    );
    assert_eq!(problems[0].field, "spec.metadataNodes.nodeSelector");
    assert!(problems.iter().all(|p| p.code == ErrorCode::Conflict));
}

fn pod(containers: &[&str], native_sidecars: &[(&str, Option<&str>)]) -> PodView {
    PodView {
        name: "my-cluster-data-0".to_string(),
        annotations: Vec::new(),
        containers: containers
            .iter()
            .map(|name| ContainerView { name: name.to_string(), image: format!("example.com/{name}:1") })
            .collect(),
        init_containers: native_sidecars
            .iter()
            .map(|(name, policy)| InitContainerView {
                name: name.to_string(),
                image: format!("example.com/{name}:1"),
                restart_policy: policy.map(str::to_string),
            })
            .collect(),
    }
}

#[test]
fn istio_injects_and_excludes_the_raft_ports_from_the_cluster_view() {
    let host = host();
    let istio = bundled(&host, "istio");
    for role in [Role::Metadata, Role::Data] {
        let annotations = istio.pod_annotations(&mesh_view("my-cluster"), role).unwrap().unwrap();
        assert_eq!(
            annotations,
            vec![
                kv("sidecar.istio.io/inject", "true"),
                kv("traffic.sidecar.istio.io/excludeOutboundPorts", "9017,9021"),
                kv("traffic.sidecar.istio.io/excludeInboundPorts", "9017,9021"),
            ]
        );
    }
}

#[test]
fn istio_detects_its_proxy_as_container_or_native_sidecar_only() {
    let host = host();
    let istio = bundled(&host, "istio");
    assert!(istio.has_sidecar(&pod(&["antfly", "istio-proxy"], &[])).unwrap());
    assert!(istio.has_sidecar(&pod(&["antfly"], &[("istio-proxy", Some("Always"))])).unwrap());
    // A plain init container (istio-init, or istio-proxy without restartPolicy) is not a sidecar.
    assert!(!istio.has_sidecar(&pod(&["antfly"], &[("istio-proxy", None)])).unwrap());
    assert!(!istio.has_sidecar(&pod(&["antfly"], &[("istio-init", None)])).unwrap());
    assert!(!istio.has_sidecar(&pod(&["antfly", "linkerd-proxy"], &[])).unwrap());
}

#[test]
fn linkerd_injects_and_skips_the_raft_ports_both_ways() {
    let host = host();
    let linkerd = bundled(&host, "linkerd");
    let annotations = linkerd.pod_annotations(&mesh_view("my-cluster"), Role::Data).unwrap().unwrap();
    assert_eq!(
        annotations,
        vec![
            kv("linkerd.io/inject", "enabled"),
            kv("config.linkerd.io/skip-outbound-ports", "9017,9021"),
            kv("config.linkerd.io/skip-inbound-ports", "9017,9021"),
        ]
    );
    assert!(linkerd.has_sidecar(&pod(&["antfly", "linkerd-proxy"], &[])).unwrap());
    assert!(linkerd.has_sidecar(&pod(&["antfly"], &[("linkerd-proxy", Some("Always"))])).unwrap());
    assert!(!linkerd.has_sidecar(&pod(&["antfly"], &[])).unwrap());
}

#[test]
fn consul_declares_the_cluster_services_as_upstreams_and_excludes_raft() {
    let host = host();
    let consul = bundled(&host, "consul");
    let annotations = consul.pod_annotations(&mesh_view("antfly"), Role::Metadata).unwrap().unwrap();
    assert_eq!(
        annotations,
        vec![
            kv("consul.hashicorp.com/connect-inject", "true"),
            kv("consul.hashicorp.com/transparent-proxy-exclude-outbound-ports", "9017,9021"),
            kv("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports", "9017,9021"),
            kv("consul.hashicorp.com/connect-service-upstreams", "antfly-metadata:12377,antfly-data:12380"),
        ]
    );
    for sidecar in ["consul-dataplane", "envoy-sidecar", "consul-connect-envoy-sidecar"] {
        assert!(consul.has_sidecar(&pod(&["antfly", sidecar], &[])).unwrap(), "{sidecar}");
        assert!(consul.has_sidecar(&pod(&["antfly"], &[(sidecar, Some("Always"))])).unwrap(), "{sidecar}");
    }
    assert!(!consul.has_sidecar(&pod(&["antfly", "istio-proxy"], &[])).unwrap());
}

#[test]
fn mesh_plugins_take_ports_from_the_view_not_from_constants() {
    let host = host();
    let istio = bundled(&host, "istio");
    let mut view = mesh_view("c");
    for service in &mut view.services {
        for port in &mut service.ports {
            port.port += 1;
        }
    }
    let annotations = istio.pod_annotations(&view, Role::Data).unwrap().unwrap();
    assert_eq!(annotations[1], kv("traffic.sidecar.istio.io/excludeOutboundPorts", "9018,9022"));
}

#[test]
fn the_template_plugin_pins_both_roles_to_its_node_pool() {
    let host = host();
    let template = crate::common::fixture(&host, "template", antfly_plugin_host::World::SchedulingProvider);
    let c = contribution(&template, r#"{"nodePool":"antfly","tolerateDedicated":true}"#, Role::Metadata);
    assert_eq!(c.node_selector, vec![kv("example.com/node-pool", "antfly")]);
    assert_eq!(c.tolerations[0].effect, "NoSchedule");
    let problems = template.validate_settings(&cluster(r#"{"nodePool":"no spaces"}"#)).unwrap().unwrap_err();
    assert_eq!(problems[0].field, "nodePool");
}

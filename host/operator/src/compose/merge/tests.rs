//! Tests of the merge-rule table, one per row, with hand-made contributions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, PodSpec, PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
};

use super::*;
use crate::compose::{MeshContribution, RoleContributions};
use crate::fixtures::validated;

fn spot_toleration() -> Toleration {
    Toleration {
        key: Some("eks.amazonaws.com/spot".into()),
        operator: Some("Exists".into()),
        effect: Some("NoSchedule".into()),
        ..Toleration::default()
    }
}

fn instance_type_term(types: &[&str]) -> PreferredSchedulingTerm {
    PreferredSchedulingTerm {
        weight: 100,
        preference: NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: "node.kubernetes.io/instance-type".into(),
                operator: "In".into(),
                values: Some(types.iter().map(|t| t.to_string()).collect()),
            }]),
            ..NodeSelectorTerm::default()
        },
    }
}

fn merged(spec: &str, role: Role, contributions: &[SchedulingContribution]) -> PodSpec {
    let cluster = validated(spec);
    let user = match role {
        Role::Metadata => cluster.spec().metadata_nodes.scheduling.clone(),
        Role::Data => cluster.spec().data_nodes.scheduling.clone(),
    };
    let mut pod = PodSpec::default();
    apply_scheduling(&mut pod, &cluster, role, &user, contributions);
    pod
}

const USER_DATA_SCHEDULING: &str = concat!(
    "  dataNodes:\n",
    "    nodeSelector:\n      workload: antfly\n      eks.amazonaws.com/capacityType: ON_DEMAND\n",
    "    tolerations:\n      - {key: dedicated, operator: Equal, value: antfly, effect: NoSchedule}\n",
    "      - {key: eks.amazonaws.com/spot, operator: Exists, effect: NoSchedule}\n",
    "    topologySpreadConstraints:\n      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}\n",
    "    affinity:\n",
    "      nodeAffinity:\n",
    "        requiredDuringSchedulingIgnoredDuringExecution:\n",
    "          nodeSelectorTerms:\n            - matchExpressions:\n                - {key: disk, operator: In, values: [ssd]}\n",
    "        preferredDuringSchedulingIgnoredDuringExecution:\n",
    "          - weight: 10\n            preference:\n              matchExpressions:\n                - {key: gen, operator: In, values: [m7]}\n",
    "      podAntiAffinity:\n",
    "        preferredDuringSchedulingIgnoredDuringExecution:\n",
    "          - weight: 100\n            podAffinityTerm:\n              topologyKey: kubernetes.io/hostname\n",
);

fn eks_spot() -> SchedulingContribution {
    SchedulingContribution {
        plugin: "eks".into(),
        node_selector: BTreeMap::from([("eks.amazonaws.com/capacityType".into(), "SPOT".into())]),
        tolerations: vec![spot_toleration()],
        preferred_node_affinity: vec![instance_type_term(&["m6i.2xlarge"])],
        topology_spread: vec![TopologySpreadConstraint {
            max_skew: 2,
            topology_key: "kubernetes.io/hostname".into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            ..TopologySpreadConstraint::default()
        }],
        termination_grace_period_seconds: Some(25),
        ..SchedulingContribution::default()
    }
}

#[test]
fn tolerations_are_appended_without_duplicates() {
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[eks_spot()]);
    let keys: Vec<_> = pod.tolerations.unwrap_or_default().into_iter().map(|t| t.key.unwrap_or_default()).collect();
    assert_eq!(keys, ["dedicated", "eks.amazonaws.com/spot"]);
}

#[test]
fn node_selector_is_key_merged_and_the_provider_wins() {
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[eks_spot()]);
    assert_eq!(
        pod.node_selector.unwrap_or_default(),
        BTreeMap::from([
            ("eks.amazonaws.com/capacityType".to_string(), "SPOT".to_string()),
            ("workload".to_string(), "antfly".to_string()),
        ])
    );
}

#[test]
fn preferred_node_terms_are_appended_to_the_users() {
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[eks_spot()]);
    let node = pod.affinity.and_then(|a| a.node_affinity).expect("node affinity");
    let weights: Vec<i32> = node
        .preferred_during_scheduling_ignored_during_execution
        .unwrap_or_default()
        .iter()
        .map(|t| t.weight)
        .collect();
    assert_eq!(weights, [10, 100]);
}

#[test]
fn required_node_terms_and_pod_anti_affinity_stay_the_users() {
    let cluster = validated(USER_DATA_SCHEDULING);
    let user_affinity = cluster.spec().data_nodes.scheduling.affinity.clone().expect("user affinity");
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[eks_spot()]);
    let affinity = pod.affinity.expect("affinity");
    assert_eq!(
        affinity.node_affinity.and_then(|n| n.required_during_scheduling_ignored_during_execution),
        user_affinity.node_affinity.and_then(|n| n.required_during_scheduling_ignored_during_execution)
    );
    assert_eq!(affinity.pod_anti_affinity, user_affinity.pod_anti_affinity);
    assert_eq!(affinity.pod_affinity, None);
}

#[test]
fn topology_spread_is_appended_to_the_users() {
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[eks_spot()]);
    let keys: Vec<_> =
        pod.topology_spread_constraints.unwrap_or_default().into_iter().map(|c| c.topology_key).collect();
    assert_eq!(keys, ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
}

#[test]
fn default_soft_zone_spread_applies_when_the_user_sets_none() {
    let pod = merged("  image: x\n", Role::Metadata, &[]);
    let spread = pod.topology_spread_constraints.expect("default spread");
    assert_eq!(spread, [default_zone_spread("c", Role::Metadata)]);
    assert_eq!(
        (spread[0].max_skew, spread[0].when_unsatisfiable.as_str(), spread[0].topology_key.as_str()),
        (1, "ScheduleAnyway", "topology.kubernetes.io/zone")
    );
    let selector = spread[0].label_selector.as_ref().and_then(|s| s.match_labels.clone()).unwrap_or_default();
    assert_eq!(selector.get("app.kubernetes.io/component").map(String::as_str), Some("metadata"));
    assert_eq!(selector.get("app.kubernetes.io/instance").map(String::as_str), Some("c"));
}

#[test]
fn default_spread_is_skipped_when_the_user_sets_constraints() {
    let pod = merged(USER_DATA_SCHEDULING, Role::Data, &[]);
    let spread = pod.topology_spread_constraints.expect("user spread");
    assert_eq!(spread.len(), 1);
    assert_eq!(spread[0].label_selector, None, "the user's constraint, not the default");
}

#[test]
fn default_spread_is_skipped_under_autopilot_and_when_a_provider_suppresses_it() {
    assert_eq!(merged("  gke:\n    autopilot: true\n", Role::Data, &[]).topology_spread_constraints, None);
    let suppress = SchedulingContribution { suppress_default_zone_spread: true, ..SchedulingContribution::default() };
    assert_eq!(merged("  image: x\n", Role::Data, &[suppress]).topology_spread_constraints, None);
}

#[test]
fn clear_node_selector_drops_every_entry_then_adds_the_providers() {
    let autopilot = SchedulingContribution {
        clear_node_selector: true,
        node_selector: BTreeMap::from([("cloud.google.com/compute-class".into(), "Balanced".into())]),
        ..SchedulingContribution::default()
    };
    let pod = merged("  dataNodes:\n    nodeSelector:\n      workload: antfly\n", Role::Data, &[autopilot]);
    assert_eq!(
        pod.node_selector.map(|s| s.into_keys().collect::<Vec<_>>()),
        Some(vec!["cloud.google.com/compute-class".to_string()])
    );
    let clear_only = SchedulingContribution { clear_node_selector: true, ..SchedulingContribution::default() };
    let pod = merged("  dataNodes:\n    nodeSelector:\n      workload: antfly\n", Role::Data, &[clear_only]);
    assert_eq!(pod.node_selector, None);
}

#[test]
fn grace_period_is_the_shortest_contributed() {
    let with_grace = |seconds| SchedulingContribution {
        termination_grace_period_seconds: Some(seconds),
        ..SchedulingContribution::default()
    };
    let pod = merged("  image: x\n", Role::Data, &[with_grace(25), with_grace(15)]);
    assert_eq!(pod.termination_grace_period_seconds, Some(15));
    assert_eq!(merged("  image: x\n", Role::Data, &[]).termination_grace_period_seconds, None);
}

#[test]
fn user_mesh_annotations_win_over_the_profile() {
    let cluster = validated(
        "  serviceMesh:\n    enabled: true\n    profile: istio\n    annotations:\n      sidecar.istio.io/inject: \"false\"\n",
    );
    let contributions = RoleContributions {
        scheduling: vec![SchedulingContribution {
            pod_annotations: BTreeMap::from([("cloud.google.com/compute-class".into(), "Balanced".into())]),
            ..SchedulingContribution::default()
        }],
        mesh: Some(MeshContribution {
            profile: "istio".into(),
            pod_annotations: BTreeMap::from([
                ("sidecar.istio.io/inject".into(), "true".into()),
                ("traffic.sidecar.istio.io/excludeOutboundPorts".into(), "9017,9021".into()),
            ]),
        }),
    };
    let annotations = pod_annotations(&cluster, &contributions);
    assert_eq!(annotations["sidecar.istio.io/inject"], "false");
    assert_eq!(annotations["traffic.sidecar.istio.io/excludeOutboundPorts"], "9017,9021");
    assert_eq!(annotations["cloud.google.com/compute-class"], "Balanced");
}

#[test]
fn mesh_annotations_are_dropped_when_the_mesh_is_disabled() {
    let cluster = validated("  serviceMesh:\n    enabled: false\n    annotations:\n      linkerd.io/inject: enabled\n");
    assert!(pod_annotations(&cluster, &RoleContributions::default()).is_empty());
}

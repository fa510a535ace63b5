//! The merge rules of the scheduling seed, applied to one role's pod spec.
//!
//! | field | rule |
//! |---|---|
//! | tolerations | provider's appended to the user's, duplicates skipped |
//! | nodeSelector | key-merged; the provider wins on a duplicate key; `clear_node_selector` empties it first |
//! | affinity, preferred node terms | provider's appended to the user's |
//! | affinity, required node terms | the user's, untouched (providers cannot contribute them) |
//! | pod affinity and anti-affinity | the user's, untouched |
//! | topologySpreadConstraints | provider's appended to the user's, or to the default soft zone spread |
//!
//! The default soft zone spread (maxSkew 1, ScheduleAnyway, `topology.kubernetes.io/zone`) is
//! used only when the user set no constraints, Autopilot is off and no provider suppresses it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, PodSpec, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{RoleContributions, SchedulingContribution};
use crate::api::SchedulingSpec;
use crate::base::Role;
use crate::base::labels::selector_labels;
use crate::validate::ValidatedCluster;

pub const ZONE_TOPOLOGY_KEY: &str = "topology.kubernetes.io/zone";

/// The operator's default spread for one role.
pub fn default_zone_spread(cluster_name: &str, role: Role) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE_TOPOLOGY_KEY.into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        label_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(cluster_name, role)),
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    }
}

/// Apply the user's scheduling fields, then merge each provider contribution on top.
pub fn apply_scheduling(
    pod: &mut PodSpec,
    cluster: &ValidatedCluster,
    role: Role,
    user: &SchedulingSpec,
    contributions: &[SchedulingContribution],
) {
    let mut node_selector = user.node_selector.clone();
    let mut tolerations = user.tolerations.clone();
    let mut affinity = user.affinity.clone();
    let mut spread = user.topology_spread_constraints.clone();

    let suppress_default = cluster.autopilot() || contributions.iter().any(|c| c.suppress_default_zone_spread);
    if spread.is_empty() && !suppress_default {
        spread.push(default_zone_spread(cluster.name(), role));
    }

    for contribution in contributions {
        if contribution.clear_node_selector {
            node_selector.clear();
        }
        node_selector.extend(contribution.node_selector.clone());
        for toleration in &contribution.tolerations {
            if !tolerations.contains(toleration) {
                tolerations.push(toleration.clone());
            }
        }
        if !contribution.preferred_node_affinity.is_empty() {
            let node_affinity =
                affinity.get_or_insert_with(Affinity::default).node_affinity.get_or_insert_with(NodeAffinity::default);
            node_affinity
                .preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .extend(contribution.preferred_node_affinity.iter().cloned());
        }
        spread.extend(contribution.topology_spread.iter().cloned());
    }

    pod.node_selector = (!node_selector.is_empty()).then_some(node_selector);
    pod.tolerations = (!tolerations.is_empty()).then_some(tolerations);
    pod.affinity = affinity;
    pod.topology_spread_constraints = (!spread.is_empty()).then_some(spread);
    // Several providers may ask for a grace period; the shortest fits every reclaim notice.
    pod.termination_grace_period_seconds =
        contributions.iter().filter_map(|c| c.termination_grace_period_seconds).min();
}

/// Pod-template annotations: provider annotations, then the mesh profile's, then the user's
/// `serviceMesh.annotations`, which win.
pub fn pod_annotations(cluster: &ValidatedCluster, contributions: &RoleContributions) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    for contribution in &contributions.scheduling {
        annotations.extend(contribution.pod_annotations.clone());
    }
    if let Some(mesh) = cluster.spec().service_mesh.as_ref().filter(|m| m.enabled) {
        if let Some(profile) = &contributions.mesh {
            annotations.extend(profile.pod_annotations.clone());
        }
        annotations.extend(mesh.annotations.clone());
    }
    annotations
}

/// ServiceAccount annotations from every role's providers (one ServiceAccount serves both).
pub fn service_account_annotations<'a>(
    roles: impl IntoIterator<Item = &'a RoleContributions>,
) -> BTreeMap<String, String> {
    roles
        .into_iter()
        .flat_map(|role| role.scheduling.iter())
        .flat_map(|c| c.service_account_annotations.clone())
        .collect()
}

#[cfg(test)]
mod tests;

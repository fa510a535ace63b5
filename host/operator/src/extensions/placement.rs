//! Metadata (Raft) pods never land on Spot or preemptible capacity, whatever the plugins
//! contribute. A Raft member reclaimed with a two-minute notice, or all of them at once,
//! takes the cluster's metadata down.
//!
//! The decision is made on the pod spec that results, not on the names a contribution
//! uses: each metadata contribution is merged, with the builder's own merge, onto the
//! user's settings and the contributions before it, and what it changed must pass an
//! allowlist:
//!
//! - it removes or changes nothing already there (the user's nodeSelector pins above all:
//!   `clear-node-selector` or an override of a pinned key is refused, and so is any change
//!   to tolerations or affinity terms already present);
//! - every nodeSelector entry and preferred node-affinity expression it adds keeps off
//!   Spot: on a capacity label (EKS, Karpenter, GKE, AKS, `node.kubernetes.io/lifecycle`)
//!   only `In` with on-demand values, or `NotIn` listing every Spot value; on a label whose
//!   presence means Spot (`cloud.google.com/gke-spot`, `-preemptible`, any key naming spot
//!   or preemptible) only `DoesNotExist` or `NotIn ["true"]`; elsewhere no `In` value that
//!   names spot or preemptible;
//! - every toleration it adds names an explicit key (no wildcard) that is not a Spot taint,
//!   and tolerates a capacity label only by an on-demand value;
//! - no pod annotation it adds names spot or preemptible (GKE's compute classes).
//!
//! Label keys are matched case-insensitively and values of capacity labels exactly: a case
//! variant of an on-demand value is refused rather than trusted.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, PodAffinity, PodAntiAffinity, PodSpec, Toleration};

use crate::base::Role;
use crate::compose::merge::apply_scheduling;
use crate::compose::{ExtensionError, SchedulingContribution};
use crate::validate::ValidatedCluster;

/// Capacity labels: the key, the values that mean Spot or preemptible, and the values that
/// mean on-demand capacity.
const CAPACITY_LABELS: [(&str, &[&str], &[&str]); 5] = [
    ("eks.amazonaws.com/capacityType", &["SPOT"], &["ON_DEMAND", "CAPACITY_BLOCK"]),
    ("karpenter.sh/capacity-type", &["spot"], &["on-demand", "reserved"]),
    ("cloud.google.com/gke-provisioning", &["spot", "preemptible"], &["standard"]),
    ("kubernetes.azure.com/scalesetpriority", &["spot"], &["regular"]),
    ("node.kubernetes.io/lifecycle", &["spot"], &["normal", "on-demand"]),
];

/// Words that mark Spot or preemptible capacity in a key or value of any provider.
const SPOT_WORDS: [&str; 2] = ["spot", "preempt"];

/// What a label key says about capacity.
enum LabelKind {
    Capacity {
        spot: &'static [&'static str],
        on_demand: &'static [&'static str],
    },
    /// Present (or `true`) only on Spot or preemptible nodes.
    SpotMarker,
    Other,
}

fn names_spot(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    SPOT_WORDS.iter().any(|word| lower.contains(word))
}

fn label_kind(key: &str) -> LabelKind {
    if let Some((_, spot, on_demand)) = CAPACITY_LABELS.iter().find(|(k, ..)| k.eq_ignore_ascii_case(key)) {
        return LabelKind::Capacity { spot, on_demand };
    }
    if names_spot(key) { LabelKind::SpotMarker } else { LabelKind::Other }
}

/// Checks the metadata pods' composed scheduling, one contribution at a time, in the order
/// the builder merges them.
pub(super) fn check_metadata(
    cluster: &ValidatedCluster,
    contributions: &[SchedulingContribution],
) -> Result<(), ExtensionError> {
    let user = &cluster.spec().metadata_nodes.scheduling;
    let compose = |contributions: &[SchedulingContribution]| {
        let mut pod = PodSpec::default();
        apply_scheduling(&mut pod, cluster, Role::Metadata, user, contributions);
        pod
    };
    let mut before = compose(&[]);
    for (index, contribution) in contributions.iter().enumerate() {
        let after = compose(&contributions[..=index]);
        check_step(&before, &after, contribution).map_err(|problem| ExtensionError::InvalidContribution {
            plugin: contribution.plugin.clone(),
            message: format!("{problem}: it would let metadata (Raft) pods run on Spot capacity"),
        })?;
        before = after;
    }
    Ok(())
}

/// What one contribution changed from `before` to `after`, against the allowlist.
fn check_step(before: &PodSpec, after: &PodSpec, contribution: &SchedulingContribution) -> Result<(), String> {
    let selector_before = before.node_selector.clone().unwrap_or_default();
    let selector_after = after.node_selector.clone().unwrap_or_default();
    for (key, value) in &selector_before {
        match selector_after.get(key) {
            Some(kept) if kept == value => {}
            Some(other) => return Err(format!("nodeSelector {key}={other} overrides {key}={value}")),
            None => return Err(format!("nodeSelector {key}={value} is removed")),
        }
    }
    for (key, value) in selector_after.iter().filter(|(key, _)| !selector_before.contains_key(*key)) {
        requirement(key, "In", std::slice::from_ref(value))
            .map_err(|why| format!("nodeSelector {key}={value} {why}"))?;
    }

    let tolerations_before = before.tolerations.clone().unwrap_or_default();
    let tolerations_after = after.tolerations.clone().unwrap_or_default();
    if !tolerations_after.starts_with(&tolerations_before) {
        return Err("tolerations already set are changed".to_string());
    }
    for toleration_ in &tolerations_after[tolerations_before.len()..] {
        toleration(toleration_)?;
    }

    let node_affinity = |pod: &PodSpec| pod.affinity.as_ref().and_then(|a| a.node_affinity.clone()).unwrap_or_default();
    let (affinity_before, affinity_after) = (node_affinity(before), node_affinity(after));
    if affinity_before.required_during_scheduling_ignored_during_execution
        != affinity_after.required_during_scheduling_ignored_during_execution
        || pod_affinities(before) != pod_affinities(after)
    {
        return Err("required affinity terms are changed".to_string());
    }
    let preferred_before = affinity_before.preferred_during_scheduling_ignored_during_execution.unwrap_or_default();
    let preferred_after = affinity_after.preferred_during_scheduling_ignored_during_execution.unwrap_or_default();
    if !preferred_after.starts_with(&preferred_before) {
        return Err("preferred node-affinity terms already set are changed".to_string());
    }
    for term in &preferred_after[preferred_before.len()..] {
        for NodeSelectorRequirement { key, operator, values } in term.preference.match_expressions.iter().flatten() {
            let values = values.clone().unwrap_or_default();
            requirement(key, operator, &values)
                .map_err(|why| format!("preferredNodeAffinity {key} {operator} {values:?} {why}"))?;
        }
    }

    if let Some((key, value)) = contribution.pod_annotations.iter().find(|(k, v)| names_spot(k) || names_spot(v)) {
        return Err(format!("pod annotation {key}={value} names Spot or preemptible capacity"));
    }
    Ok(())
}

fn pod_affinities(pod: &PodSpec) -> (Option<PodAffinity>, Option<PodAntiAffinity>) {
    pod.affinity.as_ref().map(|a| (a.pod_affinity.clone(), a.pod_anti_affinity.clone())).unwrap_or_default()
}

/// Whether a node-selector expression keeps off Spot; the error says why not.
fn requirement(key: &str, operator: &str, values: &[String]) -> Result<(), String> {
    match (label_kind(key), operator) {
        (LabelKind::Capacity { on_demand, .. }, "In") => {
            match values.iter().find(|v| !on_demand.contains(&v.as_str())) {
                Some(value) => Err(format!("selects {value:?}, not one of the on-demand values {on_demand:?}")),
                None => Ok(()),
            }
        }
        (LabelKind::Capacity { spot, .. }, "NotIn") => match spot.iter().find(|s| !values.iter().any(|v| v == *s)) {
            Some(missing) => Err(format!("does not exclude {missing:?}")),
            None => Ok(()),
        },
        (LabelKind::Capacity { .. }, _) => Err("is not an In of on-demand values".to_string()),
        (LabelKind::SpotMarker, "DoesNotExist") => Ok(()),
        (LabelKind::SpotMarker, "NotIn") if values.iter().any(|v| v == "true") => Ok(()),
        (LabelKind::SpotMarker, _) => Err("selects a label of Spot or preemptible nodes".to_string()),
        (LabelKind::Other, "In") => match values.iter().find(|v| names_spot(v)) {
            Some(value) => Err(format!("selects {value:?}, which names Spot or preemptible capacity")),
            None => Ok(()),
        },
        (LabelKind::Other, _) => Ok(()),
    }
}

/// Whether an added toleration keeps off Spot; the error says why not.
fn toleration(toleration: &Toleration) -> Result<(), String> {
    let key = toleration.key.as_deref().unwrap_or_default();
    let value = toleration.value.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        return Err("a toleration with an empty key tolerates every taint, Spot taints included".to_string());
    }
    let allowed = match label_kind(key) {
        LabelKind::Capacity { on_demand, .. } => operator == "Equal" && on_demand.contains(&value),
        LabelKind::SpotMarker => false,
        LabelKind::Other => !names_spot(value),
    };
    if allowed { Ok(()) } else { Err(format!("the toleration of {key} {operator} {value:?} tolerates a Spot taint")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn capacity_labels_allow_only_on_demand_values() {
        assert!(requirement("eks.amazonaws.com/capacityType", "In", &values(&["ON_DEMAND"])).is_ok());
        assert!(requirement("eks.amazonaws.com/capacityType", "In", &values(&["SPOT"])).is_err());
        assert!(requirement("EKS.amazonaws.com/CapacityType", "In", &values(&["spot"])).is_err());
        assert!(requirement("karpenter.sh/capacity-type", "NotIn", &values(&["spot"])).is_ok());
        assert!(requirement("karpenter.sh/capacity-type", "NotIn", &values(&["on-demand"])).is_err());
        assert!(requirement("karpenter.sh/capacity-type", "DoesNotExist", &[]).is_err());
        assert!(requirement("kubernetes.azure.com/scalesetpriority", "Exists", &[]).is_err());
    }

    #[test]
    fn spot_marker_labels_may_only_be_excluded() {
        assert!(requirement("cloud.google.com/gke-spot", "DoesNotExist", &[]).is_ok());
        assert!(requirement("cloud.google.com/gke-spot", "NotIn", &values(&["true"])).is_ok());
        assert!(requirement("cloud.google.com/gke-spot", "In", &values(&["true"])).is_err());
        assert!(requirement("cloud.google.com/gke-preemptible", "Exists", &[]).is_err());
        assert!(requirement("example.com/spot-pool", "In", &values(&["yes"])).is_err());
        assert!(requirement("node.kubernetes.io/instance-type", "In", &values(&["m6i.large"])).is_ok());
        assert!(requirement("example.com/pool", "In", &values(&["Spot-Pool"])).is_err());
    }

    #[test]
    fn tolerations_need_an_explicit_key_that_is_no_spot_taint() {
        let t = |key: &str, operator: &str, value: &str| Toleration {
            key: (!key.is_empty()).then(|| key.to_string()),
            operator: Some(operator.to_string()),
            value: (!value.is_empty()).then(|| value.to_string()),
            ..Toleration::default()
        };
        assert!(toleration(&t("", "Exists", "")).is_err());
        assert!(toleration(&t("eks.amazonaws.com/spot", "Exists", "")).is_err());
        assert!(toleration(&t("kubernetes.azure.com/scalesetpriority", "Equal", "spot")).is_err());
        assert!(toleration(&t("kubernetes.azure.com/scalesetpriority", "Exists", "")).is_err());
        assert!(toleration(&t("kubernetes.azure.com/scalesetpriority", "Equal", "regular")).is_ok());
        assert!(toleration(&t("example.com/dedicated", "Exists", "")).is_ok());
        assert!(toleration(&t("example.com/dedicated", "Equal", "preemptible")).is_err());
    }
}

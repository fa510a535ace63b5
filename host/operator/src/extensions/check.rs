//! WIT → domain: every value a plugin returns is checked before use, then converted.
//!
//! Checks: label keys and values (nodeSelector, affinity, spread selectors), toleration
//! operators and effects, annotation keys and the 256 KiB annotation budget, affinity
//! weights 1..=100, grace period ≥ 0, spread `maxSkew` ≥ 1 and `whenUnsatisfiable`, and the
//! role the contribution names. That metadata (Raft) pods never go to Spot is decided on the
//! composed pod spec, in [`super::placement`].

use std::collections::BTreeMap;

use antfly_plugin_host::wit;
use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::views::domain_role;
use crate::base::Role;
use crate::base::labels::selector_labels;
use crate::compose::SchedulingContribution;
use crate::validate::syntax::{label_value, qualified_name};

/// Kubernetes' limit on the total size of an object's annotations.
pub const MAX_ANNOTATIONS_BYTES: usize = 256 << 10;

const TOLERATION_OPERATORS: [&str; 2] = ["Exists", "Equal"];
const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const SELECTOR_OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
const WHEN_UNSATISFIABLE: [&str; 2] = ["DoNotSchedule", "ScheduleAnyway"];

/// Checks a scheduling contribution made for `role` of cluster `cluster_name` and converts it.
/// The error is a sentence naming the offending field.
pub fn scheduling_contribution(
    plugin: &str,
    cluster_name: &str,
    role: Role,
    contribution: wit::SchedulingContribution,
) -> Result<SchedulingContribution, String> {
    let wit::SchedulingContribution {
        role: contributed_role,
        node_selector,
        clear_node_selector,
        tolerations,
        preferred_node_affinity,
        topology_spread,
        suppress_default_zone_spread,
        pod_annotations,
        termination_grace_period_seconds,
        service_account_annotations,
    } = contribution;
    let contributed_role = domain_role(contributed_role);
    if contributed_role != role {
        return Err(format!(
            "contribution is for the {} role, but the {} role was asked for",
            contributed_role.as_str(),
            role.as_str()
        ));
    }
    let node_selector = labels("nodeSelector", node_selector)?;
    let tolerations =
        tolerations.into_iter().enumerate().map(|(i, t)| toleration(i, t)).collect::<Result<Vec<_>, _>>()?;
    let preferred_node_affinity = preferred_node_affinity
        .into_iter()
        .enumerate()
        .map(|(i, t)| preferred_term(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let topology_spread = topology_spread
        .into_iter()
        .enumerate()
        .map(|(i, s)| spread(i, s, cluster_name, role))
        .collect::<Result<Vec<_>, _>>()?;
    let pod_annotations = annotations("podAnnotations", pod_annotations)?;
    let service_account_annotations = annotations("serviceAccountAnnotations", service_account_annotations)?;
    if let Some(seconds) = termination_grace_period_seconds
        && seconds < 0
    {
        return Err(format!("terminationGracePeriodSeconds must be at least 0, got {seconds}"));
    }
    Ok(SchedulingContribution {
        plugin: plugin.to_string(),
        node_selector,
        clear_node_selector,
        tolerations,
        preferred_node_affinity,
        topology_spread,
        suppress_default_zone_spread,
        pod_annotations,
        termination_grace_period_seconds,
        service_account_annotations,
    })
}

/// Checks and converts a mesh profile's annotations.
pub fn mesh_annotations(annotations_: Vec<wit::Kv>) -> Result<BTreeMap<String, String>, String> {
    annotations("podAnnotations", annotations_)
}

fn labels(field: &str, entries: Vec<wit::Kv>) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for wit::Kv { key, value } in entries {
        qualified_name(&key).map_err(|e| format!("{field}: {e}"))?;
        label_value(&value).map_err(|e| format!("{field}.{key}: {e}"))?;
        if map.insert(key.clone(), value).is_some() {
            return Err(format!("{field}: key {key:?} appears twice"));
        }
    }
    Ok(map)
}

fn annotations(field: &str, entries: Vec<wit::Kv>) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    let mut size = 0usize;
    for wit::Kv { key, value } in entries {
        qualified_name(&key).map_err(|e| format!("{field}: {e}"))?;
        size = size.saturating_add(key.len()).saturating_add(value.len());
        if map.insert(key.clone(), value).is_some() {
            return Err(format!("{field}: key {key:?} appears twice"));
        }
    }
    if size > MAX_ANNOTATIONS_BYTES {
        return Err(format!("{field}: {size} bytes, more than Kubernetes' {MAX_ANNOTATIONS_BYTES} bytes"));
    }
    Ok(map)
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("{field}: {value:?} is not one of {}", allowed.join(", ")))
    }
}

fn toleration(index: usize, toleration: wit::Toleration) -> Result<Toleration, String> {
    let field = format!("tolerations[{index}]");
    let wit::Toleration { key, operator, value, effect, toleration_seconds } = toleration;
    one_of(&format!("{field}.operator"), &operator, &TOLERATION_OPERATORS)?;
    if !effect.is_empty() {
        one_of(&format!("{field}.effect"), &effect, &TAINT_EFFECTS)?;
    }
    if key.is_empty() {
        if operator != "Exists" {
            return Err(format!("{field}: an empty key requires operator Exists"));
        }
    } else {
        qualified_name(&key).map_err(|e| format!("{field}.key: {e}"))?;
    }
    if operator == "Exists" && !value.is_empty() {
        return Err(format!("{field}: operator Exists takes no value"));
    }
    label_value(&value).map_err(|e| format!("{field}.value: {e}"))?;
    if toleration_seconds.is_some() && effect != "NoExecute" {
        return Err(format!("{field}: tolerationSeconds requires effect NoExecute"));
    }
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Toleration {
        key: non_empty(key),
        operator: Some(operator),
        value: non_empty(value),
        effect: non_empty(effect),
        toleration_seconds,
    })
}

fn preferred_term(index: usize, term: wit::PreferredTerm) -> Result<PreferredSchedulingTerm, String> {
    let field = format!("preferredNodeAffinity[{index}]");
    if !(1..=100).contains(&term.weight) {
        return Err(format!("{field}.weight must be between 1 and 100, got {}", term.weight));
    }
    if term.match_expressions.is_empty() {
        return Err(format!("{field}.matchExpressions must not be empty"));
    }
    let match_expressions = term
        .match_expressions
        .into_iter()
        .enumerate()
        .map(|(i, r)| requirement(&format!("{field}.matchExpressions[{i}]"), r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreferredSchedulingTerm {
        weight: term.weight,
        preference: NodeSelectorTerm { match_expressions: Some(match_expressions), match_fields: None },
    })
}

fn requirement(field: &str, requirement: wit::NodeSelectorRequirement) -> Result<NodeSelectorRequirement, String> {
    let wit::NodeSelectorRequirement { key, operator, values } = requirement;
    qualified_name(&key).map_err(|e| format!("{field}.key: {e}"))?;
    one_of(&format!("{field}.operator"), &operator, &SELECTOR_OPERATORS)?;
    match operator.as_str() {
        "In" | "NotIn" if values.is_empty() => return Err(format!("{field}: operator {operator} needs values")),
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            return Err(format!("{field}: operator {operator} takes no values"));
        }
        "Gt" | "Lt" if values.len() != 1 || values[0].parse::<i64>().is_err() => {
            return Err(format!("{field}: operator {operator} needs exactly one integer value"));
        }
        _ => {}
    }
    for value in &values {
        label_value(value).map_err(|e| format!("{field}.values: {e}"))?;
    }
    Ok(NodeSelectorRequirement { key, operator, values: (!values.is_empty()).then_some(values) })
}

fn spread(
    index: usize,
    spread: wit::TopologySpread,
    cluster_name: &str,
    role: Role,
) -> Result<TopologySpreadConstraint, String> {
    let field = format!("topologySpread[{index}]");
    let wit::TopologySpread { max_skew, topology_key, when_unsatisfiable, match_labels, min_domains } = spread;
    if max_skew < 1 {
        return Err(format!("{field}.maxSkew must be at least 1, got {max_skew}"));
    }
    qualified_name(&topology_key).map_err(|e| format!("{field}.topologyKey: {e}"))?;
    one_of(&format!("{field}.whenUnsatisfiable"), &when_unsatisfiable, &WHEN_UNSATISFIABLE)?;
    if let Some(min) = min_domains {
        if min < 1 {
            return Err(format!("{field}.minDomains must be at least 1, got {min}"));
        }
        if when_unsatisfiable != "DoNotSchedule" {
            return Err(format!("{field}.minDomains requires whenUnsatisfiable DoNotSchedule"));
        }
    }
    let mut match_labels = labels(&format!("{field}.matchLabels"), match_labels)?;
    if match_labels.is_empty() {
        match_labels = selector_labels(cluster_name, role);
    }
    Ok(TopologySpreadConstraint {
        max_skew,
        topology_key,
        when_unsatisfiable,
        min_domains,
        label_selector: Some(LabelSelector { match_labels: Some(match_labels), match_expressions: None }),
        ..TopologySpreadConstraint::default()
    })
}

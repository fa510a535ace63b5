//! Tolerations, topology spread, affinity and label selectors, checked as the API server's
//! pod validation checks them (k8s.io/kubernetes pkg/apis/core/validation).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Affinity, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::FieldError;
use super::syntax::{dns1123_label, label_value, qualified_name};

/// Most entries of each scheduling list; the CRD says the same, which bounds its CEL rules' cost.
pub const MAX_SCHEDULING_ITEMS: usize = 32;

pub struct Errors<'a>(pub &'a mut Vec<FieldError>);

impl Errors<'_> {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { path: path.into(), message: message.into() });
    }

    pub fn check(&mut self, path: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.push(path, message);
        }
    }
}

pub fn check_toleration(path: &str, toleration: &Toleration, e: &mut Errors) {
    let key = toleration.key.as_deref().unwrap_or("");
    let value = toleration.value.as_deref().unwrap_or("");
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !key.is_empty() {
        e.check(format!("{path}.key"), qualified_name(key));
    } else if operator != "Exists" {
        e.push(format!("{path}.operator"), "must be Exists when key is empty (to tolerate every taint)");
    }
    if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
        e.push(format!("{path}.effect"), format!("must be NoExecute when tolerationSeconds is set, got {effect:?}"));
    }
    match operator {
        "Equal" | "" => e.check(format!("{path}.value"), label_value(value)),
        "Exists" => {
            if !value.is_empty() {
                e.push(format!("{path}.value"), "must be empty when operator is Exists");
            }
        }
        other => e.push(format!("{path}.operator"), format!("must be Exists or Equal, got {other:?}")),
    }
    if !matches!(effect, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        e.push(format!("{path}.effect"), format!("must be NoSchedule, PreferNoSchedule or NoExecute, got {effect:?}"));
    }
}

pub fn check_spreads(path: &str, constraints: &[TopologySpreadConstraint], e: &mut Errors) {
    let mut pairs = BTreeSet::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let path = format!("{path}[{i}]");
        check_spread(&path, constraint, e);
        if !pairs.insert((constraint.topology_key.as_str(), constraint.when_unsatisfiable.as_str())) {
            e.push(
                path,
                format!(
                    "duplicates another constraint with topologyKey {:?} and whenUnsatisfiable {:?}",
                    constraint.topology_key, constraint.when_unsatisfiable
                ),
            );
        }
    }
}

fn check_spread(path: &str, constraint: &TopologySpreadConstraint, e: &mut Errors) {
    if constraint.max_skew < 1 {
        e.push(format!("{path}.maxSkew"), format!("must be at least 1, got {}", constraint.max_skew));
    }
    if constraint.topology_key.is_empty() {
        e.push(format!("{path}.topologyKey"), "must not be empty");
    } else {
        e.check(format!("{path}.topologyKey"), qualified_name(&constraint.topology_key));
    }
    let do_not_schedule = constraint.when_unsatisfiable == "DoNotSchedule";
    if !do_not_schedule && constraint.when_unsatisfiable != "ScheduleAnyway" {
        e.push(
            format!("{path}.whenUnsatisfiable"),
            format!("must be DoNotSchedule or ScheduleAnyway, got {:?}", constraint.when_unsatisfiable),
        );
    }
    if let Some(min) = constraint.min_domains {
        if min < 1 {
            e.push(format!("{path}.minDomains"), format!("must be at least 1, got {min}"));
        }
        if !do_not_schedule {
            e.push(format!("{path}.minDomains"), "may only be set when whenUnsatisfiable is DoNotSchedule");
        }
    }
    for (field, policy) in
        [("nodeAffinityPolicy", &constraint.node_affinity_policy), ("nodeTaintsPolicy", &constraint.node_taints_policy)]
    {
        if let Some(policy) = policy.as_deref().filter(|p| !matches!(*p, "Honor" | "Ignore")) {
            e.push(format!("{path}.{field}"), format!("must be Honor or Ignore, got {policy:?}"));
        }
    }
    check_match_label_keys(path, constraint.label_selector.as_ref(), constraint.match_label_keys.as_deref(), None, e);
    if let Some(selector) = &constraint.label_selector {
        check_label_selector(&format!("{path}.labelSelector"), selector, e);
    }
}

/// `matchLabelKeys` (and `mismatchLabelKeys`) need a labelSelector, must be label keys, and
/// may not name a key the selector already uses.
fn check_match_label_keys(
    path: &str,
    selector: Option<&LabelSelector>,
    match_keys: Option<&[String]>,
    mismatch_keys: Option<&[String]>,
    e: &mut Errors,
) {
    let lists =
        [("matchLabelKeys", match_keys.unwrap_or_default()), ("mismatchLabelKeys", mismatch_keys.unwrap_or_default())];
    let mut selector_keys: BTreeSet<&str> = BTreeSet::new();
    if let Some(selector) = selector {
        selector_keys.extend(selector.match_labels.iter().flatten().map(|(k, _)| k.as_str()));
        selector_keys.extend(selector.match_expressions.iter().flatten().map(|r| r.key.as_str()));
    }
    let mut seen = BTreeSet::new();
    for (field, keys) in lists {
        if !keys.is_empty() && selector.is_none() {
            e.push(format!("{path}.{field}"), "may only be set together with labelSelector");
        }
        for (i, key) in keys.iter().enumerate() {
            let item = format!("{path}.{field}[{i}]");
            e.check(&item, qualified_name(key));
            if selector_keys.contains(key.as_str()) {
                e.push(&item, format!("{key:?} is already used by labelSelector"));
            }
            if !seen.insert(key.as_str()) {
                e.push(&item, format!("{key:?} appears twice"));
            }
        }
    }
}

pub fn check_label_selector(path: &str, selector: &LabelSelector, e: &mut Errors) {
    for (key, value) in selector.match_labels.iter().flatten() {
        e.check(format!("{path}.matchLabels[{key}]"), qualified_name(key));
        e.check(format!("{path}.matchLabels[{key}]"), label_value(value));
    }
    for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        let path = format!("{path}.matchExpressions[{i}]");
        let values = requirement.values.as_deref().unwrap_or_default();
        check_requirement(&path, &requirement.key, &requirement.operator, values, Operators::Label, e);
    }
}

/// The operators a requirement may use: a label selector's, or a node selector's, which adds
/// `Gt` and `Lt`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operators {
    Label,
    Node,
}

/// One `key operator values` requirement of a label or node selector.
fn check_requirement(path: &str, key: &str, operator: &str, values: &[String], operators: Operators, e: &mut Errors) {
    let node = operators == Operators::Node;
    match operator {
        "In" | "NotIn" if values.is_empty() => {
            e.push(format!("{path}.values"), format!("must be set when operator is {operator}"))
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            e.push(format!("{path}.values"), format!("must be empty when operator is {operator}"))
        }
        "Gt" | "Lt" if node && (values.len() != 1 || values[0].parse::<i64>().is_err()) => {
            e.push(format!("{path}.values"), format!("must be one integer when operator is {operator}"))
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        "Gt" | "Lt" if node => {}
        other if node => e.push(
            format!("{path}.operator"),
            format!("must be In, NotIn, Exists, DoesNotExist, Gt or Lt, got {other:?}"),
        ),
        other => {
            e.push(format!("{path}.operator"), format!("must be In, NotIn, Exists or DoesNotExist, got {other:?}"))
        }
    }
    e.check(format!("{path}.key"), qualified_name(key));
    for (j, value) in values.iter().enumerate() {
        e.check(format!("{path}.values[{j}]"), label_value(value));
    }
}

pub fn check_affinity(path: &str, affinity: &Affinity, e: &mut Errors) {
    if let Some(node) = &affinity.node_affinity {
        let path = format!("{path}.nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            let path = format!("{path}.requiredDuringSchedulingIgnoredDuringExecution");
            if required.node_selector_terms.is_empty() {
                e.push(format!("{path}.nodeSelectorTerms"), "must have at least one node selector term");
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                check_node_selector_term(&format!("{path}.nodeSelectorTerms[{i}]"), term, e);
            }
        }
        for (i, term) in node.preferred_during_scheduling_ignored_during_execution.iter().flatten().enumerate() {
            let path = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            check_weight(&path, term.weight, e);
            check_node_selector_term(&format!("{path}.preference"), &term.preference, e);
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (field, terms) in pod_terms {
        let Some((required, preferred)) = terms else { continue };
        let path = format!("{path}.{field}");
        for (i, term) in required.iter().flatten().enumerate() {
            check_pod_affinity_term(&format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"), term, e);
        }
        for (i, weighted) in preferred.iter().flatten().enumerate() {
            let path = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            check_weight(&path, weighted.weight, e);
            check_pod_affinity_term(&format!("{path}.podAffinityTerm"), &weighted.pod_affinity_term, e);
        }
    }
}

fn check_weight(path: &str, weight: i32, e: &mut Errors) {
    if !(1..=100).contains(&weight) {
        e.push(format!("{path}.weight"), format!("must be between 1 and 100, got {weight}"));
    }
}

fn check_node_selector_term(path: &str, term: &NodeSelectorTerm, e: &mut Errors) {
    for (i, requirement) in term.match_expressions.iter().flatten().enumerate() {
        check_node_requirement(&format!("{path}.matchExpressions[{i}]"), requirement, e);
    }
    for (i, requirement) in term.match_fields.iter().flatten().enumerate() {
        let path = format!("{path}.matchFields[{i}]");
        if requirement.key != "metadata.name" {
            e.push(format!("{path}.key"), format!("must be metadata.name, got {:?}", requirement.key));
        }
        let values = requirement.values.as_deref().unwrap_or_default();
        if !matches!(requirement.operator.as_str(), "In" | "NotIn") {
            e.push(format!("{path}.operator"), format!("must be In or NotIn, got {:?}", requirement.operator));
        } else if values.len() != 1 {
            e.push(format!("{path}.values"), "must have exactly one value");
        }
    }
}

fn check_node_requirement(path: &str, requirement: &NodeSelectorRequirement, e: &mut Errors) {
    let values = requirement.values.as_deref().unwrap_or_default();
    check_requirement(path, &requirement.key, &requirement.operator, values, Operators::Node, e);
}

fn check_pod_affinity_term(path: &str, term: &PodAffinityTerm, e: &mut Errors) {
    if term.topology_key.is_empty() {
        e.push(format!("{path}.topologyKey"), "must not be empty");
    } else {
        e.check(format!("{path}.topologyKey"), qualified_name(&term.topology_key));
    }
    if let Some(selector) = &term.label_selector {
        check_label_selector(&format!("{path}.labelSelector"), selector, e);
    }
    if let Some(selector) = &term.namespace_selector {
        check_label_selector(&format!("{path}.namespaceSelector"), selector, e);
    }
    for (i, namespace) in term.namespaces.iter().flatten().enumerate() {
        e.check(format!("{path}.namespaces[{i}]"), dns1123_label(namespace, 63));
    }
    check_match_label_keys(
        path,
        term.label_selector.as_ref(),
        term.match_label_keys.as_deref(),
        term.mismatch_label_keys.as_deref(),
        e,
    );
}

//! The `scheduling-provider` world: contributions to the pods of one role.

pub use crate::bindings::exports::antfly::operator::scheduling::{
    Guest, NodeSelectorRequirement, PreferredTerm, SchedulingContribution, TopologySpread,
};
use crate::{Role, Toleration};

impl SchedulingContribution {
    /// A contribution to `role` that adds nothing; set only the fields the plugin adds.
    pub fn empty(role: Role) -> Self {
        SchedulingContribution {
            role,
            node_selector: Vec::new(),
            clear_node_selector: false,
            tolerations: Vec::new(),
            preferred_node_affinity: Vec::new(),
            topology_spread: Vec::new(),
            suppress_default_zone_spread: false,
            pod_annotations: Vec::new(),
            termination_grace_period_seconds: None,
            service_account_annotations: Vec::new(),
        }
    }
}

impl Toleration {
    /// Tolerates the taint `key` of `effect` whatever its value (`operator: Exists`).
    pub fn exists(key: &str, effect: &str) -> Self {
        Toleration {
            key: key.to_string(),
            operator: "Exists".to_string(),
            value: String::new(),
            effect: effect.to_string(),
            toleration_seconds: None,
        }
    }

    /// Tolerates the taint `key=value` of `effect` (`operator: Equal`).
    pub fn equal(key: &str, value: &str, effect: &str) -> Self {
        Toleration {
            key: key.to_string(),
            operator: "Equal".to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
            toleration_seconds: None,
        }
    }
}

//! The recommended Kubernetes labels the operator sets, and the selector of one role's pods.

use std::collections::BTreeMap;

use super::Role;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const APP_NAME: &str = "antfly-database";
pub const MANAGER: &str = "antfly-operator";

/// Labels that select one role's pods; immutable once a StatefulSet exists.
pub fn selector_labels(cluster_name: &str, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), cluster_name.to_string()),
        (LABEL_COMPONENT.to_string(), role.as_str().to_string()),
    ])
}

/// Label selector (`k=v,...`) of one role's pods (and of the claims its StatefulSet makes).
pub fn role_pod_selector(cluster_name: &str, role: Role) -> String {
    let labels = selector_labels(cluster_name, role);
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Label selector (`k=v,...`) of every pod of a cluster.
pub fn cluster_pod_selector(cluster_name: &str) -> String {
    format!("{LABEL_NAME}={APP_NAME},{LABEL_INSTANCE}={cluster_name}")
}

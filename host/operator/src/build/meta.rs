//! Labels and object metadata shared by every built object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::base::Role;
use crate::base::labels::{APP_NAME, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGER};
use crate::validate::ValidatedCluster;

/// Labels on every object of the cluster.
pub fn cluster_labels(cluster: &ValidatedCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), cluster.name().to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
    ])
}

/// Labels on one role's objects and pods: the cluster labels plus the component.
pub fn role_labels(cluster: &ValidatedCluster, role: Role) -> BTreeMap<String, String> {
    let mut labels = cluster_labels(cluster);
    labels.insert(LABEL_COMPONENT.to_string(), role.as_str().to_string());
    labels
}

/// Metadata for a namespaced child object, owned by the cluster when its UID is known.
pub fn object_meta(cluster: &ValidatedCluster, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cluster.namespace().to_string()),
        labels: Some(labels),
        owner_references: cluster.uid().map(|uid| {
            vec![OwnerReference {
                api_version: "antfly.io/v1".into(),
                kind: "AntflyCluster".into(),
                name: cluster.name().to_string(),
                uid: uid.to_string(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]
        }),
        ..ObjectMeta::default()
    }
}

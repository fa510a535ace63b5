//! Names, labels and object metadata shared by every built object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::compose::Role;
use crate::validate::ValidatedCluster;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const APP_NAME: &str = "antfly-database";
pub const MANAGER: &str = "antfly-operator";
/// Pod-template annotation holding the sha256 of `config.json`; a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "antfly.io/config-hash";

/// The names of every object of one cluster, from the architecture seed's table.
pub mod names {
    use crate::compose::Role;

    pub fn config_map(cluster: &str) -> String {
        format!("{cluster}-config")
    }
    /// StatefulSet and headless Service share this name.
    pub fn role(cluster: &str, role: Role) -> String {
        format!("{cluster}-{}", role.as_str())
    }
    pub fn public_api(cluster: &str) -> String {
        format!("{cluster}-public-api")
    }
    pub fn pdb(cluster: &str, role: Role) -> String {
        format!("{cluster}-{}-pdb", role.as_str())
    }
    pub fn service_account(cluster: &str) -> String {
        cluster.to_string()
    }
    /// Name of the volume claim template; PVCs become `data-{cluster}-{role}-{n}`.
    pub const DATA_VOLUME: &str = "data";
}

/// Labels on every object of the cluster.
pub fn cluster_labels(cluster: &ValidatedCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), cluster.name().to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
    ])
}

/// Labels that select one role's pods; immutable once a StatefulSet exists.
pub fn selector_labels(cluster_name: &str, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), cluster_name.to_string()),
        (LABEL_COMPONENT.to_string(), role.as_str().to_string()),
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

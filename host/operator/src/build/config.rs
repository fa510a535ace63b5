//! The `{c}-config` ConfigMap: the user's JSON merged with the generated network configuration.
//!
//! Precedence, lowest first: operator defaults, the user's `spec.config`, then the keys the
//! operator forces (`metadata.orchestration_urls`, `storage.local.base_dir`). Objects merge
//! key by key, so sibling keys such as `storage.s3` survive.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::meta::{cluster_labels, object_meta};
use crate::base::Role;
use crate::base::names;
use crate::base::ports::{METADATA_API, METADATA_RAFT};
use crate::validate::{DEFAULT_REPLICATION_FACTOR, ValidatedCluster};

pub const CONFIG_KEY: &str = "config.json";
pub const CONFIG_DIR: &str = "/config";
pub const CONFIG_PATH: &str = "/config/config.json";
pub const DATA_DIR: &str = "/antflydb";

/// Stable DNS name of one metadata pod: `{c}-metadata-{i}.{c}-metadata.{ns}.svc.{domain}`.
pub fn metadata_pod_host(cluster: &ValidatedCluster, ordinal: i32) -> String {
    let service = names::role(cluster.name(), Role::Metadata);
    format!("{service}-{ordinal}.{service}.{}.svc.{}", cluster.namespace(), cluster.cluster_domain())
}

/// Node ids are the StatefulSet ordinal plus one.
fn metadata_node_ids(cluster: &ValidatedCluster) -> impl Iterator<Item = (i32, i32)> {
    (0..cluster.spec().metadata_nodes.replicas).map(|ordinal| (ordinal, ordinal + 1))
}

/// The `--cluster` argument of metadata nodes: decimal node id to the peer's Raft URL.
pub fn raft_peers(cluster: &ValidatedCluster) -> Map<String, Value> {
    metadata_node_ids(cluster)
        .map(|(ordinal, id)| {
            (id.to_string(), Value::String(format!("http://{}:{METADATA_RAFT}", metadata_pod_host(cluster, ordinal))))
        })
        .collect()
}

/// `metadata.orchestration_urls`: hexadecimal node id to the metadata API URL.
fn orchestration_urls(cluster: &ValidatedCluster) -> Map<String, Value> {
    metadata_node_ids(cluster)
        .map(|(ordinal, id)| {
            (format!("{id:x}"), Value::String(format!("http://{}:{METADATA_API}", metadata_pod_host(cluster, ordinal))))
        })
        .collect()
}

/// Recursively merge `overlay` into `base`; objects merge by key, anything else is replaced.
fn deep_merge(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(base_obj)), Value::Object(overlay_obj)) => deep_merge(base_obj, overlay_obj),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Set the value at `path`, replacing it whole and creating (or overwriting) parents as objects.
fn force(config: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = config;
    for key in parents {
        let entry = node.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(child) = entry else { return };
        node = child;
    }
    node.insert(last.to_string(), value);
}

fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Top-level `config.json` keys that only metadata nodes act on: shard placement and table
/// defaults are decided by the metadata (Raft) group. A change to one of them restarts no
/// data pod; the file still reaches data pods through the mounted ConfigMap.
pub const METADATA_ONLY_KEYS: [&str; 4] =
    ["replication_factor", "max_shard_size_bytes", "disable_shard_alloc", "default_shards_per_table"];

/// The final `config.json` document.
pub fn build_config_json(cluster: &ValidatedCluster) -> Map<String, Value> {
    let mut config = as_object(json!({
        "replication_factor": DEFAULT_REPLICATION_FACTOR,
        "max_shard_size_bytes": 67_108_864,
        "disable_shard_alloc": true,
        "default_shards_per_table": 1,
    }));
    deep_merge(&mut config, cluster.user_config().clone());
    force(&mut config, &["metadata", "orchestration_urls"], Value::Object(orchestration_urls(cluster)));
    force(&mut config, &["storage", "local", "base_dir"], Value::String(DATA_DIR.into()));
    config
}

/// The sha256 of what each role reads of `config.json`, for its pods' config-hash annotation:
/// a change restarts only the role it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigHashes {
    pub metadata: String,
    pub data: String,
}

impl ConfigHashes {
    pub fn for_role(&self, role: Role) -> &str {
        match role {
            Role::Metadata => &self.metadata,
            Role::Data => &self.data,
        }
    }
}

fn config_hashes(config: &Map<String, Value>) -> ConfigHashes {
    let hash = |config: &Map<String, Value>| {
        let text = serde_json::to_string(config).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    };
    let mut data_view = config.clone();
    for key in METADATA_ONLY_KEYS {
        data_view.remove(key);
    }
    ConfigHashes { metadata: hash(config), data: hash(&data_view) }
}

/// The ConfigMap and each role's config hash.
pub fn build_config_map(cluster: &ValidatedCluster) -> (ConfigMap, ConfigHashes) {
    let config = build_config_json(cluster);
    let hashes = config_hashes(&config);
    let text = serde_json::to_string_pretty(&Value::Object(config)).unwrap_or_else(|_| String::from("{}"));
    let config_map = ConfigMap {
        metadata: object_meta(cluster, names::config_map(cluster.name()), cluster_labels(cluster)),
        data: Some(BTreeMap::from([(CONFIG_KEY.to_string(), text)])),
        ..ConfigMap::default()
    };
    (config_map, hashes)
}

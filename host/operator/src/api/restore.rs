//! AntflyRestore: a one-off restore of a backup into an AntflyCluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{ClusterRef, SecretRef, TableRecord};
use super::schema::preserve_unknown_object;

/// A one-off restore; the spec is immutable once created.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "antfly.io",
    version = "v1",
    kind = "AntflyRestore",
    namespaced,
    status = "AntflyRestoreStatus",
    shortname = "afr",
    category = "antfly",
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.clusterRef.name"}"#,
    printcolumn = r#"{"name":"Backup","type":"string","jsonPath":".spec.source.backupId"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self == oldSelf", "message": "spec is immutable; create a new AntflyRestore"}
]))]
pub struct AntflyRestoreSpec {
    pub cluster_ref: ClusterRef,
    pub source: RestoreSource,
    /// Tables to restore; empty means every table in the backup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    #[serde(default)]
    pub restore_mode: RestoreMode,
    /// How long, after the server accepts the restore, every restored table may take to
    /// serve reads before the restore fails.
    #[serde(default = "default_ready_timeout", skip_serializing_if = "is_default_ready_timeout")]
    #[schemars(range(min = 10, max = 86400))]
    pub ready_timeout_seconds: i64,
}

pub const DEFAULT_READY_TIMEOUT_SECONDS: i64 = 900;

fn default_ready_timeout() -> i64 {
    DEFAULT_READY_TIMEOUT_SECONDS
}

fn is_default_ready_timeout(value: &i64) -> bool {
    *value == DEFAULT_READY_TIMEOUT_SECONDS
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSource {
    #[schemars(length(min = 1))]
    pub backup_id: String,
    #[schemars(length(min = 1))]
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub options: Option<serde_json::Value>,
}

/// What the server does with tables that already exist.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreMode {
    #[default]
    FailIfExists,
    SkipIfExists,
    Overwrite,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntflyRestoreStatus {
    /// Pending, Running, Completed, Failed or Invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The Job that runs the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Per table: triggered, skipped, ready, or not ready with the last read error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

//! AntflyBackup: scheduled backups of an AntflyCluster to a destination plugin.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::preserve_unknown_object;

/// A reference to an AntflyCluster in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ClusterRef {
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A reference to a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecretRef {
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Where backups live: a URL whose scheme selects a backup-destination plugin
/// (`s3://`, `gs://`, `file://`, or a third-party scheme).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupLocation {
    #[schemars(length(min = 1))]
    pub location: String,
    /// Secret whose keys become environment variables of the backup Job and server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<SecretRef>,
    /// Destination options, validated by the destination plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub options: Option<serde_json::Value>,
}

/// Scheduled backups of one cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "antfly.io",
    version = "v1",
    kind = "AntflyBackup",
    namespaced,
    status = "AntflyBackupStatus",
    shortname = "afb",
    category = "antfly",
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.clusterRef.name"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Last backup","type":"string","jsonPath":".status.lastBackupId"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AntflyBackupSpec {
    pub cluster_ref: ClusterRef,
    /// Cron schedule in the cluster's time zone, e.g. `0 2 * * *`.
    #[schemars(length(min = 1))]
    pub schedule: String,
    pub destination: BackupLocation,
    /// Tables to back up; empty means all tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Stop scheduling new backups.
    #[serde(default)]
    pub suspend: bool,
    /// Number of backups to keep in `status.recentBackups`.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: i32,
}

fn default_history_limit() -> i32 {
    10
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntflyBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_backup: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_backups: Vec<BackupRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One backup as recorded by the Antfly server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    pub backup_id: String,
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

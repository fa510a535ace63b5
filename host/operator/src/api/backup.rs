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

/// Backups of one cluster: on a schedule, once, or on demand.
///
/// The operator runs the schedule itself (no CronJob). Each run is a Job in the cluster's
/// namespace that asks the cluster's metadata nodes for a backup with a fresh id
/// `{name}-{YYYYMMDDHHMMSS}` (UTC).
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
    printcolumn = r#"{"name":"Next","type":"date","jsonPath":".status.nextScheduledBackup"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AntflyBackupSpec {
    pub cluster_ref: ClusterRef,
    /// Five-field cron schedule, e.g. `0 2 * * *`, in `timeZone`. Without one, the backup
    /// runs once when created, then whenever the annotation `antfly.io/backup-now` changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule, e.g. `Europe/Paris`; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    /// A scheduled run missed (the operator was down) is still started this many seconds
    /// after its time, once, however many were missed; later it is skipped.
    #[serde(default = "default_starting_deadline", skip_serializing_if = "is_default_starting_deadline")]
    #[schemars(range(min = 0, max = 86400))]
    pub starting_deadline_seconds: i64,
    pub destination: BackupLocation,
    /// Tables to back up; empty means all tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Start no scheduled run. The `antfly.io/backup-now` annotation still starts one.
    #[serde(default)]
    pub suspend: bool,
    /// Number of runs to keep in `status.recentBackups`.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: i32,
    /// A run not finished after this many seconds fails (the Job's active deadline).
    #[serde(default = "default_run_timeout", skip_serializing_if = "is_default_run_timeout")]
    #[schemars(range(min = 60, max = 86400))]
    pub timeout_seconds: i64,
}

pub const DEFAULT_STARTING_DEADLINE_SECONDS: i64 = 3600;
pub const DEFAULT_RUN_TIMEOUT_SECONDS: i64 = 3600;

fn default_history_limit() -> i32 {
    10
}

fn default_starting_deadline() -> i64 {
    DEFAULT_STARTING_DEADLINE_SECONDS
}

fn is_default_starting_deadline(value: &i64) -> bool {
    *value == DEFAULT_STARTING_DEADLINE_SECONDS
}

fn default_run_timeout() -> i64 {
    DEFAULT_RUN_TIMEOUT_SECONDS
}

fn is_default_run_timeout(value: &i64) -> bool {
    *value == DEFAULT_RUN_TIMEOUT_SECONDS
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntflyBackupStatus {
    /// Scheduled, Running, Succeeded, Failed, Suspended, Waiting or Invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_id: Option<String>,
    /// When the last run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// When the last successful run completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_backup: Option<Time>,
    /// The scheduled time last run or skipped; runs due before it are never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// The value of `antfly.io/backup-now` last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger: Option<String>,
    /// The run in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveRun>,
    /// The most recent runs, newest first, at most `historyLimit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_backups: Vec<BackupRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A backup or restore in progress: the Job that runs it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRun {
    pub backup_id: String,
    pub job_name: String,
    pub start_time: Time,
    /// Why it runs: Scheduled, CatchUp, Initial or OnDemand.
    pub reason: String,
    /// The normalised location the destination plugin planned.
    pub location: String,
}

/// One run, from its result.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    pub backup_id: String,
    /// Completed or Failed.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableRecord>,
}

/// The outcome of a run for one table, as the server reported it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableRecord {
    pub name: String,
    /// The server's word: completed, failed, triggered, skipped; or ready / not ready for a
    /// restored table.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

//! Request and answer types of the backup, list and restore calls under `/db/v1`.
//!
//! Answers are read leniently: unknown fields are ignored and missing optional fields default,
//! since the server's answers carry more than the operator reads and differ between runtimes.

use serde::{Deserialize, Deserializer, Serialize};

/// `POST /db/v1/backup`. The server overwrites an existing backup of the same id at the same
/// location without a word, so every id must be unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRequest {
    pub backup_id: String,
    /// Where the server writes the backup, such as `s3://bucket/prefix` or `file:///backups`.
    pub location: String,
    /// The tables to back up; empty means every table, and the field is then left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_names: Vec<String>,
}

/// The status of one table in a backup or restore answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStatus {
    pub name: String,
    /// `completed`, `failed`, `triggered`, `skipped`, …
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer to `POST /db/v1/backup`. The server answers 200 even when the backup failed, so
/// only [`BackupResponse::succeeded`] says whether it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupResponse {
    #[serde(default)]
    pub backup_id: String,
    /// `completed` or `failed`.
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tables: Vec<TableStatus>,
}

impl BackupResponse {
    /// Whether the backup completed, for the whole and for every table.
    pub fn succeeded(&self) -> bool {
        self.status == "completed" && self.tables.iter().all(|table| table.status == "completed")
    }

    /// The per-table errors, as `table: error`, for a failed backup.
    pub fn table_errors(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|table| table.status != "completed")
            .map(|table| format!("{}: {}", table.name, table.error.as_deref().unwrap_or(&table.status)))
            .collect()
    }
}

/// What a restore does with a table that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreMode {
    /// Refuse the whole restore (400) when any of its tables exists.
    FailIfExists,
    /// Restore the others; the existing table is reported `skipped`.
    SkipIfExists,
    /// Accepted, but a real single-process server did not replace the live data: check the
    /// data afterwards rather than relying on it.
    Overwrite,
}

/// `POST /db/v1/restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub backup_id: String,
    pub location: String,
    /// The tables to restore; empty means every table of the backup, and the field is then left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_names: Vec<String>,
    pub restore_mode: RestoreMode,
}

/// The answer to `POST /db/v1/restore`: 202 with `status: triggered`. The restore runs on after
/// the answer and has no status endpoint; its end shows when the tables serve reads
/// ([`crate::Client::wait_until_tables_serve_reads`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreResponse {
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tables: Vec<TableStatus>,
}

impl RestoreResponse {
    /// The tables the server skipped because they existed (`skip_if_exists`).
    pub fn skipped(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().filter(|t| t.status == "skipped").map(|t| t.name.as_str())
    }
}

/// One entry of `GET /db/v1/backups?location=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    pub backup_id: String,
    /// As the server wrote it; numbers are kept as their decimal text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    /// Table names; entries given as objects with a `name` are read by that name.
    #[serde(default, deserialize_with = "table_names")]
    pub tables: Vec<String>,
    #[serde(default)]
    pub antfly_version: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// The list answer: `{"backups":[…]}`, where `null` or a missing list means none.
#[derive(Debug, Deserialize)]
pub(crate) struct BackupList {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub backups: Vec<BackupSummary>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

fn table_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let entries = Option::<Vec<serde_json::Value>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter_map(|entry| match entry {
            serde_json::Value::String(name) => Some(name),
            serde_json::Value::Object(object) => object.get("name").and_then(|n| n.as_str()).map(str::to_owned),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_backup_request_leaves_out_an_empty_table_list() {
        let request = BackupRequest { backup_id: "b1".into(), location: "file:///b".into(), table_names: vec![] };
        assert_eq!(serde_json::to_value(&request).ok(), Some(json!({"backup_id":"b1","location":"file:///b"})));
        let request = BackupRequest { table_names: vec!["t".into()], ..request };
        assert_eq!(
            serde_json::to_value(&request).ok(),
            Some(json!({"backup_id":"b1","location":"file:///b","table_names":["t"]}))
        );
    }

    #[test]
    fn restore_modes_are_snake_case() {
        let request = RestoreRequest {
            backup_id: "b1".into(),
            location: "file:///b".into(),
            table_names: vec![],
            restore_mode: RestoreMode::FailIfExists,
        };
        assert_eq!(
            serde_json::to_value(&request).ok(),
            Some(json!({"backup_id":"b1","location":"file:///b","restore_mode":"fail_if_exists"}))
        );
        assert_eq!(serde_json::to_value(RestoreMode::SkipIfExists).ok(), Some(json!("skip_if_exists")));
        assert_eq!(serde_json::to_value(RestoreMode::Overwrite).ok(), Some(json!("overwrite")));
    }

    #[test]
    fn a_backup_succeeds_only_when_it_and_every_table_completed() {
        let answer = |status: &str, table: &str| BackupResponse {
            backup_id: "b".into(),
            status: status.into(),
            tables: vec![TableStatus { name: "t".into(), status: table.into(), error: None }],
        };
        assert!(answer("completed", "completed").succeeded());
        assert!(!answer("failed", "failed").succeeded());
        assert!(!answer("completed", "failed").succeeded());
        assert_eq!(answer("completed", "failed").table_errors(), vec!["t: failed".to_owned()]);
    }

    #[test]
    fn a_failed_backup_answer_is_read_with_its_table_errors() {
        let answer: BackupResponse = serde_json::from_value(json!({
            "backup_id": "b", "status": "failed",
            "tables": [{"name": "t", "status": "failed", "error": "location is required"}],
            "extra": 1
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!answer.succeeded());
        assert_eq!(answer.table_errors(), vec!["t: location is required".to_owned()]);
    }

    #[test]
    fn backup_summaries_tolerate_missing_extra_and_odd_fields() {
        let list: BackupList = serde_json::from_value(json!({"backups": [
            {"backup_id": "a"},
            {"backup_id": "b", "timestamp": 1700000000, "tables": [{"name": "t1"}, "t2", 3], "new_field": true},
            {"backup_id": "c", "timestamp": "2026-01-01T00:00:00Z", "location": "file:///b",
             "antfly_version": "v1", "format": "portable", "tables": null}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.backups.len(), 3);
        assert_eq!(list.backups[0].tables, Vec::<String>::new());
        assert_eq!(list.backups[1].timestamp.as_deref(), Some("1700000000"));
        assert_eq!(list.backups[1].tables, vec!["t1".to_owned(), "t2".to_owned()]);
        assert_eq!(list.backups[2].format.as_deref(), Some("portable"));
        let empty: BackupList = serde_json::from_value(json!({"backups": null})).unwrap_or_else(|e| panic!("{e}"));
        assert!(empty.backups.is_empty());
    }
}

//! What a backup or restore Job reports: `antfly-operator backup-run` and `restore-run` write
//! it as JSON to the container's termination message, and the controller reads it back.

use serde::{Deserialize, Serialize};

use crate::api::TableRecord;
use crate::base::text::sanitize;

/// The kubelet keeps at most 4096 bytes of a termination message.
pub const MAX_RESULT_BYTES: usize = 4096;
/// The longest message kept per table and overall.
const MAX_MESSAGE_BYTES: usize = 512;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub backup_id: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableRecord>,
    /// Tables left out of `tables` to fit the termination message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_tables: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunResult {
    pub fn failed(backup_id: &str, message: impl Into<String>) -> RunResult {
        RunResult {
            backup_id: backup_id.to_string(),
            outcome: Outcome::Failed,
            message: Some(message.into()),
            tables: Vec::new(),
            omitted_tables: 0,
        }
    }

    /// JSON of at most [`MAX_RESULT_BYTES`]: messages are cleaned and shortened, and tables
    /// past what fits are counted in `omittedTables`.
    pub fn encode(&self) -> String {
        let mut bounded = self.clone();
        bounded.message = bounded.message.map(|m| sanitize(&m, MAX_MESSAGE_BYTES));
        for table in &mut bounded.tables {
            table.name = sanitize(&table.name, 256);
            table.status = sanitize(&table.status, 64);
            table.message = table.message.take().map(|m| sanitize(&m, MAX_MESSAGE_BYTES));
        }
        loop {
            let json = serde_json::to_string(&bounded).unwrap_or_default();
            if json.len() <= MAX_RESULT_BYTES {
                return json;
            }
            if bounded.tables.pop().is_some() {
                bounded.omitted_tables += 1;
            } else {
                bounded.message = bounded.message.map(|m| sanitize(&m, 64));
                return serde_json::to_string(&bounded).unwrap_or_default();
            }
        }
    }

    /// Reads a termination message; anything else is reported as such, never trusted.
    pub fn decode(text: &str) -> Result<RunResult, String> {
        serde_json::from_str(text.trim()).map_err(|e| format!("the Job's result is not readable ({e})"))
    }
}

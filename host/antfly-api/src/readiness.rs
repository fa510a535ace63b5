//! Whether a table serves reads, read from the answer to a lookup of a key that never exists.
//!
//! The server has no restore-status endpoint, so a restore's end is observed on its tables:
//! a lookup of a missing key answers 500 "Failed to lookup key: not found" once the table
//! serves reads, 500 "shard … not found" while it is being restored, and 404 when the table
//! does not exist.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// The key looked up to probe a table. It is never written, so a serving table answers "not found".
pub const PROBE_KEY: &str = "__antfly_operator_readiness_probe__";

/// Whether a table serves reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableReadiness {
    /// Reads are served.
    Ready,
    /// The table exists but reads fail, for example while a restore loads its shards.
    NotReady { message: String },
    /// The table does not exist (404).
    Missing,
}

/// The outcome of waiting for one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableWait {
    pub table: String,
    /// Whether the table served reads before the wait ended.
    pub ready: bool,
    /// For a table that never became ready, what its last probe said.
    pub message: Option<String>,
}

/// How the client reads one lookup answer; `None` means the answer is an error of its own.
pub(crate) fn classify(status: StatusCode, message: &str) -> Option<TableReadiness> {
    if status.is_success() {
        return Some(TableReadiness::Ready);
    }
    if status == StatusCode::NOT_FOUND {
        return Some(TableReadiness::Missing);
    }
    if !status.is_server_error() {
        return None;
    }
    let lower = message.to_ascii_lowercase();
    // "shard … not found" first: it also says "not found", about the shard rather than the key.
    if lower.contains("shard") {
        return Some(TableReadiness::NotReady { message: message.to_owned() });
    }
    if lower.contains("lookup key") && lower.contains("not found") {
        return Some(TableReadiness::Ready);
    }
    Some(TableReadiness::NotReady { message: format!("{}: {message}", status.as_u16()) })
}

/// What to report about a table that is not ready.
pub(crate) fn describe(readiness: &TableReadiness) -> Option<String> {
    match readiness {
        TableReadiness::Ready => None,
        TableReadiness::NotReady { message } => Some(message.clone()),
        TableReadiness::Missing => Some("table does not exist (404)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_means_the_table_serves_reads() {
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, "Failed to lookup key: not found"),
            Some(TableReadiness::Ready)
        );
        assert_eq!(classify(StatusCode::OK, ""), Some(TableReadiness::Ready));
    }

    #[test]
    fn a_missing_shard_means_the_table_is_not_ready_yet() {
        let message = "Failed to lookup key: shard 3f2a not found";
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, message),
            Some(TableReadiness::NotReady { message: message.to_owned() })
        );
    }

    #[test]
    fn a_404_means_the_table_is_missing() {
        assert_eq!(classify(StatusCode::NOT_FOUND, "404 page not found"), Some(TableReadiness::Missing));
    }

    #[test]
    fn other_server_errors_are_not_ready_and_refusals_are_errors() {
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, "no leader"),
            Some(TableReadiness::NotReady { message }) if message == "503: no leader"
        ));
        assert_eq!(classify(StatusCode::BAD_REQUEST, "bad key"), None);
    }
}

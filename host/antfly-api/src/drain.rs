//! Types of the node-drain calls under `/internal/v1/nodes/{id}`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Where a node is in its drain, from `GET /internal/v1/nodes/{id}/shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DrainPhase {
    /// Serving; no drain asked, or a cancelled drain has recovered.
    Active,
    /// Moving its shards away. A shard leader was seen to stay here for minutes.
    Draining,
    /// The drain cannot proceed (for example, nowhere to move a shard).
    Blocked,
    /// Drained: safe to remove.
    Complete,
    /// A cancelled drain is being undone; `active` follows.
    Recovering,
    /// The server does not know the node, which answers 200, not 404: safe to remove.
    NotFound,
    /// A phase this client does not know, kept verbatim.
    Other(String),
}

impl DrainPhase {
    /// Whether the node can be removed: its drain completed, or the server does not know it.
    pub fn is_safe_to_remove(&self) -> bool {
        matches!(self, Self::Complete | Self::NotFound)
    }

    /// The server's spelling of the phase.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "active",
            Self::Draining => "draining",
            Self::Blocked => "blocked",
            Self::Complete => "complete",
            Self::Recovering => "recovering",
            Self::NotFound => "not_found",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for DrainPhase {
    fn from(phase: String) -> Self {
        match phase.as_str() {
            "active" => Self::Active,
            "draining" => Self::Draining,
            "blocked" => Self::Blocked,
            "complete" => Self::Complete,
            "recovering" => Self::Recovering,
            "not_found" => Self::NotFound,
            _ => Self::Other(phase),
        }
    }
}

impl From<DrainPhase> for String {
    fn from(phase: DrainPhase) -> Self {
        match phase {
            DrainPhase::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for DrainPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to `GET /internal/v1/nodes/{id}/shutdown`. Fields the operator does not read
/// (`stores`, `pending_groups`, …) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownStatus {
    /// The node id as the server gave it: a number, or a string holding a decimal number.
    #[serde(default, deserialize_with = "lenient_node_id")]
    pub node_id: Option<u64>,
    pub phase: DrainPhase,
    /// The server's own verdict. The operator should require it and a safe phase.
    #[serde(default)]
    pub safe_to_terminate: bool,
    #[serde(default)]
    pub message: Option<String>,
}

impl ShutdownStatus {
    /// Whether the node can be removed: a safe phase and the server's `safe_to_terminate`.
    pub fn is_safe_to_remove(&self) -> bool {
        self.phase.is_safe_to_remove() && self.safe_to_terminate
    }
}

/// The body of `PUT /internal/v1/nodes/{id}/shutdown`.
#[derive(Debug, Serialize)]
pub(crate) struct ShutdownRequest<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub reason: &'a str,
}

fn lenient_node_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(number) => number.as_u64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_complete_and_not_found_are_safe_to_remove() {
        for (phase, safe) in [
            ("active", false),
            ("draining", false),
            ("blocked", false),
            ("complete", true),
            ("recovering", false),
            ("not_found", true),
            ("exploding", false),
        ] {
            assert_eq!(DrainPhase::from(phase.to_owned()).is_safe_to_remove(), safe, "{phase}");
        }
    }

    #[test]
    fn unknown_phases_are_kept_verbatim_both_ways() {
        let phase: DrainPhase = serde_json::from_value(json!("rebalancing")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(phase, DrainPhase::Other("rebalancing".into()));
        assert_eq!(serde_json::to_value(&phase).ok(), Some(json!("rebalancing")));
        assert_eq!(serde_json::to_value(DrainPhase::NotFound).ok(), Some(json!("not_found")));
    }

    #[test]
    fn a_shutdown_status_is_read_with_extra_fields_and_either_kind_of_node_id() {
        let status: ShutdownStatus = serde_json::from_value(json!({
            "node_id": 3, "type": "remove", "phase": "draining", "safe_to_terminate": false,
            "message": "moving 2 shards", "stores": [{"id": 1}], "pending_groups": 2
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.node_id, Some(3));
        assert_eq!(status.phase, DrainPhase::Draining);
        assert_eq!(status.message.as_deref(), Some("moving 2 shards"));
        let status: ShutdownStatus =
            serde_json::from_value(json!({"node_id": "7", "phase": "not_found", "safe_to_terminate": true}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.node_id, Some(7));
        assert!(status.is_safe_to_remove());
    }

    #[test]
    fn a_safe_phase_without_the_servers_verdict_is_not_safe() {
        let status =
            ShutdownStatus { node_id: None, phase: DrainPhase::Complete, safe_to_terminate: false, message: None };
        assert!(!status.is_safe_to_remove());
    }
}

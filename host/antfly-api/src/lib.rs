//! Typed async client of the Antfly HTTP API: backup, list, restore, table readiness and node drain.
//!
//! Built from what a real server was seen to do (DESIGN.md, section 6), gotchas included:
//! - a failed backup answers 200 with `"status":"failed"`: read [`BackupResponse::succeeded`];
//! - a restore answers 202 and has no status endpoint: its end shows when its tables serve
//!   reads ([`Client::table_readiness`], [`Client::wait_until_tables_serve_reads`]);
//! - paths with no API behind them answer an HTML page with 200, so every JSON answer's
//!   content type is checked ([`ApiError::NotJson`]);
//! - an unknown node's drain status is 200 `not_found`, safe to remove ([`DrainPhase`]);
//! - removing a node was never seen to answer, so [`Client::remove_node`] takes a short timeout.
//!
//! It speaks plain HTTP/1.1 over TCP (hyper): in the cluster, mutual TLS is the mesh sidecars'
//! job. Every attempt is bounded in time, every answer body in size ([`MAX_BODY_BYTES`]), and
//! only calls that are safe to repeat are retried.

mod backup;
mod client;
mod drain;
mod error;
mod readiness;
mod transport;
mod url;

pub use backup::{
    BackupRequest, BackupResponse, BackupSummary, RestoreMode, RestoreRequest, RestoreResponse, TableStatus,
};
pub use client::{Client, DEFAULT_TIMEOUT};
pub use drain::{DrainPhase, ShutdownStatus};
pub use error::{ApiError, MAX_MESSAGE_BYTES};
pub use readiness::{PROBE_KEY, TableReadiness, TableWait};
pub use transport::MAX_BODY_BYTES;

//! The test double's in-memory state: tables, backups, nodes with scripted drains, knobs and the request log.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::time::Instant;

/// Documents of one table, by key.
pub(crate) type Docs = BTreeMap<String, Value>;

/// One request as the double received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query, still percent-encoded, as sent.
    pub path: String,
    /// The body, as text (lossy UTF-8).
    pub body: String,
}

impl RecordedRequest {
    /// Whether this is a `method` request whose path (with its query) starts with `prefix`.
    pub fn is(&self, method: &str, prefix: &str) -> bool {
        self.method == method && self.path.starts_with(prefix)
    }
}

/// The phases a node goes through once asked to drain: one phase per `GET …/shutdown`, the
/// last one repeated for ever after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainScript {
    pub(crate) phases: Vec<String>,
}

impl DrainScript {
    /// `draining` for `polls` status reads, then `complete`: a shard follower (seen: 2–6 s).
    pub fn completes_after(polls: usize) -> Self {
        let mut phases = vec!["draining".to_owned(); polls];
        phases.push("complete".to_owned());
        Self { phases }
    }

    /// `draining` for ever: a shard leader (seen: over 90 s).
    pub fn stays_draining() -> Self {
        Self { phases: vec!["draining".to_owned()] }
    }

    /// Any sequence of phases, such as `["draining", "blocked"]`; an empty one means `complete`.
    pub fn phases<S: Into<String>>(phases: impl IntoIterator<Item = S>) -> Self {
        Self { phases: phases.into_iter().map(Into::into).collect() }
    }

    pub(crate) fn phase(&self, poll: usize) -> &str {
        match self.phases.get(poll).or(self.phases.last()) {
            Some(phase) => phase,
            None => "complete",
        }
    }
}

/// Where a node's drain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Drain {
    /// Not asked to drain, or recovered from a cancelled drain.
    Active,
    /// Asked to drain; `polls` status reads answered since.
    Draining { reason: String, polls: usize },
    /// Cancelled; the next status read answers `recovering`, the ones after `active`.
    Recovering,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub script: DrainScript,
    pub drain: Drain,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub docs: Docs,
    /// While restoring: reads fail with "shard … not found" until this instant.
    pub serving_at: Option<Instant>,
    /// Stands in for the server's shard id, in "shard … not found".
    pub shard_id: u64,
}

impl Table {
    pub fn new(docs: Docs, shard_id: u64) -> Self {
        Self { docs, serving_at: None, shard_id }
    }

    pub fn serves_reads(&self) -> bool {
        self.serving_at.is_none_or(|at| Instant::now() >= at)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Backup {
    pub timestamp: String,
    pub tables: BTreeMap<String, Docs>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub ready: bool,
    pub restore_ready_after: Duration,
    pub tables: BTreeMap<String, Table>,
    /// Backups by location, then by id.
    pub backups: BTreeMap<String, BTreeMap<String, Backup>>,
    pub nodes: BTreeMap<u64, Node>,
    /// The error every table of the next backup fails with.
    pub fail_next_backup: Option<String>,
    /// Statuses the next requests answer with, whatever they ask.
    pub injected: VecDeque<u16>,
    /// Whether `DELETE /internal/v1/nodes/{id}` answers (real servers never did).
    pub remove_node_answers: bool,
    pub next_shard_id: u64,
    pub requests: Vec<RecordedRequest>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            ready: true,
            restore_ready_after: Duration::from_secs(1),
            tables: BTreeMap::new(),
            backups: BTreeMap::new(),
            nodes: BTreeMap::new(),
            fail_next_backup: None,
            injected: VecDeque::new(),
            remove_node_answers: false,
            next_shard_id: 0x3f2a_0000_0000_0001,
            requests: Vec::new(),
        }
    }
}

impl State {
    pub fn shard_id(&mut self) -> u64 {
        self.next_shard_id += 1;
        self.next_shard_id
    }
}

/// Now as RFC 3339 in UTC, such as `2026-05-20T12:00:00Z`.
pub(crate) fn rfc3339_now() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// The proleptic Gregorian date of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn a_script_repeats_its_last_phase() {
        let script = DrainScript::completes_after(2);
        assert_eq!(
            [script.phase(0), script.phase(1), script.phase(2), script.phase(9)],
            ["draining", "draining", "complete", "complete"]
        );
        assert_eq!(DrainScript::phases(Vec::<String>::new()).phase(0), "complete");
    }
}

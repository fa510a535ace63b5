//! Test double of the Antfly HTTP API: a real HTTP/1.1 server on loopback that answers as a
//! real Antfly server was seen to answer (DESIGN.md, section 6), status codes and gotchas included.
//!
//! It is a **double**, not Antfly: no real server can be built on these machines, so code that
//! talks to Antfly is tested against this. It keeps tables, backups and nodes in memory and
//! reproduces what was observed:
//! - a backup is synchronous and answers 200 even when it fails (`"status":"failed"` with
//!   per-table errors, for example for a missing location); re-using an id overwrites;
//! - a restore answers 202 `triggered`; its tables then answer lookups with 500
//!   "shard … not found" for [`AntflyDouble::restore_ready_after`] (1 s by default) before
//!   they serve; `fail_if_exists` on a present table answers 400 "table … already exists",
//!   `skip_if_exists` reports it `skipped`, `overwrite` says `triggered` but leaves the live
//!   data in place, and an unknown backup id answers 500 "Failed to read cluster backup metadata: …";
//! - a lookup of a missing key answers 500 "Failed to lookup key: not found", of a deleted or
//!   unknown table 404;
//! - `/api/v1/…`, and every other path with no API behind it, answers 200 with an HTML page;
//! - node drain follows a script per node ([`DrainScript`]): `PUT …/shutdown` answers 202
//!   `accepted` (idempotent; a `type` other than `remove` answers 400), an unknown node's
//!   status is 200 `not_found` and safe to terminate, a cancel answers 202 `canceled` and the
//!   node goes `recovering` then `active`, and `DELETE /internal/v1/nodes/{id}` never answers
//!   unless [`AntflyDouble::answer_remove_node`] says so.
//!
//! Unlike a real server, it serves `/healthz`, `/readyz` and `/metrics` on the API port.
//! Answers that were never observed are the double's plain guesses, marked in `routes.rs`.
//! Every request is logged ([`AntflyDouble::requests`]), so a test can assert which calls
//! were made. The server stops when the double is dropped.

mod routes;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use state::{Drain, Node, State, Table};
pub use state::{DrainScript, RecordedRequest};

/// A running test double of the Antfly HTTP API, on `127.0.0.1` and a free port.
///
/// Knobs take `&self` and return it, so they chain and can change the double mid-test.
#[derive(Debug)]
pub struct AntflyDouble {
    address: SocketAddr,
    base_url: String,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl AntflyDouble {
    /// Starts the double on a free loopback port. Must be called within a tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound: a test cannot run without one.
    pub async fn start() -> AntflyDouble {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binding a free loopback port for the double");
        let address = listener.local_addr().expect("a bound listener has an address");
        let state = Arc::new(Mutex::new(State::default()));
        let server = tokio::spawn(server::serve(listener, state.clone()));
        AntflyDouble { address, base_url: format!("http://{address}"), state, server }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address the double listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long restored tables fail reads with "shard … not found" (1 s by default, as seen).
    pub fn restore_ready_after(&self, delay: Duration) -> &Self {
        self.state().restore_ready_after = delay;
        self
    }

    /// Whether `/readyz` answers 200 `ready` or 503.
    pub fn set_ready(&self, ready: bool) -> &Self {
        self.state().ready = ready;
        self
    }

    /// Creates (or replaces) a table holding `docs`, serving reads at once.
    pub fn create_table<K: Into<String>>(&self, name: &str, docs: impl IntoIterator<Item = (K, Value)>) -> &Self {
        let mut state = self.state();
        let shard_id = state.shard_id();
        let docs = docs.into_iter().map(|(key, doc)| (key.into(), doc)).collect();
        state.tables.insert(name.to_owned(), Table::new(docs, shard_id));
        self
    }

    /// Deletes a table, as `DELETE /db/v1/tables/{t}` does; whether it existed.
    pub fn delete_table(&self, name: &str) -> bool {
        self.state().tables.remove(name).is_some()
    }

    /// Registers node `id`, active, whose drain will follow `script`.
    pub fn add_node(&self, id: u64, script: DrainScript) -> &Self {
        self.state().nodes.insert(id, Node { script, drain: Drain::Active });
        self
    }

    /// Makes the next backup fail (200, `"status":"failed"`) with `error` on every table.
    pub fn fail_next_backup(&self, error: &str) -> &Self {
        self.state().fail_next_backup = Some(error.to_owned());
        self
    }

    /// Makes the next `count` requests, whatever they ask, answer `status` with the text
    /// "injected failure" (they are logged all the same).
    pub fn fail_next_requests(&self, count: usize, status: u16) -> &Self {
        self.state().injected.extend(std::iter::repeat_n(status, count));
        self
    }

    /// Whether `DELETE /internal/v1/nodes/{id}` answers (200, removing the node) or, as on
    /// real servers and by default, never answers.
    pub fn answer_remove_node(&self, answers: bool) -> &Self {
        self.state().remove_node_answers = answers;
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) -> &Self {
        self.state().requests.clear();
        self
    }

    /// The documents of a table, whether or not it serves reads yet.
    pub fn table(&self, name: &str) -> Option<Vec<(String, Value)>> {
        Some(self.state().tables.get(name)?.docs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// The ids of the backups at `location`, sorted.
    pub fn backup_ids(&self, location: &str) -> Vec<String> {
        self.state().backups.get(location).map(|b| b.keys().cloned().collect()).unwrap_or_default()
    }

    /// Whether node `id` is registered (a node answered `DELETE` is not any more).
    pub fn has_node(&self, id: u64) -> bool {
        self.state().nodes.contains_key(&id)
    }
}

impl Drop for AntflyDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

//! What the test double answers to each request, as a real server was seen to answer
//! (DESIGN.md, section 6). Where the real answer was not observed, the double's choice is
//! marked "not observed" and kept plain.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::state::{Backup, Docs, Drain, State, Table, rfc3339_now};

/// The double's answer to one request.
#[derive(Debug)]
pub(crate) enum Reply {
    Answer {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// No answer, ever: the connection stays open until the client gives up.
    Hang,
}

const JSON: &str = "application/json";
/// What Go's `http.Error` sends.
const TEXT: &str = "text/plain; charset=utf-8";

fn json_reply(status: u16, value: Value) -> Reply {
    Reply::Answer { status, content_type: JSON, body: value.to_string().into_bytes() }
}

fn error_json(status: u16, message: impl Into<String>) -> Reply {
    json_reply(status, json!({ "error": message.into() }))
}

/// An error as Go's `http.Error` writes it: text with a trailing newline.
fn error_text(status: u16, message: impl AsRef<str>) -> Reply {
    Reply::Answer { status, content_type: TEXT, body: format!("{}\n", message.as_ref()).into_bytes() }
}

fn text(status: u16, body: &str) -> Reply {
    Reply::Answer { status, content_type: TEXT, body: body.as_bytes().to_vec() }
}

fn not_found() -> Reply {
    error_text(404, "404 page not found")
}

/// The web UI's page, served with 200 for every path that has no API behind it (`/api/v1/…` included).
fn html_page() -> Reply {
    Reply::Answer {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: b"<!doctype html><html><head><title>Antfly</title></head><body><div id=\"root\"></div></body></html>"
            .to_vec(),
    }
}

/// Routes one request. `path` is still percent-encoded; segments are decoded after splitting,
/// so an encoded `/` stays inside its segment.
pub(crate) fn route(state: &mut State, method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Reply {
    if let Some(status) = state.injected.pop_front() {
        return error_text(status, "injected failure");
    }
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        ("GET", ["healthz"]) => text(200, "ok"),
        ("GET", ["readyz"]) if state.ready => text(200, "ready"),
        ("GET", ["readyz"]) => text(503, "not ready"),
        ("GET", ["metrics"]) => text(200, "# metrics of the Antfly test double\n"),
        ("POST", ["db", "v1", "backup"]) => backup(state, body),
        ("GET", ["db", "v1", "backups"]) => list_backups(state, query),
        ("POST", ["db", "v1", "restore"]) => restore(state, body),
        ("POST", ["db", "v1", "tables", table]) => create_table(state, table),
        ("DELETE", ["db", "v1", "tables", table]) => delete_table(state, table),
        ("POST", ["db", "v1", "tables", table, "batch"]) => batch(state, table, body),
        ("GET", ["db", "v1", "tables", table, "lookup", key]) => lookup(state, table, key),
        ("PUT", ["internal", "v1", "nodes", id, "shutdown"]) => request_shutdown(state, id, body),
        ("GET", ["internal", "v1", "nodes", id, "shutdown"]) => shutdown_status(state, id),
        ("DELETE", ["internal", "v1", "nodes", id, "shutdown"]) => cancel_shutdown(state, id),
        ("GET", ["internal", "v1", "nodes", id]) => node(state, id),
        ("DELETE", ["internal", "v1", "nodes", id]) => remove_node(state, id),
        (_, ["db", ..] | ["internal", ..]) => not_found(),
        _ => html_page(),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| error_json(400, format!("invalid request body: {e}")))
}

#[derive(Deserialize)]
struct BackupBody {
    #[serde(default)]
    backup_id: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    table_names: Vec<String>,
}

/// Synchronous; a failure answers 200 too, with `"status":"failed"` and per-table errors.
fn backup(state: &mut State, body: &[u8]) -> Reply {
    let request: BackupBody = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if request.backup_id.is_empty() {
        return error_json(400, "backup_id is required"); // not observed
    }
    let names: Vec<String> =
        if request.table_names.is_empty() { state.tables.keys().cloned().collect() } else { request.table_names };
    let error_for = |name: &str, state: &State| -> Option<String> {
        if request.location.is_empty() {
            Some("backup location is required".to_owned())
        } else if !state.tables.contains_key(name) {
            Some(format!("table {name} not found")) // not observed
        } else {
            None
        }
    };
    let injected = state.fail_next_backup.take();
    let errors: Vec<(String, Option<String>)> =
        names.iter().map(|name| (name.clone(), injected.clone().or_else(|| error_for(name, state)))).collect();
    let failed = injected.is_some() || request.location.is_empty() || errors.iter().any(|(_, e)| e.is_some());
    if failed {
        let tables: Vec<Value> = errors
            .iter()
            .map(|(name, error)| match error {
                Some(error) => json!({"name": name, "status": "failed", "error": error}),
                None => json!({"name": name, "status": "completed"}),
            })
            .collect();
        return json_reply(200, json!({"backup_id": request.backup_id, "status": "failed", "tables": tables}));
    }
    let tables: BTreeMap<String, Docs> =
        names.iter().filter_map(|name| Some((name.clone(), state.tables.get(name)?.docs.clone()))).collect();
    // Re-using an id overwrites the backup, without a word.
    state
        .backups
        .entry(request.location.clone())
        .or_default()
        .insert(request.backup_id.clone(), Backup { timestamp: rfc3339_now(), tables });
    let tables: Vec<Value> = names.iter().map(|name| json!({"name": name, "status": "completed"})).collect();
    json_reply(200, json!({"backup_id": request.backup_id, "status": "completed", "tables": tables}))
}

fn list_backups(state: &State, query: Option<&str>) -> Reply {
    let location = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "location")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let backups: Vec<Value> = state
        .backups
        .get(&location)
        .into_iter()
        .flatten()
        .map(|(id, backup)| {
            json!({
                "backup_id": id,
                "timestamp": backup.timestamp,
                "antfly_version": "double",
                "format": "portable",
                "location": location,
                "tables": backup.tables.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    json_reply(200, json!({ "backups": backups }))
}

#[derive(Deserialize)]
struct RestoreBody {
    #[serde(default)]
    backup_id: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    table_names: Vec<String>,
    #[serde(default = "default_mode")]
    restore_mode: String,
}

fn default_mode() -> String {
    "fail_if_exists".to_owned() // not observed
}

/// Asynchronous: 202 `triggered`, and the restored tables fail reads with "shard … not found"
/// for [`State::restore_ready_after`] before they serve.
fn restore(state: &mut State, body: &[u8]) -> Reply {
    let request: RestoreBody = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if !matches!(request.restore_mode.as_str(), "fail_if_exists" | "skip_if_exists" | "overwrite") {
        return error_json(400, format!("invalid restore_mode {:?}", request.restore_mode)); // not observed
    }
    let Some(backup) = state.backups.get(&request.location).and_then(|b| b.get(&request.backup_id)).cloned() else {
        return error_text(
            500,
            format!(
                "Failed to read cluster backup metadata: open {}/{}/cluster.json: no such file or directory",
                request.location.trim_end_matches('/'),
                request.backup_id
            ),
        );
    };
    let names: Vec<String> = if request.table_names.is_empty() {
        backup.tables.keys().cloned().collect()
    } else {
        request.table_names.clone()
    };
    if let Some(absent) = names.iter().find(|name| !backup.tables.contains_key(*name)) {
        return error_json(400, format!("table {absent} not found in backup {}", request.backup_id)); // not observed
    }
    if request.restore_mode == "fail_if_exists"
        && let Some(existing) = names.iter().find(|name| state.tables.contains_key(*name))
    {
        return error_json(400, format!("table {existing} already exists"));
    }
    let serving_at = Instant::now() + state.restore_ready_after;
    let mut tables = Vec::new();
    for name in names {
        if state.tables.contains_key(&name) {
            // skip_if_exists skips it; overwrite says triggered but, as seen on a real
            // single-process server, leaves the live data in place.
            let status = if request.restore_mode == "skip_if_exists" { "skipped" } else { "triggered" };
            tables.push(json!({"name": name, "status": status}));
            continue;
        }
        let docs = backup.tables.get(&name).cloned().unwrap_or_default();
        let shard_id = state.shard_id();
        state.tables.insert(name.clone(), Table { docs, serving_at: Some(serving_at), shard_id });
        tables.push(json!({"name": name, "status": "triggered"}));
    }
    json_reply(202, json!({"status": "triggered", "tables": tables}))
}

fn create_table(state: &mut State, table: &str) -> Reply {
    if state.tables.contains_key(table) {
        return error_json(400, format!("table {table} already exists")); // not observed
    }
    let shard_id = state.shard_id();
    state.tables.insert(table.to_owned(), Table::new(Docs::new(), shard_id));
    json_reply(200, json!({"name": table}))
}

fn delete_table(state: &mut State, table: &str) -> Reply {
    match state.tables.remove(table) {
        Some(_) => Reply::Answer { status: 204, content_type: TEXT, body: Vec::new() },
        None => error_json(404, format!("table {table} not found")),
    }
}

#[derive(Deserialize)]
struct BatchBody {
    #[serde(default)]
    inserts: BTreeMap<String, Value>,
}

fn batch(state: &mut State, table: &str, body: &[u8]) -> Reply {
    let request: BatchBody = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let Some(table) = state.tables.get_mut(table) else {
        return error_json(404, format!("table {table} not found"));
    };
    let inserted = request.inserts.len();
    table.docs.extend(request.inserts);
    json_reply(201, json!({ "inserted": inserted }))
}

/// A missing key answers 500, not 404; a table being restored answers 500 "shard … not found".
fn lookup(state: &State, table: &str, key: &str) -> Reply {
    let Some(table) = state.tables.get(table) else {
        return error_json(404, format!("table {table} not found"));
    };
    if !table.serves_reads() {
        return error_text(500, format!("Failed to lookup key: shard {:016x} not found", table.shard_id));
    }
    match table.docs.get(key) {
        Some(doc) => json_reply(200, doc.clone()),
        None => error_text(500, "Failed to lookup key: not found"),
    }
}

fn node_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

#[derive(Deserialize)]
struct ShutdownBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    reason: String,
}

/// 202 with the plain text `accepted`, again on a repeat; any `type` but `remove` answers 400.
fn request_shutdown(state: &mut State, id: &str, body: &[u8]) -> Reply {
    let request: ShutdownBody = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if request.kind != "remove" {
        return error_json(400, format!("unsupported shutdown type {:?}", request.kind));
    }
    let Some(node) = node_id(id).and_then(|id| state.nodes.get_mut(&id)) else {
        return error_json(404, format!("node {id} not found")); // not observed
    };
    if !matches!(node.drain, Drain::Draining { .. }) {
        node.drain = Drain::Draining { reason: request.reason, polls: 0 };
    }
    text(202, "accepted")
}

/// Each read moves a draining node one step along its script. An unknown node answers 200
/// `not_found`, safe to terminate.
fn shutdown_status(state: &mut State, id: &str) -> Reply {
    let Some(number) = node_id(id) else {
        return error_json(400, format!("invalid node id {id:?}")); // not observed
    };
    let Some(node) = state.nodes.get_mut(&number) else {
        return json_reply(
            200,
            json!({"node_id": number, "type": "remove", "phase": "not_found", "safe_to_terminate": true,
                   "message": "node not found", "stores": []}),
        );
    };
    let (phase, message, kind) = match &mut node.drain {
        Drain::Active => ("active".to_owned(), None, None),
        Drain::Recovering => {
            node.drain = Drain::Active;
            ("recovering".to_owned(), Some("restoring shard placement".to_owned()), None)
        }
        Drain::Draining { reason, polls } => {
            let phase = node.script.phase(*polls).to_owned();
            *polls += 1;
            let message = match phase.as_str() {
                "complete" => None,
                other => Some(format!("{other}: {reason}")),
            };
            (phase, message, Some("remove"))
        }
    };
    let safe = matches!(phase.as_str(), "complete" | "not_found");
    let mut answer = json!({
        "node_id": number, "type": kind, "phase": phase, "safe_to_terminate": safe,
        "stores": [{"store_id": number, "phase": phase}],
    });
    if let Some(message) = message {
        answer["message"] = json!(message);
    }
    if phase == "draining" {
        answer["pending_groups"] = json!(1);
    }
    json_reply(200, answer)
}

/// 202 `{"status":"canceled"}`; the next status read says `recovering`, then `active`.
fn cancel_shutdown(state: &mut State, id: &str) -> Reply {
    let Some(node) = node_id(id).and_then(|id| state.nodes.get_mut(&id)) else {
        return error_json(404, format!("node {id} not found")); // not observed
    };
    if matches!(node.drain, Drain::Draining { .. }) {
        node.drain = Drain::Recovering;
    }
    json_reply(202, json!({"status": "canceled"}))
}

fn node(state: &State, id: &str) -> Reply {
    match node_id(id).and_then(|number| Some((number, state.nodes.get(&number)?))) {
        Some((number, node)) => {
            let lifecycle = if matches!(node.drain, Drain::Draining { .. }) { "draining" } else { "active" };
            json_reply(200, json!({"node_id": number, "lifecycle": lifecycle}))
        }
        None => error_json(404, format!("node {id} not found")),
    }
}

/// Never answers, as on real servers, unless the test asked for an answer (200, not observed).
fn remove_node(state: &mut State, id: &str) -> Reply {
    if !state.remove_node_answers {
        return Reply::Hang;
    }
    match node_id(id).and_then(|number| state.nodes.remove(&number)) {
        Some(_) => json_reply(200, json!({"status": "removed"})),
        None => error_json(404, format!("node {id} not found")),
    }
}

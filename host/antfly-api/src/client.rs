//! [`Client`]: one method per call of the Antfly HTTP API that the operator makes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::time::Instant;

use crate::backup::BackupList;
use crate::drain::ShutdownRequest;
use crate::error::server_message;
use crate::readiness::{PROBE_KEY, classify, describe};
use crate::transport::{Answer, Retry, Transport};
use crate::url::{parse_base_url, query_value, segment};
use crate::{
    ApiError, BackupRequest, BackupResponse, BackupSummary, RestoreRequest, RestoreResponse, ShutdownStatus,
    TableReadiness, TableWait,
};

/// The bound of each attempt of a call unless [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one Antfly server's metadata API, such as `http://{c}-metadata-0.{c}-metadata:12377`.
///
/// Cloning is cheap and clones share one connection pool. Every attempt of a call is bounded
/// by the timeout; calls that are safe to repeat (GETs, and the idempotent PUT and DELETE of a
/// drain) are tried up to three times in all on transport failures, timeouts and 5xx answers,
/// with a short backoff, so such a call returns within `3 × timeout + 0.3 s`. `POST` backup and
/// restore are never repeated.
#[derive(Debug, Clone)]
pub struct Client {
    transport: Transport,
    base_url: Arc<str>,
    timeout: Duration,
}

impl Client {
    /// A client of the server at `base_url`, which must be `http://host[:port][/prefix]`.
    pub fn new(base_url: &str) -> Result<Client, ApiError> {
        Ok(Client { transport: Transport::new(), base_url: parse_base_url(base_url)?.into(), timeout: DEFAULT_TIMEOUT })
    }

    /// The same client with each attempt of a call bounded by `per_call`.
    pub fn with_timeout(mut self, per_call: Duration) -> Client {
        self.timeout = per_call;
        self
    }

    /// The same client making at most `attempts` attempts (at least one) of a call that is safe to repeat.
    pub fn with_max_attempts(mut self, attempts: u32) -> Client {
        self.transport.max_attempts = attempts.max(1);
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /db/v1/backup`: backs up synchronously. The server answers 200 for a failed backup
    /// too, so check [`BackupResponse::succeeded`]. Never retried: re-using a backup id
    /// silently overwrites the backup.
    pub async fn backup(&self, request: &BackupRequest) -> Result<BackupResponse, ApiError> {
        self.post_json("/db/v1/backup", request).await?.accept(|s| s.is_success())?.json()
    }

    /// `GET /db/v1/backups?location=`: the backups at a location.
    pub async fn list_backups(&self, location: &str) -> Result<Vec<BackupSummary>, ApiError> {
        let path = format!("/db/v1/backups?location={}", query_value(location));
        let list: BackupList = self.get(&path, Retry::Safe).await?.accept(|s| s == StatusCode::OK)?.json()?;
        Ok(list.backups)
    }

    /// `POST /db/v1/restore`: triggers a restore (202) that runs on after the answer; watch its
    /// tables with [`Client::wait_until_tables_serve_reads`]. A table that exists under
    /// `fail_if_exists` answers 400, an unknown backup id 500. Never retried.
    pub async fn restore(&self, request: &RestoreRequest) -> Result<RestoreResponse, ApiError> {
        self.post_json("/db/v1/restore", request).await?.accept(|s| s.is_success())?.json()
    }

    /// `GET /readyz` on a server's health port (`http://{pod-ip}:4200`): `true` on 200, `false`
    /// on 503, the server's "not ready". Tried once: a rollout asks again on its next reconcile.
    pub async fn health_ready(&self) -> Result<bool, ApiError> {
        let answer = self.get("/readyz", Retry::Never).await?;
        match answer.status {
            StatusCode::OK => Ok(true),
            StatusCode::SERVICE_UNAVAILABLE => Ok(false),
            _ => Err(answer.into_status_error()),
        }
    }

    /// Whether `table` serves reads, by looking up [`crate::PROBE_KEY`], a key that is never written.
    pub async fn table_readiness(&self, table: &str) -> Result<TableReadiness, ApiError> {
        let path = format!("/db/v1/tables/{}/lookup/{}", segment(table)?, segment(PROBE_KEY)?);
        let answer = self.get(&path, Retry::Probe).await?;
        if answer.status.is_success() && !answer.is_json() {
            // A 200 that is not JSON is not a lookup answer (such as the HTML fallback page).
            return answer.json::<serde_json::Value>().map(|_| TableReadiness::Ready);
        }
        match classify(answer.status, &server_message(&answer.body)) {
            Some(readiness) => Ok(readiness),
            None => Err(answer.into_status_error()),
        }
    }

    /// Probes each table every `poll` until all serve reads or `timeout` has passed, and says
    /// for each whether it became ready and, if not, what its last probe said. A missing table
    /// is polled too: a restore may not have created it yet. Tables are probed concurrently.
    pub async fn wait_until_tables_serve_reads(
        &self,
        tables: &[String],
        timeout: Duration,
        poll: Duration,
    ) -> Vec<TableWait> {
        let deadline = Instant::now() + timeout;
        let mut waits: Vec<TableWait> =
            tables.iter().map(|table| TableWait { table: table.clone(), ready: false, message: None }).collect();
        loop {
            let pending: Vec<usize> = (0..waits.len()).filter(|&i| !waits[i].ready).collect();
            if pending.is_empty() {
                break;
            }
            let probes = pending.iter().map(|&i| {
                let table = waits[i].table.clone();
                async move { (i, tokio::time::timeout_at(deadline, self.table_readiness(&table)).await) }
            });
            for (i, outcome) in futures::future::join_all(probes).await {
                let wait = &mut waits[i];
                match outcome {
                    Ok(Ok(TableReadiness::Ready)) => {
                        wait.ready = true;
                        wait.message = None;
                    }
                    Ok(Ok(readiness)) => wait.message = describe(&readiness),
                    Ok(Err(error)) => wait.message = Some(error.to_string()),
                    Err(_elapsed) => {
                        wait.message.get_or_insert_with(|| "no answer before the wait ended".to_owned());
                    }
                }
            }
            if waits.iter().all(|wait| wait.ready) || Instant::now() + poll >= deadline {
                break;
            }
            tokio::time::sleep(poll).await;
        }
        waits
    }

    /// `PUT /internal/v1/nodes/{id}/shutdown` with `{"type":"remove","reason"}`: asks the node
    /// to drain. The server answers 202 with the plain text `accepted`, and again on a repeat.
    pub async fn request_shutdown(&self, node_id: u64, reason: &str) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&ShutdownRequest { kind: "remove", reason })
            .map_err(|source| ApiError::Decode { method: Method::PUT, path: shutdown_path(node_id), source })?;
        let path = shutdown_path(node_id);
        self.send(Method::PUT, &path, Some(body.into()), Retry::Safe, self.timeout)
            .await?
            .accept(|s| s.is_success())?;
        Ok(())
    }

    /// `GET /internal/v1/nodes/{id}/shutdown`: where the node's drain is. A node the server does
    /// not know answers 200 with phase `not_found` and `safe_to_terminate: true`.
    pub async fn shutdown_status(&self, node_id: u64) -> Result<ShutdownStatus, ApiError> {
        self.get(&shutdown_path(node_id), Retry::Safe).await?.accept(|s| s == StatusCode::OK)?.json()
    }

    /// `DELETE /internal/v1/nodes/{id}/shutdown`: cancels a drain (202); the node recovers to `active`.
    pub async fn cancel_shutdown(&self, node_id: u64) -> Result<(), ApiError> {
        let path = shutdown_path(node_id);
        self.send(Method::DELETE, &path, None, Retry::Safe, self.timeout).await?.accept(|s| s.is_success())?;
        Ok(())
    }

    /// `DELETE /internal/v1/nodes/{id}`: removes a drained node. On real servers this call was
    /// never seen to answer, so it is bounded by the caller's `timeout` (not the client's) and
    /// tried once: a [`ApiError::Timeout`] here is expected, and must not block progress.
    pub async fn remove_node(&self, node_id: u64, timeout: Duration) -> Result<(), ApiError> {
        let path = format!("/internal/v1/nodes/{node_id}");
        self.send(Method::DELETE, &path, None, Retry::Never, timeout).await?.accept(|s| s.is_success())?;
        Ok(())
    }

    async fn get(&self, path: &str, retry: Retry) -> Result<Answer, ApiError> {
        self.send(Method::GET, path, None, retry, self.timeout).await
    }

    async fn post_json(&self, path: &str, body: &impl serde::Serialize) -> Result<Answer, ApiError> {
        let body = serde_json::to_vec(body).map_err(|source| ApiError::Decode {
            method: Method::POST,
            path: path.to_owned(),
            source,
        })?;
        self.send(Method::POST, path, Some(body.into()), Retry::Never, self.timeout).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        retry: Retry,
        timeout: Duration,
    ) -> Result<Answer, ApiError> {
        let url = format!("{}{path}", self.base_url);
        self.transport.send(method, &url, path, body, retry, timeout).await
    }
}

fn shutdown_path(node_id: u64) -> String {
    format!("/internal/v1/nodes/{node_id}/shutdown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_keeps_its_base_url_and_timeout() {
        let client = Client::new("http://meta-0.meta:12377/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client.base_url(), "http://meta-0.meta:12377");
        assert_eq!(client.timeout, DEFAULT_TIMEOUT);
        let client = client.with_timeout(Duration::from_secs(2)).with_max_attempts(0);
        assert_eq!(client.timeout, Duration::from_secs(2));
        assert_eq!(client.transport.max_attempts, 1);
    }

    #[test]
    fn a_client_refuses_https() {
        assert!(matches!(Client::new("https://meta:12377"), Err(ApiError::InvalidUrl { .. })));
    }

    #[tokio::test]
    async fn a_table_name_that_would_move_the_path_is_refused_before_any_call() {
        let client = Client::new("http://127.0.0.1:9").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(client.table_readiness("..").await, Err(ApiError::InvalidUrl { .. })));
    }
}

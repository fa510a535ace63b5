//! Table readiness, read from a lookup of a key that never exists, and waiting for it.

use std::time::Duration;

use antfly_api::{ApiError, Client, RestoreMode, RestoreRequest, TableReadiness};
use antfly_double::AntflyDouble;

use crate::support::{GENEROUS, client, count, docs, double, raw};

const POLL: Duration = Duration::from_millis(50);

/// Restores `users` from a fresh backup, so that it fails reads for the double's restore delay.
async fn restoring(double: &AntflyDouble, client: &Client) {
    double.create_table("users", docs(2));
    let backup = antfly_api::BackupRequest { backup_id: "b".into(), location: "file:///b".into(), table_names: vec![] };
    assert!(client.backup(&backup).await.unwrap_or_else(|e| panic!("{e}")).succeeded());
    assert!(double.delete_table("users"));
    let restore = RestoreRequest {
        backup_id: "b".into(),
        location: "file:///b".into(),
        table_names: vec![],
        restore_mode: RestoreMode::FailIfExists,
    };
    client.restore(&restore).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_serving_table_is_ready_although_the_probe_key_is_missing() {
    let double = double().await;
    double.create_table("users", docs(1));
    assert_eq!(client(&double).table_readiness("users").await.ok(), Some(TableReadiness::Ready));
    // The missing key answered 500; that is an answer, not a failure to retry.
    assert_eq!(count(&double, "GET", "/db/v1/tables/users/lookup/"), 1);
}

#[tokio::test]
async fn an_unknown_or_deleted_table_is_missing() {
    let double = double().await;
    double.create_table("users", docs(1));
    let client = client(&double);
    assert_eq!(client.table_readiness("ghost").await.ok(), Some(TableReadiness::Missing));
    assert!(double.delete_table("users"));
    assert_eq!(client.table_readiness("users").await.ok(), Some(TableReadiness::Missing));
}

#[tokio::test]
async fn a_table_being_restored_is_not_ready_and_the_probe_is_not_retried() {
    let double = double().await;
    let client = client(&double);
    double.restore_ready_after(GENEROUS * 6);
    restoring(&double, &client).await;
    double.clear_requests();
    assert!(matches!(client.table_readiness("users").await, Ok(TableReadiness::NotReady { .. })));
    assert_eq!(count(&double, "GET", "/db/v1/tables/users/lookup/"), 1);
}

#[tokio::test]
async fn waiting_ends_ready_once_the_restored_tables_serve_reads() {
    let double = double().await;
    let client = client(&double);
    restoring(&double, &client).await;
    let waits = client.wait_until_tables_serve_reads(&["users".into()], GENEROUS, POLL).await;
    assert_eq!(waits.len(), 1);
    assert!(waits[0].ready, "{waits:?}");
    assert_eq!(waits[0].message, None);
}

#[tokio::test]
async fn waiting_times_out_with_the_last_message_of_each_table_not_ready() {
    let double = double().await;
    let client = client(&double);
    double.restore_ready_after(GENEROUS * 6);
    restoring(&double, &client).await;
    double.create_table("orders", docs(1));
    let tables = ["users".to_owned(), "ghost".to_owned(), "orders".to_owned()];
    let waits = client.wait_until_tables_serve_reads(&tables, Duration::from_millis(300), POLL).await;
    let by_table = |name: &str| waits.iter().find(|w| w.table == name).cloned();
    let users = by_table("users").unwrap_or_else(|| panic!("{waits:?}"));
    assert!(!users.ready);
    assert!(users.message.as_deref().is_some_and(|m| m.contains("shard")), "{users:?}");
    let ghost = by_table("ghost").unwrap_or_else(|| panic!("{waits:?}"));
    assert!(!ghost.ready);
    assert_eq!(ghost.message.as_deref(), Some("table does not exist (404)"));
    assert!(by_table("orders").is_some_and(|w| w.ready));
}

#[tokio::test]
async fn waiting_for_no_table_returns_at_once_with_nothing() {
    let double = double().await;
    assert!(client(&double).wait_until_tables_serve_reads(&[], GENEROUS, POLL).await.is_empty());
}

#[tokio::test]
async fn table_names_are_percent_encoded_in_the_path() {
    let double = double().await;
    double.create_table("a/b c", docs(1));
    assert_eq!(client(&double).table_readiness("a/b c").await.ok(), Some(TableReadiness::Ready));
    let path = double.requests().into_iter().find(|r| r.is("GET", "/db/v1/tables/")).map(|r| r.path);
    assert!(path.is_some_and(|p| p.starts_with("/db/v1/tables/a%2Fb%20c/lookup/")));
}

#[tokio::test]
async fn a_refused_lookup_is_an_error_not_a_readiness() {
    let double = double().await;
    double.fail_next_requests(1, 400);
    assert!(matches!(client(&double).table_readiness("users").await, Err(ApiError::Status { status: 400, .. })));
}

#[tokio::test]
async fn the_table_endpoints_answer_as_a_real_server_did() {
    let double = double().await;
    let address = double.address();
    let client = client(&double);
    assert_eq!(raw(address, "POST", "/db/v1/tables/t", r#"{"num_shards":1}"#).await.0, 200);
    let (status, _, body) =
        raw(address, "POST", "/db/v1/tables/t/batch", r#"{"inserts":{"a":{"x":1},"b":{"x":2}}}"#).await;
    assert_eq!((status, body.as_str()), (201, r#"{"inserted":2}"#));
    let (status, content_type, body) = raw(address, "GET", "/db/v1/tables/t/lookup/a", "").await;
    assert_eq!((status, content_type.as_str(), body.as_str()), (200, "application/json", r#"{"x":1}"#));
    let (status, _, body) = raw(address, "GET", "/db/v1/tables/t/lookup/zz", "").await;
    assert_eq!((status, body.as_str()), (500, "Failed to lookup key: not found\n"));
    assert_eq!(client.table_readiness("t").await.ok(), Some(TableReadiness::Ready));
    assert_eq!(raw(address, "DELETE", "/db/v1/tables/t", "").await.0, 204);
    assert_eq!(raw(address, "GET", "/db/v1/tables/t/lookup/a", "").await.0, 404);
    assert_eq!(raw(address, "POST", "/db/v1/tables/t/batch", r#"{"inserts":{}}"#).await.0, 404);
    assert_eq!(client.table_readiness("t").await.ok(), Some(TableReadiness::Missing));
}

#[tokio::test]
async fn health_readiness_is_read_from_readyz_and_asked_once() {
    let double = double().await;
    let client = client(&double);
    assert_eq!(client.health_ready().await.ok(), Some(true));
    double.set_ready(false);
    assert_eq!(client.health_ready().await.ok(), Some(false), "503 is the server's not ready");
    assert_eq!(count(&double, "GET", "/readyz"), 2, "never retried: the rollout asks again itself");
    double.fail_next_requests(1, 500);
    assert!(client.health_ready().await.is_err(), "another status is an error, not a verdict");
}

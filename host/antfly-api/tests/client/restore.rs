//! Restores: triggered (202), refused because a table exists (400), unknown backup (500),
//! skipped and overwrite, each as the real server answered.

use std::time::Duration;

use antfly_api::{ApiError, BackupRequest, Client, RestoreMode, RestoreRequest, TableReadiness};
use antfly_double::AntflyDouble;
use serde_json::json;

use crate::support::{GENEROUS, client, docs, double, raw};

const LOCATION: &str = "file:///backups";

/// A double holding table `users` (3 documents) and its backup `b1`.
async fn backed_up() -> (AntflyDouble, Client) {
    let double = double().await;
    double.create_table("users", docs(3));
    let client = client(&double);
    let backup = BackupRequest { backup_id: "b1".into(), location: LOCATION.into(), table_names: vec![] };
    assert!(client.backup(&backup).await.unwrap_or_else(|e| panic!("{e}")).succeeded());
    (double, client)
}

fn restore(id: &str, mode: RestoreMode) -> RestoreRequest {
    RestoreRequest { backup_id: id.into(), location: LOCATION.into(), table_names: vec![], restore_mode: mode }
}

#[tokio::test]
async fn a_restore_is_triggered_and_its_table_serves_reads_only_after_a_while() {
    let (double, client) = backed_up().await;
    assert!(double.delete_table("users"));
    double.restore_ready_after(GENEROUS * 6);
    let answer = client.restore(&restore("b1", RestoreMode::FailIfExists)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, "triggered");
    assert_eq!(answer.tables.len(), 1);
    assert_eq!((answer.tables[0].name.as_str(), answer.tables[0].status.as_str()), ("users", "triggered"));
    match client.table_readiness("users").await {
        Ok(TableReadiness::NotReady { message }) => assert!(message.contains("shard"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(double.table("users").map(|d| d.len()), Some(3));
}

#[tokio::test]
async fn a_restore_into_an_existing_table_under_fail_if_exists_is_refused_with_400() {
    let (_double, client) = backed_up().await;
    match client.restore(&restore("b1", RestoreMode::FailIfExists)).await {
        Err(error @ ApiError::Status { status: 400, .. }) => {
            assert_eq!(error.server_message(), Some("table users already exists"));
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_restore_under_skip_if_exists_reports_the_existing_table_skipped() {
    let (double, client) = backed_up().await;
    double.create_table("orders", docs(1));
    let backup = BackupRequest { backup_id: "b2".into(), location: LOCATION.into(), table_names: vec![] };
    assert!(client.backup(&backup).await.unwrap_or_else(|e| panic!("{e}")).succeeded());
    assert!(double.delete_table("orders"));
    let answer = client.restore(&restore("b2", RestoreMode::SkipIfExists)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, "triggered");
    assert_eq!(answer.skipped().collect::<Vec<_>>(), ["users"]);
    let orders = answer.tables.iter().find(|t| t.name == "orders").map(|t| t.status.as_str());
    assert_eq!(orders, Some("triggered"));
}

#[tokio::test]
async fn a_restore_under_overwrite_is_triggered_but_leaves_the_live_data_in_place() {
    let (double, client) = backed_up().await;
    double.create_table("users", [("live", json!({"fresh": true}))]);
    let answer = client.restore(&restore("b1", RestoreMode::Overwrite)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.tables[0].status, "triggered");
    assert_eq!(double.table("users"), Some(vec![("live".to_owned(), json!({"fresh": true}))]));
    assert_eq!(client.table_readiness("users").await.ok(), Some(TableReadiness::Ready));
}

#[tokio::test]
async fn a_restore_of_an_unknown_backup_id_is_a_500_naming_the_metadata() {
    let (_double, client) = backed_up().await;
    match client.restore(&restore("nope", RestoreMode::SkipIfExists)).await {
        Err(error @ ApiError::Status { status: 500, .. }) => {
            let message = error.server_message().unwrap_or_default();
            assert!(message.starts_with("Failed to read cluster backup metadata:"), "{message}");
            assert!(!message.ends_with('\n'));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_restore_of_named_tables_sends_them_and_its_mode() {
    let (double, client) = backed_up().await;
    assert!(double.delete_table("users"));
    let request = RestoreRequest { table_names: vec!["users".into()], ..restore("b1", RestoreMode::SkipIfExists) };
    client.restore(&request).await.unwrap_or_else(|e| panic!("{e}"));
    let sent = double.requests().into_iter().find(|r| r.is("POST", "/db/v1/restore")).map(|r| r.body);
    let sent: serde_json::Value = serde_json::from_str(&sent.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sent,
        json!({"backup_id": "b1", "location": LOCATION, "table_names": ["users"], "restore_mode": "skip_if_exists"})
    );
    let waits = client.wait_until_tables_serve_reads(&["users".into()], GENEROUS, Duration::from_millis(50)).await;
    assert!(waits[0].ready, "{waits:?}");
}

#[tokio::test]
async fn a_restore_of_a_table_the_backup_lacks_is_refused_with_400() {
    let (_double, client) = backed_up().await;
    let request = RestoreRequest { table_names: vec!["ghost".into()], ..restore("b1", RestoreMode::SkipIfExists) };
    assert!(matches!(client.restore(&request).await, Err(ApiError::Status { status: 400, .. })));
}

#[tokio::test]
async fn a_malformed_restore_is_refused_with_400() {
    let (double, _client) = backed_up().await;
    let body = r#"{"backup_id":"b1","location":"file:///backups","restore_mode":"merge"}"#;
    assert_eq!(raw(double.address(), "POST", "/db/v1/restore", body).await.0, 400);
    assert_eq!(raw(double.address(), "POST", "/db/v1/restore", "not json").await.0, 400);
}

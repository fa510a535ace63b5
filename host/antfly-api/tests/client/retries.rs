//! Which calls are retried: safe ones on server errors, never a POST, never a meaningful answer.

use antfly_api::{ApiError, BackupRequest, RestoreMode, RestoreRequest, TableReadiness};
use antfly_double::DrainScript;

use crate::support::{client, count, docs, double};

#[tokio::test]
async fn a_get_is_retried_through_transient_server_errors() {
    let double = double().await;
    double.fail_next_requests(2, 503);
    let list = client(&double).list_backups("file:///b").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(list.is_empty());
    assert_eq!(count(&double, "GET", "/db/v1/backups"), 3);
}

#[tokio::test]
async fn a_get_gives_up_after_three_attempts() {
    let double = double().await;
    double.fail_next_requests(5, 500);
    assert!(matches!(client(&double).shutdown_status(1).await, Err(ApiError::Status { status: 500, .. })));
    assert_eq!(count(&double, "GET", "/internal/v1/nodes/1/shutdown"), 3);
}

#[tokio::test]
async fn a_backup_post_is_never_retried() {
    let double = double().await;
    double.create_table("users", docs(1)).fail_next_requests(1, 503);
    let request = BackupRequest { backup_id: "b1".into(), location: "file:///b".into(), table_names: vec![] };
    let client = client(&double);
    assert!(matches!(client.backup(&request).await, Err(ApiError::Status { status: 503, .. })));
    assert_eq!(count(&double, "POST", "/db/v1/backup"), 1);
    assert!(double.backup_ids("file:///b").is_empty());
}

#[tokio::test]
async fn a_restore_post_is_never_retried() {
    let double = double().await;
    double.fail_next_requests(1, 502);
    let request = RestoreRequest {
        backup_id: "b1".into(),
        location: "file:///b".into(),
        table_names: vec![],
        restore_mode: RestoreMode::SkipIfExists,
    };
    assert!(matches!(client(&double).restore(&request).await, Err(ApiError::Status { status: 502, .. })));
    assert_eq!(count(&double, "POST", "/db/v1/restore"), 1);
}

#[tokio::test]
async fn the_idempotent_drain_calls_are_retried() {
    let double = double().await;
    double.add_node(2, DrainScript::stays_draining());
    let client = client(&double);
    double.fail_next_requests(1, 500);
    client.request_shutdown(2, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&double, "PUT", "/internal/v1/nodes/2/shutdown"), 2);
    double.fail_next_requests(1, 503);
    client.cancel_shutdown(2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&double, "DELETE", "/internal/v1/nodes/2/shutdown"), 2);
}

#[tokio::test]
async fn a_readiness_probe_retries_an_unavailable_server_but_not_a_missing_table() {
    let double = double().await;
    double.create_table("users", docs(1)).fail_next_requests(1, 503);
    let client = client(&double);
    assert_eq!(client.table_readiness("users").await.ok(), Some(TableReadiness::Ready));
    assert_eq!(count(&double, "GET", "/db/v1/tables/users/"), 2);
    assert_eq!(client.table_readiness("ghost").await.ok(), Some(TableReadiness::Missing));
    assert_eq!(count(&double, "GET", "/db/v1/tables/ghost/"), 1);
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    let double = double().await;
    double.fail_next_requests(1, 404);
    assert!(matches!(client(&double).list_backups("l").await, Err(ApiError::Status { status: 404, .. })));
    assert_eq!(count(&double, "GET", "/db/v1/backups"), 1);
}

//! Backups and their list: completed, failed with 200, overwritten, and URL-encoded locations.

use antfly_api::{ApiError, BackupRequest};

use crate::support::{client, count, docs, double};

fn request(id: &str, location: &str, tables: &[&str]) -> BackupRequest {
    BackupRequest {
        backup_id: id.into(),
        location: location.into(),
        table_names: tables.iter().map(|t| (*t).to_owned()).collect(),
    }
}

#[tokio::test]
async fn a_backup_of_named_tables_completes_and_is_listed() {
    let double = double().await;
    double.create_table("users", docs(3)).create_table("orders", docs(1));
    let client = client(&double);
    let answer = client.backup(&request("b1", "file:///backups", &["users"])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.succeeded(), "{answer:?}");
    assert_eq!(answer.backup_id, "b1");
    assert_eq!(answer.tables.len(), 1);
    assert_eq!(answer.tables[0].name, "users");
    let list = client.list_backups("file:///backups").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].backup_id, "b1");
    assert_eq!(list[0].tables, vec!["users".to_owned()]);
    assert_eq!(list[0].location.as_deref(), Some("file:///backups"));
    assert!(list[0].timestamp.is_some());
}

#[tokio::test]
async fn a_backup_without_table_names_leaves_the_field_out_and_covers_every_table() {
    let double = double().await;
    double.create_table("users", docs(1)).create_table("orders", docs(1));
    let answer = client(&double).backup(&request("all", "file:///b", &[])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.succeeded());
    let mut names: Vec<_> = answer.tables.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["orders", "users"]);
    let sent = double.requests().into_iter().find(|r| r.is("POST", "/db/v1/backup")).map(|r| r.body);
    assert!(sent.is_some_and(|body| !body.contains("table_names")));
}

#[tokio::test]
async fn a_backup_without_a_location_fails_with_200_and_says_why_per_table() {
    let double = double().await;
    double.create_table("users", docs(1));
    let answer = client(&double).backup(&request("b1", "", &["users"])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!answer.succeeded());
    assert_eq!(answer.status, "failed");
    assert_eq!(answer.table_errors(), vec!["users: backup location is required".to_owned()]);
    assert!(double.backup_ids("").is_empty());
}

#[tokio::test]
async fn a_failed_backup_is_read_from_the_body_and_the_next_one_succeeds() {
    let double = double().await;
    double.create_table("users", docs(1)).fail_next_backup("mkdir /backups: permission denied");
    let client = client(&double);
    let failed = client.backup(&request("b1", "file:///backups", &[])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!failed.succeeded());
    assert_eq!(failed.tables[0].error.as_deref(), Some("mkdir /backups: permission denied"));
    let next = client.backup(&request("b2", "file:///backups", &[])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(next.succeeded());
    assert_eq!(double.backup_ids("file:///backups"), vec!["b2".to_owned()]);
}

#[tokio::test]
async fn a_backup_of_an_unknown_table_fails_with_200() {
    let double = double().await;
    let answer =
        client(&double).backup(&request("b1", "file:///b", &["ghost"])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!answer.succeeded());
    assert_eq!(answer.tables[0].status, "failed");
}

#[tokio::test]
async fn re_using_a_backup_id_silently_overwrites_the_backup() {
    let double = double().await;
    double.create_table("users", docs(1));
    let client = client(&double);
    let first = client.backup(&request("same", "file:///b", &[])).await.unwrap_or_else(|e| panic!("{e}"));
    double.create_table("orders", docs(1));
    let second = client.backup(&request("same", "file:///b", &[])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(first.succeeded() && second.succeeded());
    let list = client.list_backups("file:///b").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].tables, vec!["orders".to_owned(), "users".to_owned()]);
}

#[tokio::test]
async fn the_list_location_is_url_encoded_and_an_unknown_location_lists_nothing() {
    let double = double().await;
    double.create_table("users", docs(1));
    let client = client(&double);
    let location = "s3://bucket/a b&c=d+e";
    let answer = client.backup(&request("b1", location, &[])).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.succeeded());
    let list = client.list_backups(location).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.iter().map(|b| b.backup_id.as_str()).collect::<Vec<_>>(), ["b1"]);
    let sent = double.requests().into_iter().find(|r| r.is("GET", "/db/v1/backups")).map(|r| r.path);
    assert_eq!(sent.as_deref(), Some("/db/v1/backups?location=s3%3A%2F%2Fbucket%2Fa%20b%26c%3Dd%2Be"));
    assert!(client.list_backups("s3://bucket/a").await.unwrap_or_else(|e| panic!("{e}")).is_empty());
}

#[tokio::test]
async fn a_server_error_on_backup_is_a_status_error() {
    let double = double().await;
    double.fail_next_requests(1, 500);
    match client(&double).backup(&request("b1", "file:///b", &[])).await {
        Err(error @ ApiError::Status { status: 500, .. }) => {
            assert_eq!(error.server_message(), Some("injected failure"));
            assert!(error.to_string().contains("POST /db/v1/backup"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&double, "POST", "/db/v1/backup"), 1);
}

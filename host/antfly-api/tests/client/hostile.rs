//! Answers that are not what they should be: HTML for JSON, huge bodies, silence, refused connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use antfly_api::{ApiError, BackupRequest, Client, MAX_BODY_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{GENEROUS, count, double, eventually, raw};

/// A listener that answers every connection with `behave`, and counts connections.
async fn hostile<F, Fut>(behave: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(behave(stream));
        }
    });
    (format!("http://{address}"), connections)
}

/// Reads the request head, so the client is not cut off while still writing.
async fn read_head(stream: &mut tokio::net::TcpStream) {
    let mut buffer = [0u8; 4096];
    let _ = stream.read(&mut buffer).await;
}

fn backup() -> BackupRequest {
    BackupRequest { backup_id: "b".into(), location: "file:///b".into(), table_names: vec![] }
}

#[tokio::test]
async fn an_html_answer_to_a_json_call_is_not_json() {
    let double = double().await;
    // The older runtime's /api/v1 prefix: a real server answers its HTML page with 200.
    let client = Client::new(&format!("{}/api/v1", double.base_url())).unwrap_or_else(|e| panic!("{e}"));
    match client.list_backups("file:///b").await {
        Err(error @ ApiError::NotJson { status: 200, .. }) => {
            assert!(error.to_string().contains("text/html"), "{error}");
            assert!(!error.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.shutdown_status(1).await, Err(ApiError::NotJson { .. })));
    assert!(matches!(client.table_readiness("users").await, Err(ApiError::NotJson { .. })));
    let (status, content_type, _) = raw(double.address(), "GET", "/api/v1/backups", "").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

#[tokio::test]
async fn health_answers_ok_and_ready_or_503() {
    let double = double().await;
    assert_eq!(raw(double.address(), "GET", "/healthz", "").await.2, "ok");
    let (status, _, body) = raw(double.address(), "GET", "/readyz", "").await;
    assert_eq!((status, body.as_str()), (200, "ready"));
    double.set_ready(false);
    assert_eq!(raw(double.address(), "GET", "/readyz", "").await.0, 503);
    assert_eq!(raw(double.address(), "GET", "/db/v1/nowhere", "").await.0, 404);
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_at_the_cap() {
    let (url, _) = hostile(|mut stream| async move {
        read_head(&mut stream).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            64 * MAX_BODY_BYTES
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let chunk = vec![b' '; 64 * 1024];
        while stream.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let client = Client::new(&url).unwrap_or_else(|e| panic!("{e}")).with_timeout(GENEROUS);
    match client.backup(&backup()).await {
        Err(ApiError::BodyTooLarge { limit, .. }) => assert_eq!(limit, MAX_BODY_BYTES),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_endless_body_without_a_length_is_cut_at_the_cap() {
    let (url, _) = hostile(|mut stream| async move {
        read_head(&mut stream).await;
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[").await;
        let chunk = vec![b' '; 64 * 1024];
        while stream.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let client = Client::new(&url).unwrap_or_else(|e| panic!("{e}")).with_timeout(GENEROUS).with_max_attempts(1);
    assert!(matches!(client.list_backups("l").await, Err(ApiError::BodyTooLarge { .. })));
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_and_a_get_is_tried_three_times_a_post_once() {
    let (url, connections) = hostile(|mut stream| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
    })
    .await;
    let client = Client::new(&url).unwrap_or_else(|e| panic!("{e}")).with_timeout(Duration::from_millis(300));
    assert!(matches!(client.list_backups("l").await, Err(ApiError::Timeout { .. })));
    assert!(eventually(|| connections.load(Ordering::SeqCst) == 3).await);
    assert!(matches!(client.backup(&backup()).await, Err(ApiError::Timeout { .. })));
    assert!(eventually(|| connections.load(Ordering::SeqCst) == 4).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let client = Client::new(&format!("http://{address}")).unwrap_or_else(|e| panic!("{e}")).with_max_attempts(1);
    match client.shutdown_status(1).await {
        Err(error @ ApiError::Transport { .. }) => {
            assert!(error.is_retryable());
            assert!(error.to_string().contains("GET /internal/v1/nodes/1/shutdown"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_client_never_calls_the_public_api_prefix() {
    let double = double().await;
    double.create_table("users", crate::support::docs(0));
    let client = crate::support::client(&double);
    let _ = client.backup(&backup()).await;
    let _ = client.list_backups("file:///b").await;
    let _ = client.table_readiness("users").await;
    let _ = client.shutdown_status(1).await;
    assert!(count(&double, "GET", "/api/") + count(&double, "POST", "/api/") == 0);
    assert!(double.requests().iter().all(|r| r.path.starts_with("/db/v1/") || r.path.starts_with("/internal/v1/")));
}

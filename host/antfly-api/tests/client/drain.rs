//! Node drain: scripted phases, unknown nodes, refusals, cancel, and a finalize that never answers.

use std::time::Duration;

use antfly_api::{ApiError, DrainPhase};
use antfly_double::DrainScript;

use crate::support::{client, count, double, raw};

#[tokio::test]
async fn a_follower_drains_to_complete_and_is_then_safe_to_remove() {
    let double = double().await;
    double.add_node(2, DrainScript::completes_after(2));
    let client = client(&double);
    client.request_shutdown(2, "scale down to 2 data nodes").await.unwrap_or_else(|e| panic!("{e}"));
    let sent = double.requests().into_iter().find(|r| r.is("PUT", "/internal/v1/nodes/2/shutdown")).map(|r| r.body);
    let sent: serde_json::Value = serde_json::from_str(&sent.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent, serde_json::json!({"type": "remove", "reason": "scale down to 2 data nodes"}));
    let mut phases = Vec::new();
    for _ in 0..3 {
        let status = client.shutdown_status(2).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.node_id, Some(2));
        phases.push((status.phase.clone(), status.is_safe_to_remove()));
    }
    assert_eq!(phases, [(DrainPhase::Draining, false), (DrainPhase::Draining, false), (DrainPhase::Complete, true)]);
}

#[tokio::test]
async fn asking_twice_to_drain_is_accepted_and_does_not_restart_the_drain() {
    let double = double().await;
    double.add_node(3, DrainScript::completes_after(1));
    let client = client(&double);
    client.request_shutdown(3, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    let first = client.shutdown_status(3).await.map(|s| s.phase).ok();
    client.request_shutdown(3, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    let second = client.shutdown_status(3).await.map(|s| s.phase).ok();
    assert_eq!((first, second), (Some(DrainPhase::Draining), Some(DrainPhase::Complete)));
    let (status, content_type, body) =
        raw(double.address(), "PUT", "/internal/v1/nodes/3/shutdown", r#"{"type":"remove","reason":"r"}"#).await;
    assert_eq!((status, body.as_str()), (202, "accepted"));
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

#[tokio::test]
async fn a_shard_leader_stays_draining() {
    let double = double().await;
    double.add_node(1, DrainScript::stays_draining());
    let client = client(&double);
    client.request_shutdown(1, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..5 {
        let status = client.shutdown_status(1).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.phase, DrainPhase::Draining);
        assert!(!status.safe_to_terminate && !status.is_safe_to_remove());
        assert!(status.message.is_some());
    }
}

#[tokio::test]
async fn a_node_not_asked_to_drain_is_active() {
    let double = double().await;
    double.add_node(4, DrainScript::completes_after(0));
    let status = client(&double).shutdown_status(4).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.phase, DrainPhase::Active);
    assert!(!status.is_safe_to_remove());
}

#[tokio::test]
async fn an_unknown_node_answers_200_not_found_and_safe_to_terminate() {
    let double = double().await;
    let status = client(&double).shutdown_status(42).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.phase, DrainPhase::NotFound);
    assert!(status.safe_to_terminate);
    assert!(status.is_safe_to_remove());
}

#[tokio::test]
async fn blocked_and_unknown_phases_are_read_as_such() {
    let double = double().await;
    double.add_node(5, DrainScript::phases(["blocked", "rebalancing"]));
    let client = client(&double);
    client.request_shutdown(5, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(client.shutdown_status(5).await.map(|s| s.phase).ok(), Some(DrainPhase::Blocked));
    assert_eq!(client.shutdown_status(5).await.map(|s| s.phase).ok(), Some(DrainPhase::Other("rebalancing".into())));
}

#[tokio::test]
async fn a_shutdown_type_other_than_remove_is_refused_with_400() {
    let double = double().await;
    double.add_node(2, DrainScript::completes_after(1));
    let (status, _, body) =
        raw(double.address(), "PUT", "/internal/v1/nodes/2/shutdown", r#"{"type":"restart"}"#).await;
    assert_eq!(status, 400);
    assert!(body.contains("restart"), "{body}");
    assert_eq!(client(&double).shutdown_status(2).await.map(|s| s.phase).ok(), Some(DrainPhase::Active));
}

#[tokio::test]
async fn asking_an_unregistered_node_to_drain_is_refused() {
    let double = double().await;
    match client(&double).request_shutdown(9, "scale down").await {
        Err(ApiError::Status { status: 404, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_cancelled_drain_recovers_then_is_active() {
    let double = double().await;
    double.add_node(2, DrainScript::stays_draining());
    let client = client(&double);
    client.request_shutdown(2, "scale down").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(client.shutdown_status(2).await.map(|s| s.phase).ok(), Some(DrainPhase::Draining));
    client.cancel_shutdown(2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(client.shutdown_status(2).await.map(|s| s.phase).ok(), Some(DrainPhase::Recovering));
    assert_eq!(client.shutdown_status(2).await.map(|s| s.phase).ok(), Some(DrainPhase::Active));
    let (status, _, body) = raw(double.address(), "DELETE", "/internal/v1/nodes/2/shutdown", "").await;
    assert_eq!((status, body.as_str()), (202, r#"{"status":"canceled"}"#));
}

#[tokio::test]
async fn removing_a_node_times_out_as_on_real_servers_and_is_tried_once() {
    let double = double().await;
    double.add_node(2, DrainScript::completes_after(0));
    match client(&double).remove_node(2, Duration::from_millis(300)).await {
        Err(error @ ApiError::Timeout { .. }) => {
            assert!(error.is_retryable());
            assert!(error.to_string().contains("DELETE /internal/v1/nodes/2"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&double, "DELETE", "/internal/v1/nodes/2"), 1);
    assert!(double.has_node(2));
}

#[tokio::test]
async fn removing_a_node_succeeds_where_the_server_answers() {
    let double = double().await;
    double.add_node(2, DrainScript::completes_after(0)).answer_remove_node(true);
    client(&double).remove_node(2, Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!double.has_node(2));
}

#[tokio::test]
async fn a_node_reads_its_lifecycle_and_an_unknown_node_is_404() {
    let double = double().await;
    double.add_node(2, DrainScript::stays_draining());
    let (status, _, body) = raw(double.address(), "GET", "/internal/v1/nodes/2", "").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""lifecycle":"active""#), "{body}");
    client(&double).request_shutdown(2, "r").await.unwrap_or_else(|e| panic!("{e}"));
    let (_, _, body) = raw(double.address(), "GET", "/internal/v1/nodes/2", "").await;
    assert!(body.contains(r#""lifecycle":"draining""#), "{body}");
    let (status, _, _) = raw(double.address(), "GET", "/internal/v1/nodes/7", "").await;
    assert_eq!(status, 404);
}

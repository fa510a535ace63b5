use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

use super::*;
use crate::api::ScaleSource;

fn now() -> Timestamp {
    Timestamp::from_second(2_000_000_000).expect("a valid time")
}

fn draining(ordinal: i32, phase: ScaleDownPhase) -> DataScaleDownStatus {
    DataScaleDownStatus {
        source: ScaleSource::Manual,
        from: ordinal + 1,
        target: ordinal,
        applied: ordinal + 1,
        draining_ordinal: Some(ordinal),
        node_id: Some(node_id(ordinal)),
        phase,
        message: String::new(),
        drain_started: Some(Time(now())),
        last_transition_time: Some(Time(now())),
    }
}

#[test]
fn node_ids_are_ordinals_plus_one() {
    assert_eq!((node_id(0), node_id(4)), (1, 5));
}

#[test]
fn scale_ups_and_steady_state_apply_the_target() {
    assert_eq!(decide(None, 3, None, None), Decision::Apply(3), "creation");
    assert_eq!(decide(Some(3), 5, None, None), Decision::Apply(5));
    assert_eq!(decide(Some(3), 3, None, Some("busy".into())), Decision::Apply(3));
}

#[test]
fn a_scale_down_drains_the_highest_ordinal_first_and_only_when_settled() {
    assert_eq!(decide(Some(5), 3, None, None), Decision::StartDrain { ordinal: 4 });
    assert_eq!(
        decide(Some(5), 3, None, Some("a rollout is in progress".into())),
        Decision::Wait { replicas: 5, reason: "a rollout is in progress".into() }
    );
}

#[test]
fn a_drain_in_progress_is_polled_and_a_reversal_cancels_it() {
    let status = draining(4, ScaleDownPhase::Draining);
    assert_eq!(decide(Some(5), 3, Some(&status), Some("busy".into())), Decision::Poll { ordinal: 4 });
    assert_eq!(decide(Some(5), 4, Some(&status), None), Decision::Poll { ordinal: 4 });
    assert_eq!(decide(Some(5), 5, Some(&status), None), Decision::Cancel { ordinal: 4 });
    assert_eq!(decide(Some(5), 9, Some(&status), None), Decision::Cancel { ordinal: 4 });
    // Halted is still a drain: polled, or cancelled on reversal.
    let halted = draining(4, ScaleDownPhase::Halted);
    assert_eq!(decide(Some(5), 3, Some(&halted), None), Decision::Poll { ordinal: 4 });
    // The removed ordinal is gone: the next one starts.
    assert_eq!(decide(Some(4), 3, Some(&status), None), Decision::StartDrain { ordinal: 3 });
    // A finished or cancelled drain is history.
    let cancelled = draining(4, ScaleDownPhase::Cancelled);
    assert_eq!(decide(Some(5), 5, Some(&cancelled), None), Decision::Apply(5));
}

#[test]
fn only_a_safe_answer_removes_and_a_late_unsafe_drain_halts() {
    let ago = |secs: i64| Some(now() - SignedDuration::from_secs(secs));
    let timeout = Duration::from_secs(600);
    let safe = DrainReport::Answered { phase: "complete".into(), safe: true, message: None };
    assert_eq!(after_poll(4, &safe, ago(10_000), now(), timeout), PollOutcome::Remove);
    let not_found = DrainReport::Answered { phase: "not_found".into(), safe: true, message: None };
    assert_eq!(after_poll(4, &not_found, ago(1), now(), timeout), PollOutcome::Remove);

    let busy = DrainReport::Answered { phase: "draining".into(), safe: false, message: Some("2 shards".into()) };
    assert_eq!(
        after_poll(4, &busy, ago(600), now(), timeout),
        PollOutcome::Draining("node 5 is draining: 2 shards".into())
    );
    let PollOutcome::Halted(message) = after_poll(4, &busy, ago(601), now(), timeout) else { panic!("halts") };
    assert!(message.starts_with("node 5 is still not safe to remove after the drain timeout of 600s"), "{message}");
    let other_text = DrainReport::Answered { phase: "draining".into(), safe: false, message: Some("1 shard".into()) };
    assert_eq!(
        after_poll(4, &other_text, ago(700), now(), timeout),
        PollOutcome::Halted(message),
        "the server's changing progress text does not change a halt's message"
    );
    // A server that does not answer counts against the timeout too, and never removes.
    let silent = DrainReport::Failed("timed out".into());
    assert!(matches!(after_poll(4, &silent, ago(5), now(), timeout), PollOutcome::Draining(_)));
    assert!(matches!(after_poll(4, &silent, ago(601), now(), timeout), PollOutcome::Halted(_)));
}

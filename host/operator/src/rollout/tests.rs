use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::*;

const TIMEOUT: Duration = Duration::from_secs(600);

fn now() -> Timestamp {
    Timestamp::from_second(2_000_000_000).expect("a valid time")
}

/// A pod of `role` at `revision`, ready or not, in that state for `age_secs`.
fn pod(role: Role, ordinal: i32, revision: &str, ready: bool, age_secs: i64) -> PodView {
    // (Views of pods the StatefulSet owns; `PodView::from_pod` checks the owner.)
    PodView {
        name: format!("c-{}-{ordinal}", role.as_str()),
        uid: format!("uid-{}-{ordinal}", role.as_str()),
        ordinal,
        revision: Some(revision.to_string()),
        ready,
        healthy: None,
        since: Some(now() - SignedDuration::from_secs(age_secs)),
        terminating: false,
        ip: None,
    }
}

/// A role of `revisions.len()` pods, each at the given revision and readiness, current `update`.
fn role(role: Role, update: &str, pods: &[(&str, bool)]) -> RoleView {
    RoleView {
        role,
        replicas: pods.len() as i32,
        update_revision: Some(update.to_string()),
        pods: pods.iter().enumerate().map(|(i, (revision, ready))| pod(role, i as i32, revision, *ready, 60)).collect(),
    }
}

fn restarted(step: &Step) -> &str {
    match step {
        Step::Restart { pod, .. } => pod,
        other => panic!("expected a restart, got {other:?}"),
    }
}

#[test]
fn nothing_outdated_is_complete_even_while_pods_start() {
    let data = role(Role::Data, "b", &[("b", true), ("b", false), ("b", true)]);
    let metadata = role(Role::Metadata, "m", &[("m", false), ("m", false), ("m", false)]);
    assert_eq!(plan(&data, &metadata, TIMEOUT, now()), Step::Complete);
}

#[test]
fn data_pods_roll_first_highest_ordinal_first_one_at_a_time() {
    let metadata = role(Role::Metadata, "m2", &[("m1", true), ("m1", true), ("m1", true)]);
    let data = role(Role::Data, "d2", &[("d1", true), ("d1", true), ("d1", true)]);
    assert_eq!(restarted(&plan(&data, &metadata, TIMEOUT, now())), "c-data-2");

    // c-data-2 is back at the new revision but not Ready yet: wait.
    let starting = role(Role::Data, "d2", &[("d1", true), ("d1", true), ("d2", false)]);
    assert!(matches!(plan(&starting, &metadata, TIMEOUT, now()), Step::Wait { role: Role::Data, .. }));

    let next = role(Role::Data, "d2", &[("d1", true), ("d1", true), ("d2", true)]);
    assert_eq!(restarted(&plan(&next, &metadata, TIMEOUT, now())), "c-data-1");

    // Data done: metadata next, highest ordinal first.
    let done = role(Role::Data, "d2", &[("d2", true), ("d2", true), ("d2", true)]);
    assert_eq!(restarted(&plan(&done, &metadata, TIMEOUT, now())), "c-metadata-2");
}

#[test]
fn metadata_waits_until_the_last_restarted_data_pod_is_ready() {
    let metadata = role(Role::Metadata, "m2", &[("m1", true), ("m1", true), ("m1", true)]);
    let data = role(Role::Data, "d2", &[("d2", false), ("d2", true), ("d2", true)]);
    let Step::Wait { role: Role::Data, reason, .. } = plan(&data, &metadata, TIMEOUT, now()) else {
        panic!("metadata must wait for c-data-0");
    };
    assert!(reason.contains("c-data-0"), "{reason}");
}

#[test]
fn a_data_pod_is_not_restarted_while_another_data_pod_is_down() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    let data = role(Role::Data, "d2", &[("d2", true), ("d1", true), ("d1", true)]);
    let mut one_down = data.clone();
    one_down.pods[0].ready = false;
    // The not-Ready pod is updated: the rollout waits for it.
    assert!(matches!(plan(&one_down, &metadata, TIMEOUT, now()), Step::Wait { .. }));
}

#[test]
fn a_metadata_pod_restarts_only_while_the_others_keep_a_majority() {
    let data = role(Role::Data, "d", &[("d", true)]);
    let five = role(Role::Metadata, "m2", &[("m1", true), ("m1", true), ("m1", true), ("m1", true), ("m1", true)]);
    assert_eq!(restarted(&plan(&data, &five, TIMEOUT, now())), "c-metadata-4");

    // Two are down and outdated: they serve nothing, so they go first, one at a time, at no
    // cost to the majority; no serving pod is touched meanwhile.
    let mut two_down = five.clone();
    two_down.pods[0].healthy = Some(false);
    two_down.pods[1].ready = false;
    assert_eq!(restarted(&plan(&data, &two_down, TIMEOUT, now())), "c-metadata-1");
    two_down.pods[1] = pod(Role::Metadata, 1, "m2", false, 5);
    assert!(matches!(plan(&data, &two_down, TIMEOUT, now()), Step::Wait { role: Role::Metadata, .. }));
}

#[test]
fn metadata_without_a_majority_of_ready_others_waits() {
    let data = role(Role::Data, "d", &[("d", true)]);
    let mut three = role(Role::Metadata, "m2", &[("m2", true), ("m1", true), ("m1", true)]);
    three.pods[0].healthy = Some(false);
    // c-metadata-0 is updated but its server does not answer: the rollout waits on it.
    assert!(matches!(plan(&data, &three, TIMEOUT, now()), Step::Wait { .. }));
    // A single-node development cluster has no others to protect.
    let one = role(Role::Metadata, "m2", &[("m1", true)]);
    assert_eq!(restarted(&plan(&data, &one, TIMEOUT, now())), "c-metadata-0");
}

#[test]
fn a_revert_midway_rolls_the_updated_pods_back() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    // Pods 2 and 1 were updated to d2; the spec went back to d1, now the update revision again.
    let reverted = role(Role::Data, "d1", &[("d1", true), ("d2", true), ("d2", true)]);
    assert_eq!(restarted(&plan(&reverted, &metadata, TIMEOUT, now())), "c-data-2");
    let one_back = role(Role::Data, "d1", &[("d1", true), ("d2", true), ("d1", true)]);
    assert_eq!(restarted(&plan(&one_back, &metadata, TIMEOUT, now())), "c-data-1");
}

#[test]
fn an_updated_pod_not_ready_past_the_timeout_halts_and_a_fixed_spec_moves_on() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    let mut stuck = role(Role::Data, "bad", &[("good", true), ("good", true), ("bad", false)]);
    stuck.pods[2].since = Some(now() - SignedDuration::from_secs(599));
    let Step::Wait { deadline, .. } = plan(&stuck, &metadata, TIMEOUT, now()) else { panic!("not late yet") };
    assert_eq!(deadline, Some(now() + SignedDuration::from_secs(1)), "the controller looks again then");
    stuck.pods[2].since = Some(now() - SignedDuration::from_secs(601));
    let Step::Halted { pod, message, role: Role::Data } = plan(&stuck, &metadata, TIMEOUT, now()) else {
        panic!("expected a halt");
    };
    assert_eq!(pod, "c-data-2");
    assert!(message.contains("c-data-2 is not Ready within 600s"), "{message}");

    // The user fixes the spec: the stuck pod is outdated and down, so it is replaced first.
    stuck.update_revision = Some("fixed".into());
    assert_eq!(restarted(&plan(&stuck, &metadata, TIMEOUT, now())), "c-data-2");
}

#[test]
fn a_statefulset_behind_its_spec_missing_pods_and_terminating_pods_wait() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    let mut behind = role(Role::Data, "d2", &[("d1", true)]);
    behind.update_revision = None;
    assert!(matches!(plan(&behind, &metadata, TIMEOUT, now()), Step::Wait { .. }));

    let mut missing = role(Role::Data, "d2", &[("d1", true), ("d1", true)]);
    missing.replicas = 3;
    assert!(matches!(plan(&missing, &metadata, TIMEOUT, now()), Step::Wait { .. }));

    let mut terminating = role(Role::Data, "d2", &[("d1", true), ("d1", true)]);
    terminating.pods[1].terminating = true;
    assert!(matches!(plan(&terminating, &metadata, TIMEOUT, now()), Step::Wait { .. }));
}

#[test]
fn progress_is_described_per_role() {
    let data = role(Role::Data, "d2", &[("d2", true), ("d1", true), ("d2", true)]);
    let metadata = role(Role::Metadata, "m", &[("m", true), ("m", true), ("m", true)]);
    let step = plan(&data, &metadata, TIMEOUT, now());
    let text = describe(&step, &data, &metadata);
    assert!(text.starts_with("updated 2/3 data pods, 3/3 metadata pods; restarting c-data-1"), "{text}");
}

#[test]
fn a_ready_pod_failing_one_health_check_holds_but_never_halts() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    let mut data = role(Role::Data, "d2", &[("d1", true), ("d1", true), ("d2", true)]);
    data.pods[2].since = Some(now() - SignedDuration::from_secs(86_400));
    data.pods[2].healthy = Some(false);
    let step = plan(&data, &metadata, TIMEOUT, now());
    assert!(matches!(step, Step::Wait { deadline: None, .. }), "{step:?}");
}

#[test]
fn a_clock_ahead_of_ours_is_never_late() {
    let metadata = role(Role::Metadata, "m", &[("m", true)]);
    let mut data = role(Role::Data, "d2", &[("d1", true), ("d2", false)]);
    data.pods[1].since = Some(now() + SignedDuration::from_secs(900));
    assert!(matches!(plan(&data, &metadata, TIMEOUT, now()), Step::Wait { .. }));
}

#[test]
fn pod_views_read_ordinal_revision_readiness_and_time() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c-data-12", "uid": "u", "creationTimestamp": "2030-01-01T00:00:00Z",
                     "labels": {"controller-revision-hash": "c-data-abc"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "c-data",
                                          "uid": "s", "controller": true}]},
        "status": {"podIP": "10.0.0.5", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2030-01-01T00:01:00Z"}]}
    }))
    .expect("a pod");
    let view = PodView::from_pod(&pod, "c-data").expect("an ordinal");
    assert_eq!((view.ordinal, view.ready, view.revision.as_deref()), (12, true, Some("c-data-abc")));
    assert_eq!(view.since, Some("2030-01-01T00:01:00Z".parse().expect("time")));
    assert_eq!(view.ip.as_deref(), Some("10.0.0.5"));
    assert!(PodView::from_pod(&pod, "c-metadata").is_none(), "another StatefulSet's pod");
    assert!(PodView::from_pod(&pod, "c-dat").is_none(), "a prefix is not a StatefulSet name");
    let mut stray = pod.clone();
    stray.metadata.owner_references = None;
    assert!(PodView::from_pod(&stray, "c-data").is_none(), "a pod the StatefulSet does not own");
}

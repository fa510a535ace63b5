//! Tests of the pure status rules: phases, injection status and conditions.

use super::*;

const fn ready(desired: i32, ready: i32) -> RoleReadiness {
    RoleReadiness { desired, ready, exists: true }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("valid timestamp")
}

#[test]
fn phase_goes_pending_running_degraded() {
    let missing = RoleReadiness::default();
    assert_eq!(phase(None, missing, missing), ClusterPhase::Pending);
    assert_eq!(phase(Some(ClusterPhase::Pending), ready(3, 2), ready(3, 3)), ClusterPhase::Pending);
    assert_eq!(phase(Some(ClusterPhase::Pending), ready(3, 3), ready(3, 3)), ClusterPhase::Running);
    assert_eq!(phase(Some(ClusterPhase::Running), ready(3, 3), ready(3, 1)), ClusterPhase::Degraded);
    assert_eq!(phase(Some(ClusterPhase::Degraded), ready(3, 3), ready(3, 3)), ClusterPhase::Running);
    assert_eq!(phase(Some(ClusterPhase::Failed), ready(3, 0), ready(3, 0)), ClusterPhase::Pending);
}

#[test]
fn injection_status_follows_the_seed_table() {
    let count = |total_pods, with_sidecar| SidecarCount { total_pods, with_sidecar };
    assert_eq!(injection_status(count(6, 6)), SidecarInjectionStatus::Complete);
    assert_eq!(injection_status(count(6, 3)), SidecarInjectionStatus::Partial);
    assert_eq!(injection_status(count(6, 0)), SidecarInjectionStatus::None);
    assert_eq!(injection_status(count(0, 0)), SidecarInjectionStatus::Unknown);
}

#[test]
fn complete_injection_reports_the_seed_message() {
    let (status, (ok, reason, message)) =
        mesh_status(true, SidecarCount { total_pods: 6, with_sidecar: 6 }, None, at(10));
    assert_eq!((ok, reason, message.as_str()), (true, "SidecarInjectionComplete", "All 6 pods have sidecars injected"));
    assert_eq!((status.pods_with_sidecars, status.total_pods), (6, 6));
    assert_eq!(status.last_transition_time, Some(Time(at(10))));
}

#[test]
fn mesh_transition_time_moves_only_on_a_change() {
    let count = SidecarCount { total_pods: 6, with_sidecar: 3 };
    let (first, (ok, reason, _)) = mesh_status(true, count, None, at(10));
    assert_eq!(
        (ok, reason, first.sidecar_injection_status),
        (false, "PartialInjection", SidecarInjectionStatus::Partial)
    );
    let (same, _) = mesh_status(true, SidecarCount { total_pods: 6, with_sidecar: 4 }, Some(&first), at(20));
    assert_eq!(same.last_transition_time, Some(Time(at(10))));
    let (done, _) = mesh_status(true, SidecarCount { total_pods: 6, with_sidecar: 6 }, Some(&same), at(30));
    assert_eq!(done.last_transition_time, Some(Time(at(30))));
}

#[test]
fn condition_transition_time_moves_only_when_status_changes() {
    let mut conditions = Vec::new();
    set_condition(&mut conditions, CONFIGURATION_VALID, true, "Valid", "ok", Some(1), at(10));
    set_condition(&mut conditions, CONFIGURATION_VALID, true, "Valid", "still ok", Some(2), at(20));
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].last_transition_time, Time(at(10)));
    assert_eq!((conditions[0].message.as_str(), conditions[0].observed_generation), ("still ok", Some(2)));
    set_condition(&mut conditions, CONFIGURATION_VALID, false, "Invalid", "bad", Some(3), at(30));
    assert_eq!((conditions[0].status.as_str(), conditions[0].last_transition_time.clone()), ("False", Time(at(30))));
    remove_condition(&mut conditions, CONFIGURATION_VALID);
    assert!(conditions.is_empty());
}

#[test]
fn generic_detection_sees_extra_containers_and_native_sidecars() {
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
    let pod = |containers: &[&str], init: Option<(&str, &str)>| Pod {
        spec: Some(PodSpec {
            containers: containers.iter().map(|n| Container { name: n.to_string(), ..Container::default() }).collect(),
            init_containers: init.map(|(name, policy)| {
                vec![Container { name: name.into(), restart_policy: Some(policy.into()), ..Container::default() }]
            }),
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    assert!(!has_any_sidecar(&pod(&["antfly"], None), "antfly"));
    assert!(has_any_sidecar(&pod(&["antfly", "istio-proxy"], None), "antfly"));
    assert!(has_any_sidecar(&pod(&["antfly"], Some(("istio-proxy", "Always"))), "antfly"));
    assert!(!has_any_sidecar(&pod(&["antfly"], Some(("setup", "Never"))), "antfly"));
}

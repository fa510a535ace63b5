//! Pure status computation: phase, ready counts, conditions and mesh status from what the
//! controller observed. No API client here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::api::{AntflyClusterStatus, ClusterPhase, ServiceMeshStatus, SidecarInjectionStatus};

pub const CONFIGURATION_VALID: &str = "ConfigurationValid";
pub const PLUGINS_READY: &str = "PluginsReady";
pub const SECRETS_READY: &str = "SecretsReady";
pub const SERVICE_MESH_READY: &str = "ServiceMeshReady";
pub const RECONCILE_PAUSED: &str = "ReconcilePaused";
/// True when every pod runs the current spec; False while a rollout is in progress or halted.
pub const ROLLOUT: &str = "Rollout";
/// True when every PVC has the size the spec asks for; False while growing or when it cannot.
pub const STORAGE_RESIZE: &str = "StorageResize";
/// True when the last apply of the cluster's objects succeeded; False with the API server's
/// answer when it refused one.
pub const RESOURCES_APPLIED: &str = "ResourcesApplied";
/// True when no data scale-down is pending; False while one waits, drains or has halted.
pub const DATA_SCALE_DOWN: &str = "DataScaleDown";
/// The autoscaler: True while it reads metrics (holding or recommending), False when it cannot.
pub const AUTO_SCALING: &str = "AutoScaling";

/// Ready and desired pods of one StatefulSet, as observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleReadiness {
    pub desired: i32,
    pub ready: i32,
    /// Whether the StatefulSet exists yet.
    pub exists: bool,
}

/// Pods of the cluster and how many carry the mesh's sidecar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SidecarCount {
    pub total_pods: i32,
    pub with_sidecar: i32,
}

/// Without a profile plugin, a pod has a sidecar when it runs any container besides the server,
/// or a restartable (native sidecar) init container.
pub fn has_any_sidecar(pod: &k8s_openapi::api::core::v1::Pod, server_container: &str) -> bool {
    let Some(spec) = &pod.spec else { return false };
    spec.containers.iter().any(|c| c.name != server_container)
        || spec.init_containers.iter().flatten().any(|c| c.restart_policy.as_deref() == Some("Always"))
}

/// The injection state for the seed's status values.
pub fn injection_status(count: SidecarCount) -> SidecarInjectionStatus {
    match count {
        SidecarCount { total_pods: 0, .. } => SidecarInjectionStatus::Unknown,
        SidecarCount { total_pods, with_sidecar } if with_sidecar == total_pods => SidecarInjectionStatus::Complete,
        SidecarCount { with_sidecar: 0, .. } => SidecarInjectionStatus::None,
        _ => SidecarInjectionStatus::Partial,
    }
}

/// A cluster is Pending until it first runs; afterwards missing pods make it Degraded.
pub fn phase(previous: Option<ClusterPhase>, metadata: RoleReadiness, data: RoleReadiness) -> ClusterPhase {
    let all_ready = [metadata, data].iter().all(|r| r.exists && r.ready >= r.desired);
    if all_ready {
        return ClusterPhase::Running;
    }
    match previous {
        Some(ClusterPhase::Running | ClusterPhase::Degraded) => ClusterPhase::Degraded,
        _ => ClusterPhase::Pending,
    }
}

/// Set or update a condition, keeping `lastTransitionTime` unless its status changes.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    ok: bool,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    let status = if ok { "True" } else { "False" }.to_string();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status {
                existing.last_transition_time = Time(now);
            }
            existing.status = status;
            existing.reason = reason.to_string();
            existing.message = message;
            existing.observed_generation = observed_generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message,
            observed_generation,
            last_transition_time: Time(now),
        }),
    }
}

pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The mesh status and the ServiceMeshReady condition's (ok, reason, message).
pub fn mesh_status(
    enabled: bool,
    count: SidecarCount,
    previous: Option<&ServiceMeshStatus>,
    now: Timestamp,
) -> (ServiceMeshStatus, (bool, &'static str, String)) {
    let injection = if enabled { injection_status(count) } else { SidecarInjectionStatus::None };
    let changed = previous.is_none_or(|p| p.sidecar_injection_status != injection || p.enabled != enabled);
    let last_transition_time =
        if changed { Some(Time(now)) } else { previous.and_then(|p| p.last_transition_time.clone()) };
    let SidecarCount { total_pods, with_sidecar } = count;
    let condition = match (enabled, injection) {
        (false, _) => (true, "ServiceMeshDisabled", "service mesh integration is disabled".to_string()),
        (true, SidecarInjectionStatus::Complete) => {
            (true, "SidecarInjectionComplete", format!("All {total_pods} pods have sidecars injected"))
        }
        (true, SidecarInjectionStatus::Partial) => (
            false,
            "PartialInjection",
            format!("{with_sidecar} of {total_pods} pods have sidecars; rollout is held until injection is consistent"),
        ),
        (true, SidecarInjectionStatus::None) => {
            (false, "SidecarsNotInjected", format!("none of {total_pods} pods has a sidecar"))
        }
        (true, SidecarInjectionStatus::Unknown) => (false, "NoPods", "no pods to inspect yet".to_string()),
    };
    let status = ServiceMeshStatus {
        enabled,
        sidecar_injection_status: injection,
        pods_with_sidecars: with_sidecar,
        total_pods,
        last_transition_time,
    };
    (status, condition)
}

/// Whether two statuses differ in anything but timestamps that would not be written anyway.
pub fn needs_write(current: Option<&AntflyClusterStatus>, desired: &AntflyClusterStatus) -> bool {
    current != Some(desired)
}

#[cfg(test)]
mod tests;

//! The rollout step: observe both roles from the caches, ask [`crate::rollout::plan`] for the
//! next step, check the servers' health before restarting a serving pod, and restart at most
//! one pod per reconcile.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions};
use tracing::info;

use super::context::Context;
use super::error::ReconcileError;
use crate::base::live::LiveStatefulSet;
use crate::base::{Role, names};
use crate::rollout::{DEFAULT_POD_READY_TIMEOUT, RoleView, Step, plan};
use crate::validate::ValidatedCluster;

/// How long the operator waits for a pod's `/readyz` before counting it unhealthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a reconcile left the rollout.
pub struct RolloutState {
    pub step: Step,
    pub data: RoleView,
    pub metadata: RoleView,
}

/// The rollout's pod-ready timeout from the spec.
pub fn pod_ready_timeout(cluster: &ValidatedCluster) -> Duration {
    cluster
        .spec()
        .rollout
        .as_ref()
        .and_then(|r| r.pod_ready_timeout_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_POD_READY_TIMEOUT, Duration::from_secs)
}

/// Observes both roles, then restarts the next pod if the plan says so. `applied` holds the
/// StatefulSets this reconcile wrote (fresher than the cache). While a data node drains
/// (`draining`), nothing restarts: restarting the draining pod would cut its drain short.
pub async fn advance(
    ctx: &Context,
    cluster: &ValidatedCluster,
    applied: &[LiveStatefulSet],
    draining: bool,
    now: Timestamp,
) -> Result<RolloutState, ReconcileError> {
    let mut data = observe(ctx, cluster, Role::Data, applied)?;
    let mut metadata = observe(ctx, cluster, Role::Metadata, applied)?;
    let timeout = pod_ready_timeout(cluster);
    let mut step = plan(&data, &metadata, timeout, now);
    if draining && let Step::Restart { role, .. } = &step {
        let reason = "a data node is draining for a scale-down".into();
        step = Step::Wait { role: *role, reason, deadline: None };
    }
    // A serving pod is restarted only once the updated pods answer their health check too:
    // Ready may be stale, and the server is what must have come back.
    if let Step::Restart { role, pod, .. } = &step
        && is_serving(role_view(*role, &data, &metadata), pod)
        && ctx.pod_health_checks
        && !cluster.mesh_enabled()
    {
        futures::join!(check_health(ctx, &mut data), check_health(ctx, &mut metadata));
        step = plan(&data, &metadata, timeout, now);
    }
    if let Step::Restart { pod, uid, reason, role } = &step {
        restart(ctx, cluster.namespace(), pod, uid).await?;
        info!(cluster = %cluster.name(), role = role.as_str(), pod = %pod, reason = %reason, "restarted a pod to roll it out");
    }
    Ok(RolloutState { step, data, metadata })
}

fn role_view<'a>(role: Role, data: &'a RoleView, metadata: &'a RoleView) -> &'a RoleView {
    match role {
        Role::Data => data,
        Role::Metadata => metadata,
    }
}

fn is_serving(view: &RoleView, pod: &str) -> bool {
    view.pods.iter().any(|p| p.name == pod && p.ready)
}

/// One role as it stands: `applied` (StatefulSets this reconcile wrote) before the cache.
pub fn observe(
    ctx: &Context,
    cluster: &ValidatedCluster,
    role: Role,
    applied: &[LiveStatefulSet],
) -> Result<RoleView, ReconcileError> {
    let name = names::role(cluster.name(), role);
    let statefulset = match applied.iter().find(|s| s.name() == Some(name.as_str())) {
        Some(written) => Some(written.clone()),
        None => ctx.caches.live_statefulset(cluster.namespace(), &name)?,
    };
    let pods = ctx.caches.role_pods(cluster.namespace(), cluster.name(), role);
    Ok(RoleView::observe(role, statefulset.as_ref(), &name, &pods))
}

/// Asks each updated, Ready pod of the role for `/readyz`, concurrently and bounded in time.
async fn check_health(ctx: &Context, view: &mut RoleView) {
    let revision = view.update_revision.clone();
    let port = ctx.pod_health_port;
    let checks = view.pods.iter_mut().filter(|p| p.ready && p.revision == revision).map(|pod| async move {
        let healthy = match pod.ip.as_deref() {
            Some(ip) => probe(ip, port).await,
            None => false,
        };
        pod.healthy = Some(healthy);
    });
    futures::future::join_all(checks).await;
}

async fn probe(ip: &str, port: u16) -> bool {
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
    let Ok(client) = antfly_api::Client::new(&format!("http://{host}:{port}")) else { return false };
    matches!(client.with_timeout(HEALTH_TIMEOUT).health_ready().await, Ok(true))
}

/// Deletes the pod, only if it is still the one observed (its uid): the StatefulSet controller
/// recreates it from the current template.
async fn restart(ctx: &Context, namespace: &str, pod: &str, uid: &str) -> Result<(), ReconcileError> {
    ctx.before_write().await?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
        ..DeleteParams::default()
    };
    match pods.delete(pod, &params).await {
        Ok(_) => Ok(()),
        // Gone already, or replaced since: the next reconcile sees the new one.
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(source) => Err(ReconcileError::Delete { kind: "Pod", name: pod.to_string(), source }),
    }
}

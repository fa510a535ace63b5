//! The observe step, from the caches: how many pods of each role are ready, and how many carry
//! the mesh sidecar.

use super::context::Context;
use super::error::ReconcileError;
use crate::base::{CONTAINER_NAME, Role, names};
use crate::status::{self, RoleReadiness, SidecarCount};
use crate::validate::ValidatedCluster;

/// Ready pods of one role's StatefulSet against the `desired` count, from the cache.
pub fn readiness(
    ctx: &Context,
    cluster: &ValidatedCluster,
    role: Role,
    desired: i32,
) -> Result<RoleReadiness, ReconcileError> {
    let live = ctx.caches.live_statefulset(cluster.namespace(), &names::role(cluster.name(), role))?;
    Ok(RoleReadiness { desired, exists: live.is_some(), ready: live.map_or(0, |s| s.ready_replicas()) })
}

/// Live pods of the cluster and how many carry the sidecar; the mesh profile plugin decides
/// what a sidecar is, and without a profile any extra container counts.
pub async fn count_sidecars(ctx: &Context, cluster: &ValidatedCluster) -> Result<SidecarCount, ReconcileError> {
    if !cluster.mesh_enabled() {
        return Ok(SidecarCount::default());
    }
    let live = ctx.caches.cluster_pods(cluster.namespace(), cluster.name());
    let profile = cluster.spec().service_mesh.as_ref().and_then(|m| m.profile.clone());
    // Profile plugins run off the async runtime, like every plugin call.
    let resolver = ctx.resolver.clone();
    let detect = move || -> Result<SidecarCount, ReconcileError> {
        let mut count = SidecarCount::default();
        for pod in &live {
            let has = match &profile {
                Some(profile) => resolver.has_sidecar(profile, pod).map_err(ReconcileError::Plugins)?,
                None => status::has_any_sidecar(pod, CONTAINER_NAME),
            };
            count.total_pods += 1;
            count.with_sidecar += i32::from(has);
        }
        Ok(count)
    };
    tokio::task::spawn_blocking(detect).await.map_err(|e| ReconcileError::PluginTask(e.to_string()))?
}

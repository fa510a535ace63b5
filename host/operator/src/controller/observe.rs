//! The observe step: how many pods of each role are ready, and how many carry the mesh sidecar.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::context::Context;
use super::error::ReconcileError;
use crate::base::labels::cluster_pod_selector;
use crate::base::{CONTAINER_NAME, Role, names};
use crate::status::{self, RoleReadiness, SidecarCount};
use crate::validate::ValidatedCluster;

/// Ready pods of one role's StatefulSet against the desired count.
pub async fn readiness(ctx: &Context, cluster: &ValidatedCluster, role: Role) -> Result<RoleReadiness, ReconcileError> {
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), cluster.namespace());
    let live = api
        .get_opt(&names::role(cluster.name(), role))
        .await
        .map_err(|source| ReconcileError::List { kind: "StatefulSet", source })?;
    let desired = match role {
        Role::Metadata => cluster.spec().metadata_nodes.replicas,
        Role::Data => cluster.spec().data_nodes.replicas,
    };
    Ok(RoleReadiness {
        desired,
        exists: live.is_some(),
        ready: live.and_then(|s| s.status).and_then(|s| s.ready_replicas).unwrap_or(0),
    })
}

/// Live pods of the cluster and how many carry the sidecar; the mesh profile plugin decides
/// what a sidecar is, and without a profile any extra container counts.
pub async fn count_sidecars(ctx: &Context, cluster: &ValidatedCluster) -> Result<SidecarCount, ReconcileError> {
    if !cluster.mesh_enabled() {
        return Ok(SidecarCount::default());
    }
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), cluster.namespace());
    let pods = api
        .list(&ListParams::default().labels(&cluster_pod_selector(cluster.name())))
        .await
        .map_err(|source| ReconcileError::List { kind: "Pod", source })?;
    let profile = cluster.spec().service_mesh.as_ref().and_then(|m| m.profile.clone());
    let live: Vec<Pod> = pods.items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
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

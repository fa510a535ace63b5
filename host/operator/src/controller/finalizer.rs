//! The finalizer step: keep the PVC-cleanup finalizer exactly when `whenDeleted: Delete`, and on
//! deletion delete the cluster's PVCs before releasing it.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::context::Context;
use super::error::ReconcileError;
use crate::api::{AntflyCluster, RetentionAction};
use crate::base::PVC_FINALIZER;
use crate::base::labels::cluster_pod_selector;
use crate::validate::ValidatedCluster;

fn wants_pvc_cleanup(cluster: &ValidatedCluster) -> bool {
    cluster.spec().storage.pvc_retention_policy.as_ref().is_some_and(|p| p.when_deleted == RetentionAction::Delete)
}

/// Add or remove the PVC-cleanup finalizer to match the spec.
pub async fn ensure_finalizer(
    ctx: &Context,
    cluster: &AntflyCluster,
    validated: &ValidatedCluster,
) -> Result<(), ReconcileError> {
    let has = cluster.finalizers().iter().any(|f| f == PVC_FINALIZER);
    let wants = wants_pvc_cleanup(validated);
    if has == wants {
        return Ok(());
    }
    let mut finalizers: Vec<String> = cluster.finalizers().iter().filter(|f| *f != PVC_FINALIZER).cloned().collect();
    if wants {
        finalizers.push(PVC_FINALIZER.to_string());
    }
    patch_finalizers(ctx, cluster, finalizers).await
}

async fn patch_finalizers(
    ctx: &Context,
    cluster: &AntflyCluster,
    finalizers: Vec<String>,
) -> Result<(), ReconcileError> {
    ctx.before_write().await?;
    let api: Api<AntflyCluster> = Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({ "metadata": { "finalizers": finalizers, "resourceVersion": cluster.resource_version() } });
    api.patch(&cluster.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ReconcileError::Finalizer)?;
    Ok(())
}

/// On deletion with the finalizer present, delete the cluster's PVCs, then release the finalizer.
pub async fn finalize(cluster: &AntflyCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    if !cluster.finalizers().iter().any(|f| f == PVC_FINALIZER) {
        return Ok(Action::await_change());
    }
    ctx.before_write().await?;
    let ns = cluster.namespace().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let claims = pvcs
        .list(&ListParams::default().labels(&cluster_pod_selector(&cluster.name_any())))
        .await
        .map_err(|source| ReconcileError::List { kind: "PersistentVolumeClaim", source })?;
    for claim in claims.items {
        let name = claim.name_any();
        match pvcs.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(ReconcileError::Delete { kind: "PersistentVolumeClaim", name, source }),
        }
    }
    let remaining = cluster.finalizers().iter().filter(|f| *f != PVC_FINALIZER).cloned().collect();
    patch_finalizers(ctx, cluster, remaining).await?;
    Ok(Action::await_change())
}

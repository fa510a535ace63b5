//! The status step: conditions, events, and the status write, made only when something changed.

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use super::apply::FIELD_MANAGER;
use super::context::Context;
use super::error::ReconcileError;
use crate::api::{AntflyCluster, AntflyClusterStatus, ClusterPhase};
use crate::pipeline::FailedStep;
use crate::status;

/// Publish an event on the cluster; only the leader publishes, and a failure is only logged.
pub async fn publish(ctx: &Context, cluster: &AntflyCluster, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if ctx.leader.is_leader()
        && let Err(err) = ctx.recorder.publish(&event, &cluster.object_ref(&())).await
    {
        warn!(error = %err, reason, "failed to publish event");
    }
}

/// Write the status subresource by server-side apply, only when it changed.
pub async fn write_status(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: AntflyClusterStatus,
) -> Result<(), ReconcileError> {
    if !status::needs_write(cluster.status.as_ref(), &status) {
        return Ok(());
    }
    ctx.ensure_leader()?;
    let api: Api<AntflyCluster> = Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({ "apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "status": status });
    api.patch_status(&cluster.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map_err(ReconcileError::WriteStatus)?;
    Ok(())
}

/// Whether the cluster's last written status already shows this condition.
fn condition_is(status: Option<&AntflyClusterStatus>, type_: &str, value: &str, message: &str) -> bool {
    status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == value && c.message == message))
}

/// A step failed: set its condition to False and the phase to Failed, publish a Warning event
/// the first time this message shows, and write the status.
pub async fn report_failed_step(
    ctx: &Context,
    cluster: &AntflyCluster,
    mut status: AntflyClusterStatus,
    step: FailedStep,
    message: String,
    now: Timestamp,
) -> Result<(), ReconcileError> {
    if !condition_is(cluster.status.as_ref(), step.condition, "False", &message) {
        publish(ctx, cluster, EventType::Warning, step.reason, message.clone()).await;
    }
    let generation = cluster.metadata.generation;
    status::set_condition(&mut status.conditions, step.condition, false, step.reason, message, generation, now);
    status.phase = Some(ClusterPhase::Failed);
    write_status(ctx, cluster, status).await
}

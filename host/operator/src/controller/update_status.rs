//! The status step: conditions, events, and the status write, made only when something changed.

use k8s_openapi::jiff::Timestamp;
use kube::api::Patch;
use kube::core::Request;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use super::apply::apply_params;
use super::context::{Context, cluster_key};
use super::error::ReconcileError;
use crate::api::{AntflyCluster, AntflyClusterStatus, ClusterPhase};
use crate::base::live::WrittenVersion;
use crate::base::text::{MAX_CONDITION_MESSAGE_BYTES, MAX_EVENT_NOTE_BYTES, truncate_utf8};
use crate::pipeline::FailedStep;
use crate::status;

/// Publish an event on the cluster; only the leader publishes, and a failure is only logged.
/// The note is cut to the API server's limit: a longer one would be refused whole.
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let note = truncate_utf8(note, MAX_EVENT_NOTE_BYTES);
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if ctx.leader.is_leader()
        && let Err(err) = ctx.recorder.publish(&event, &object.object_ref(&())).await
    {
        warn!(error = %err, reason, "failed to publish event");
    }
}

/// Write the status subresource by server-side apply, only when it changed; the status is
/// remembered until the watch shows it ([`Context::written_status`]).
pub async fn write_status(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: AntflyClusterStatus,
) -> Result<(), ReconcileError> {
    if !status::needs_write(cluster.status.as_ref(), &status) {
        return Ok(());
    }
    ctx.before_write().await?;
    let patch = json!({ "apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "status": status });
    // `Api::patch_status` would decode the whole answer, managed fields included.
    let request = Request::new(AntflyCluster::url_path(&(), cluster.namespace().as_deref()))
        .patch_subresource("status", &cluster.name_any(), &apply_params(), &Patch::Apply(&patch))
        .map_err(|e| ReconcileError::WriteStatus(kube::Error::BuildRequest(e)))?;
    let written: WrittenVersion = ctx.client.request(request).await.map_err(ReconcileError::WriteStatus)?;
    if let Some(version) = written.resource_version() {
        ctx.written_status.remember(&cluster_key(cluster), version, status);
    }
    Ok(())
}

/// Whether the cluster's last written status already shows this condition.
fn condition_is(status: Option<&AntflyClusterStatus>, type_: &str, value: &str, message: &str) -> bool {
    status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == value && c.message == message))
}

/// Sets `condition` False with `reason` and `message` (cut to the API server's limit) and
/// publishes a Warning event the first time this message shows; the phase is left as it is.
/// For trouble that is not the spec's fault: a refused write, volumes that cannot grow, a
/// halted rollout.
pub async fn warn_condition(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: &mut AntflyClusterStatus,
    condition: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) {
    let message = truncate_utf8(message, MAX_CONDITION_MESSAGE_BYTES);
    let new = !condition_is(cluster.status.as_ref(), condition, "False", &message);
    let generation = cluster.metadata.generation;
    status::set_condition(&mut status.conditions, condition, false, reason, message.clone(), generation, now);
    if new {
        publish(ctx, cluster, EventType::Warning, reason, message).await;
    }
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
    let Some(event_note) = set_failed_step(&mut status, cluster, step, message, now) else {
        return write_status(ctx, cluster, status).await;
    };
    publish(ctx, cluster, EventType::Warning, step.reason, event_note).await;
    write_status(ctx, cluster, status).await
}

/// The status side of [`report_failed_step`]: the step's condition False with `message` (cut
/// to the API server's limit) and the phase Failed. Returns the Warning event's note when the
/// message is new.
pub(crate) fn set_failed_step(
    status: &mut AntflyClusterStatus,
    cluster: &AntflyCluster,
    step: FailedStep,
    message: String,
    now: Timestamp,
) -> Option<String> {
    let message = truncate_utf8(message, MAX_CONDITION_MESSAGE_BYTES);
    let note = (!condition_is(cluster.status.as_ref(), step.condition, "False", &message)).then(|| message.clone());
    let generation = cluster.metadata.generation;
    status::set_condition(&mut status.conditions, step.condition, false, step.reason, message, generation, now);
    status.phase = Some(ClusterPhase::Failed);
    note
}

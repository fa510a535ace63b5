//! One reconcile of an AntflyRestore: wait for the cluster to be Running and the
//! destination to be on its pods, run the restore Job once, and record its end. The server
//! has no restore-status endpoint: the Job polls until every restored table serves reads,
//! so Completed means readable, not merely accepted.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::context::Context;
use super::error::ReconcileError;
use super::runs::{
    DestinationWait, RunState, WAIT_RECHECK, claim_run, create_job, is_running, observe_run, prepare, release_run,
    target_cluster, write_run_status,
};
use super::update_status::publish;
use crate::api::{AntflyRestore, AntflyRestoreStatus};
use crate::backup::destination::Operation;
use crate::backup::job::{RunJob, build_job};
use crate::backup::result::Outcome;
use crate::backup::{restore_destination, validate_tables};
use crate::base::text::{MAX_CONDITION_MESSAGE_BYTES, truncate_utf8};
use crate::status::set_condition;

pub const CLUSTER_READY: &str = "ClusterReady";
pub const DESTINATION_READY: &str = "DestinationReady";
pub const COMPLETE: &str = "Complete";
/// The longest a restore Job may run beyond its tables' ready timeout.
const JOB_SLACK_SECONDS: i64 = 600;

/// `{restore}-restore`.
pub fn job_name(restore: &AntflyRestore) -> String {
    format!("{}-restore", restore.name_any())
}

fn is_terminal(status: &AntflyRestoreStatus) -> bool {
    matches!(status.phase.as_deref(), Some("Completed" | "Failed" | "Invalid"))
}

pub async fn reconcile(restore: Arc<AntflyRestore>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let now = ctx.clock.now();
    let shown = restore.status.clone();
    let mut status = shown.clone().unwrap_or_default();
    if is_terminal(&status) {
        return Ok(Action::await_change());
    }
    let generation = restore.metadata.generation;
    let namespace = restore.namespace().unwrap_or_default();
    let cluster_name = restore.spec.cluster_ref.name.clone();
    let job = job_name(&restore);

    let problems = validate_tables(&restore.spec.tables);
    if !problems.is_empty() {
        let message: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        return finish(&ctx, &restore, shown.as_ref(), status, "Invalid", "InvalidSpec", message.join("; ")).await;
    }

    if status.job_name.is_some() {
        let started = status.start_time.as_ref().map_or(now, |t| t.0);
        return match observe_run(&ctx, &namespace, &job, &restore.spec.source.backup_id, started).await? {
            RunState::Running => Ok(Action::requeue(WAIT_RECHECK)),
            RunState::Finished(result) => {
                release_run(&ctx, &namespace, &cluster_name, &job);
                status.tables = result.tables.clone();
                let phase = if result.outcome == Outcome::Completed { "Completed" } else { "Failed" };
                let message = result.message.clone().unwrap_or_else(|| {
                    format!(
                        "restored {} tables from {}; every one serves reads",
                        result.tables.len(),
                        restore.spec.source.backup_id
                    )
                });
                let reason = if phase == "Completed" { "RestoreCompleted" } else { "RestoreFailed" };
                finish(&ctx, &restore, shown.as_ref(), status, phase, reason, message).await
            }
        };
    }

    let cluster = target_cluster(&ctx, &namespace, &cluster_name).await?;
    let Some(cluster) = cluster.filter(is_running) else {
        // Not a failure: a restore is often created with its cluster.
        let message = format!("waiting for AntflyCluster {cluster_name} to exist and be Running");
        set_condition(&mut status.conditions, CLUSTER_READY, false, "ClusterNotReady", message, generation, now);
        status.phase = Some("Pending".into());
        write_run_status(&ctx, &*restore, shown.as_ref(), &status).await?;
        return Ok(Action::requeue(WAIT_RECHECK));
    };
    set_condition(&mut status.conditions, CLUSTER_READY, true, "Running", "the cluster is Running", generation, now);
    let request = match restore_destination(&restore) {
        Ok(request) => request,
        Err(error) => {
            return finish(&ctx, &restore, shown.as_ref(), status, "Invalid", "InvalidSpec", error.to_string()).await;
        }
    };
    let backup_id = restore.spec.source.backup_id.clone();
    let prepared = match prepare(&ctx, &cluster, &request, Operation::Restore, &backup_id).await? {
        Ok(prepared) => prepared,
        Err(DestinationWait::Refused(error)) => {
            let message = truncate_utf8(error.to_string(), MAX_CONDITION_MESSAGE_BYTES);
            let new = !shown
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == DESTINATION_READY && c.message == message));
            set_condition(
                &mut status.conditions,
                DESTINATION_READY,
                false,
                "DestinationRefused",
                message.clone(),
                generation,
                now,
            );
            status.phase = Some("Pending".into());
            write_run_status(&ctx, &*restore, shown.as_ref(), &status).await?;
            if new {
                publish(&ctx, &*restore, EventType::Warning, "DestinationRefused", message).await;
            }
            return Ok(Action::requeue(std::time::Duration::from_secs(300)));
        }
        Err(DestinationWait::RollingOut(message)) => {
            set_condition(
                &mut status.conditions,
                DESTINATION_READY,
                false,
                "WaitingForServerPods",
                message,
                generation,
                now,
            );
            status.phase = Some("Pending".into());
            write_run_status(&ctx, &*restore, shown.as_ref(), &status).await?;
            return Ok(Action::requeue(WAIT_RECHECK));
        }
    };
    set_condition(
        &mut status.conditions,
        DESTINATION_READY,
        true,
        "Planned",
        prepared.plan.location.clone(),
        generation,
        now,
    );
    if let Err(holder) = claim_run(&ctx, &namespace, &cluster_name, &job) {
        status.phase = Some("Pending".into());
        let message = format!("waiting: {holder} is running on cluster {cluster_name}");
        set_condition(&mut status.conditions, COMPLETE, false, "WaitingForOtherRun", message, generation, now);
        write_run_status(&ctx, &*restore, shown.as_ref(), &status).await?;
        return Ok(Action::requeue(WAIT_RECHECK));
    }
    let mesh = prepared.desired.contributions.data.mesh.as_ref().map(|m| m.pod_annotations.clone()).unwrap_or_default();
    let service_account = prepared.desired.resources.service_account.as_ref().and_then(|sa| sa.metadata.name.clone());
    let Some(owner) = restore.controller_owner_ref(&()) else { return Ok(Action::await_change()) };
    let built = build_job(&RunJob {
        operation: Operation::Restore,
        job_name: &job,
        namespace: &namespace,
        cluster: &cluster_name,
        owner,
        backup_id: &backup_id,
        plan: &prepared.plan,
        tables: &restore.spec.tables,
        restore_mode: restore.spec.restore_mode,
        timeout_seconds: restore.spec.ready_timeout_seconds + JOB_SLACK_SECONDS,
        ready_timeout_seconds: restore.spec.ready_timeout_seconds,
        image: &ctx.job_image,
        service_account: service_account.as_deref(),
        pod_annotations: mesh,
    });
    if let Err(error) = create_job(&ctx, &built).await {
        release_run(&ctx, &namespace, &cluster_name, &job);
        return Err(error);
    }
    status.job_name = Some(job.clone());
    status.start_time = Some(Time(now));
    status.phase = Some("Running".into());
    set_condition(
        &mut status.conditions,
        COMPLETE,
        false,
        "Running",
        format!("Job {job} restores {backup_id}"),
        generation,
        now,
    );
    write_run_status(&ctx, &*restore, shown.as_ref(), &status).await?;
    publish(
        &ctx,
        &*restore,
        EventType::Normal,
        "RestoreStarted",
        format!("started restoring {backup_id} from {}", prepared.plan.location),
    )
    .await;
    Ok(Action::requeue(WAIT_RECHECK))
}

/// A terminal phase: Completed, Failed or Invalid, with its message and an event.
async fn finish(
    ctx: &Context,
    restore: &AntflyRestore,
    shown: Option<&AntflyRestoreStatus>,
    mut status: AntflyRestoreStatus,
    phase: &str,
    reason: &str,
    message: String,
) -> Result<Action, ReconcileError> {
    let now = ctx.clock.now();
    let message = truncate_utf8(message, MAX_CONDITION_MESSAGE_BYTES);
    status.phase = Some(phase.into());
    status.message = Some(message.clone());
    status.completion_time = Some(Time(now));
    let completed = phase == "Completed";
    set_condition(
        &mut status.conditions,
        COMPLETE,
        completed,
        reason,
        message.clone(),
        restore.metadata.generation,
        now,
    );
    write_run_status(ctx, restore, shown, &status).await?;
    let type_ = if completed { EventType::Normal } else { EventType::Warning };
    publish(ctx, restore, type_, reason, message).await;
    Ok(Action::await_change())
}

pub fn error_policy(restore: Arc<AntflyRestore>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = format!("restore/{}/{}", restore.namespace().unwrap_or_default(), restore.name_any());
    let attempt = ctx.note_failure(&key);
    warn!(restore = %key, category = error.category(), attempt, %error, "restore reconcile failed");
    error.retry_after(attempt).map_or_else(Action::await_change, Action::requeue)
}

//! One reconcile of an AntflyBackup: validate, follow the run in progress, check the cluster
//! and the destination, and start a run when the schedule, the first run or the
//! `antfly.io/backup-now` annotation says so. Every run is a Job ([`crate::backup::job`]).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
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
use crate::api::{ActiveRun, AntflyBackup, AntflyBackupStatus, BackupRecord, RestoreMode};
use crate::backup::destination::Operation;
use crate::backup::job::{RunJob, build_job};
use crate::backup::result::{Outcome, RunResult};
use crate::backup::schedule::{BACKUP_NOW_ANNOTATION, BackupTimetable, run_id};
use crate::backup::{backup_destination, validate_backup};
use crate::base::text::{MAX_CONDITION_MESSAGE_BYTES, truncate_utf8};
use crate::status::set_condition;

pub const READY: &str = "Ready";
pub const DESTINATION_READY: &str = "DestinationReady";
pub const LAST_BACKUP_SUCCEEDED: &str = "LastBackupSucceeded";
/// The longest sleep between reconciles of an idle backup; the schedule is re-read then.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(300);

pub async fn reconcile(backup: Arc<AntflyBackup>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let now = ctx.clock.now();
    // What the object shows, updated after each write of this reconcile.
    let mut shown = backup.status.clone();
    let mut status = shown.clone().unwrap_or_default();
    let generation = backup.metadata.generation;
    status.observed_generation = generation;
    let namespace = backup.namespace().unwrap_or_default();
    let cluster_name = backup.spec.cluster_ref.name.clone();

    // A run in progress: follow it to its end, whatever the spec now says, so that its
    // result is recorded and the cluster's run slot released.
    if let Some(active) = status.active.clone() {
        match observe_run(&ctx, &namespace, &active.job_name, &active.backup_id, active.start_time.0).await? {
            RunState::Running => {
                status.phase = Some("Running".into());
                write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
                return Ok(Action::requeue(WAIT_RECHECK));
            }
            RunState::Finished(result) => {
                release_run(&ctx, &namespace, &cluster_name, &active.job_name);
                let (reason, note) = record_result(&mut status, &active, &result, &backup, now);
                let type_ = if result.outcome == Outcome::Completed { EventType::Normal } else { EventType::Warning };
                write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
                shown = Some(status.clone());
                publish(&ctx, &*backup, type_, reason, note).await;
                // Fall through: the next run may be due already.
            }
        }
    }

    let problems = validate_backup(&backup);
    if !problems.is_empty() {
        let message: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        let message = truncate_utf8(message.join("; "), MAX_CONDITION_MESSAGE_BYTES);
        let new = !condition_is(&status, READY, "False", &message);
        set_condition(&mut status.conditions, READY, false, "InvalidSpec", message.clone(), generation, now);
        status.phase = Some("Invalid".into());
        status.next_scheduled_backup = None;
        write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
        if new {
            publish(&ctx, &*backup, EventType::Warning, "InvalidSpec", message).await;
        }
        return Ok(Action::await_change());
    }
    let Ok(timetable) = BackupTimetable::from_spec(&backup.spec) else { return Ok(Action::await_change()) };

    let trigger = backup.annotations().get(BACKUP_NOW_ANNOTATION).map(String::as_str);
    let created = backup.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let decision = timetable.decide(&backup.spec, &status, trigger, created, now);
    status.next_scheduled_backup = decision.next.map(Time);
    if let Some(skipped) = decision.skipped {
        status.last_schedule_time = Some(Time(skipped));
        let note = format!(
            "skipped the run due at {skipped}: more than {} s late (spec.startingDeadlineSeconds)",
            backup.spec.starting_deadline_seconds
        );
        publish(&ctx, &*backup, EventType::Warning, "MissedSchedule", note).await;
    }
    let idle_phase = |status: &AntflyBackupStatus| -> String {
        if backup.spec.suspend {
            "Suspended".into()
        } else if backup.spec.schedule.is_some() {
            "Scheduled".into()
        } else {
            status
                .recent_backups
                .first()
                .map_or("Pending".into(), |r| if r.phase == "Completed" { "Succeeded".into() } else { "Failed".into() })
        }
    };

    // The cluster and the destination, checked every time: they gate the Ready condition.
    let cluster = target_cluster(&ctx, &namespace, &cluster_name).await?;
    let Some(cluster) = cluster.filter(is_running) else {
        let message = format!("waiting for AntflyCluster {cluster_name} to exist and be Running");
        set_condition(&mut status.conditions, READY, false, "ClusterNotReady", message, generation, now);
        status.phase = Some("Waiting".into());
        write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
        return Ok(Action::requeue(WAIT_RECHECK));
    };
    let request = match backup_destination(&backup) {
        Ok(request) => request,
        Err(error) => {
            return refuse(&ctx, &backup, shown.as_ref(), status, "InvalidDestination", error.to_string(), now).await;
        }
    };
    let id = run_id(
        &backup.name_any(),
        now,
        &status
            .recent_backups
            .iter()
            .map(|r| r.backup_id.as_str())
            .chain(status.last_backup_id.as_deref())
            .collect::<Vec<_>>(),
    );
    let prepared = match prepare(&ctx, &cluster, &request, Operation::Backup, &id).await? {
        Ok(prepared) => prepared,
        Err(DestinationWait::Refused(error)) => {
            return refuse(&ctx, &backup, shown.as_ref(), status, "DestinationRefused", error.to_string(), now).await;
        }
        Err(DestinationWait::RollingOut(message)) => {
            set_condition(
                &mut status.conditions,
                DESTINATION_READY,
                false,
                "WaitingForServerPods",
                message.clone(),
                generation,
                now,
            );
            set_condition(&mut status.conditions, READY, false, "WaitingForServerPods", message, generation, now);
            status.phase = Some("Waiting".into());
            write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
            return Ok(Action::requeue(WAIT_RECHECK));
        }
    };
    let destination_message =
        format!("{} planned by its destination plugin; the server pods carry its environment", prepared.plan.location);
    set_condition(&mut status.conditions, DESTINATION_READY, true, "Planned", destination_message, generation, now);
    set_condition(
        &mut status.conditions,
        READY,
        true,
        "Ready",
        "the cluster and the destination are ready",
        generation,
        now,
    );

    if let Some(reason) = decision.start {
        if let Err(holder) = claim_run(&ctx, &namespace, &cluster_name, &id) {
            let message = format!("a {} run waits: {holder} is running on cluster {cluster_name}", reason.as_str());
            set_condition(&mut status.conditions, READY, true, "WaitingForOtherRun", message, generation, now);
            status.phase = Some("Waiting".into());
            write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
            return Ok(Action::requeue(WAIT_RECHECK));
        }
        let mesh =
            prepared.desired.contributions.data.mesh.as_ref().map(|m| m.pod_annotations.clone()).unwrap_or_default();
        let service_account =
            prepared.desired.resources.service_account.as_ref().and_then(|sa| sa.metadata.name.clone());
        let Some(owner) = backup.controller_owner_ref(&()) else { return Ok(Action::await_change()) };
        let job = build_job(&RunJob {
            operation: Operation::Backup,
            job_name: &id,
            namespace: &namespace,
            cluster: &cluster_name,
            owner,
            backup_id: &id,
            plan: &prepared.plan,
            tables: &backup.spec.tables,
            restore_mode: RestoreMode::default(),
            timeout_seconds: backup.spec.timeout_seconds,
            ready_timeout_seconds: 0,
            image: &ctx.job_image,
            service_account: service_account.as_deref(),
            pod_annotations: mesh,
        });
        // Status first: a run is never started that the status does not name, so a failed
        // write cannot leave an orphaned Job holding the cluster's run slot.
        status.active = Some(ActiveRun {
            backup_id: id.clone(),
            job_name: id.clone(),
            start_time: Time(now),
            reason: reason.as_str().into(),
            location: prepared.plan.location.clone(),
        });
        status.last_backup_id = Some(id.clone());
        status.last_backup_time = Some(Time(now));
        if let Some(due) = decision.consumes {
            status.last_schedule_time = Some(Time(due));
        }
        if let Some(trigger) = decision.trigger {
            status.last_trigger = Some(trigger);
        }
        status.phase = Some("Running".into());
        if let Err(error) = write_run_status(&ctx, &*backup, shown.as_ref(), &status).await {
            release_run(&ctx, &namespace, &cluster_name, &id);
            return Err(error);
        }
        if let Err(error) = create_job(&ctx, &job).await {
            // Undo the claim; the next reconcile decides again (the same trigger or schedule
            // time, since neither was consumed by a run that never started).
            release_run(&ctx, &namespace, &cluster_name, &id);
            let written = status.clone();
            let mut undone = shown.clone().unwrap_or_default();
            undone.observed_generation = generation;
            if let Err(undo) = write_run_status(&ctx, &*backup, Some(&written), &undone).await {
                warn!(%undo, "failed to undo the status of a run that did not start");
            }
            return Err(error);
        }
        let note = format!("started backup {id} ({}) to {}", reason.as_str(), prepared.plan.location);
        publish(&ctx, &*backup, EventType::Normal, "BackupStarted", note).await;
        return Ok(Action::requeue(WAIT_RECHECK));
    }
    status.phase = Some(idle_phase(&status));
    write_run_status(&ctx, &*backup, shown.as_ref(), &status).await?;
    Ok(Action::requeue(until(decision.next, now)))
}

/// The destination refused: Ready and DestinationReady False, a Warning event the first
/// time, and a slow retry (a plugin directory may change).
async fn refuse(
    ctx: &Context,
    backup: &AntflyBackup,
    shown: Option<&AntflyBackupStatus>,
    mut status: AntflyBackupStatus,
    reason: &str,
    message: String,
    now: Timestamp,
) -> Result<Action, ReconcileError> {
    let generation = backup.metadata.generation;
    let message = truncate_utf8(message, MAX_CONDITION_MESSAGE_BYTES);
    let new = !shown.is_some_and(|s| condition_is(s, DESTINATION_READY, "False", &message));
    set_condition(&mut status.conditions, DESTINATION_READY, false, reason, message.clone(), generation, now);
    set_condition(&mut status.conditions, READY, false, reason, message.clone(), generation, now);
    status.phase = Some("Waiting".into());
    write_run_status(ctx, backup, shown, &status).await?;
    if new {
        publish(ctx, backup, EventType::Warning, reason, message).await;
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Records a finished run in the history and conditions; returns the event's reason and note.
fn record_result(
    status: &mut AntflyBackupStatus,
    active: &ActiveRun,
    result: &RunResult,
    backup: &AntflyBackup,
    now: Timestamp,
) -> (&'static str, String) {
    let generation = backup.metadata.generation;
    let succeeded = result.outcome == Outcome::Completed;
    let phase = if succeeded { "Completed" } else { "Failed" };
    let mut message = result.message.clone();
    if result.omitted_tables > 0 {
        let more = format!("{} more tables not listed", result.omitted_tables);
        message = Some(message.map_or(more.clone(), |m| format!("{m}; {more}")));
    }
    status.recent_backups.insert(
        0,
        BackupRecord {
            backup_id: active.backup_id.clone(),
            phase: phase.into(),
            start_time: Some(active.start_time.clone()),
            completion_time: Some(Time(now)),
            location: Some(active.location.clone()),
            message: message.clone(),
            tables: result.tables.clone(),
        },
    );
    status.recent_backups.truncate(backup.spec.history_limit.max(1) as usize);
    status.active = None;
    let note = match &message {
        Some(m) => format!("backup {} {}: {m}", active.backup_id, phase.to_lowercase()),
        None => format!("backup {} {} ({} tables)", active.backup_id, phase.to_lowercase(), result.tables.len()),
    };
    let condition_message = truncate_utf8(note.clone(), MAX_CONDITION_MESSAGE_BYTES);
    if succeeded {
        status.last_successful_backup_time = Some(Time(now));
        set_condition(
            &mut status.conditions,
            LAST_BACKUP_SUCCEEDED,
            true,
            "Completed",
            condition_message,
            generation,
            now,
        );
        ("BackupSucceeded", note)
    } else {
        set_condition(
            &mut status.conditions,
            LAST_BACKUP_SUCCEEDED,
            false,
            "Failed",
            condition_message,
            generation,
            now,
        );
        ("BackupFailed", note)
    }
}

fn condition_is(status: &AntflyBackupStatus, type_: &str, value: &str, message: &str) -> bool {
    status.conditions.iter().any(|c| c.type_ == type_ && c.status == value && c.message == message)
}

/// How long to sleep until `next` (bounded, so that clock changes and missed watch events
/// are noticed).
fn until(next: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(next) = next else { return MAX_IDLE_WAIT };
    let wait = next.duration_since(now).unsigned_abs();
    wait.min(MAX_IDLE_WAIT).max(Duration::from_secs(1))
}

pub fn error_policy(backup: Arc<AntflyBackup>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = format!("backup/{}/{}", backup.namespace().unwrap_or_default(), backup.name_any());
    let attempt = ctx.note_failure(&key);
    warn!(backup = %key, category = error.category(), attempt, %error, "backup reconcile failed");
    error.retry_after(attempt).map_or_else(Action::await_change, Action::requeue)
}

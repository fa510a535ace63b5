//! One reconcile of an AntflyCluster, as a sequence of steps: pause check, finalizer,
//! the shared pipeline (validate, plugins, build), observe the mesh, apply, observe readiness,
//! update status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::apply::{Applied, Rollout, apply_all};
use super::compact::Compact;
use super::context::{Context, cluster_key as key, resource_version};
use super::error::ReconcileError;
use super::finalizer::{ensure_finalizer, finalize};
use super::metrics::{CategoryLabel, ResultLabel};
use super::observe::{count_sidecars, readiness};
use super::rollout::{RolloutState, advance};
use super::scaling::scale_data;
use super::storage::StorageOutcome;
use super::update_status::{publish, report_failed_step, warn_condition, write_status};
use crate::api::{AntflyCluster, AntflyClusterStatus, ClusterPhase, SidecarInjectionStatus};
use crate::base::text::{MAX_CONDITION_MESSAGE_BYTES, truncate_utf8};
use crate::base::{PAUSE_ANNOTATION, Role};
use crate::compose::ExtensionError;
use crate::pipeline::{DesiredState, FailedStep, PipelineError, calls_plugins, desired_state_of_valid};
use crate::rollout::Step;
use crate::status;
use crate::validate::{ValidatedCluster, validate};

/// How soon to look again while sidecar injection is partial.
const PARTIAL_MESH_RECHECK: Duration = Duration::from_secs(30);

pub async fn reconcile(cached: Arc<Compact<AntflyCluster>>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = match cached.decode() {
        Ok(mut cluster) => {
            // The watch has not delivered this process's last status write yet: read it,
            // not the status from before it.
            if let Some(status) = ctx.written_status.unseen(&key(&*cached), resource_version(&*cached)) {
                cluster.status = Some(status);
            }
            reconcile_cluster(&cluster, &ctx).await
        }
        Err(invalid) => {
            // The API server checks the CRD's schema, so only a schema older or newer than
            // this operator's gets here; it waits for the object to change.
            warn!(cluster = %key(&*cached), error = %invalid, "malformed AntflyCluster");
            Ok(Action::await_change())
        }
    };
    ctx.metrics.duration.observe(started.elapsed().as_secs_f64());
    let label = ResultLabel { result: if result.is_ok() { "ok" } else { "error" } };
    ctx.metrics.reconciles.get_or_create(&label).inc();
    if let Err(err) = &result {
        ctx.metrics.errors.get_or_create(&CategoryLabel { category: err.category() }).inc();
    }
    result
}

pub fn error_policy(cluster: Arc<Compact<AntflyCluster>>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = key(&*cluster);
    let attempt = ctx.note_failure(&key);
    warn!(cluster = %key, category = err.category(), attempt, error = %err, "reconcile failed");
    err.retry_after(attempt).map_or_else(Action::await_change, Action::requeue)
}

async fn reconcile_cluster(cluster: &AntflyCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let now = Timestamp::now();
    let generation = cluster.metadata.generation;
    let mut status = cluster.status.clone().unwrap_or_default();

    if cluster.annotations().get(PAUSE_ANNOTATION).map(String::as_str) == Some("true") {
        let message = format!("{PAUSE_ANNOTATION}=true: the operator makes no changes");
        status::set_condition(
            &mut status.conditions,
            status::RECONCILE_PAUSED,
            true,
            "PausedByAnnotation",
            message,
            generation,
            now,
        );
        write_status(ctx, cluster, status).await?;
        return Ok(Action::await_change());
    }
    status::remove_condition(&mut status.conditions, status::RECONCILE_PAUSED);
    status.observed_generation = generation;

    if cluster.metadata.deletion_timestamp.is_some() {
        return finalize(cluster, ctx).await;
    }

    let DesiredState { cluster: validated, mut resources, .. } = match run_pipeline(ctx, cluster).await? {
        Ok(desired) => desired,
        Err(err) => {
            if matches!(err, PipelineError::Plugins(_)) {
                set_configuration_valid(&mut status, generation, now);
            }
            report_failed_step(ctx, cluster, status, err.failed_step(), err.detail(), now).await?;
            return Err(ReconcileError::Pipeline(err));
        }
    };
    set_configuration_valid(&mut status, generation, now);
    set_plugins_ready(&mut status, &validated, generation, now);
    status::set_condition(
        &mut status.conditions,
        status::SECRETS_READY,
        true,
        "NoSecretsReferenced",
        "the cluster references no secrets",
        generation,
        now,
    );

    ensure_finalizer(ctx, cluster, &validated).await?;

    let sidecars = match count_sidecars(ctx, &validated).await {
        Ok(sidecars) => sidecars,
        // Like any plugin failure: conditions, a Warning event and the status written first.
        Err(ReconcileError::Plugins(error)) => {
            let message = set_sidecar_detection_failed(&mut status, &error, generation, now);
            report_failed_step(ctx, cluster, status, SIDECAR_DETECTION_FAILED, message, now).await?;
            return Err(ReconcileError::Plugins(error));
        }
        Err(other) => return Err(other),
    };
    let (mesh, (mesh_ok, mesh_reason, mesh_message)) =
        status::mesh_status(validated.mesh_enabled(), sidecars, status.service_mesh_status.as_ref(), now);
    let partial = mesh.sidecar_injection_status == SidecarInjectionStatus::Partial;
    let newly_partial = partial
        && cluster.status.as_ref().and_then(|s| s.service_mesh_status.as_ref()).map(|m| m.sidecar_injection_status)
            != Some(SidecarInjectionStatus::Partial);
    status::set_condition(
        &mut status.conditions,
        status::SERVICE_MESH_READY,
        mesh_ok,
        mesh_reason,
        mesh_message.clone(),
        generation,
        now,
    );
    status.service_mesh_status = Some(mesh);

    if partial {
        // Write what we saw first, then hold everything that reaches pods.
        write_status(ctx, cluster, status.clone()).await?;
        if newly_partial {
            publish(ctx, cluster, EventType::Warning, "PartialSidecarInjection", mesh_message).await;
        }
        info!(cluster = %key(cluster), "blocking reconciliation: partial sidecar injection");
        apply_or_report(ctx, cluster, &mut status, &validated, resources, Rollout::Hold, now).await?;
        // ResourcesApplied now says what is held.
        write_status(ctx, cluster, status).await?;
        return Ok(Action::requeue(PARTIAL_MESH_RECHECK));
    }

    let scaled = scale_data(ctx, cluster, &validated, &mut status, now).await?;
    if let Some(spec) = resources.data_statefulset.spec.as_mut() {
        spec.replicas = Some(scaled.replicas);
    }
    let applied = apply_or_report(ctx, cluster, &mut status, &validated, resources, Rollout::Proceed, now).await?;
    let data_name = crate::base::names::role(validated.name(), Role::Data);
    if let Some(written) = applied.statefulsets.iter().find(|s| s.name() == Some(&data_name))
        && let Some(version) = written.resource_version()
    {
        ctx.written_replicas.remember(&key(cluster), version, scaled.replicas);
    }
    // The lower replicas are applied: finalize the drained node, bounded, in the background.
    if let Some((api, node)) = scaled.finalize {
        super::scaling::finalize(api, node);
    }
    let storage_busy = report_storage(ctx, cluster, &mut status, &applied.storage, now).await;
    let rollout = match advance(ctx, &validated, &applied.statefulsets, scaled.draining, now).await {
        Ok(rollout) => rollout,
        Err(err) => {
            warn_condition(ctx, cluster, &mut status, status::ROLLOUT, "RestartFailed", err.to_string(), now).await;
            write_status(ctx, cluster, status).await?;
            return Err(err);
        }
    };
    report_rollout(ctx, cluster, &mut status, &rollout, now).await;

    let metadata = readiness(ctx, &validated, Role::Metadata, validated.spec().metadata_nodes.replicas)?;
    let data = readiness(ctx, &validated, Role::Data, scaled.replicas)?;
    let previous_phase = cluster.status.as_ref().and_then(|s| s.phase);
    status.phase = Some(status::phase(previous_phase, metadata, data));
    status.metadata_nodes_ready = metadata.ready;
    status.data_nodes_ready = data.ready;
    if previous_phase != status.phase && status.phase == Some(ClusterPhase::Degraded) {
        let note = format!(
            "metadata {}/{} ready, data {}/{} ready",
            metadata.ready, metadata.desired, data.ready, data.desired
        );
        publish(ctx, cluster, EventType::Warning, "Degraded", note).await;
    }
    write_status(ctx, cluster, status).await?;
    ctx.clear_failures(&key(cluster));
    // Pod and StatefulSet events wake a rollout; only a halt deadline, a StatefulSet being
    // recreated and a drain or the autoscaler need the clock.
    let mut requeue = ctx.resync;
    if storage_busy || matches!(rollout.step, Step::Restart { .. }) {
        requeue = requeue.min(ROLLOUT_RECHECK);
    }
    if let Step::Wait { deadline: Some(deadline), .. } = rollout.step {
        let until = Duration::try_from(now.duration_until(deadline)).unwrap_or_default();
        requeue = requeue.min(until + Duration::from_secs(1));
    }
    if let Some(recheck) = scaled.recheck {
        requeue = requeue.min(recheck);
    }
    Ok(Action::requeue(requeue))
}

/// How soon to look again while a rollout or a StatefulSet's recreation is under way; pod and
/// StatefulSet events usually come first, but a halt is a matter of time passing.
const ROLLOUT_RECHECK: Duration = Duration::from_secs(5);

/// Applies the cluster's objects; a refused write is reported in ResourcesApplied and an
/// event, with the status written, before the error goes back to the controller's backoff.
async fn apply_or_report(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: &mut AntflyClusterStatus,
    validated: &ValidatedCluster,
    resources: crate::build::ClusterResources,
    rollout: Rollout,
    now: Timestamp,
) -> Result<Applied, ReconcileError> {
    match apply_all(ctx, validated, resources, rollout).await {
        Ok(applied) => {
            let generation = cluster.metadata.generation;
            let message = match rollout {
                Rollout::Proceed => "every object is applied",
                Rollout::Hold => {
                    "held: the ConfigMap, ServiceAccount and StatefulSets wait for complete sidecar injection"
                }
            };
            status::set_condition(
                &mut status.conditions,
                status::RESOURCES_APPLIED,
                rollout == Rollout::Proceed,
                if rollout == Rollout::Proceed { "Applied" } else { "HeldForSidecarInjection" },
                message,
                generation,
                now,
            );
            Ok(applied)
        }
        Err(err @ (ReconcileError::Apply { .. } | ReconcileError::Delete { .. } | ReconcileError::List { .. })) => {
            warn_condition(ctx, cluster, status, status::RESOURCES_APPLIED, "ApplyFailed", err.to_string(), now).await;
            write_status(ctx, cluster, status.clone()).await?;
            Err(err)
        }
        Err(other) => Err(other),
    }
}

/// Sets StorageResize from both roles' outcomes, a refusal first; whether a StatefulSet is
/// being recreated (which needs a look again soon).
async fn report_storage(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: &mut AntflyClusterStatus,
    outcomes: &[StorageOutcome],
    now: Timestamp,
) -> bool {
    let generation = cluster.metadata.generation;
    let recreating = outcomes.iter().find_map(|outcome| match outcome {
        StorageOutcome::Recreating { role, size } => Some(format!(
            "the {} claims now request {size}; recreating the StatefulSet around its running pods",
            role.as_str()
        )),
        _ => None,
    });
    let refused = outcomes.iter().find_map(|outcome| match outcome {
        StorageOutcome::Refused { message, .. } => Some((
            "ExpansionRefused",
            format!("{message}; the StorageClass must allow volume expansion and each claim be bound"),
        )),
        StorageOutcome::Shrink { role, live, desired } => Some((
            "ShrinkRefused",
            format!(
                "the {} volumes are {live}; shrinking them to {desired} is not possible, so they stay at {live}",
                role.as_str()
            ),
        )),
        _ => None,
    });
    match (refused, &recreating) {
        (Some((reason, message)), _) => {
            warn_condition(ctx, cluster, status, status::STORAGE_RESIZE, reason, message, now).await;
        }
        (None, Some(message)) => {
            let message = message.clone();
            status::set_condition(
                &mut status.conditions,
                status::STORAGE_RESIZE,
                false,
                "Resizing",
                message,
                generation,
                now,
            );
        }
        (None, None) => {
            let message = "every claim template requests the spec's size";
            status::set_condition(
                &mut status.conditions,
                status::STORAGE_RESIZE,
                true,
                "AtRequestedSize",
                message,
                generation,
                now,
            );
        }
    }
    recreating.is_some()
}

/// Sets the Rollout condition and the per-role updated counts.
async fn report_rollout(
    ctx: &Context,
    cluster: &AntflyCluster,
    status: &mut AntflyClusterStatus,
    rollout: &RolloutState,
    now: Timestamp,
) {
    let RolloutState { step, data, metadata } = rollout;
    status.data_nodes_updated = data.updated();
    status.metadata_nodes_updated = metadata.updated();
    let message = crate::rollout::describe(step, data, metadata);
    let generation = cluster.metadata.generation;
    let (ok, reason) = match step {
        Step::Complete => (true, "Complete"),
        Step::Wait { .. } => (false, "InProgress"),
        Step::Restart { .. } => (false, "InProgress"),
        Step::Halted { .. } => {
            warn_condition(ctx, cluster, status, status::ROLLOUT, "RolloutHalted", message, now).await;
            return;
        }
    };
    status::set_condition(&mut status.conditions, status::ROLLOUT, ok, reason, message, generation, now);
}

/// A mesh profile failed in `has-sidecar`: reported under PluginsReady, as every plugin
/// failure is, with ServiceMeshReady False since injection is now unknown.
const SIDECAR_DETECTION_FAILED: FailedStep = FailedStep { condition: status::PLUGINS_READY, reason: "PluginFailed" };

/// Sets ServiceMeshReady False for a failed sidecar detection and returns the message for
/// the failed step.
fn set_sidecar_detection_failed(
    status: &mut AntflyClusterStatus,
    error: &ExtensionError,
    generation: Option<i64>,
    now: Timestamp,
) -> String {
    let message = format!("failed to detect mesh sidecars: {error}");
    let mesh_message = truncate_utf8(message.clone(), MAX_CONDITION_MESSAGE_BYTES);
    let conditions = &mut status.conditions;
    status::set_condition(
        conditions,
        status::SERVICE_MESH_READY,
        false,
        "SidecarDetectionFailed",
        mesh_message,
        generation,
        now,
    );
    message
}

/// The shared pipeline. The outer error is a failed task, the inner one a failed step.
///
/// Plugin calls are CPU-bound and bounded by the sandbox, so a cluster that calls a plugin is
/// built off the async runtime. One that calls none is validated and built in place, in well
/// under a millisecond: a thread hop per reconcile cost more than the work.
async fn run_pipeline(
    ctx: &Context,
    cluster: &AntflyCluster,
) -> Result<Result<DesiredState, PipelineError>, ReconcileError> {
    let validated = match validate(cluster) {
        Ok(validated) => validated,
        Err(errors) => return Ok(Err(PipelineError::Invalid(errors))),
    };
    let destinations = super::runs::destinations_of(ctx, cluster);
    let desired = if calls_plugins(&validated, &destinations) {
        let resolver = ctx.resolver.clone();
        tokio::task::spawn_blocking(move || desired_state_of_valid(validated, &destinations, &*resolver))
            .await
            .map_err(|e| ReconcileError::PluginTask(e.to_string()))?
    } else {
        desired_state_of_valid(validated, &destinations, &*ctx.resolver)
    };
    if let Ok(desired) = &desired {
        for problem in &desired.destination_problems {
            // Reported in the backup's or restore's own status.
            info!(cluster = %key(cluster), owner = %problem.owner, message = %problem.message, "destination left off the pods");
        }
    }
    Ok(desired)
}

fn set_configuration_valid(status: &mut AntflyClusterStatus, generation: Option<i64>, now: Timestamp) {
    let conditions = &mut status.conditions;
    status::set_condition(
        conditions,
        status::CONFIGURATION_VALID,
        true,
        "Valid",
        "spec passed validation",
        generation,
        now,
    );
}

fn set_plugins_ready(
    status: &mut AntflyClusterStatus,
    cluster: &ValidatedCluster,
    generation: Option<i64>,
    now: Timestamp,
) {
    let plugin_names: Vec<String> = cluster.plugin_requests().into_iter().map(|r| r.plugin).collect();
    let mut message = if plugin_names.is_empty() {
        "no plugins selected".to_string()
    } else {
        format!("contributions from {}", plugin_names.join(", "))
    };
    for note in cluster.unapplied_settings() {
        message.push_str("; ");
        message.push_str(&note);
    }
    status::set_condition(
        &mut status.conditions,
        status::PLUGINS_READY,
        true,
        "PluginsResolved",
        message,
        generation,
        now,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::update_status::set_failed_step;

    /// The status a failed `has-sidecar` call leaves, and the event it publishes. The
    /// controller suite covers the status write and the event for pipeline failures, which
    /// go through the same `report_failed_step`.
    #[test]
    fn a_failed_sidecar_detection_is_reported_in_status_and_as_an_event() {
        let cluster = AntflyCluster::new("c", Default::default());
        let mut status = AntflyClusterStatus::default();
        let error = ExtensionError::PluginFailed {
            plugin: "istio".into(),
            message: "plugin \"istio\" (sha256 abc) failed in has-sidecar: trapped: unreachable".into(),
            transient: false,
        };
        let now = Timestamp::now();
        let message = set_sidecar_detection_failed(&mut status, &error, Some(2), now);
        let note = set_failed_step(&mut status, &cluster, SIDECAR_DETECTION_FAILED, message, now);

        let condition = |type_: &str| status.conditions.iter().find(|c| c.type_ == type_).cloned();
        let mesh = condition(status::SERVICE_MESH_READY).expect("ServiceMeshReady is set");
        assert_eq!((mesh.status.as_str(), mesh.reason.as_str()), ("False", "SidecarDetectionFailed"));
        let plugins = condition(status::PLUGINS_READY).expect("PluginsReady is set");
        assert_eq!((plugins.status.as_str(), plugins.reason.as_str()), ("False", "PluginFailed"));
        assert!(plugins.message.contains("failed in has-sidecar"), "{}", plugins.message);
        assert_eq!(status.phase, Some(ClusterPhase::Failed));
        assert_eq!(note.as_deref(), Some(plugins.message.as_str()), "a new message publishes a Warning event");
    }
}

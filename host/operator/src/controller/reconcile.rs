//! One reconcile of an AntflyCluster: validate, resolve plugins, build, apply, observe, status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::apply::{FIELD_MANAGER, apply, delete_if_ours};
use super::context::Context;
use super::error::ReconcileError;
use super::metrics::{CategoryLabel, PluginLabel, ResultLabel};
use crate::api::{AntflyCluster, AntflyClusterStatus, ClusterPhase, RetentionAction, SidecarInjectionStatus};
use crate::build::meta::{APP_NAME, LABEL_INSTANCE, LABEL_NAME, names};
use crate::build::statefulset::CONTAINER_NAME;
use crate::build::{ClusterResources, build_resources, limits};
use crate::compose::{Contributions, Role};
use crate::status::{self, RoleReadiness, SidecarCount};
use crate::validate::{ValidatedCluster, ValidationErrors, validate};

pub const PAUSE_ANNOTATION: &str = "antfly.io/reconcile-paused";
pub const PVC_FINALIZER: &str = "antfly.io/pvc-cleanup";
/// How soon to look again while sidecar injection is partial.
const PARTIAL_MESH_RECHECK: Duration = Duration::from_secs(30);

pub async fn reconcile(
    guard: Arc<DeserializeGuard<AntflyCluster>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = match &guard.0 {
        Ok(cluster) => reconcile_cluster(cluster, &ctx).await,
        Err(invalid) => {
            warn!(name = ?invalid.metadata.name, namespace = ?invalid.metadata.namespace, error = %invalid.error, "malformed AntflyCluster");
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

pub fn error_policy(guard: Arc<DeserializeGuard<AntflyCluster>>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = match &guard.0 {
        Ok(c) => format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()),
        Err(invalid) => format!("{:?}/{:?}", invalid.metadata.namespace, invalid.metadata.name),
    };
    let attempt = ctx.note_failure(&key);
    warn!(cluster = %key, category = err.category(), attempt, error = %err, "reconcile failed");
    err.retry_after(attempt).map_or_else(Action::await_change, Action::requeue)
}

fn key(cluster: &AntflyCluster) -> String {
    format!("{}/{}", cluster.namespace().unwrap_or_default(), cluster.name_any())
}

async fn publish(ctx: &Context, cluster: &AntflyCluster, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if ctx.leader.is_leader()
        && let Err(err) = ctx.recorder.publish(&event, &cluster.object_ref(&())).await
    {
        warn!(error = %err, reason, "failed to publish event");
    }
}

/// Write the status subresource by server-side apply, only when it changed.
async fn write_status(
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

fn condition_is(status: Option<&AntflyClusterStatus>, type_: &str, value: &str, message: &str) -> bool {
    status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == value && c.message == message))
}

async fn reconcile_cluster(cluster: &AntflyCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let now = Timestamp::now();
    let generation = cluster.metadata.generation;
    let mut status = cluster.status.clone().unwrap_or_default();

    if cluster.annotations().get(PAUSE_ANNOTATION).map(String::as_str) == Some("true") {
        status::set_condition(
            &mut status.conditions,
            status::RECONCILE_PAUSED,
            true,
            "PausedByAnnotation",
            format!("{PAUSE_ANNOTATION}=true: the operator makes no changes"),
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

    let validated = match validate(cluster) {
        Ok(v) => v,
        Err(errors) => return reject_spec(ctx, cluster, status, errors, now).await,
    };
    status::set_condition(
        &mut status.conditions,
        status::CONFIGURATION_VALID,
        true,
        "Valid",
        "spec passed validation",
        generation,
        now,
    );

    let contributions = match resolve_plugins(ctx, &validated).await {
        Ok(c) => c,
        Err(err) => {
            let message = err.to_string();
            if !condition_is(cluster.status.as_ref(), status::PLUGINS_READY, "False", &message) {
                publish(ctx, cluster, EventType::Warning, "PluginFailed", message.clone()).await;
            }
            status::set_condition(
                &mut status.conditions,
                status::PLUGINS_READY,
                false,
                "PluginFailed",
                message,
                generation,
                now,
            );
            status.phase = Some(ClusterPhase::Failed);
            write_status(ctx, cluster, status).await?;
            return Err(err);
        }
    };
    let plugin_names: Vec<String> = validated.plugin_requests().into_iter().map(|r| r.plugin).collect();
    let mut plugins_message = if plugin_names.is_empty() {
        "no plugins selected".to_string()
    } else {
        format!("contributions from {}", plugin_names.join(", "))
    };
    for note in validated.unapplied_settings() {
        plugins_message.push_str("; ");
        plugins_message.push_str(&note);
    }
    status::set_condition(
        &mut status.conditions,
        status::PLUGINS_READY,
        true,
        "PluginsResolved",
        plugins_message,
        generation,
        now,
    );
    status::set_condition(
        &mut status.conditions,
        status::SECRETS_READY,
        true,
        "NoSecretsReferenced",
        "the cluster references no secrets",
        generation,
        now,
    );

    let resources = build_resources(&validated, &contributions);
    // What the plugins added may break Kubernetes' limits (annotation totals, spread pairs,
    // ConfigMap size): the API server would refuse those objects, so nothing is applied.
    let limit_errors = limits::check(&validated, &contributions, &resources);
    if !limit_errors.is_empty() {
        return reject_spec(ctx, cluster, status, ValidationErrors { errors: limit_errors }, now).await;
    }
    ensure_finalizer(ctx, cluster, &validated).await?;

    let sidecars = count_sidecars(ctx, &validated).await?;
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
        // Write what we saw first, then hold the rollout: StatefulSets are not touched.
        write_status(ctx, cluster, status).await?;
        if newly_partial {
            publish(ctx, cluster, EventType::Warning, "PartialSidecarInjection", mesh_message).await;
        }
        info!(cluster = %key(cluster), "blocking reconciliation: partial sidecar injection");
        apply_all(ctx, &validated, resources, false).await?;
        return Ok(Action::requeue(PARTIAL_MESH_RECHECK));
    }

    apply_all(ctx, &validated, resources, true).await?;

    let metadata = readiness(ctx, &validated, Role::Metadata).await?;
    let data = readiness(ctx, &validated, Role::Data).await?;
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
    Ok(Action::requeue(ctx.resync))
}

/// An invalid spec: say so in the ConfigurationValid condition (and an event when the message
/// is new), mark the cluster Failed, and wait for a change.
async fn reject_spec(
    ctx: &Context,
    cluster: &AntflyCluster,
    mut status: AntflyClusterStatus,
    errors: ValidationErrors,
    now: Timestamp,
) -> Result<Action, ReconcileError> {
    let message = errors.to_string();
    if !condition_is(cluster.status.as_ref(), status::CONFIGURATION_VALID, "False", &message) {
        publish(ctx, cluster, EventType::Warning, "InvalidSpec", message.clone()).await;
    }
    status::set_condition(
        &mut status.conditions,
        status::CONFIGURATION_VALID,
        false,
        "InvalidSpec",
        message,
        cluster.metadata.generation,
        now,
    );
    status.phase = Some(ClusterPhase::Failed);
    write_status(ctx, cluster, status).await?;
    Err(ReconcileError::InvalidSpec(errors))
}

/// Plugins run off the async runtime; their calls are CPU-bound and bounded by the sandbox.
async fn resolve_plugins(ctx: &Context, cluster: &ValidatedCluster) -> Result<Contributions, ReconcileError> {
    let requests = cluster.plugin_requests();
    for request in &requests {
        ctx.metrics.plugin_calls.get_or_create(&PluginLabel { plugin: request.plugin.clone() }).inc();
    }
    let resolver = ctx.resolver.clone();
    let owned = cluster.clone();
    let result = tokio::task::spawn_blocking(move || resolver.resolve(&owned))
        .await
        .map_err(|e| ReconcileError::PluginTask(e.to_string()))?;
    result.map_err(|err| {
        for request in &requests {
            ctx.metrics.plugin_failures.get_or_create(&PluginLabel { plugin: request.plugin.clone() }).inc();
        }
        ReconcileError::Plugins(err)
    })
}

/// Apply every object in the documented order and delete optional ones that are now absent.
async fn apply_all(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: ClusterResources,
    rollout: bool,
) -> Result<(), ReconcileError> {
    let ClusterResources {
        config_map,
        service_account,
        metadata_service,
        data_service,
        public_api_service,
        metadata_statefulset,
        data_statefulset,
        metadata_pdb,
        data_pdb,
    } = resources;
    let client = ctx.client.clone();
    let ns = cluster.namespace();
    let name = cluster.name();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client, ns);

    apply(ctx, &config_maps, "ConfigMap", config_map).await?;
    match service_account {
        Some(sa) => apply(ctx, &accounts, "ServiceAccount", sa).await.map(drop)?,
        None => {
            delete_if_ours(ctx, &accounts, "ServiceAccount", &names::service_account(name), name).await.map(drop)?
        }
    }
    apply(ctx, &services, "Service", metadata_service).await?;
    apply(ctx, &services, "Service", data_service).await?;
    match public_api_service {
        Some(service) => apply(ctx, &services, "Service", service).await.map(drop)?,
        None => delete_if_ours(ctx, &services, "Service", &names::public_api(name), name).await.map(drop)?,
    }
    if rollout {
        apply(ctx, &statefulsets, "StatefulSet", metadata_statefulset).await?;
        apply(ctx, &statefulsets, "StatefulSet", data_statefulset).await?;
    }
    for (role, pdb) in [(Role::Metadata, metadata_pdb), (Role::Data, data_pdb)] {
        match pdb {
            Some(pdb) => apply(ctx, &pdbs, "PodDisruptionBudget", pdb).await.map(drop)?,
            None => delete_if_ours(ctx, &pdbs, "PodDisruptionBudget", &names::pdb(name, role), name).await.map(drop)?,
        }
    }
    Ok(())
}

async fn readiness(ctx: &Context, cluster: &ValidatedCluster, role: Role) -> Result<RoleReadiness, ReconcileError> {
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

fn cluster_pod_selector(cluster: &str) -> String {
    format!("{LABEL_NAME}={APP_NAME},{LABEL_INSTANCE}={cluster}")
}

async fn count_sidecars(ctx: &Context, cluster: &ValidatedCluster) -> Result<SidecarCount, ReconcileError> {
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

fn wants_pvc_cleanup(cluster: &ValidatedCluster) -> bool {
    cluster.spec().storage.pvc_retention_policy.as_ref().is_some_and(|p| p.when_deleted == RetentionAction::Delete)
}

/// Keep the PVC-cleanup finalizer exactly when `whenDeleted: Delete`.
async fn ensure_finalizer(
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
    ctx.ensure_leader()?;
    let api: Api<AntflyCluster> = Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({ "metadata": { "finalizers": finalizers, "resourceVersion": cluster.resource_version() } });
    api.patch(&cluster.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ReconcileError::Finalizer)?;
    Ok(())
}

/// On deletion with `whenDeleted: Delete`, delete the cluster's PVCs, then release the finalizer.
async fn finalize(cluster: &AntflyCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    if !cluster.finalizers().iter().any(|f| f == PVC_FINALIZER) {
        return Ok(Action::await_change());
    }
    ctx.ensure_leader()?;
    let ns = cluster.namespace().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = cluster_pod_selector(&cluster.name_any());
    let claims = pvcs
        .list(&ListParams::default().labels(&selector))
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

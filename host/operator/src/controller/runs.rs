//! What backup and restore reconciles share: the Jobs that run them, one run per cluster at
//! a time, reading a finished Job's result, and the destination's readiness on the server
//! pods.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::{Resource, ResourceExt};

use super::cache::key;
use super::context::Context;
use super::error::ReconcileError;
use crate::api::{AntflyCluster, ClusterPhase};
use crate::backup::destination::{DestinationPlan, DestinationRequest, Operation, ServerEnvironment};
use crate::backup::job::{LABEL_OPERATION, RUN_CONTAINER};
use crate::backup::result::RunResult;
use crate::base::labels::LABEL_INSTANCE;
use crate::base::{CONTAINER_NAME, Role, names};
use crate::compose::ExtensionError;
use crate::pipeline::{DesiredState, desired_state};

/// How soon to look again while waiting (a run, the cluster, the server pods).
pub const WAIT_RECHECK: Duration = Duration::from_secs(15);
/// A Job just created may not be in the cache yet; until then it counts as running.
const CACHE_GRACE: Duration = Duration::from_secs(60);

/// Where a run stands.
#[derive(Debug)]
pub enum RunState {
    Running,
    Finished(RunResult),
}

/// The state of the run `job_name` started at `started`.
pub async fn observe_run(
    ctx: &Context,
    namespace: &str,
    job_name: &str,
    backup_id: &str,
    started: k8s_openapi::jiff::Timestamp,
) -> Result<RunState, ReconcileError> {
    let job = match ctx.caches.jobs.get(&key::<Job>(namespace, job_name)) {
        Some(job) => Some(job),
        None if ctx.clock.now().duration_since(started).unsigned_abs() < CACHE_GRACE => return Ok(RunState::Running),
        None => {
            let api: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
            api.get_opt(job_name).await.map_err(|source| ReconcileError::List { kind: "Job", source })?.map(Arc::new)
        }
    };
    let Some(job) = job else {
        return Ok(RunState::Finished(RunResult::failed(
            backup_id,
            format!("the Job {job_name} was deleted before it finished"),
        )));
    };
    let condition = |type_: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_ && c.status == "True").cloned())
    };
    let failed = condition("Failed");
    if condition("Complete").is_none() && failed.is_none() {
        return Ok(RunState::Running);
    }
    // The result is in the run container's termination message.
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let selector = format!("batch.kubernetes.io/job-name={job_name}");
    let listed = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| ReconcileError::List { kind: "Pod", source })?;
    let message = listed.items.iter().find_map(|pod| {
        pod.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find(|c| c.name == RUN_CONTAINER)
            .and_then(|c| c.state.as_ref()?.terminated.as_ref()?.message.clone())
    });
    let result = match message.as_deref().map(RunResult::decode) {
        Some(Ok(result)) if result.backup_id == backup_id => result,
        Some(Ok(result)) => {
            RunResult::failed(backup_id, format!("the Job reported the id {:?}, not {backup_id:?}", result.backup_id))
        }
        Some(Err(unreadable)) => RunResult::failed(backup_id, unreadable),
        None => {
            let why = failed
                .map(|c| format!("{}: {}", c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
                .unwrap_or_else(|| "no result".to_string());
            RunResult::failed(backup_id, format!("the Job {job_name} finished without a result ({why})"))
        }
    };
    Ok(RunState::Finished(result))
}

/// Takes the cluster's run slot for `job_name`; `Err` names the run that holds it. One run
/// per cluster: a restore under a backup (or two restores) would race on the same tables.
pub fn claim_run(ctx: &Context, namespace: &str, cluster: &str, job_name: &str) -> Result<(), String> {
    let slot = format!("{namespace}/{cluster}");
    let Ok(mut runs) = ctx.runs.lock() else { return Err("the run table is poisoned".into()) };
    if let Some(holder) = runs.get(&slot)
        && holder != job_name
    {
        return Err(holder.clone());
    }
    // Jobs of an earlier operator process, still running.
    let running = ctx.caches.jobs.state().into_iter().find(|job| {
        job.namespace().as_deref() == Some(namespace)
            && job.labels().get(LABEL_INSTANCE).map(String::as_str) == Some(cluster)
            && job.labels().contains_key(LABEL_OPERATION)
            && job.name_any() != job_name
            && !finished(job)
    });
    if let Some(job) = running {
        return Err(job.name_any());
    }
    runs.insert(slot, job_name.to_string());
    Ok(())
}

pub fn release_run(ctx: &Context, namespace: &str, cluster: &str, job_name: &str) {
    if let Ok(mut runs) = ctx.runs.lock()
        && runs.get(&format!("{namespace}/{cluster}")).map(String::as_str) == Some(job_name)
    {
        runs.remove(&format!("{namespace}/{cluster}"));
    }
}

fn finished(job: &Job) -> bool {
    job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|conditions| {
        conditions.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
    })
}

/// Creates the run's Job; one that exists already (a retried reconcile) is ours.
pub async fn create_job(ctx: &Context, job: &Job) -> Result<(), ReconcileError> {
    ctx.before_write().await?;
    let namespace = job.namespace().unwrap_or_default();
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.create(&PostParams::default(), job).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(ReconcileError::Apply { kind: "Job", name: job.name_any(), source }),
    }
}

/// The cluster a run targets, and whether it is Running.
pub async fn target_cluster(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<AntflyCluster>, ReconcileError> {
    let api: Api<AntflyCluster> = Api::namespaced(ctx.client.clone(), namespace);
    api.get_opt(name).await.map_err(|source| ReconcileError::List { kind: "AntflyCluster", source })
}

pub fn is_running(cluster: &AntflyCluster) -> bool {
    cluster.status.as_ref().and_then(|s| s.phase) == Some(ClusterPhase::Running)
}

/// Why a destination is not ready for a run.
#[derive(Debug)]
pub enum DestinationWait {
    /// The plugin refused the location or failed: the user must act.
    Refused(ExtensionError),
    /// The server pods do not carry the destination's environment yet (a rollout).
    RollingOut(String),
}

/// What a run needs from the cluster: its desired state with this destination, the run's
/// plan, and whether the server pods carry the destination's environment.
pub struct Prepared {
    pub desired: DesiredState,
    pub plan: DestinationPlan,
}

/// Plans the run off the async runtime (plugin calls are CPU-bound), then checks that both
/// StatefulSets carry the destination's server environment and have rolled it out.
pub async fn prepare(
    ctx: &Context,
    cluster: &AntflyCluster,
    request: &DestinationRequest,
    operation: Operation,
    backup_id: &str,
) -> Result<Result<Prepared, DestinationWait>, ReconcileError> {
    let resolver = ctx.resolver.clone();
    let (cluster_owned, request_owned, id) = (cluster.clone(), request.clone(), backup_id.to_string());
    // The cluster's destinations as its own reconcile merges them: a destination that
    // conflicts with another is left off the pods, and this run must say so.
    let destinations = destinations_of(ctx, cluster);
    let planned = tokio::task::spawn_blocking(move || {
        let plan = resolver.plan_destination(&request_owned, operation, &id)?;
        let desired = desired_state(&cluster_owned, &destinations, &*resolver).map_err(|e| {
            ExtensionError::PluginFailed { plugin: String::new(), message: e.to_string(), transient: false }
        })?;
        Ok::<_, ExtensionError>((plan, desired))
    })
    .await
    .map_err(|e| ReconcileError::PluginTask(e.to_string()))?;
    let (plan, desired) = match planned {
        Ok(planned) => planned,
        Err(error) => return Ok(Err(DestinationWait::Refused(error))),
    };
    if let Some(problem) = desired.destination_problems.iter().find(|p| p.owner == request.owner) {
        let error = ExtensionError::InvalidContribution { plugin: String::new(), message: problem.message.clone() };
        return Ok(Err(DestinationWait::Refused(error)));
    }
    let needed = match ServerEnvironment::merge([(request.owner.as_str(), &plan.server)]) {
        Ok(needed) => needed,
        Err(conflicts) => {
            let error = ExtensionError::InvalidContribution { plugin: String::new(), message: conflicts.join("; ") };
            return Ok(Err(DestinationWait::Refused(error)));
        }
    };
    let namespace = cluster.namespace().unwrap_or_default();
    for role in Role::ALL {
        let name = names::role(&cluster.name_any(), role);
        let rolled = ctx.caches.statefulset(&namespace, &name)?.is_some_and(|sts| carries(&sts, &needed));
        if !rolled {
            return Ok(Err(DestinationWait::RollingOut(format!(
                "waiting for the {name} pods to carry the environment of {} (a rolling update)",
                request.owner
            ))));
        }
    }
    Ok(Ok(Prepared { desired, plan }))
}

/// The destinations of the cluster's backups and of its restores still to run, by owner
/// name: their server environment belongs on the cluster's pods.
pub fn destinations_of(ctx: &Context, cluster: &AntflyCluster) -> Vec<DestinationRequest> {
    let namespace = cluster.namespace();
    let name = cluster.name_any();
    let mine = |ns: Option<String>, reference: &str| ns == namespace && reference == name;
    let backups = ctx.caches.backups.state().into_iter().filter(|b| mine(b.namespace(), &b.spec.cluster_ref.name));
    let restores =
        ctx.caches.restores.state().into_iter().filter(|r| mine(r.namespace(), &r.spec.cluster_ref.name)).filter(|r| {
            !matches!(r.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Completed" | "Failed" | "Invalid"))
        });
    let mut destinations: Vec<DestinationRequest> = backups
        .filter_map(|b| crate::backup::backup_destination(&b).ok())
        .chain(restores.filter_map(|r| crate::backup::restore_destination(&r).ok()))
        .collect();
    destinations.sort_by(|a, b| a.owner.cmp(&b.owner));
    destinations
}

/// Whether a StatefulSet's template carries `needed` and every pod runs that template.
fn carries(sts: &StatefulSet, needed: &ServerEnvironment) -> bool {
    let Some(spec) = sts.spec.as_ref() else { return false };
    let template_ok = spec.template.spec.as_ref().is_some_and(|pod| needed.carried_by(pod, CONTAINER_NAME));
    let status = sts.status.as_ref();
    let replicas = spec.replicas.unwrap_or(1);
    // Under OnDelete the StatefulSet controller never advances currentRevision; updated
    // replicas (pods at the update revision) are what says the template has rolled out.
    let rolled_out = needed.is_empty()
        || status.is_some_and(|s| {
            s.observed_generation >= sts.metadata.generation
                && s.updated_replicas.unwrap_or(0) >= replicas
                && s.update_revision.is_some()
        });
    template_ok && rolled_out
}

/// Writes the status subresource of an AntflyBackup or AntflyRestore by server-side apply
/// (so that fields left out are removed), when it differs from what the object shows.
pub async fn write_run_status<K, S>(
    ctx: &Context,
    object: &K,
    current: Option<&S>,
    status: &S,
) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    S: serde::Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(());
    }
    ctx.before_write().await?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "apiVersion": "antfly.io/v1", "kind": K::kind(&()), "status": status });
    api.patch_status(&object.name_any(), &super::apply::apply_params(), &kube::api::Patch::Apply(&patch))
        .await
        .map(|_| ())
        .map_err(ReconcileError::WriteStatus)
}

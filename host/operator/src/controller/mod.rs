//! The controller: reconciles AntflyClusters on a real API server.
//!
//! Only the holder of the leader Lease runs the controller; every write re-checks the lease.
//! The reconcile itself is [`reconcile::reconcile`]; it runs the same [`crate::pipeline`] as `render`.

mod apply;
mod backups;
pub mod cache;
pub mod clock;
pub mod compact;
mod context;
mod error;
mod finalizer;
pub mod http;
mod in_flight;
pub mod leader;
pub mod metrics;
mod observe;
pub mod plugin_reload;
mod reconcile;
mod restores;
mod rollout;
mod runs;
mod scaling;
mod storage;
pub mod throttle;
mod update_status;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

pub use apply::FIELD_MANAGER;
pub use context::Context;
pub use error::ReconcileError;

use crate::api::{AntflyBackup, AntflyCluster, AntflyRestore};
use crate::base::labels::{LABEL_INSTANCE, MANAGER};
use crate::compose::ExtensionResolver;
use cache::{Caches, Triggers};
use compact::Compact;
use leader::{LeaderElector, LeaderState};
use metrics::Metrics;

/// Reconciles that may run at once; plugin calls within them are bounded by the plugin host.
const MAX_CONCURRENT_RECONCILES: u16 = 32;

/// How the operator runs.
pub struct OperatorConfig {
    /// Watch one namespace, or every namespace when `None`.
    pub watch_namespace: Option<String>,
    /// Namespace of the leader Lease.
    pub lease_namespace: String,
    pub lease_name: String,
    /// This replica's identity in the Lease (the pod name in a Deployment).
    pub identity: String,
    pub resync: Duration,
    pub resolver: Arc<dyn ExtensionResolver>,
    /// Notified when every cluster, backup and restore should be reconciled again (a new
    /// plugin set, or in tests a moved clock).
    pub reconcile_all: Arc<tokio::sync::Notify>,
    /// The time schedules are read against.
    pub clock: Arc<dyn clock::Clock>,
    /// Image of backup and restore Jobs: the operator's own.
    pub job_image: String,
    /// Whether rollouts ask each updated pod's server for `/readyz` before the next restart
    /// (the kubelet's readiness probe always counts). Off where the operator cannot reach pod
    /// IPs (a NetworkPolicy); skipped for meshed clusters, whose mesh may refuse plain HTTP.
    pub pod_health_checks: bool,
    /// The port of those checks: the server's health port, [`crate::base::ports::HEALTH`].
    pub pod_health_port: u16,
    /// The Antfly API for node drains, instead of each cluster's metadata Service; `None` in
    /// production (tests point it at a double).
    pub antfly_api_url: Option<String>,
    /// How often the autoscaler reads metrics ([`crate::scaling::autoscale::EVALUATION_INTERVAL`]).
    pub autoscale_interval: Duration,
    /// The client-side write limit: writes per second and burst ([`throttle`]).
    pub write_limit: (u32, u32),
}

/// The default image of backup and restore Jobs, the operator's own release.
pub fn default_job_image() -> String {
    format!("antfly-operator:{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("lost the leader lease; exiting so that another replica takes over")]
    LostLeadership,
    #[error(transparent)]
    Leader(#[from] leader::LeaderError),
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Wait for leadership, then reconcile until shutdown or until the lease is lost.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    leader: Arc<LeaderState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let elector = LeaderElector::new(client.clone(), &config.lease_namespace, &config.lease_name, &config.identity);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            acquired = elector.try_acquire_or_renew(&leader) => {
                if acquired.unwrap_or_else(|err| { warn!(error = %err, "leader election failed"); false }) { break; }
            }
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
    info!(identity = %config.identity, "acquired leader lease");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (caches, triggers, reflectors) = cache::start(&client, config.watch_namespace.as_deref());
    let reflectors: Vec<_> = reflectors.into_iter().map(tokio::spawn).collect();
    caches.wait_until_ready().await;
    let ctx = Arc::new(make_context(client.clone(), caches, &config, leader.clone(), metrics));
    let every = |notify: Arc<tokio::sync::Notify>| {
        futures::stream::unfold(notify, |notify| async move {
            notify.notified().await;
            Some(((), notify))
        })
    };
    // One notification reaches the three controllers: each has its own Notify.
    let (backups_all, restores_all) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let fan_out = {
        let (source, backups_all, restores_all) =
            (config.reconcile_all.clone(), backups_all.clone(), restores_all.clone());
        let clusters_all = Arc::new(tokio::sync::Notify::new());
        let clusters = clusters_all.clone();
        tokio::spawn(async move {
            loop {
                source.notified().await;
                clusters.notify_one();
                backups_all.notify_one();
                restores_all.notify_one();
            }
        });
        clusters_all
    };
    let (stop_backups_tx, stop_backups) = tokio::sync::oneshot::channel::<()>();
    let (stop_restores_tx, stop_restores) = tokio::sync::oneshot::channel::<()>();
    let Triggers { jobs, backups, restores, .. } = &triggers;
    let (jobs_for_restores, backups_trigger, restores_trigger) = (jobs.clone(), backups.clone(), restores.clone());
    let backup_controller = Controller::for_shared_stream(backups_trigger, ctx.caches.backups.clone())
        .owns_shared_stream(jobs.clone())
        .reconcile_all_on(every(backups_all))
        .graceful_shutdown_on(async move {
            let _ = stop_backups.await;
        })
        .run(backups::reconcile, backups::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let restore_controller = Controller::for_shared_stream(restores_trigger, ctx.caches.restores.clone())
        .owns_shared_stream(jobs_for_restores)
        .reconcile_all_on(every(restores_all))
        .graceful_shutdown_on(async move {
            let _ = stop_restores.await;
        })
        .run(restores::reconcile, restores::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let backup_controller = tokio::spawn(backup_controller);
    let restore_controller = tokio::spawn(restore_controller);
    let controller =
        tokio::spawn(run_controller(ctx, config.watch_namespace.clone(), triggers, every(fan_out), async move {
            let _ = stop_rx.await;
        }));
    let outcome = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            () = tokio::time::sleep(elector.renew_every) => {
                match elector.try_acquire_or_renew(&leader).await {
                    Ok(true) => {}
                    Ok(false) => break Err(RunError::LostLeadership),
                    Err(err) => {
                        warn!(error = %err, "failed to renew the leader lease");
                        if !leader.is_leader() { break Err(RunError::LostLeadership); }
                    }
                }
            }
        }
    };
    let _ = stop_tx.send(());
    let _ = stop_backups_tx.send(());
    let _ = stop_restores_tx.send(());
    let _ = futures::join!(controller, backup_controller, restore_controller);
    for reflector in reflectors {
        reflector.abort();
    }
    outcome
}

fn make_context(
    client: Client,
    caches: Caches,
    config: &OperatorConfig,
    leader: Arc<LeaderState>,
    metrics: Arc<Metrics>,
) -> Context {
    let reporter = Reporter { controller: MANAGER.into(), instance: Some(config.identity.clone()) };
    Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        caches,
        metrics,
        resolver: config.resolver.clone(),
        leader,
        resync: config.resync,
        failures: Default::default(),
        written_status: Default::default(),
        clock: config.clock.clone(),
        job_image: config.job_image.clone(),
        runs: Default::default(),
        repaired_drift: Default::default(),
        pod_health_checks: config.pod_health_checks,
        pod_health_port: config.pod_health_port,
        antfly_api_url: config.antfly_api_url.clone(),
        autoscale_interval: config.autoscale_interval,
        write_limiter: throttle::WriteLimiter::new(config.write_limit.0, config.write_limit.1),
        written_replicas: Default::default(),
        autoscale_evaluations: Default::default(),
        applied_children: Default::default(),
        applies_in_flight: Default::default(),
    }
}

/// The kube-runtime Controller for AntflyClusters, triggered by the cached children too.
async fn run_controller(
    ctx: Arc<Context>,
    namespace: Option<String>,
    triggers: Triggers,
    reconcile_all: impl futures::Stream<Item = ()> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Cached compact like the children; a cluster that does not decode fails its reconcile only.
    let clusters: Api<Compact<AntflyCluster>> = api(&ctx.client, namespace.as_deref());
    let (reader, writer) = reflector::store();
    // A status write of our own changes none of these: it sets off no reconcile.
    let seen = ctx.clone();
    let changes = watcher(clusters, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .inspect_ok(move |cluster| {
            seen.written_status.seen(&context::cluster_key(cluster), context::resource_version(cluster));
        })
        .predicate_filter(spec_or_metadata_change, PredicateConfig::default());
    Controller::for_stream(changes, reader)
        .with_config(controller::Config::default().concurrency(MAX_CONCURRENT_RECONCILES))
        .owns_shared_stream(without_own_echoes(triggers.config_maps, &ctx))
        .owns_shared_stream(without_own_echoes(triggers.services, &ctx))
        .owns_shared_stream(without_own_echoes(triggers.service_accounts, &ctx))
        .owns_shared_stream(without_own_echoes(triggers.statefulsets, &ctx))
        .owns_shared_stream(without_own_echoes(triggers.pdbs, &ctx))
        // A backup or restore adds its destination's environment to the cluster's pods.
        .watches_shared_stream(triggers.backups, |backup: Arc<AntflyBackup>| {
            Some(ObjectRef::<Compact<AntflyCluster>>::new(&backup.spec.cluster_ref.name).within(&backup.namespace()?))
        })
        .watches_shared_stream(triggers.restores, |restore: Arc<AntflyRestore>| {
            Some(ObjectRef::<Compact<AntflyCluster>>::new(&restore.spec.cluster_ref.name).within(&restore.namespace()?))
        })
        // Pods carry no owner reference to the cluster; map them by their instance label.
        .watches_shared_stream(triggers.pods, |pod: Arc<Pod>| {
            let instance = pod.labels().get(LABEL_INSTANCE)?.clone();
            Some(ObjectRef::<Compact<AntflyCluster>>::new(&instance).within(&pod.namespace()?))
        })
        .reconcile_all_on(reconcile_all)
        .reconcile_on(futures::stream::iter(ctx.applies_in_flight.triggers()).flatten())
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// A child's changes but the echoes of the operator's own applies: the reconcile that applied
/// a child went on with the object the API server answered, so its echo would only run the
/// cluster's reconcile again to find nothing to do. Every other change, a controller's status
/// update or another writer's edit included, still triggers; one that arrives while an apply
/// of the child is in flight triggers once the answer shows it is not the apply's echo.
fn without_own_echoes<K>(
    changes: impl futures::Stream<Item = Arc<Compact<K>>> + Send + 'static,
    ctx: &Arc<Context>,
) -> impl futures::Stream<Item = Arc<Compact<K>>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()> + 'static,
{
    let ctx = ctx.clone();
    changes.filter(move |child| {
        let key = context::child_key(&K::kind(&()), &child.namespace().unwrap_or_default(), &child.name_any());
        let version = context::resource_version(&**child);
        if ctx.applies_in_flight.hold(&key, version) {
            // The apply's answer decides whether this is its echo (`in_flight`).
            return futures::future::ready(false);
        }
        let echo = ctx.applied_children.seen(&key, version);
        if echo {
            child.mark_own_write();
        }
        futures::future::ready(!echo)
    })
}

/// What a reconcile of a cluster depends on besides its children: the spec (generation), the
/// annotations (pause), labels, finalizers and deletion. A cluster whose metadata does not
/// decode always passes, to fail in its reconcile.
fn spec_or_metadata_change(cluster: &Compact<AntflyCluster>) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let Ok(meta) = cluster.metadata() else { return Some(0) };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    Some(hasher.finish())
}

//! Reflector caches of every kind the operator owns. Reconciles read live children from them,
//! never from the API server, so a reconcile that changes nothing sends no request. The same
//! watches trigger reconciles of the owning cluster.
//!
//! Cached objects are trimmed to what the operator reads: no `managedFields` anywhere, and
//! pods keep only their metadata, container names and images (sidecar detection), and their
//! phase, IP and Ready condition (rollouts).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, PodStatus, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::warn;

use crate::api::{AntflyBackup, AntflyRestore};
use crate::base::Role;
use crate::base::labels::{APP_NAME, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGER};

/// How many changes a subscriber may lag behind before the reflector waits for it.
const SUBSCRIBER_BUFFER: usize = 1024;
/// How long to wait for the first full list of every kind before reconciling anyway.
const FIRST_LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// The caches reconciles read.
#[derive(Clone)]
pub struct Caches {
    pub config_maps: Store<ConfigMap>,
    pub service_accounts: Store<ServiceAccount>,
    pub services: Store<Service>,
    pub statefulsets: Store<StatefulSet>,
    pub pdbs: Store<PodDisruptionBudget>,
    pub pods: Store<Pod>,
    /// Backup and restore Jobs.
    pub jobs: Store<Job>,
    pub backups: Store<AntflyBackup>,
    pub restores: Store<AntflyRestore>,
}

/// The change streams that trigger reconciles, one per cached kind.
pub struct Triggers {
    pub config_maps: ReflectHandle<ConfigMap>,
    pub service_accounts: ReflectHandle<ServiceAccount>,
    pub services: ReflectHandle<Service>,
    pub statefulsets: ReflectHandle<StatefulSet>,
    pub pdbs: ReflectHandle<PodDisruptionBudget>,
    pub pods: ReflectHandle<Pod>,
    pub jobs: ReflectHandle<Job>,
    pub backups: ReflectHandle<AntflyBackup>,
    pub restores: ReflectHandle<AntflyRestore>,
}

type Reflector = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts one watch per kind (in `namespace`, or everywhere) feeding its cache; returns the
/// caches, the triggers and the futures that drive the watches.
pub fn start(client: &Client, namespace: Option<&str>) -> (Caches, Triggers, Vec<Reflector>) {
    let owned = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGER}"));
    let pods = watcher::Config::default().labels(&format!("{LABEL_NAME}={APP_NAME}"));
    let mut reflectors = Vec::new();
    let (config_maps, config_map_changes) = cached(client, namespace, owned.clone(), trim, &mut reflectors);
    let (service_accounts, account_changes) = cached(client, namespace, owned.clone(), trim, &mut reflectors);
    let (services, service_changes) = cached(client, namespace, owned.clone(), trim, &mut reflectors);
    let (statefulsets, statefulset_changes) =
        cached(client, namespace, owned.clone(), trim_statefulset, &mut reflectors);
    let (pdbs, pdb_changes) = cached(client, namespace, owned.clone(), trim, &mut reflectors);
    let (jobs, job_changes) = cached(client, namespace, owned, trim, &mut reflectors);
    let everything = watcher::Config::default();
    let (backups, backup_changes) = cached(client, namespace, everything.clone(), trim, &mut reflectors);
    let (restores, restore_changes) = cached(client, namespace, everything, trim, &mut reflectors);
    let (pod_cache, pod_changes) = cached(client, namespace, pods, trim_pod, &mut reflectors);
    let caches = Caches {
        config_maps,
        service_accounts,
        services,
        statefulsets,
        pdbs,
        pods: pod_cache,
        jobs,
        backups,
        restores,
    };
    let triggers = Triggers {
        config_maps: config_map_changes,
        service_accounts: account_changes,
        services: service_changes,
        statefulsets: statefulset_changes,
        pdbs: pdb_changes,
        pods: pod_changes,
        jobs: job_changes,
        backups: backup_changes,
        restores: restore_changes,
    };
    (caches, triggers, reflectors)
}

fn cached<K>(
    client: &Client,
    namespace: Option<&str>,
    config: watcher::Config,
    trim: fn(&mut K),
    reflectors: &mut Vec<Reflector>,
) -> (Store<K>, ReflectHandle<K>)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
    let changes = writer.subscribe().expect("a shared store always has subscribers");
    let stream = watcher(api, config).default_backoff().modify(trim).reflect_shared(writer);
    reflectors.push(Box::pin(stream.for_each(|event| {
        if let Err(error) = event {
            warn!(kind = %K::kind(&()), %error, "watch failed; retrying");
        }
        futures::future::ready(())
    })));
    (store, changes)
}

/// Drop what no reconcile reads.
pub fn trim<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// StatefulSets lose what the API server defaults and the operator neither sets nor reads:
/// the drift check walks only the fields the operator sets, so dropping the others changes
/// no verdict, and each cached copy is smaller.
pub fn trim_statefulset(statefulset: &mut StatefulSet) {
    trim(statefulset);
    let Some(spec) = statefulset.spec.as_mut() else { return };
    spec.revision_history_limit = None;
    for claim in spec.volume_claim_templates.iter_mut().flatten() {
        claim.status = None;
        if let Some(claim_spec) = claim.spec.as_mut() {
            claim_spec.volume_mode = None;
        }
    }
    let Some(pod) = spec.template.spec.as_mut() else { return };
    pod.dns_policy = None;
    pod.restart_policy = None;
    pod.scheduler_name = None;
    if pod.security_context.as_ref().is_some_and(|c| *c == Default::default()) {
        pod.security_context = None;
    }
    for container in pod.containers.iter_mut().chain(pod.init_containers.iter_mut().flatten()) {
        container.termination_message_path = None;
        container.termination_message_policy = None;
        for probe in [&mut container.startup_probe, &mut container.liveness_probe, &mut container.readiness_probe]
            .into_iter()
            .flatten()
        {
            probe.success_threshold = None;
            probe.timeout_seconds = None;
            if let Some(get) = probe.http_get.as_mut() {
                get.scheme = None;
            }
        }
    }
}

/// Pods keep only what sidecar detection and rollouts read.
fn trim_pod(pod: &mut Pod) {
    trim(pod);
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        conditions: status.conditions.map(|c| c.into_iter().filter(|c| c.type_ == "Ready").collect()),
        ..PodStatus::default()
    });
    let kept = |c: &Container| Container {
        name: c.name.clone(),
        image: c.image.clone(),
        restart_policy: c.restart_policy.clone(),
        ..Container::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        containers: spec.containers.iter().map(kept).collect(),
        init_containers: spec.init_containers.map(|init| init.iter().map(kept).collect()),
        ..PodSpec::default()
    });
}

impl Caches {
    /// Waits until every cache holds its first full list, so that the first reconciles do not
    /// mistake "not listed yet" for "absent" and write again what exists.
    pub async fn wait_until_ready(&self) {
        let ready = async {
            let _ = futures::join!(
                self.config_maps.wait_until_ready(),
                self.service_accounts.wait_until_ready(),
                self.services.wait_until_ready(),
                self.statefulsets.wait_until_ready(),
                self.pdbs.wait_until_ready(),
                self.pods.wait_until_ready(),
                self.jobs.wait_until_ready(),
                self.backups.wait_until_ready(),
                self.restores.wait_until_ready(),
            );
        };
        if tokio::time::timeout(FIRST_LIST_TIMEOUT, ready).await.is_err() {
            warn!("caches are not filled after {FIRST_LIST_TIMEOUT:?}; reconciling anyway");
        }
    }

    /// The pods of one cluster that are not being deleted.
    pub fn cluster_pods(&self, namespace: &str, cluster: &str) -> Vec<Pod> {
        self.pods_where(namespace, cluster, |pod| pod.metadata.deletion_timestamp.is_none())
    }

    /// The pods of one role of a cluster, those being deleted included.
    pub fn role_pods(&self, namespace: &str, cluster: &str, role: Role) -> Vec<Pod> {
        self.pods_where(namespace, cluster, |pod| {
            pod.labels().get(LABEL_COMPONENT).map(String::as_str) == Some(role.as_str())
        })
    }

    fn pods_where(&self, namespace: &str, cluster: &str, keep: impl Fn(&Pod) -> bool) -> Vec<Pod> {
        self.pods
            .state()
            .into_iter()
            .filter(|pod| pod.namespace().as_deref() == Some(namespace))
            .filter(|pod| pod.labels().get(LABEL_INSTANCE).map(String::as_str) == Some(cluster))
            .filter(|pod| keep(pod))
            .map(|pod| (*pod).clone())
            .collect()
    }
}

/// The cache key of `name` in `namespace`.
pub fn key<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> ObjectRef<K> {
    ObjectRef::new(name).within(namespace)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::drift::first_drift;

    /// A built StatefulSet as the API server stores it: with the fields it defaults.
    fn as_stored(built: &StatefulSet) -> StatefulSet {
        let mut stored = serde_json::to_value(built).expect("json");
        stored["spec"]["revisionHistoryLimit"] = json!(10);
        let pod = &mut stored["spec"]["template"]["spec"];
        pod["dnsPolicy"] = json!("ClusterFirst");
        pod["restartPolicy"] = json!("Always");
        pod["schedulerName"] = json!("default-scheduler");
        pod["securityContext"] = json!({});
        let container = &mut pod["containers"][0];
        container["terminationMessagePath"] = json!("/dev/termination-log");
        container["terminationMessagePolicy"] = json!("File");
        container["readinessProbe"]["successThreshold"] = json!(1);
        container["readinessProbe"]["timeoutSeconds"] = json!(1);
        container["readinessProbe"]["httpGet"]["scheme"] = json!("HTTP");
        stored["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = json!("Filesystem");
        stored["spec"]["volumeClaimTemplates"][0]["status"] = json!({"phase": "Pending"});
        serde_json::from_value(stored).expect("a StatefulSet")
    }

    #[test]
    fn trimming_a_statefulset_drops_only_what_no_drift_check_reads() {
        let built = crate::render::desired(
            &crate::render::parse_cluster(crate::render::EMBEDDED_DEFAULT).expect("parses"),
            &[],
            &crate::compose::NoPlugins,
        )
        .expect("builds")
        .resources
        .data_statefulset;
        let mut cached = as_stored(&built);
        let before = serde_json::to_vec(&cached).expect("json").len();
        trim_statefulset(&mut cached);
        assert!(serde_json::to_vec(&cached).expect("json").len() < before, "smaller");
        let desired = serde_json::to_value(&built).expect("json");
        assert_eq!(first_drift(&desired, &serde_json::to_value(&cached).expect("json")), None);

        // A real drift survives the trim.
        let mut scaled = as_stored(&built);
        scaled.spec.as_mut().expect("spec").replicas = Some(7);
        trim_statefulset(&mut scaled);
        assert_eq!(
            first_drift(&desired, &serde_json::to_value(&scaled).expect("json")).as_deref(),
            Some("spec.replicas")
        );
    }
}

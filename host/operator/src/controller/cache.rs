//! Reflector caches of every kind the operator owns. Reconciles read live children from them,
//! never from the API server, so a reconcile that changes nothing sends no request. The same
//! watches trigger reconciles of the owning cluster.
//!
//! Cached objects are trimmed to what the operator reads: no `managedFields` anywhere; the
//! children the cluster owns are held [`Compact`], decoded when read; and pods keep only their
//! metadata, container names and images (sidecar detection), and their phase, IP and Ready
//! condition (rollouts).

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

use super::compact::{Compact, DecodeError};
use crate::api::{AntflyBackup, AntflyRestore};
use crate::base::Role;
use crate::base::labels::{APP_NAME, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGER};
use crate::base::live::LiveStatefulSet;

/// How many changes a subscriber may lag behind before the reflector waits for it. Each slot
/// is preallocated (about 110 bytes) for each of the nine caches.
const SUBSCRIBER_BUFFER: usize = 256;
/// How long to wait for the first full list of every kind before reconciling anyway.
const FIRST_LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// The caches reconciles read.
#[derive(Clone)]
pub struct Caches {
    pub config_maps: Store<Compact<ConfigMap>>,
    pub service_accounts: Store<Compact<ServiceAccount>>,
    pub services: Store<Compact<Service>>,
    pub statefulsets: Store<Compact<StatefulSet>>,
    pub pdbs: Store<Compact<PodDisruptionBudget>>,
    pub pods: Store<Pod>,
    /// Backup and restore Jobs.
    pub jobs: Store<Job>,
    pub backups: Store<AntflyBackup>,
    pub restores: Store<AntflyRestore>,
}

/// The change streams that trigger reconciles, one per cached kind.
pub struct Triggers {
    pub config_maps: ReflectHandle<Compact<ConfigMap>>,
    pub service_accounts: ReflectHandle<Compact<ServiceAccount>>,
    pub services: ReflectHandle<Compact<Service>>,
    pub statefulsets: ReflectHandle<Compact<StatefulSet>>,
    pub pdbs: ReflectHandle<Compact<PodDisruptionBudget>>,
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
    let (statefulsets, statefulset_changes) = cached(client, namespace, owned.clone(), trim, &mut reflectors);
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

    /// One role's StatefulSet, decoded, if the cache holds it.
    pub fn statefulset(&self, namespace: &str, name: &str) -> Result<Option<StatefulSet>, DecodeError> {
        self.statefulsets.get(&key(namespace, name)).map(|cached| cached.decode()).transpose()
    }

    /// What scaling, readiness and rollouts read of one role's StatefulSet, if the cache holds it.
    pub fn live_statefulset(&self, namespace: &str, name: &str) -> Result<Option<LiveStatefulSet>, DecodeError> {
        self.statefulsets.get(&key(namespace, name)).map(|cached| cached.read()).transpose()
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

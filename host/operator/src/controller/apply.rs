//! The apply step: server-side apply of the built objects under one field manager, in a
//! documented order, writing only what changed, and deleting optional objects now disabled.
//!
//! Each applied object carries the sha256 of its desired form in an annotation. When the cached
//! live object's annotation already matches and its fields still hold what was applied
//! ([`first_drift`]), the apply is skipped, so a steady-state resync and an operator restart
//! issue no requests at all: live objects come from the reflector caches. An out-of-band
//! change to a field the operator sets is drift, repaired by applying again.

use std::fmt::Debug;
use std::marker::PhantomData;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams, ValidationDirective};
use kube::core::Request;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tracing::info;

use super::cache::key;
use super::compact::Compact;
use super::context::{Context, child_key, resource_version};
use super::error::ReconcileError;
use super::storage::{self, StorageOutcome};
use crate::base::labels::{LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGER};
use crate::base::live::{LiveStatefulSet, WrittenVersion};
use crate::base::{APPLIED_HASH_ANNOTATION, Role, names};
use crate::build::ClusterResources;
use crate::build::drift::first_drift;
use crate::validate::ValidatedCluster;

pub const FIELD_MANAGER: &str = "antfly-operator";

/// Server-side apply as the operator's field manager, taking over fields from other managers.
/// Field validation is off: every body is serialised from typed objects, and the API server's
/// default check (`Warn`) parses each apply body a second time as YAML only to produce warnings
/// that the client drops; that parse was about 7% of the API server's CPU at 1,000 clusters.
pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force().validation(ValidationDirective::Ignore)
}

/// Whether everything that reaches pods is applied too, or held (during partial sidecar
/// injection): the ConfigMap, the ServiceAccount and the StatefulSets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    Proceed,
    Hold,
}

/// What an apply pass did that later steps read.
#[derive(Default)]
pub struct Applied {
    /// The StatefulSets written by this pass, as the API server answered: fresher than the
    /// cache for the rollout step.
    pub statefulsets: Vec<LiveStatefulSet>,
    /// Where growing each role's volumes stands.
    pub storage: Vec<StorageOutcome>,
}

/// Apply every object in the documented order and delete optional ones that are now absent.
pub async fn apply_all(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: ClusterResources,
    rollout: Rollout,
) -> Result<Applied, ReconcileError> {
    // No `..`: a new resource that is never applied fails to compile.
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
    let name = cluster.name();
    let caches = &ctx.caches;
    let config_maps = Child::<ConfigMap>::new(&client, cluster, &caches.config_maps, "ConfigMap");
    let accounts = Child::<ServiceAccount>::new(&client, cluster, &caches.service_accounts, "ServiceAccount");
    let services = Child::<Service>::new(&client, cluster, &caches.services, "Service");
    let statefulsets =
        Child::<StatefulSet, LiveStatefulSet>::new(&client, cluster, &caches.statefulsets, "StatefulSet");
    let pdbs = Child::<PodDisruptionBudget>::new(&client, cluster, &caches.pdbs, "PodDisruptionBudget");

    let mut applied = Applied::default();
    if rollout == Rollout::Proceed {
        config_maps.apply(ctx, config_map).await?;
        match service_account {
            Some(sa) => {
                accounts.apply(ctx, sa).await?;
            }
            None => accounts.delete_if_ours(ctx, &names::service_account(name), name).await?,
        }
    }
    services.apply(ctx, metadata_service).await?;
    services.apply(ctx, data_service).await?;
    match public_api_service {
        Some(service) => {
            services.apply(ctx, service).await?;
        }
        None => services.delete_if_ours(ctx, &names::public_api(name), name).await?,
    }
    if rollout == Rollout::Proceed {
        for (role, desired) in [(Role::Metadata, metadata_statefulset), (Role::Data, data_statefulset)] {
            // The decoded live object is dropped before the apply's request is in flight.
            let (desired, outcome) = {
                let live = statefulsets.cached(&names::role(name, role))?;
                storage::reconcile_volumes(ctx, cluster, role, desired, live.as_ref()).await?
            };
            applied.storage.push(outcome);
            if let Some(desired) = desired
                && let Some(written) = statefulsets.apply(ctx, desired).await?
            {
                applied.statefulsets.push(written);
            }
        }
    }
    for (role, pdb) in [(Role::Metadata, metadata_pdb), (Role::Data, data_pdb)] {
        match pdb {
            Some(pdb) => {
                pdbs.apply(ctx, pdb).await?;
            }
            None => pdbs.delete_if_ours(ctx, &names::pdb(name, role), name).await?,
        }
    }
    Ok(applied)
}

fn desired_hash<K: Serialize>(kind: &'static str, object: &K) -> Result<String, ReconcileError> {
    // Streamed into the digest: every reconcile hashes every child, and the text itself is
    // only needed when the child is written.
    let mut digest = Sha256::new();
    serde_json::to_writer(&mut digest, object).map_err(|e| ReconcileError::Serialise(kind, e.to_string()))?;
    Ok(hex::encode(digest.finalize()))
}

/// What an apply reads of the API server's answer; the rest of the written object is skipped
/// unparsed.
trait Answer: DeserializeOwned {
    /// How the watch's echo of the write is recognised.
    fn resource_version(&self) -> Option<u64>;
}

impl Answer for WrittenVersion {
    fn resource_version(&self) -> Option<u64> {
        WrittenVersion::resource_version(self)
    }
}

impl Answer for LiveStatefulSet {
    fn resource_version(&self) -> Option<u64> {
        self.metadata.resource_version()
    }
}

/// One kind of child in one namespace: its API, its cache, and what is read of an apply's
/// answer.
struct Child<'a, K: Resource<DynamicType = ()> + 'static, A = WrittenVersion> {
    api: Api<K>,
    client: &'a Client,
    cache: &'a Store<Compact<K>>,
    namespace: &'a str,
    /// The cluster that owns the children, triggered for changes held while applying.
    cluster: &'a str,
    kind: &'static str,
    answer: PhantomData<fn() -> A>,
}

impl<'a, K, A> Child<'a, K, A>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug
        + 'static,
    A: Answer,
{
    fn new(
        client: &'a Client,
        cluster: &'a ValidatedCluster,
        cache: &'a Store<Compact<K>>,
        kind: &'static str,
    ) -> Self {
        let namespace = cluster.namespace();
        let api = Api::namespaced(client.clone(), namespace);
        Self { api, client, cache, namespace, cluster: cluster.name(), kind, answer: PhantomData }
    }

    /// The live object, decoded, if the cache holds it.
    fn cached(&self, name: &str) -> Result<Option<K>, ReconcileError> {
        Ok(self.cache.get(&key(self.namespace, name)).map(|live| live.decode()).transpose()?)
    }

    /// Apply `desired` unless the cached live object already carries its hash; what is read
    /// of the API server's answer, when it was applied.
    async fn apply(&self, ctx: &Context, mut desired: K) -> Result<Option<A>, ReconcileError> {
        let kind = self.kind;
        let name = desired.name_any();
        let hash = desired_hash(kind, &desired)?;
        let object = child_key(kind, self.namespace, &name);
        if let Some(live) = self.cache.get(&key(self.namespace, &name))
            && live.applied_hash() == Some(hash.as_str())
        {
            if live.is_own_write() {
                // Unchanged since this process applied this very object.
                ctx.forget_drift(&object);
                return Ok(None);
            }
            // The hash says the desired object is unchanged; the fields say whether someone
            // changed the live one since.
            let live_json = live.to_value()?;
            let desired_json =
                serde_json::to_value(&desired).map_err(|e| ReconcileError::Serialise(kind, e.to_string()))?;
            let Some(path) = first_drift(&desired_json, &live_json) else {
                ctx.forget_drift(&object);
                return Ok(None);
            };
            if !ctx.note_drift(&object, &hash, &path) {
                // Repaired once already and back the same: another writer insists, or the
                // API server stores it differently. Writing again would only loop.
                return Ok(None);
            }
            info!(object = %object, field = %path, "repairing an out-of-band change");
            ctx.metrics.drift_repairs.get_or_create(&super::metrics::KindLabel { kind }).inc();
        }
        desired.annotations_mut().insert(APPLIED_HASH_ANNOTATION.to_string(), hash);
        ctx.before_write().await?;
        // `Api::patch` would decode the whole answer, managed fields included.
        let failed = |source| ReconcileError::Apply { kind, name: name.clone(), source };
        let request = Request::new(K::url_path(&(), Some(self.namespace)))
            .patch(&name, &apply_params(), &Patch::Apply(&desired))
            .map_err(|e| failed(kube::Error::BuildRequest(e)))?;
        drop(desired);
        let flight = ctx.applies_in_flight.begin(&object, ObjectRef::new(self.cluster).within(self.namespace));
        let written: A = self.client.request(request).await.map_err(failed)?;
        ctx.metrics.writes.get_or_create(&super::metrics::KindLabel { kind }).inc();
        let version = written.resource_version();
        if let Some(version) = version {
            match self.cache.get(&key(self.namespace, &name)) {
                // The watch delivered the echo before this answer; the flight held it.
                Some(live) if resource_version(&*live) == Some(version) => live.mark_own_write(),
                _ => ctx.applied_children.remember(&object, version, ()),
            }
        }
        // After `remember`: a change the flight no longer holds is recognised there.
        flight.answered(version);
        Ok(Some(written))
    }

    /// Delete an object the cluster no longer wants (a disabled PDB, say), if this cluster
    /// made it and the cache holds it.
    async fn delete_if_ours(&self, ctx: &Context, name: &str, cluster: &str) -> Result<(), ReconcileError> {
        let Some(live) = self.cached(name)? else { return Ok(()) };
        let labels = live.labels();
        let ours = labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGER)
            && labels.get(LABEL_INSTANCE).map(String::as_str) == Some(cluster);
        if !ours {
            return Ok(());
        }
        ctx.before_write().await?;
        match self.api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(ReconcileError::Delete { kind: self.kind, name: name.to_string(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_serialised_text() {
        // Clusters applied by earlier releases carry this hash: a different one would rewrite
        // every child once after an upgrade.
        let cluster = crate::render::parse_cluster(include_str!("../../../../examples/production-cluster.yaml"))
            .expect("example");
        let desired = crate::pipeline::desired_state(&cluster, &[], &crate::compose::NoPlugins).expect("valid");
        let statefulset = &desired.resources.data_statefulset;
        let text = serde_json::to_vec(statefulset).expect("serialises");
        assert_eq!(desired_hash("StatefulSet", statefulset).expect("hash"), hex::encode(Sha256::digest(&text)));
    }
}

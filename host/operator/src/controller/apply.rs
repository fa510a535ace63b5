//! The apply step: server-side apply of the built objects under one field manager, in a
//! documented order, writing only what changed, and deleting optional objects now disabled.
//!
//! Each applied object carries the sha256 of its desired form in an annotation. When the live
//! object's annotation already matches, the apply is skipped, so a steady-state resync and an
//! operator restart issue no writes.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::context::Context;
use super::error::ReconcileError;
use crate::base::labels::{LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGER};
use crate::base::{APPLIED_HASH_ANNOTATION, Role, names};
use crate::build::ClusterResources;
use crate::validate::ValidatedCluster;

pub const FIELD_MANAGER: &str = "antfly-operator";

/// Whether the StatefulSets are applied too, or held (during partial sidecar injection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    Proceed,
    Hold,
}

/// Apply every object in the documented order and delete optional ones that are now absent.
pub async fn apply_all(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: ClusterResources,
    rollout: Rollout,
) -> Result<(), ReconcileError> {
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
    if rollout == Rollout::Proceed {
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

fn desired_hash<K: Serialize>(kind: &'static str, object: &K) -> Result<String, ReconcileError> {
    let bytes = serde_json::to_vec(object).map_err(|e| ReconcileError::Serialise(kind, e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Apply `desired` unless the live object already carries its hash. Returns whether it wrote.
pub async fn apply<K>(ctx: &Context, api: &Api<K>, kind: &'static str, mut desired: K) -> Result<bool, ReconcileError>
where
    K: Resource + Serialize + DeserializeOwned + Clone + Debug,
{
    let name = desired.name_any();
    let hash = desired_hash(kind, &desired)?;
    let live = api.get_opt(&name).await.map_err(|source| ReconcileError::List { kind, source })?;
    if live.as_ref().and_then(|l| l.annotations().get(APPLIED_HASH_ANNOTATION)) == Some(&hash) {
        return Ok(false);
    }
    desired.annotations_mut().insert(APPLIED_HASH_ANNOTATION.to_string(), hash);
    ctx.ensure_leader()?;
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired))
        .await
        .map_err(|source| ReconcileError::Apply { kind, name: name.clone(), source })?;
    ctx.metrics.writes.get_or_create(&super::metrics::KindLabel { kind }).inc();
    Ok(true)
}

/// Delete an object the cluster no longer wants (a disabled PDB, say), if this cluster made it.
pub async fn delete_if_ours<K>(
    ctx: &Context,
    api: &Api<K>,
    kind: &'static str,
    name: &str,
    cluster: &str,
) -> Result<bool, ReconcileError>
where
    K: Resource + DeserializeOwned + Clone + Debug,
{
    let Some(live) = api.get_opt(name).await.map_err(|source| ReconcileError::List { kind, source })? else {
        return Ok(false);
    };
    let labels = live.labels();
    let ours = labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGER)
        && labels.get(LABEL_INSTANCE).map(String::as_str) == Some(cluster);
    if !ours {
        return Ok(false);
    }
    ctx.ensure_leader()?;
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(ReconcileError::Delete { kind, name: name.to_string(), source }),
    }
}

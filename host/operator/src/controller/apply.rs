//! Server-side apply of built objects under one field manager, writing only what changed.
//!
//! Each applied object carries the sha256 of its desired form in an annotation. When the live
//! object's annotation already matches, the apply is skipped, so a steady-state resync and an
//! operator restart issue no writes.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::context::Context;
use super::error::ReconcileError;
use crate::build::meta::{LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGER};

pub const FIELD_MANAGER: &str = "antfly-operator";
pub const APPLIED_HASH_ANNOTATION: &str = "antfly.io/applied-hash";

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

//! Storage growth. A StatefulSet's `volumeClaimTemplates` cannot be updated, so a larger
//! `spec.storage` size is reached in two moves:
//! 1. each existing PVC of the role is expanded in place (the API server allows it when the
//!    claim is bound and its StorageClass has `allowVolumeExpansion: true`; its refusal is
//!    reported in the StorageResize condition, and the rest of the StatefulSet is still
//!    applied with the old template);
//! 2. the StatefulSet is deleted with orphan propagation, which leaves its pods and claims
//!    running, and the next reconcile creates it again with the new template; it adopts the
//!    same pods, whose template is unchanged, so no pod restarts.
//!
//! Shrinking is refused at admission by the CRD; should a smaller size arrive anyway, the live
//! template is kept and the condition says so.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use serde_json::json;
use tracing::info;

use super::context::Context;
use super::error::ReconcileError;
use crate::base::Role;
use crate::base::labels::role_pod_selector;
use crate::base::names;
use crate::validate::ValidatedCluster;
use crate::validate::syntax::quantity_value;

/// Where growing one role's volumes stands after this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageOutcome {
    /// The StatefulSet's template asks for the spec's size.
    AtSize,
    /// The API server refused to expand a claim; the message names the claims and says why.
    Refused { role: Role, message: String },
    /// The spec asks for less than the template: refused, the template is kept.
    Shrink { role: Role, live: String, desired: String },
    /// The claims are expanded and the StatefulSet is being recreated around its pods.
    Recreating { role: Role, size: String },
}

/// The storage request of a StatefulSet's first claim template.
fn template_size(statefulset: &StatefulSet) -> Option<String> {
    statefulset
        .spec
        .as_ref()?
        .volume_claim_templates
        .as_ref()?
        .first()?
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

fn claim_size(claim: &PersistentVolumeClaim) -> Option<String> {
    claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
}

/// Compares two quantities by value; `None` when either does not parse.
fn compare(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    quantity_value(a).ok()?.partial_cmp(&quantity_value(b).ok()?)
}

/// Decides what of `desired` to apply given the live StatefulSet, expanding claims or
/// recreating the StatefulSet on the way. `None`: apply nothing this time.
pub async fn reconcile_volumes(
    ctx: &Context,
    cluster: &ValidatedCluster,
    role: Role,
    mut desired: StatefulSet,
    live: Option<&StatefulSet>,
) -> Result<(Option<StatefulSet>, StorageOutcome), ReconcileError> {
    let Some(live) = live else { return Ok((Some(desired), StorageOutcome::AtSize)) };
    if live.metadata.deletion_timestamp.is_some() {
        // Our orphaning delete is in progress; create it again once it is gone.
        let size = template_size(&desired).unwrap_or_default();
        return Ok((None, StorageOutcome::Recreating { role, size }));
    }
    let (Some(wanted), Some(current)) = (template_size(&desired), template_size(live)) else {
        return Ok((Some(desired), StorageOutcome::AtSize));
    };
    let keep_live_template = |desired: &mut StatefulSet| {
        if let (Some(spec), Some(live_spec)) = (desired.spec.as_mut(), live.spec.as_ref()) {
            spec.volume_claim_templates = live_spec.volume_claim_templates.clone();
        }
    };
    match compare(&wanted, &current) {
        Some(std::cmp::Ordering::Greater) => {}
        Some(std::cmp::Ordering::Less) => {
            keep_live_template(&mut desired);
            return Ok((Some(desired), StorageOutcome::Shrink { role, live: current, desired: wanted }));
        }
        _ => return Ok((Some(desired), StorageOutcome::AtSize)),
    }

    let refusals = expand_claims(ctx, cluster, role, &wanted).await?;
    if !refusals.is_empty() {
        keep_live_template(&mut desired);
        let message =
            format!("cannot grow the {} volumes from {current} to {wanted}: {}", role.as_str(), refusals.join("; "));
        return Ok((Some(desired), StorageOutcome::Refused { role, message }));
    }
    orphan_statefulset(ctx, live).await?;
    info!(cluster = %cluster.name(), role = role.as_str(), from = %current, to = %wanted,
        "claims expanded; recreating the StatefulSet around its pods");
    Ok((None, StorageOutcome::Recreating { role, size: wanted }))
}

/// Expands every claim of the role below `size`; returns the API server's refusals.
async fn expand_claims(
    ctx: &Context,
    cluster: &ValidatedCluster,
    role: Role,
    size: &str,
) -> Result<Vec<String>, ReconcileError> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), cluster.namespace());
    let listed = claims
        .list(&ListParams::default().labels(&role_pod_selector(cluster.name(), role)))
        .await
        .map_err(|source| ReconcileError::List { kind: "PersistentVolumeClaim", source })?;
    let prefix = format!("{}-{}-", names::DATA_VOLUME, names::role(cluster.name(), role));
    let mut refusals = Vec::new();
    for claim in listed.items.iter().filter(|c| c.name_any().starts_with(&prefix)) {
        let smaller = claim_size(claim).is_none_or(|have| compare(&have, size) == Some(std::cmp::Ordering::Less));
        if !smaller {
            continue;
        }
        ctx.before_write().await?;
        let patch = json!({"spec": {"resources": {"requests": {"storage": size}}}});
        match claims.patch(&claim.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) => refusals.push(format!("{}: {}", claim.name_any(), status.message)),
            Err(source) => {
                return Err(ReconcileError::Apply { kind: "PersistentVolumeClaim", name: claim.name_any(), source });
            }
        }
    }
    Ok(refusals)
}

/// Deletes the StatefulSet, leaving its pods and claims to the one created next.
async fn orphan_statefulset(ctx: &Context, live: &StatefulSet) -> Result<(), ReconcileError> {
    ctx.before_write().await?;
    let name = live.name_any();
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &live.namespace().unwrap_or_default());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        preconditions: Some(Preconditions { uid: live.metadata.uid.clone(), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(source) => Err(ReconcileError::Delete { kind: "StatefulSet", name, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_compare_by_value_across_spellings() {
        assert_eq!(compare("20Gi", "10Gi"), Some(std::cmp::Ordering::Greater));
        assert_eq!(compare("1024Mi", "1Gi"), Some(std::cmp::Ordering::Equal));
        assert_eq!(compare("500M", "1Gi"), Some(std::cmp::Ordering::Less));
        assert_eq!(compare("lots", "1Gi"), None);
    }

    #[test]
    fn the_template_size_is_read_from_the_first_claim_template() {
        let statefulset: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "c-data"},
            "spec": {"selector": {}, "serviceName": "c-data", "template": {},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}
        }))
        .expect("a StatefulSet");
        assert_eq!(template_size(&statefulset).as_deref(), Some("10Gi"));
        assert_eq!(template_size(&StatefulSet::default()), None);
    }
}

//! Kubernetes' limits checked on the built objects, after the plugins' contributions were
//! composed in: what validation of the spec alone cannot see.
//!
//! - The annotations of an object total at most 256 KiB (keys plus values), the user's and
//!   every plugin's together.
//! - A ConfigMap's values total at most 1 MiB.
//! - No two topology spread constraints of a pod share topologyKey and whenUnsatisfiable
//!   (the user's, the default and the plugins' together).

use std::collections::BTreeSet;

use super::ClusterResources;
use crate::base::{CONFIG_HASH_ANNOTATION, Role};
use crate::compose::Contributions;
use crate::validate::{FieldError, MAX_ANNOTATIONS_BYTES, ValidatedCluster, annotations_size};

/// Kubernetes' limit on the total size of a ConfigMap's values (`MaxSecretSize`).
pub const MAX_CONFIG_MAP_BYTES: usize = 1 << 20;

/// Every limit the built objects break, each as an error on the spec field that caused it.
pub fn check(
    cluster: &ValidatedCluster,
    contributions: &Contributions,
    resources: &ClusterResources,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (role, statefulset) in
        [(Role::Metadata, &resources.metadata_statefulset), (Role::Data, &resources.data_statefulset)]
    {
        let annotations =
            statefulset.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.annotations.as_ref());
        let pod = statefulset.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        let mut pairs = BTreeSet::new();
        for constraint in pod.and_then(|p| p.topology_spread_constraints.as_ref()).into_iter().flatten() {
            if !pairs.insert((&constraint.topology_key, &constraint.when_unsatisfiable)) {
                let plugins: Vec<&str> =
                    contributions.for_role(role).scheduling.iter().map(|c| c.plugin.as_str()).collect();
                errors.push(FieldError {
                    path: format!("spec.{}Nodes.topologySpreadConstraints", role.as_str()),
                    message: format!(
                        "the {} pods would get two spread constraints on {:?} with {:?} (yours or the default, and plugin {})",
                        role.as_str(),
                        constraint.topology_key,
                        constraint.when_unsatisfiable,
                        plugins.join(", ")
                    ),
                });
            }
        }
        let size = annotations.map(annotations_size).unwrap_or(0);
        if size > MAX_ANNOTATIONS_BYTES {
            errors.push(FieldError {
                path: "spec.serviceMesh.annotations".into(),
                message: format!(
                    "the {} pods' annotations total {size} bytes ({}), more than Kubernetes' {MAX_ANNOTATIONS_BYTES}",
                    role.as_str(),
                    contributors(cluster, contributions, role).join(", ")
                ),
            });
        }
    }
    if let Some(account) = &resources.service_account {
        let size = account.metadata.annotations.as_ref().map(annotations_size).unwrap_or(0);
        if size > MAX_ANNOTATIONS_BYTES {
            errors.push(FieldError {
                path: "spec".into(),
                message: format!(
                    "the plugins' ServiceAccount annotations total {size} bytes, more than Kubernetes' {MAX_ANNOTATIONS_BYTES}"
                ),
            });
        }
    }
    let config_size =
        resources.config_map.data.iter().flatten().fold(0usize, |sum, (_, v)| sum.saturating_add(v.len()));
    if config_size > MAX_CONFIG_MAP_BYTES {
        errors.push(FieldError {
            path: "spec.config".into(),
            message: format!(
                "the generated config.json is {config_size} bytes; a ConfigMap holds at most {MAX_CONFIG_MAP_BYTES}"
            ),
        });
    }
    errors
}

/// Who put annotations on one role's pods, with their sizes.
fn contributors(cluster: &ValidatedCluster, contributions: &Contributions, role: Role) -> Vec<String> {
    let role_contributions = contributions.for_role(role);
    let mut parts = Vec::new();
    if let Some(mesh) = cluster.spec().service_mesh.as_ref().filter(|m| m.enabled) {
        parts.push(format!("{} from spec.serviceMesh.annotations", annotations_size(&mesh.annotations)));
        if let Some(profile) = &role_contributions.mesh {
            parts.push(format!("{} from plugin {:?}", annotations_size(&profile.pod_annotations), profile.profile));
        }
    }
    for contribution in &role_contributions.scheduling {
        parts.push(format!(
            "{} from plugin {:?}",
            annotations_size(&contribution.pod_annotations),
            contribution.plugin
        ));
    }
    parts.push(format!("{} for {CONFIG_HASH_ANNOTATION}", CONFIG_HASH_ANNOTATION.len() + 64));
    parts
}

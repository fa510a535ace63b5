//! PodDisruptionBudgets `{c}-metadata-pdb` and `{c}-data-pdb`, when enabled.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, role_labels};
use crate::base::Role;
use crate::base::labels::selector_labels;
use crate::base::names;
use crate::validate::{PdbSettings, ValidatedCluster};

/// Metadata nodes never allow more disruptions than keep a Raft majority: (n-1)/2, at least 1.
pub fn max_unavailable(cluster: &ValidatedCluster, role: Role, settings: PdbSettings) -> i32 {
    match role {
        Role::Metadata => {
            let quorum_tolerance = ((cluster.spec().metadata_nodes.replicas - 1) / 2).max(1);
            settings.max_unavailable.min(quorum_tolerance)
        }
        Role::Data => settings.max_unavailable,
    }
}

pub fn build_pdb(cluster: &ValidatedCluster, role: Role) -> Option<PodDisruptionBudget> {
    let settings = cluster.pdb()?;
    Some(PodDisruptionBudget {
        metadata: object_meta(cluster, names::pdb(cluster.name(), role), role_labels(cluster, role)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable(cluster, role, settings))),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(cluster.name(), role)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}

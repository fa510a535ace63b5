//! Pure builders: every Kubernetes object of one cluster, from a [`ValidatedCluster`] and the
//! plugins' [`Contributions`]. No API client here; `render` and the controller share this.

pub mod config;
pub mod drift;
pub mod limits;
pub mod meta;
pub mod pdb;
pub mod services;
pub mod statefulset;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;

use crate::base::Role;
use crate::base::names;
use crate::compose::Contributions;
use crate::compose::merge::service_account_annotations;
use crate::validate::ValidatedCluster;
use meta::{cluster_labels, object_meta};

/// Every object the operator applies for one cluster.
///
/// The controller destructures this without `..`, so a new field that is never applied fails
/// to compile. Optional objects are deleted when absent.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterResources {
    pub config_map: ConfigMap,
    /// Only when a provider contributes ServiceAccount annotations (IRSA, Workload Identity).
    pub service_account: Option<ServiceAccount>,
    pub metadata_service: Service,
    pub data_service: Service,
    pub public_api_service: Option<Service>,
    pub metadata_statefulset: StatefulSet,
    pub data_statefulset: StatefulSet,
    pub metadata_pdb: Option<PodDisruptionBudget>,
    pub data_pdb: Option<PodDisruptionBudget>,
}

fn build_service_account(cluster: &ValidatedCluster, contributions: &Contributions) -> Option<ServiceAccount> {
    let annotations = service_account_annotations([&contributions.metadata, &contributions.data]);
    if annotations.is_empty() {
        return None;
    }
    let mut metadata = object_meta(cluster, names::service_account(cluster.name()), cluster_labels(cluster));
    metadata.annotations = Some(annotations);
    Some(ServiceAccount { metadata, automount_service_account_token: Some(false), ..ServiceAccount::default() })
}

/// Build every object of the cluster.
pub fn build_resources(cluster: &ValidatedCluster, contributions: &Contributions) -> ClusterResources {
    let (config_map, config_hashes) = config::build_config_map(cluster);
    let service_account = build_service_account(cluster, contributions);
    let account_name = service_account.as_ref().and_then(|sa| sa.metadata.name.as_deref());
    let statefulset =
        |role| statefulset::build_statefulset(cluster, role, contributions, config_hashes.for_role(role), account_name);
    ClusterResources {
        metadata_service: services::build_headless_service(cluster, Role::Metadata),
        data_service: services::build_headless_service(cluster, Role::Data),
        public_api_service: services::build_public_api_service(cluster),
        metadata_statefulset: statefulset(Role::Metadata),
        data_statefulset: statefulset(Role::Data),
        metadata_pdb: pdb::build_pdb(cluster, Role::Metadata),
        data_pdb: pdb::build_pdb(cluster, Role::Data),
        config_map,
        service_account,
    }
}

impl ClusterResources {
    /// Every present object as JSON, in apply order: ConfigMap, ServiceAccount, Services,
    /// StatefulSets, PodDisruptionBudgets.
    pub fn to_json_objects(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
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
        } = self;
        fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, serde_json::Error> {
            serde_json::to_value(value)
        }
        let mut objects = vec![json(config_map)?];
        if let Some(sa) = service_account {
            objects.push(json(sa)?);
        }
        objects.push(json(metadata_service)?);
        objects.push(json(data_service)?);
        if let Some(service) = public_api_service {
            objects.push(json(service)?);
        }
        objects.push(json(metadata_statefulset)?);
        objects.push(json(data_statefulset)?);
        for pdb in [metadata_pdb, data_pdb].into_iter().flatten() {
            objects.push(json(pdb)?);
        }
        Ok(objects)
    }
}

#[cfg(test)]
mod tests;

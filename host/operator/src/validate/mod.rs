//! Validation: turns an AntflyCluster into a [`ValidatedCluster`], the only input of the builders.
//!
//! Every rule reports a [`FieldError`] naming the field path; all errors are collected, none
//! panics. The CRD's CEL rules repeat what CEL can express, so the API server rejects it too.

mod rules;
pub mod scheduling;
pub mod syntax;

pub use rules::{DEFAULT_REPLICATION_FACTOR, MAX_ANNOTATIONS_BYTES, MAX_CLUSTER_NAME_LEN, annotations_size};

use std::fmt;

use serde_json::{Map, Value};

use crate::api::{AntflyCluster, AntflyClusterSpec, DEFAULT_CLUSTER_DOMAIN, PublicApiSpec};
use crate::base::{PluginRequest, PluginWorld};

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.metadataNodes.replicas`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every reason an AntflyCluster is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// PodDisruptionBudget settings after resolving both spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdbSettings {
    pub max_unavailable: i32,
}

/// An AntflyCluster that passed validation, with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedCluster {
    name: String,
    namespace: String,
    uid: Option<String>,
    spec: AntflyClusterSpec,
    user_config: Map<String, Value>,
}

impl ValidatedCluster {
    /// The cluster with defaults applied but NOT validated, only to ask plugins whether they
    /// accept their settings when the core spec is invalid, so that one run reports both.
    /// Never build objects from it.
    pub fn for_settings_check(cluster: &AntflyCluster) -> Self {
        let mut ignored = Vec::new();
        let user_config = rules::check_spec(&cluster.spec, &mut ignored);
        Self {
            name: cluster.metadata.name.clone().unwrap_or_default(),
            namespace: cluster.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
            uid: cluster.metadata.uid.clone(),
            spec: cluster.spec.clone(),
            user_config,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The object's UID; absent when rendering a file offline.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    pub fn spec(&self) -> &AntflyClusterSpec {
        &self.spec
    }

    /// The user's `spec.config`, parsed.
    pub fn user_config(&self) -> &Map<String, Value> {
        &self.user_config
    }

    /// The replication factor: `spec.config`'s `replication_factor`, or the default.
    pub fn replication_factor(&self) -> i32 {
        let factor = self.user_config.get("replication_factor").and_then(Value::as_i64);
        i32::try_from(factor.unwrap_or(DEFAULT_REPLICATION_FACTOR)).unwrap_or(i32::MAX).max(1)
    }

    pub fn cluster_domain(&self) -> &str {
        self.spec.cluster_domain.as_deref().unwrap_or(DEFAULT_CLUSTER_DOMAIN)
    }

    pub fn public_api(&self) -> Option<&PublicApiSpec> {
        self.spec.public_api.as_ref().filter(|p| p.enabled)
    }

    /// `spec.podDisruptionBudget` wins over the seed's `spec.gke.podDisruptionBudget`.
    pub fn pdb(&self) -> Option<PdbSettings> {
        let spec = self
            .spec
            .pod_disruption_budget
            .as_ref()
            .or_else(|| self.spec.gke.as_ref().and_then(|g| g.pod_disruption_budget.as_ref()))?;
        spec.enabled.then(|| PdbSettings { max_unavailable: spec.max_unavailable.unwrap_or(1) })
    }

    pub fn mesh_enabled(&self) -> bool {
        self.spec.service_mesh.as_ref().is_some_and(|m| m.enabled)
    }

    /// GKE Autopilot manages nodes and topology itself.
    pub fn autopilot(&self) -> bool {
        self.spec.gke.as_ref().is_some_and(|g| g.autopilot)
    }

    /// Settings the operator accepts but does not act on, said plainly in the status.
    pub fn unapplied_settings(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(volume_type) = self.spec.eks.as_ref().and_then(|e| e.ebs_volume_type.as_deref()) {
            notes.push(format!(
                "spec.eks.ebsVolumeType={volume_type} is not applied: PVCs use spec.storage.storageClass, \
                 so create a StorageClass with that volume type"
            ));
        }
        notes
    }

    /// The plugins this cluster's spec selects, in a stable order.
    pub fn plugin_requests(&self) -> Vec<PluginRequest> {
        let mut requests = Vec::new();
        if let Some(eks) = self.spec.eks.as_ref().filter(|e| e.enabled) {
            requests.push(PluginRequest {
                world: PluginWorld::SchedulingProvider,
                plugin: "eks".into(),
                field: "spec.eks",
                settings: settings_json(eks),
            });
        }
        if let Some(gke) = self.spec.gke.as_ref().filter(|g| g.is_active()) {
            requests.push(PluginRequest {
                world: PluginWorld::SchedulingProvider,
                plugin: "gke".into(),
                field: "spec.gke",
                settings: settings_json(gke),
            });
        }
        if let Some(provider) = &self.spec.scheduling_provider {
            requests.push(PluginRequest {
                world: PluginWorld::SchedulingProvider,
                plugin: provider.plugin.clone(),
                field: "spec.schedulingProvider",
                settings: provider.settings.clone().unwrap_or_else(|| Value::Object(Map::new())),
            });
        }
        if let Some(profile) = self.spec.service_mesh.as_ref().filter(|m| m.enabled).and_then(|m| m.profile.clone()) {
            requests.push(PluginRequest {
                world: PluginWorld::MeshProfile,
                plugin: profile,
                field: "spec.serviceMesh.profile",
                settings: Value::Object(Map::new()),
            });
        }
        requests
    }
}

/// Spec blocks are plain data, so serialising them cannot fail.
fn settings_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The cluster's own labels, annotations and finalizers, as the API server checks them.
fn check_object_meta(cluster: &AntflyCluster, errors: &mut Vec<FieldError>) {
    let mut e = scheduling::Errors(errors);
    if let Some(labels) = &cluster.metadata.labels {
        rules::check_labels("metadata.labels", labels, &mut e);
    }
    if let Some(annotations) = &cluster.metadata.annotations {
        for key in annotations.keys() {
            e.check(format!("metadata.annotations[{key}]"), syntax::qualified_name(key));
        }
        let size = annotations_size(annotations);
        if size > MAX_ANNOTATIONS_BYTES {
            e.push(
                "metadata.annotations",
                format!("total {size} bytes, more than Kubernetes' {MAX_ANNOTATIONS_BYTES}"),
            );
        }
    }
    for (i, finalizer) in cluster.metadata.finalizers.iter().flatten().enumerate() {
        e.check(format!("metadata.finalizers[{i}]"), syntax::qualified_name(finalizer));
    }
}

/// Validate a cluster and apply defaults. Reports every error at once.
pub fn validate(cluster: &AntflyCluster) -> Result<ValidatedCluster, ValidationErrors> {
    let mut errors = Vec::new();
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let namespace = cluster.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    rules::check_names(&name, &namespace, &cluster.spec, &mut errors);
    check_object_meta(cluster, &mut errors);
    let user_config = rules::check_spec(&cluster.spec, &mut errors);
    if !errors.is_empty() {
        return Err(ValidationErrors { errors });
    }
    Ok(ValidatedCluster { name, namespace, uid: cluster.metadata.uid.clone(), spec: cluster.spec.clone(), user_config })
}

#[cfg(test)]
mod tests;

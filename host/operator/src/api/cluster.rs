//! AntflyCluster: the database cluster resource, its spec and its status.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{preserve_unknown_object, quantity_schema, quantity_text};

pub const DEFAULT_IMAGE: &str = "ghcr.io/antflydb/antfly:latest";

/// Longest role name in object names (`{c}-metadata`).
const LONGEST_ROLE: &str = "metadata";
/// Length of the hash the StatefulSet controller appends to `{c}-{role}` in the
/// `controller-revision-hash` label (a 32-bit hash in decimal: up to 10 characters).
const REVISION_HASH_LEN: usize = 10;
/// Longest cluster name whose `controller-revision-hash` label value, `{c}-metadata-{hash}`,
/// fits in 63 characters; pod names `{c}-metadata-{ordinal}` are shorter still.
pub const MAX_CLUSTER_NAME_LEN: usize = 63 - (1 + LONGEST_ROLE.len()) - (1 + REVISION_HASH_LEN);

/// Desired state of an Antfly database cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "antfly.io",
    version = "v1",
    kind = "AntflyCluster",
    namespaced,
    status = "AntflyClusterStatus",
    shortname = "afc",
    category = "antfly",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Metadata ready","type":"integer","jsonPath":".status.metadataNodesReady"}"#,
    printcolumn = r#"{"name":"Data ready","type":"integer","jsonPath":".status.dataNodesReady"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.gke) && has(self.gke.autopilot) && self.gke.autopilot) || !has(self.metadataNodes) || !has(self.metadataNodes.nodeSelector) || size(self.metadataNodes.nodeSelector) == 0",
     "message": "spec.metadataNodes.nodeSelector conflicts with spec.gke.autopilot=true", "fieldPath": ".metadataNodes.nodeSelector"},
    {"rule": "!(has(self.gke) && has(self.gke.autopilot) && self.gke.autopilot) || !has(self.dataNodes) || !has(self.dataNodes.nodeSelector) || size(self.dataNodes.nodeSelector) == 0",
     "message": "spec.dataNodes.nodeSelector conflicts with spec.gke.autopilot=true", "fieldPath": ".dataNodes.nodeSelector"},
    {"rule": "!(has(self.eks) && has(self.eks.enabled) && self.eks.enabled && has(self.gke) && ((has(self.gke.autopilot) && self.gke.autopilot) || (has(self.gke.spot) && has(self.gke.spot.dataNodes) && self.gke.spot.dataNodes)))",
     "message": "spec.gke and spec.eks cannot both be enabled"},
    {"rule": "!(has(self.gke) && has(self.gke.autopilot) && self.gke.autopilot && has(self.gke.spot) && has(self.gke.spot.dataNodes) && self.gke.spot.dataNodes)",
     "message": "spec.gke.spot.dataNodes is not supported with spec.gke.autopilot=true; use spec.gke.autopilotComputeClass", "fieldPath": ".gke.spot.dataNodes"},
    {"rule": "!has(self.schedulingProvider) || !((has(self.eks) && has(self.eks.enabled) && self.eks.enabled) || (has(self.gke) && ((has(self.gke.autopilot) && self.gke.autopilot) || (has(self.gke.spot) && has(self.gke.spot.dataNodes) && self.gke.spot.dataNodes))))",
     "message": "spec.schedulingProvider cannot be combined with spec.gke or spec.eks", "fieldPath": ".schedulingProvider"}
]))]
pub struct AntflyClusterSpec {
    /// Container image of the Antfly server.
    #[serde(default = "default_image")]
    pub image: String,
    /// Image pull policy (Always, IfNotPresent or Never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Always", "IfNotPresent", "Never"]))]
    pub image_pull_policy: Option<String>,
    /// Antfly configuration as JSON text; merged with the generated network configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Raft metadata nodes.
    #[serde(default)]
    pub metadata_nodes: MetadataNodesSpec,
    /// Replicated data nodes.
    #[serde(default)]
    pub data_nodes: DataNodesSpec,
    /// Persistent storage for both node types.
    #[serde(default)]
    pub storage: StorageSpec,
    /// External API Service.
    #[serde(default, rename = "publicAPI", skip_serializing_if = "Option::is_none")]
    pub public_api: Option<PublicApiSpec>,
    /// PodDisruptionBudgets for both node types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
    /// Service-mesh sidecar injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_mesh: Option<ServiceMeshSpec>,
    /// Google Kubernetes Engine scheduling (served by the `gke` plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gke: Option<GkeSpec>,
    /// Amazon EKS scheduling (served by the `eks` plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksSpec>,
    /// A third-party scheduling provider plugin and its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_provider: Option<SchedulingProviderSpec>,
    /// DNS domain of the Kubernetes cluster, used in the peers' URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_domain: Option<String>,
    /// How pod restarts roll out: one pod at a time, data before metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
}

/// Rollout settings. Pods restart one at a time under the operator's control; see
/// docs/operations.md.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// How long an updated pod may take to become Ready (and answer its health check) before
    /// the rollout halts with the Rollout condition False and a RolloutHalted event. Default
    /// 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub pod_ready_timeout_seconds: Option<i32>,
}

pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

fn default_image() -> String {
    DEFAULT_IMAGE.to_string()
}

fn default_replicas() -> i32 {
    3
}

/// CPU and memory for one node type. Requests come from `cpu`/`memory`; limits are optional.
/// Every quantity is greater than zero, and a request is at most its limit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.cpu) || (isQuantity(string(self.cpu)) && quantity(string(self.cpu)).isGreaterThan(quantity('0')))",
     "message": "must be a quantity greater than zero", "fieldPath": ".cpu"},
    {"rule": "!has(self.memory) || (isQuantity(string(self.memory)) && quantity(string(self.memory)).isGreaterThan(quantity('0')))",
     "message": "must be a quantity greater than zero", "fieldPath": ".memory"},
    {"rule": "!has(self.cpu) || !has(self.limits) || !has(self.limits.cpu) || !isQuantity(string(self.cpu)) || !isQuantity(string(self.limits.cpu)) || quantity(string(self.cpu)).compareTo(quantity(string(self.limits.cpu))) <= 0",
     "message": "must be less than or equal to the cpu limit", "fieldPath": ".cpu"},
    {"rule": "!has(self.memory) || !has(self.limits) || !has(self.limits.memory) || !isQuantity(string(self.memory)) || !isQuantity(string(self.limits.memory)) || quantity(string(self.memory)).compareTo(quantity(string(self.limits.memory))) <= 0",
     "message": "must be less than or equal to the memory limit", "fieldPath": ".memory"}
]))]
pub struct ResourceSpec {
    #[serde(default, deserialize_with = "quantity_text::option", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_schema")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "quantity_text::option", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_schema")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceLimits>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.cpu) || (isQuantity(string(self.cpu)) && quantity(string(self.cpu)).isGreaterThan(quantity('0')))",
     "message": "must be a quantity greater than zero", "fieldPath": ".cpu"},
    {"rule": "!has(self.memory) || (isQuantity(string(self.memory)) && quantity(string(self.memory)).isGreaterThan(quantity('0')))",
     "message": "must be a quantity greater than zero", "fieldPath": ".memory"}
]))]
pub struct ResourceLimits {
    #[serde(default, deserialize_with = "quantity_text::option", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_schema")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "quantity_text::option", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_schema")]
    pub memory: Option<String>,
}

/// Scheduling fields shared by both node types; standard Kubernetes types.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// No two constraints share topologyKey and whenUnsatisfiable (a list-map on both keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["topologyKey", "whenUnsatisfiable"]
    ))]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
}

/// Raft metadata nodes: a fixed, odd replica count that is never autoscaled.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, !has(t.tolerationSeconds) || (has(t.effect) && t.effect == 'NoExecute'))",
     "message": "a toleration with tolerationSeconds must have effect NoExecute", "fieldPath": ".tolerations"},
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, (has(t.key) && t.key != '') || (has(t.operator) && t.operator == 'Exists'))",
     "message": "a toleration with an empty key must have operator Exists", "fieldPath": ".tolerations"},
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, !has(t.operator) || t.operator != 'Exists' || !has(t.value) || t.value == '')",
     "message": "a toleration with operator Exists takes no value", "fieldPath": ".tolerations"},
    {"rule": "!has(self.topologySpreadConstraints) || self.topologySpreadConstraints.all(c, c.maxSkew > 0 && (!has(c.minDomains) || (c.minDomains > 0 && c.whenUnsatisfiable == 'DoNotSchedule')))",
     "message": "maxSkew must be at least 1, and minDomains (at least 1) needs whenUnsatisfiable DoNotSchedule", "fieldPath": ".topologySpreadConstraints"}
]))]
pub struct MetadataNodesSpec {
    /// Odd, for Raft quorum: 3 or 5 in production, 1 for development.
    #[serde(default = "default_replicas")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self % 2 == 1", "message": "must be odd (3 or 5)"}
    ]), range(min = 1, max = 7))]
    pub replicas: i32,
    #[serde(default)]
    pub resources: ResourceSpec,
    #[serde(flatten)]
    pub scheduling: SchedulingSpec,
}

impl Default for MetadataNodesSpec {
    fn default() -> Self {
        Self { replicas: default_replicas(), resources: ResourceSpec::default(), scheduling: SchedulingSpec::default() }
    }
}

/// Replicated data nodes; may autoscale and may run on Spot capacity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, !has(t.tolerationSeconds) || (has(t.effect) && t.effect == 'NoExecute'))",
     "message": "a toleration with tolerationSeconds must have effect NoExecute", "fieldPath": ".tolerations"},
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, (has(t.key) && t.key != '') || (has(t.operator) && t.operator == 'Exists'))",
     "message": "a toleration with an empty key must have operator Exists", "fieldPath": ".tolerations"},
    {"rule": "!has(self.tolerations) || self.tolerations.all(t, !has(t.operator) || t.operator != 'Exists' || !has(t.value) || t.value == '')",
     "message": "a toleration with operator Exists takes no value", "fieldPath": ".tolerations"},
    {"rule": "!has(self.topologySpreadConstraints) || self.topologySpreadConstraints.all(c, c.maxSkew > 0 && (!has(c.minDomains) || (c.minDomains > 0 && c.whenUnsatisfiable == 'DoNotSchedule')))",
     "message": "maxSkew must be at least 1, and minDomains (at least 1) needs whenUnsatisfiable DoNotSchedule", "fieldPath": ".topologySpreadConstraints"}
]))]
pub struct DataNodesSpec {
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,
    #[serde(default)]
    pub resources: ResourceSpec,
    #[serde(flatten)]
    pub scheduling: SchedulingSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<AutoScalingSpec>,
    /// How long a scale-down may wait for the server to drain a node before it halts (the pod
    /// stays). Default 1800.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604800))]
    pub drain_timeout_seconds: Option<i32>,
}

impl Default for DataNodesSpec {
    fn default() -> Self {
        Self {
            replicas: default_replicas(),
            resources: ResourceSpec::default(),
            scheduling: SchedulingSpec::default(),
            auto_scaling: None,
            drain_timeout_seconds: None,
        }
    }
}

/// Metrics-based autoscaling of data nodes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
     "message": "minReplicas must not exceed maxReplicas", "fieldPath": ".minReplicas"}
]))]
pub struct AutoScalingSpec {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replicas: Option<i32>,
    #[serde(default, rename = "targetCPUUtilizationPercentage", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_utilization_percentage: Option<i32>,
    /// Minimum time between scale-ups, as a duration such as `60s` or `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up_cooldown: Option<String>,
    /// Minimum time between scale-downs, as a duration such as `300s` or `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_cooldown: Option<String>,
}

/// Persistent volumes; one PVC per pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.storageClass) == has(oldSelf.storageClass) && (!has(self.storageClass) || self.storageClass == oldSelf.storageClass)",
     "message": "storageClass is immutable", "fieldPath": ".storageClass"},
    {"rule": "isQuantity(string(self.metadataStorage)) && quantity(string(self.metadataStorage)).isGreaterThan(quantity('0'))",
     "message": "must be a quantity greater than zero", "fieldPath": ".metadataStorage"},
    {"rule": "isQuantity(string(self.dataStorage)) && quantity(string(self.dataStorage)).isGreaterThan(quantity('0'))",
     "message": "must be a quantity greater than zero", "fieldPath": ".dataStorage"},
    {"rule": "!isQuantity(string(self.metadataStorage)) || !isQuantity(string(oldSelf.metadataStorage)) || quantity(string(self.metadataStorage)).compareTo(quantity(string(oldSelf.metadataStorage))) >= 0",
     "message": "metadataStorage cannot shrink: a PersistentVolumeClaim can only grow; keep the old size or raise it", "fieldPath": ".metadataStorage"},
    {"rule": "!isQuantity(string(self.dataStorage)) || !isQuantity(string(oldSelf.dataStorage)) || quantity(string(self.dataStorage)).compareTo(quantity(string(oldSelf.dataStorage))) >= 0",
     "message": "dataStorage cannot shrink: a PersistentVolumeClaim can only grow; keep the old size or raise it", "fieldPath": ".dataStorage"}
]))]
pub struct StorageSpec {
    /// StorageClass of every PVC. Absent (or null) uses the cluster's default class; `""`
    /// means no class (bind pre-provisioned volumes), as in a PVC. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default = "default_metadata_storage", deserialize_with = "quantity_text::deserialize")]
    #[schemars(schema_with = "quantity_schema")]
    pub metadata_storage: String,
    #[serde(default = "default_data_storage", deserialize_with = "quantity_text::deserialize")]
    #[schemars(schema_with = "quantity_schema")]
    pub data_storage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_retention_policy: Option<PvcRetentionPolicy>,
}

fn default_metadata_storage() -> String {
    "1Gi".to_string()
}

fn default_data_storage() -> String {
    "10Gi".to_string()
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            storage_class: None,
            metadata_storage: default_metadata_storage(),
            data_storage: default_data_storage(),
            pvc_retention_policy: None,
        }
    }
}

/// What happens to PVCs when the cluster is deleted or scaled down. Retain by default.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcRetentionPolicy {
    #[serde(default)]
    pub when_deleted: RetentionAction,
    #[serde(default)]
    pub when_scaled: RetentionAction,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RetentionAction {
    #[default]
    Retain,
    Delete,
}

impl RetentionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionAction::Retain => "Retain",
            RetentionAction::Delete => "Delete",
        }
    }
}

/// The `{c}-public-api` Service in front of the metadata nodes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicApiSpec {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_public_service_type")]
    #[schemars(extend("enum" = ["ClusterIP", "NodePort", "LoadBalancer"]))]
    pub service_type: String,
    #[serde(default = "default_public_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
}

fn default_public_service_type() -> String {
    "ClusterIP".to_string()
}

fn default_public_port() -> i32 {
    80
}

/// PodDisruptionBudget settings applied to both node types.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Pods of one node type that may be down at once; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_unavailable: Option<i32>,
}

/// Service-mesh sidecar injection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Mesh profile plugin (istio, linkerd, consul or a custom one) that supplies
    /// injection annotations and recognises the mesh's sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Pod annotations; they win over the profile's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Google Kubernetes Engine options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GkeSpec {
    /// Run on GKE Autopilot: nodeSelector is cleared and a compute class is requested.
    #[serde(default)]
    pub autopilot: bool,
    /// Autopilot compute class; defaults to Balanced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot_compute_class: Option<String>,
    /// GKE Standard Spot VMs (data nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotSpec>,
    /// Seed spelling of the PDB switch; `spec.podDisruptionBudget` wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
}

impl GkeSpec {
    pub fn spot_data_nodes(&self) -> bool {
        self.spot.as_ref().is_some_and(|s| s.data_nodes)
    }
    pub fn is_active(&self) -> bool {
        self.autopilot || self.spot_data_nodes()
    }
}

/// Which node types run on Spot capacity. Metadata nodes never do.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpotSpec {
    #[serde(default)]
    pub data_nodes: bool,
}

/// Amazon EKS options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Older spelling of `spot.dataNodes`: puts data nodes (never metadata nodes) on Spot.
    #[serde(default)]
    pub use_spot_instances: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotSpec>,
    /// Preferred EC2 instance types for data nodes on Spot (soft affinity, weight 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["gp2", "gp3", "io1", "io2", "st1", "sc1"]))]
    pub ebs_volume_type: Option<String>,
    /// IAM role for service accounts; annotates the pods' ServiceAccount.
    #[serde(default, rename = "irsaRoleARN", skip_serializing_if = "Option::is_none")]
    pub irsa_role_arn: Option<String>,
}

impl EksSpec {
    pub fn spot_data_nodes(&self) -> bool {
        self.use_spot_instances || self.spot.as_ref().is_some_and(|s| s.data_nodes)
    }
}

/// A third-party scheduling provider: the plugin's name and settings that it validates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingProviderSpec {
    /// Name of an installed scheduling-provider plugin.
    #[schemars(length(min = 1))]
    pub plugin: String,
    /// Opaque settings, passed to the plugin as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub settings: Option<serde_json::Value>,
}

/// Observed state of an Antfly cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntflyClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClusterPhase>,
    #[serde(default)]
    pub metadata_nodes_ready: i32,
    #[serde(default)]
    pub data_nodes_ready: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_mesh_status: Option<ServiceMeshStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_status: Option<AutoScalingStatus>,
    /// Metadata pods running the current spec (the StatefulSet's update revision). Left out
    /// while 0, so that an operator writing to the previous release's CRDs (which lack the
    /// field) is not refused before its pods are counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub metadata_nodes_updated: i32,
    /// Data pods running the current spec; left out while 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_nodes_updated: i32,
    /// The last or current drain-gated scale-down of data nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_scale_down_status: Option<DataScaleDownStatus>,
}

/// What asked for a data-node scale-down.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ScaleSource {
    #[default]
    Manual,
    Autoscaler,
}

/// Where a data-node scale-down stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ScaleDownPhase {
    /// Due, but waiting for the cluster to settle (a rollout, a pod not Ready).
    #[default]
    Waiting,
    /// The server is draining the node of `drainingOrdinal`.
    Draining,
    /// The drain stayed unsafe past the timeout; the pod stays.
    Halted,
    /// The target was raised back during the drain; the pod stays.
    Cancelled,
    /// The StatefulSet runs the target.
    Complete,
}

/// The drain-gated scale-down of data nodes: the operator's whole memory of it, so that a
/// restarted operator resumes a drain.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataScaleDownStatus {
    pub source: ScaleSource,
    /// Replicas when the scale-down began.
    pub from: i32,
    pub target: i32,
    /// Replicas the StatefulSet runs now.
    pub applied: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining_ordinal: Option<i32>,
    /// The Antfly node id of the draining pod (ordinal + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u64>,
    pub phase: ScaleDownPhase,
    #[serde(default)]
    pub message: String,
    /// When the current drain was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_started: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

/// Which way a scale went.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ScaleDirection {
    Up,
    Down,
}

fn is_zero(count: &i32) -> bool {
    *count == 0
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ClusterPhase {
    /// The cluster is being created.
    Pending,
    /// All nodes are ready.
    Running,
    /// Some nodes are not ready.
    Degraded,
    /// A critical error, such as an invalid spec.
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshStatus {
    pub enabled: bool,
    pub sidecar_injection_status: SidecarInjectionStatus,
    pub pods_with_sidecars: i32,
    pub total_pods: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SidecarInjectionStatus {
    Complete,
    Partial,
    None,
    #[default]
    Unknown,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingStatus {
    pub current_replicas: i32,
    /// The autoscaler's recommendation: the data replicas it asks for.
    pub desired_replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_direction: Option<ScaleDirection>,
    /// Average CPU use of the data pods, as a percentage of their request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_utilization_percentage: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_utilization_percentage: Option<i32>,
    /// Why the recommendation is not being followed, or cannot be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
}

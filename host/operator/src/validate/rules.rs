//! The rules of a valid AntflyCluster spec, each reporting the field it concerns.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Toleration, TopologySpreadConstraint};
use serde_json::{Map, Value};

use super::FieldError;
use super::syntax;
use crate::api::{AntflyClusterSpec, AutoScalingSpec, ResourceSpec, SchedulingSpec};

/// `{c}-metadata` plus the StatefulSet's `-{hash}` revision label must fit in 63 characters.
pub const MAX_CLUSTER_NAME_LEN: usize = 40;

struct Errors<'a>(&'a mut Vec<FieldError>);

impl Errors<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { path: path.into(), message: message.into() });
    }

    fn check(&mut self, path: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.push(path, message);
        }
    }
}

/// Check the spec; returns the parsed `spec.config` (empty when absent or invalid).
pub fn check_spec(spec: &AntflyClusterSpec, errors: &mut Vec<FieldError>) -> Map<String, Value> {
    let mut errors = Errors(errors);
    let e = &mut errors;
    if spec.image.trim().is_empty() {
        e.push("spec.image", "must not be empty");
    }
    let config = parse_config(spec.config.as_deref(), e);

    let metadata_replicas = spec.metadata_nodes.replicas;
    if metadata_replicas % 2 == 0 || !(1..=7).contains(&metadata_replicas) {
        e.push(
            "spec.metadataNodes.replicas",
            format!("must be odd (3 or 5; 1 for development), got {metadata_replicas}"),
        );
    }
    if spec.data_nodes.replicas < 1 {
        e.push("spec.dataNodes.replicas", format!("must be at least 1, got {}", spec.data_nodes.replicas));
    }
    check_replication_factor(&config, spec.data_nodes.replicas, e);
    check_resources("spec.metadataNodes.resources", &spec.metadata_nodes.resources, e);
    check_resources("spec.dataNodes.resources", &spec.data_nodes.resources, e);
    check_scheduling("spec.metadataNodes", &spec.metadata_nodes.scheduling, e);
    check_scheduling("spec.dataNodes", &spec.data_nodes.scheduling, e);
    if let Some(auto) = &spec.data_nodes.auto_scaling {
        check_autoscaling(auto, e);
    }

    let storage = &spec.storage;
    if let Some(class) = &storage.storage_class {
        e.check("spec.storage.storageClass", syntax::dns1123_subdomain(class));
    }
    e.check("spec.storage.metadataStorage", syntax::quantity(&storage.metadata_storage));
    e.check("spec.storage.dataStorage", syntax::quantity(&storage.data_storage));

    if let Some(policy) = spec.image_pull_policy.as_deref()
        && !matches!(policy, "Always" | "IfNotPresent" | "Never")
    {
        e.push("spec.imagePullPolicy", format!("must be Always, IfNotPresent or Never, got {policy:?}"));
    }
    if let Some(public) = &spec.public_api {
        if !matches!(public.service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
            e.push(
                "spec.publicAPI.serviceType",
                format!("must be ClusterIP, NodePort or LoadBalancer, got {:?}", public.service_type),
            );
        }
        if !(1..=65535).contains(&public.port) {
            e.push("spec.publicAPI.port", format!("must be between 1 and 65535, got {}", public.port));
        }
    }
    let pdbs = [
        ("spec.podDisruptionBudget.maxUnavailable", spec.pod_disruption_budget.as_ref()),
        (
            "spec.gke.podDisruptionBudget.maxUnavailable",
            spec.gke.as_ref().and_then(|g| g.pod_disruption_budget.as_ref()),
        ),
    ];
    for (path, pdb) in pdbs {
        if let Some(max) = pdb.and_then(|p| p.max_unavailable)
            && max < 1
        {
            e.push(path, format!("must be at least 1, got {max}"));
        }
    }
    if let Some(domain) = &spec.cluster_domain {
        e.check("spec.clusterDomain", syntax::dns1123_subdomain(domain));
    }
    check_mesh(spec, e);
    check_cloud(spec, e);
    config
}

fn parse_config(text: Option<&str>, e: &mut Errors) -> Map<String, Value> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Map::new();
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            e.push("spec.config", format!("must be a JSON object, got {kind}"));
            Map::new()
        }
        Err(err) => {
            e.push("spec.config", format!("must be valid JSON: {err}"));
            Map::new()
        }
    }
}

fn check_replication_factor(config: &Map<String, Value>, data_replicas: i32, e: &mut Errors) {
    let Some(value) = config.get("replication_factor") else { return };
    match value.as_i64() {
        Some(factor) if factor < 1 => {
            e.push("spec.config.replication_factor", format!("must be at least 1, got {factor}"))
        }
        Some(factor) if factor > i64::from(data_replicas) => e.push(
            "spec.config.replication_factor",
            format!("must not exceed spec.dataNodes.replicas ({data_replicas}), got {factor}"),
        ),
        Some(_) => {}
        None => e.push("spec.config.replication_factor", format!("must be an integer, got {value}")),
    }
}

fn check_resources(path: &str, resources: &ResourceSpec, e: &mut Errors) {
    let limits = resources.limits.as_ref();
    let fields = [
        ("cpu", resources.cpu.as_deref()),
        ("memory", resources.memory.as_deref()),
        ("limits.cpu", limits.and_then(|l| l.cpu.as_deref())),
        ("limits.memory", limits.and_then(|l| l.memory.as_deref())),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            e.check(format!("{path}.{field}"), syntax::quantity(value));
        }
    }
}

fn check_scheduling(path: &str, scheduling: &SchedulingSpec, e: &mut Errors) {
    check_labels(&format!("{path}.nodeSelector"), &scheduling.node_selector, e);
    for (i, toleration) in scheduling.tolerations.iter().enumerate() {
        check_toleration(&format!("{path}.tolerations[{i}]"), toleration, e);
    }
    for (i, constraint) in scheduling.topology_spread_constraints.iter().enumerate() {
        check_spread(&format!("{path}.topologySpreadConstraints[{i}]"), constraint, e);
    }
}

fn check_labels(path: &str, labels: &BTreeMap<String, String>, e: &mut Errors) {
    for (key, value) in labels {
        e.check(format!("{path}[{key}]"), syntax::qualified_name(key));
        e.check(format!("{path}[{key}]"), syntax::label_value(value));
    }
}

fn check_toleration(path: &str, toleration: &Toleration, e: &mut Errors) {
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    match operator {
        "Exists" => {
            if toleration.value.as_deref().is_some_and(|v| !v.is_empty()) {
                e.push(format!("{path}.value"), "must be empty when operator is Exists");
            }
        }
        "Equal" => {
            if toleration.key.as_deref().unwrap_or("").is_empty() {
                e.push(format!("{path}.key"), "must be set when operator is Equal");
            }
        }
        other => e.push(format!("{path}.operator"), format!("must be Exists or Equal, got {other:?}")),
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty()) {
        e.check(format!("{path}.key"), syntax::qualified_name(key));
    }
    if let Some(effect) = toleration.effect.as_deref()
        && !matches!(effect, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute")
    {
        e.push(format!("{path}.effect"), format!("must be NoSchedule, PreferNoSchedule or NoExecute, got {effect:?}"));
    }
}

fn check_spread(path: &str, constraint: &TopologySpreadConstraint, e: &mut Errors) {
    if constraint.max_skew < 1 {
        e.push(format!("{path}.maxSkew"), format!("must be at least 1, got {}", constraint.max_skew));
    }
    if constraint.topology_key.is_empty() {
        e.push(format!("{path}.topologyKey"), "must not be empty");
    }
    if !matches!(constraint.when_unsatisfiable.as_str(), "DoNotSchedule" | "ScheduleAnyway") {
        e.push(
            format!("{path}.whenUnsatisfiable"),
            format!("must be DoNotSchedule or ScheduleAnyway, got {:?}", constraint.when_unsatisfiable),
        );
    }
}

fn check_autoscaling(auto: &AutoScalingSpec, e: &mut Errors) {
    let path = "spec.dataNodes.autoScaling";
    if auto.enabled {
        if auto.max_replicas.is_none() {
            e.push(format!("{path}.maxReplicas"), "must be set when autoscaling is enabled");
        }
        if auto.target_cpu_utilization_percentage.is_none() && auto.target_memory_utilization_percentage.is_none() {
            e.push(
                format!("{path}.targetCPUUtilizationPercentage"),
                "a CPU or memory target must be set when autoscaling is enabled",
            );
        }
    }
    for (field, value) in [("minReplicas", auto.min_replicas), ("maxReplicas", auto.max_replicas)] {
        if let Some(v) = value.filter(|v| *v < 1) {
            e.push(format!("{path}.{field}"), format!("must be at least 1, got {v}"));
        }
    }
    if let (Some(min), Some(max)) = (auto.min_replicas, auto.max_replicas)
        && min > max
    {
        e.push(format!("{path}.minReplicas"), format!("must not exceed maxReplicas ({max}), got {min}"));
    }
    let targets = [
        ("targetCPUUtilizationPercentage", auto.target_cpu_utilization_percentage),
        ("targetMemoryUtilizationPercentage", auto.target_memory_utilization_percentage),
    ];
    for (field, value) in targets {
        if let Some(v) = value.filter(|v| !(1..=100).contains(v)) {
            e.push(format!("{path}.{field}"), format!("must be between 1 and 100, got {v}"));
        }
    }
    for (field, value) in
        [("scaleUpCooldown", &auto.scale_up_cooldown), ("scaleDownCooldown", &auto.scale_down_cooldown)]
    {
        if let Some(value) = value {
            e.check(format!("{path}.{field}"), syntax::duration_seconds(value).map(drop));
        }
    }
}

fn check_mesh(spec: &AntflyClusterSpec, e: &mut Errors) {
    let Some(mesh) = &spec.service_mesh else { return };
    for key in mesh.annotations.keys() {
        e.check(format!("spec.serviceMesh.annotations[{key}]"), syntax::qualified_name(key));
    }
    if let Some(profile) = &mesh.profile {
        e.check("spec.serviceMesh.profile", syntax::dns1123_label(profile, 63));
    }
}

fn check_cloud(spec: &AntflyClusterSpec, e: &mut Errors) {
    let gke = spec.gke.as_ref();
    let eks = spec.eks.as_ref();
    if let Some(gke) = gke.filter(|g| g.autopilot) {
        for (path, role) in
            [("spec.metadataNodes", &spec.metadata_nodes.scheduling), ("spec.dataNodes", &spec.data_nodes.scheduling)]
        {
            if !role.node_selector.is_empty() {
                e.push(
                    format!("{path}.nodeSelector"),
                    format!("{path}.nodeSelector conflicts with spec.gke.autopilot=true"),
                );
            }
        }
        if gke.spot_data_nodes() {
            e.push(
                "spec.gke.spot.dataNodes",
                "not supported with spec.gke.autopilot=true; use spec.gke.autopilotComputeClass",
            );
        }
    }
    let gke_active = gke.is_some_and(|g| g.is_active());
    let eks_enabled = eks.is_some_and(|e| e.enabled);
    if gke_active && eks_enabled {
        e.push("spec.eks.enabled", "spec.gke and spec.eks cannot both be enabled");
    }
    if eks.is_some_and(|eks| !eks.enabled && eks.spot_data_nodes()) {
        e.push("spec.eks.spot.dataNodes", "requires spec.eks.enabled=true");
    }
    if let Some(provider) = &spec.scheduling_provider {
        e.check("spec.schedulingProvider.plugin", syntax::dns1123_label(&provider.plugin, 63));
        if gke_active || eks_enabled {
            e.push("spec.schedulingProvider", "cannot be combined with spec.gke or spec.eks");
        }
        if provider.settings.as_ref().is_some_and(|s| !s.is_object()) {
            e.push("spec.schedulingProvider.settings", "must be an object");
        }
    }
}

//! The rules of a valid AntflyCluster spec, each reporting the field it concerns.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::FieldError;
use super::scheduling::{self, Errors, MAX_SCHEDULING_ITEMS};
use super::syntax;
use crate::api::{AntflyClusterSpec, AutoScalingSpec, ResourceSpec, SchedulingSpec};

pub use crate::api::MAX_CLUSTER_NAME_LEN;
/// Kubernetes' limit on the total size of one object's annotations.
pub const MAX_ANNOTATIONS_BYTES: usize = 256 << 10;
/// Size of the `antfly.io/config-hash` annotation the operator adds to the pod template.
const CONFIG_HASH_ANNOTATION_BYTES: usize = "antfly.io/config-hash".len() + 64;

/// Size of annotations as the API server counts it: keys plus values.
pub fn annotations_size(annotations: &BTreeMap<String, String>) -> usize {
    annotations.iter().fold(0usize, |sum, (k, v)| sum.saturating_add(k.len()).saturating_add(v.len()))
}

/// The names that derive from the cluster's name and namespace: Services (DNS-1035), pod
/// names and revision labels (63), and the pods' DNS names (253).
pub fn check_names(name: &str, namespace: &str, spec: &AntflyClusterSpec, errors: &mut Vec<FieldError>) {
    let mut errors = Errors(errors);
    let e = &mut errors;
    let name_ok = syntax::dns1035_label(name, MAX_CLUSTER_NAME_LEN);
    let name_valid = name_ok.is_ok();
    e.check(
        "metadata.name",
        name_ok.map_err(|m| {
            if m.starts_with("must be at most") {
                format!("{m}, so that pod names and the StatefulSets' controller-revision-hash labels fit in 63")
            } else {
                m
            }
        }),
    );
    let namespace_ok = syntax::dns1123_label(namespace, 63);
    let namespace_valid = namespace_ok.is_ok();
    e.check("metadata.namespace", namespace_ok);
    if let Some(domain) = &spec.cluster_domain {
        e.check("spec.clusterDomain", syntax::dns1123_subdomain(domain));
    }
    if name_valid && namespace_valid {
        let domain = spec.cluster_domain.as_deref().unwrap_or(crate::api::DEFAULT_CLUSTER_DOMAIN);
        let last = spec.metadata_nodes.replicas.saturating_sub(1).max(0);
        let host = format!("{name}-metadata-{last}.{name}-metadata.{namespace}.svc.{domain}");
        if host.len() > 253 {
            e.push(
                "spec.clusterDomain",
                format!("makes the pods' DNS names {} characters long, more than 253 ({host})", host.len()),
            );
        }
    }
}

/// Check the spec; returns the parsed `spec.config` (empty when absent or invalid).
pub fn check_spec(spec: &AntflyClusterSpec, errors: &mut Vec<FieldError>) -> Map<String, Value> {
    let mut errors = Errors(errors);
    let e = &mut errors;
    e.check("spec.image", syntax::image_reference(&spec.image));
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
    check_autoscaling_floor(&config, spec.data_nodes.auto_scaling.as_ref(), e);
    check_resources("spec.metadataNodes.resources", &spec.metadata_nodes.resources, e);
    check_resources("spec.dataNodes.resources", &spec.data_nodes.resources, e);
    check_scheduling("spec.metadataNodes", &spec.metadata_nodes.scheduling, e);
    check_scheduling("spec.dataNodes", &spec.data_nodes.scheduling, e);
    if let Some(auto) = &spec.data_nodes.auto_scaling {
        check_autoscaling(auto, e);
    }

    let storage = &spec.storage;
    // An empty class is Kubernetes' "no class": bind pre-provisioned volumes, no provisioning.
    if let Some(class) = storage.storage_class.as_deref().filter(|c| !c.is_empty()) {
        e.check("spec.storage.storageClass", syntax::dns1123_subdomain(class));
    }
    e.check("spec.storage.metadataStorage", syntax::positive_quantity(&storage.metadata_storage).map(drop));
    e.check("spec.storage.dataStorage", syntax::positive_quantity(&storage.data_storage).map(drop));

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

/// The replication factor when `spec.config` sets none. It does not follow the data replica
/// count: scaling data nodes must not rewrite `config.json`, so fewer data nodes than the
/// factor is refused instead.
pub const DEFAULT_REPLICATION_FACTOR: i64 = 3;

fn check_replication_factor(config: &Map<String, Value>, data_replicas: i32, e: &mut Errors) {
    let Some(value) = config.get("replication_factor") else {
        if data_replicas >= 1 && i64::from(data_replicas) < DEFAULT_REPLICATION_FACTOR {
            e.push(
                "spec.dataNodes.replicas",
                format!(
                    "{data_replicas} is below the replication factor {DEFAULT_REPLICATION_FACTOR} (the default); run at \
                     least {DEFAULT_REPLICATION_FACTOR} data nodes, or set \"replication_factor\": {data_replicas} in \
                     spec.config"
                ),
            );
        }
        return;
    };
    match value.as_i64() {
        Some(factor) if factor < 1 => {
            e.push("spec.config.replication_factor", format!("must be at least 1, got {factor}"))
        }
        Some(factor) if factor > i64::from(data_replicas) => e.push(
            "spec.dataNodes.replicas",
            format!(
                "{data_replicas} is below the replication factor {factor} set in spec.config: every shard needs \
                 {factor} data nodes, so fewer are refused"
            ),
        ),
        Some(_) => {}
        None => e.push("spec.config.replication_factor", format!("must be an integer, got {value}")),
    }
}

/// The autoscaler never goes below `minReplicas`, which must keep every shard's replicas.
fn check_autoscaling_floor(config: &Map<String, Value>, auto: Option<&AutoScalingSpec>, e: &mut Errors) {
    let Some(min) = auto.filter(|a| a.enabled).and_then(|a| a.min_replicas) else { return };
    let factor = config.get("replication_factor").and_then(Value::as_i64).unwrap_or(DEFAULT_REPLICATION_FACTOR);
    if i64::from(min) < factor {
        e.push(
            "spec.dataNodes.autoScaling.minReplicas",
            format!("{min} is below the replication factor {factor}: a scale-down there would leave shards short of replicas"),
        );
    }
}

fn check_resources(path: &str, resources: &ResourceSpec, e: &mut Errors) {
    let limits = resources.limits.as_ref();
    let pairs = [
        ("cpu", resources.cpu.as_deref(), limits.and_then(|l| l.cpu.as_deref())),
        ("memory", resources.memory.as_deref(), limits.and_then(|l| l.memory.as_deref())),
    ];
    for (name, request, limit) in pairs {
        let request_value = request.and_then(|value| check_amount(e, format!("{path}.{name}"), value));
        let limit_value = limit.and_then(|value| check_amount(e, format!("{path}.limits.{name}"), value));
        if let (Some(request_amount), Some(limit_amount)) = (request_value, limit_value)
            && request_amount > limit_amount
        {
            e.push(
                format!("{path}.{name}"),
                format!(
                    "must be less than or equal to the {name} limit ({}), got {}",
                    limit.unwrap_or_default(),
                    request.unwrap_or_default()
                ),
            );
        }
    }
}

fn check_amount(e: &mut Errors, path: String, value: &str) -> Option<f64> {
    match syntax::positive_quantity(value) {
        Ok(amount) => Some(amount),
        Err(message) => {
            e.push(path, message);
            None
        }
    }
}

fn check_scheduling(path: &str, scheduling: &SchedulingSpec, e: &mut Errors) {
    check_labels(&format!("{path}.nodeSelector"), &scheduling.node_selector, e);
    let lists = [
        ("tolerations", scheduling.tolerations.len()),
        ("topologySpreadConstraints", scheduling.topology_spread_constraints.len()),
        ("nodeSelector", scheduling.node_selector.len()),
    ];
    for (field, count) in lists {
        if count > MAX_SCHEDULING_ITEMS {
            e.push(format!("{path}.{field}"), format!("must have at most {MAX_SCHEDULING_ITEMS} entries, got {count}"));
        }
    }
    for (i, toleration) in scheduling.tolerations.iter().enumerate() {
        scheduling::check_toleration(&format!("{path}.tolerations[{i}]"), toleration, e);
    }
    scheduling::check_spreads(&format!("{path}.topologySpreadConstraints"), &scheduling.topology_spread_constraints, e);
    if let Some(affinity) = &scheduling.affinity {
        scheduling::check_affinity(&format!("{path}.affinity"), affinity, e);
    }
}

pub fn check_labels(path: &str, labels: &BTreeMap<String, String>, e: &mut Errors) {
    for (key, value) in labels {
        e.check(format!("{path}[{key}]"), syntax::qualified_name(key));
        e.check(format!("{path}[{key}]"), syntax::label_value(value));
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
    let size = annotations_size(&mesh.annotations);
    let room = MAX_ANNOTATIONS_BYTES - CONFIG_HASH_ANNOTATION_BYTES;
    if size > room {
        e.push(
            "spec.serviceMesh.annotations",
            format!("total {size} bytes; the pods' annotations may total {MAX_ANNOTATIONS_BYTES} (keys and values), {room} after the operator's own"),
        );
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

//! Domain → WIT: the views plugins receive, built from a validated cluster or a Pod.

use antfly_plugin_host::wit;
use k8s_openapi::api::core::v1::{Pod, Toleration};

use crate::api::SchedulingSpec;
use crate::base::Role;
use crate::base::names;
use crate::base::ports::{HEALTH, role_ports};
use crate::validate::ValidatedCluster;

pub(crate) fn wit_role(role: Role) -> wit::Role {
    match role {
        Role::Metadata => wit::Role::Metadata,
        Role::Data => wit::Role::Data,
    }
}

pub(crate) fn domain_role(role: wit::Role) -> Role {
    match role {
        wit::Role::Metadata => Role::Metadata,
        wit::Role::Data => Role::Data,
    }
}

/// The cluster as a plugin sees it, with `settings` as the plugin's JSON settings.
pub(crate) fn cluster_view(cluster: &ValidatedCluster, settings: &serde_json::Value) -> wit::ClusterView {
    let spec = cluster.spec();
    let settings = match settings {
        serde_json::Value::Null => "{}".to_string(),
        // Serialising a `Value` cannot fail: its keys are strings.
        other => serde_json::to_string(other).unwrap_or_else(|_| "{}".to_string()),
    };
    wit::ClusterView {
        name: cluster.name().to_string(),
        namespace: cluster.namespace().to_string(),
        settings,
        roles: vec![
            role_view(Role::Metadata, spec.metadata_nodes.replicas, &spec.metadata_nodes.scheduling),
            role_view(Role::Data, spec.data_nodes.replicas, &spec.data_nodes.scheduling),
        ],
    }
}

fn role_view(role: Role, replicas: i32, scheduling: &SchedulingSpec) -> wit::RoleView {
    wit::RoleView {
        role: wit_role(role),
        replicas: u32::try_from(replicas).unwrap_or(0),
        scheduling: wit::RoleScheduling {
            node_selector: scheduling.node_selector.iter().map(|(k, v)| kv(k, v)).collect(),
            tolerations: scheduling.tolerations.iter().map(wit_toleration).collect(),
            has_affinity: scheduling.affinity.is_some(),
            has_topology_spread: !scheduling.topology_spread_constraints.is_empty(),
        },
    }
}

fn wit_toleration(toleration: &Toleration) -> wit::Toleration {
    wit::Toleration {
        key: toleration.key.clone().unwrap_or_default(),
        // Kubernetes defaults an absent operator to Equal.
        operator: toleration.operator.clone().unwrap_or_else(|| "Equal".to_string()),
        value: toleration.value.clone().unwrap_or_default(),
        effect: toleration.effect.clone().unwrap_or_default(),
        toleration_seconds: toleration.toleration_seconds,
    }
}

/// The cluster with its Services and ports, as a mesh profile sees it.
pub(crate) fn mesh_view(cluster: &ValidatedCluster) -> wit::MeshClusterView {
    let mut services: Vec<wit::ServiceView> = Role::ALL
        .into_iter()
        .map(|role| {
            let (api, raft) = role_ports(role);
            wit::ServiceView {
                name: names::role(cluster.name(), role),
                role: Some(wit_role(role)),
                ports: vec![
                    port("api", api, wit::PortKind::Api),
                    port("raft", raft, wit::PortKind::Raft),
                    port("health", HEALTH, wit::PortKind::Health),
                ],
            }
        })
        .collect();
    if let Some(public) = cluster.public_api() {
        services.push(wit::ServiceView {
            name: names::public_api(cluster.name()),
            role: None,
            ports: vec![port("api", public.port, wit::PortKind::PublicApi)],
        });
    }
    wit::MeshClusterView { cluster: cluster_view(cluster, &serde_json::Value::Null), services }
}

fn port(name: &str, number: i32, kind: wit::PortKind) -> wit::ServicePort {
    // Port numbers come from constants and the CRD's 1..=65535 range.
    wit::ServicePort { name: name.to_string(), port: u16::try_from(number).unwrap_or(0), kind }
}

/// A Pod as a mesh profile sees it, for sidecar detection.
pub(crate) fn pod_view(pod: &Pod) -> wit::PodView {
    let spec = pod.spec.as_ref();
    wit::PodView {
        name: pod.metadata.name.clone().unwrap_or_default(),
        annotations: pod.metadata.annotations.iter().flatten().map(|(k, v)| kv(k, v)).collect(),
        containers: spec
            .map(|s| s.containers.iter())
            .into_iter()
            .flatten()
            .map(|c| wit::ContainerView { name: c.name.clone(), image: c.image.clone().unwrap_or_default() })
            .collect(),
        init_containers: spec
            .and_then(|s| s.init_containers.as_ref())
            .into_iter()
            .flatten()
            .map(|c| wit::InitContainerView {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                restart_policy: c.restart_policy.clone(),
            })
            .collect(),
    }
}

fn kv(key: &str, value: &str) -> wit::Kv {
    wit::Kv { key: key.to_string(), value: value.to_string() }
}

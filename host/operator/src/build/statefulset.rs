//! StatefulSets `{c}-metadata` and `{c}-data`: ports, probes, command, storage and scheduling.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_DIR, CONFIG_KEY, CONFIG_PATH, DATA_DIR, raft_peers};
use super::meta::{object_meta, role_labels};
use crate::api::{PvcRetentionPolicy, ResourceSpec};
use crate::base::Role;
use crate::base::labels::selector_labels;
use crate::base::ports::{HEALTH, role_ports};
use crate::base::{CONFIG_HASH_ANNOTATION, CONTAINER_NAME, names};
use crate::compose::Contributions;
use crate::compose::merge::{apply_scheduling, pod_annotations};
use crate::validate::ValidatedCluster;

const CONFIG_VOLUME: &str = "config";

fn http_probe(path: &str, initial_delay: Option<i32>, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::Int(HEALTH),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: initial_delay,
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// Startup, liveness and readiness probes from the architecture seed.
pub fn probes() -> (Probe, Probe, Probe) {
    (http_probe("/healthz", Some(30), 10, 30), http_probe("/healthz", None, 15, 3), http_probe("/readyz", None, 5, 5))
}

fn resource_requirements(resources: &ResourceSpec) -> Option<ResourceRequirements> {
    let pair = |cpu: Option<&String>, memory: Option<&String>| {
        let map: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", memory)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), Quantity(v.clone()))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let requests = pair(resources.cpu.as_ref(), resources.memory.as_ref());
    let limits = resources.limits.as_ref().and_then(|l| pair(l.cpu.as_ref(), l.memory.as_ref()));
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

fn env_from_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.to_string(), ..ObjectFieldSelector::default() }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The server command. The node id is the pod's ordinal plus one, known only at run time, so a
/// small shell prologue derives it from the pod name before `exec`-ing the server.
pub fn server_command(cluster: &ValidatedCluster, role: Role) -> Vec<String> {
    let (api, raft) = role_ports(role);
    let server = match role {
        Role::Metadata => {
            let peers = serde_json::Value::Object(raft_peers(cluster)).to_string();
            format!(
                "exec /antfly metadata --id \"$ID\" --config {CONFIG_PATH} --api-host 0.0.0.0 --api-port {api} \
                 --raft-host 0.0.0.0 --raft-port {raft} --health-port {HEALTH} --cluster '{peers}'"
            )
        }
        Role::Data => format!(
            "exec /antfly data --node-id \"$ID\" --store-id \"$ID\" --config {CONFIG_PATH} --api-host \"$POD_IP\" \
             --api-port {api} --raft-host \"$POD_IP\" --raft-port {raft} --health-port {HEALTH}"
        ),
    };
    vec!["/bin/sh".into(), "-c".into(), format!("ID=$(( ${{POD_NAME##*-}} + 1 )); {server}")]
}

fn container(cluster: &ValidatedCluster, role: Role) -> Container {
    let (api, raft) = role_ports(role);
    let (startup, liveness, readiness) = probes();
    let mut env = vec![env_from_field("POD_NAME", "metadata.name")];
    if role == Role::Data {
        env.push(env_from_field("POD_IP", "status.podIP"));
    }
    let port = |name: &str, number: i32| ContainerPort {
        name: Some(name.to_string()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    };
    let resources = match role {
        Role::Metadata => &cluster.spec().metadata_nodes.resources,
        Role::Data => &cluster.spec().data_nodes.resources,
    };
    Container {
        name: CONTAINER_NAME.into(),
        image: Some(cluster.spec().image.clone()),
        image_pull_policy: cluster.spec().image_pull_policy.clone(),
        command: Some(server_command(cluster, role)),
        env: Some(env),
        ports: Some(vec![port("api", api), port("raft", raft), port("health", HEALTH)]),
        startup_probe: Some(startup),
        liveness_probe: Some(liveness),
        readiness_probe: Some(readiness),
        resources: resource_requirements(resources),
        volume_mounts: Some(vec![
            VolumeMount {
                name: CONFIG_VOLUME.into(),
                mount_path: CONFIG_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount { name: names::DATA_VOLUME.into(), mount_path: DATA_DIR.into(), ..VolumeMount::default() },
        ]),
        ..Container::default()
    }
}

fn volume_claim_template(cluster: &ValidatedCluster, role: Role) -> PersistentVolumeClaim {
    let storage = &cluster.spec().storage;
    let size = match role {
        Role::Metadata => &storage.metadata_storage,
        Role::Data => &storage.data_storage,
    };
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::DATA_VOLUME.into()),
            labels: Some(role_labels(cluster, role)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.clone()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

fn retention_policy(policy: Option<&PvcRetentionPolicy>) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    let policy = policy.cloned().unwrap_or_default();
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(policy.when_deleted.as_str().into()),
        when_scaled: Some(policy.when_scaled.as_str().into()),
    }
}

/// One role's StatefulSet, with the plugins' contributions composed in.
pub fn build_statefulset(
    cluster: &ValidatedCluster,
    role: Role,
    contributions: &Contributions,
    config_hash: &str,
    service_account: Option<&str>,
) -> StatefulSet {
    let spec = cluster.spec();
    let (replicas, user_scheduling) = match role {
        Role::Metadata => (spec.metadata_nodes.replicas, &spec.metadata_nodes.scheduling),
        Role::Data => (spec.data_nodes.replicas, &spec.data_nodes.scheduling),
    };
    let role_contributions = contributions.for_role(role);
    let mut pod = PodSpec {
        containers: vec![container(cluster, role)],
        volumes: Some(vec![Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names::config_map(cluster.name()),
                items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                    key: CONFIG_KEY.into(),
                    path: CONFIG_KEY.into(),
                    ..Default::default()
                }]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        service_account_name: service_account.map(str::to_string),
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    };
    apply_scheduling(&mut pod, cluster, role, user_scheduling, &role_contributions.scheduling);
    contributions.destinations.apply_to(&mut pod, CONTAINER_NAME);

    let mut annotations = pod_annotations(cluster, role_contributions);
    annotations.insert(CONFIG_HASH_ANNOTATION.to_string(), config_hash.to_string());

    let name = names::role(cluster.name(), role);
    StatefulSet {
        metadata: object_meta(cluster, name.clone(), role_labels(cluster, role)),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(name),
            // Raft peers must start together to form a quorum; ordered start would deadlock.
            pod_management_policy: Some("Parallel".into()),
            // Template changes restart no pod by themselves: the operator restarts them one at
            // a time, in its order and under its guards (crate::rollout).
            update_strategy: Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None }),
            selector: LabelSelector {
                match_labels: Some(selector_labels(cluster.name(), role)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(role_labels(cluster, role)),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: Some(vec![volume_claim_template(cluster, role)]),
            persistent_volume_claim_retention_policy: Some(retention_policy(
                spec.storage.pvc_retention_policy.as_ref(),
            )),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

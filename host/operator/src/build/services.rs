//! Services: the headless `{c}-metadata` and `{c}-data`, and the optional `{c}-public-api`.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{cluster_labels, object_meta, role_labels};
use crate::base::Role;
use crate::base::labels::selector_labels;
use crate::base::names;
use crate::base::ports::{HEALTH, role_ports};
use crate::validate::ValidatedCluster;

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port,
        target_port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// Headless Service giving each pod a stable DNS name; not-ready pods are published so that
/// Raft peers can find each other before they are ready.
pub fn build_headless_service(cluster: &ValidatedCluster, role: Role) -> Service {
    let (api, raft) = role_ports(role);
    Service {
        metadata: object_meta(cluster, names::role(cluster.name(), role), role_labels(cluster, role)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(cluster.name(), role)),
            ports: Some(vec![port("api", api), port("raft", raft), port("health", HEALTH)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client-facing Service in front of the metadata nodes' API, when enabled.
pub fn build_public_api_service(cluster: &ValidatedCluster) -> Option<Service> {
    let public = cluster.public_api()?;
    let (api, _) = role_ports(Role::Metadata);
    Some(Service {
        metadata: object_meta(cluster, names::public_api(cluster.name()), cluster_labels(cluster)),
        spec: Some(ServiceSpec {
            type_: Some(public.service_type.clone()),
            selector: Some(selector_labels(cluster.name(), Role::Metadata)),
            ports: Some(vec![ServicePort {
                name: Some("api".into()),
                port: public.port,
                target_port: Some(IntOrString::Int(api)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

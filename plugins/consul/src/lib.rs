//! First-party `consul` mesh profile: asks Consul to inject Connect, declares the
//! cluster's API Services as upstreams, keeps Raft traffic out of the transparent proxy,
//! and recognises Consul's dataplane and Envoy sidecars.

#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "mesh-profile",
        path: "../../wit",
    });

    use super::Consul;
    export!(Consul);
}

use bindings::antfly::operator::types::{Kv, MeshClusterView, PluginError, PodView, PortKind, Role};
use bindings::exports::antfly::operator::mesh::Guest;

/// Sidecar names of consul-k8s: the dataplane (1.x) and the Envoy sidecar of older
/// releases.
const SIDECARS: [&str; 3] = ["consul-dataplane", "envoy-sidecar", "consul-connect-envoy-sidecar"];

struct Consul;

impl Guest for Consul {
    fn pod_annotations(view: MeshClusterView, _role: Role) -> Result<Vec<Kv>, PluginError> {
        let mut annotations = vec![kv("consul.hashicorp.com/connect-inject", "true")];
        // `{service}:{api port}` for each role's Service, metadata first.
        let upstreams: Vec<String> = view
            .services
            .iter()
            .filter(|s| s.role.is_some())
            .filter_map(|s| {
                let api = s.ports.iter().find(|p| p.kind == PortKind::Api)?;
                Some(format!("{}:{}", s.name, api.port))
            })
            .collect();
        if !upstreams.is_empty() {
            annotations.push(kv("consul.hashicorp.com/connect-service-upstreams", &upstreams.join(",")));
        }
        let raft_ports = ports_of_kind(&view, PortKind::Raft);
        if !raft_ports.is_empty() {
            annotations.push(kv("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports", &raft_ports));
            annotations.push(kv("consul.hashicorp.com/transparent-proxy-exclude-outbound-ports", &raft_ports));
        }
        Ok(annotations)
    }

    fn has_sidecar(pod: PodView) -> bool {
        pod.containers.iter().any(|c| SIDECARS.contains(&c.name.as_str()))
            || pod
                .init_containers
                .iter()
                .any(|c| SIDECARS.contains(&c.name.as_str()) && c.restart_policy.as_deref() == Some("Always"))
    }
}

/// The distinct port numbers of `kind` across the cluster's Services, ascending, joined
/// by commas.
fn ports_of_kind(view: &MeshClusterView, kind: PortKind) -> String {
    let mut ports: Vec<u16> =
        view.services.iter().flat_map(|s| s.ports.iter()).filter(|p| p.kind == kind).map(|p| p.port).collect();
    ports.sort_unstable();
    ports.dedup();
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

fn kv(key: &str, value: &str) -> Kv {
    Kv { key: key.to_string(), value: value.to_string() }
}

//! First-party `istio` mesh profile: asks Istio to inject its sidecar, keeps Raft traffic
//! out of the proxy in both directions, and recognises `istio-proxy` as a container or as
//! a native sidecar.

#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "mesh-profile",
        path: "../../wit",
    });

    use super::Istio;
    export!(Istio);
}

use bindings::antfly::operator::types::{Kv, MeshClusterView, PluginError, PodView, PortKind, Role};
use bindings::exports::antfly::operator::mesh::Guest;

const SIDECAR: &str = "istio-proxy";

struct Istio;

impl Guest for Istio {
    fn pod_annotations(view: MeshClusterView, _role: Role) -> Result<Vec<Kv>, PluginError> {
        let raft_ports = ports_of_kind(&view, PortKind::Raft);
        let mut annotations = vec![kv("sidecar.istio.io/inject", "true")];
        if !raft_ports.is_empty() {
            // Raft is latency-sensitive: keep consensus and replication out of Envoy,
            // for the connections a pod opens and for those it accepts.
            annotations.push(kv("traffic.sidecar.istio.io/excludeOutboundPorts", &raft_ports));
            annotations.push(kv("traffic.sidecar.istio.io/excludeInboundPorts", &raft_ports));
        }
        Ok(annotations)
    }

    fn has_sidecar(pod: PodView) -> bool {
        pod.containers.iter().any(|c| c.name == SIDECAR)
            || pod.init_containers.iter().any(|c| c.name == SIDECAR && c.restart_policy.as_deref() == Some("Always"))
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

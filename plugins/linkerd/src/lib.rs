//! First-party `linkerd` mesh profile: asks Linkerd to inject its proxy, skips the Raft
//! ports in both directions, and recognises `linkerd-proxy` as a container or as a native
//! sidecar.

#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "mesh-profile",
        path: "../../wit",
    });

    use super::Linkerd;
    export!(Linkerd);
}

use bindings::antfly::operator::types::{Kv, MeshClusterView, PluginError, PodView, PortKind, Role};
use bindings::exports::antfly::operator::mesh::Guest;

const SIDECAR: &str = "linkerd-proxy";

struct Linkerd;

impl Guest for Linkerd {
    fn pod_annotations(view: MeshClusterView, _role: Role) -> Result<Vec<Kv>, PluginError> {
        let raft_ports = ports_of_kind(&view, PortKind::Raft);
        let mut annotations = vec![kv("linkerd.io/inject", "enabled")];
        if !raft_ports.is_empty() {
            annotations.push(kv("config.linkerd.io/skip-outbound-ports", &raft_ports));
            annotations.push(kv("config.linkerd.io/skip-inbound-ports", &raft_ports));
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

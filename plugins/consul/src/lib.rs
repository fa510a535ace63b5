//! First-party `consul` mesh profile: asks Consul to inject Connect, declares the
//! cluster's API Services as upstreams, keeps Raft traffic out of the transparent proxy,
//! and recognises Consul's dataplane and Envoy sidecars.

use antfly_plugin_sdk::{Guest, Kv, MeshClusterView, MeshProfile, PluginError, PodView, PortKind, Role, kv};

const PROFILE: MeshProfile = MeshProfile {
    inject: &[("consul.hashicorp.com/connect-inject", "true")],
    exclude_outbound_ports: Some("consul.hashicorp.com/transparent-proxy-exclude-outbound-ports"),
    exclude_inbound_ports: Some("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports"),
    // The dataplane of consul-k8s 1.x, and the Envoy sidecars of older releases.
    sidecars: &["consul-dataplane", "envoy-sidecar", "consul-connect-envoy-sidecar"],
};

struct Consul;

impl Guest for Consul {
    fn pod_annotations(view: MeshClusterView, _role: Role) -> Result<Vec<Kv>, PluginError> {
        let mut annotations = PROFILE.pod_annotations(&view);
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
        Ok(annotations)
    }

    fn has_sidecar(pod: PodView) -> bool {
        PROFILE.has_sidecar(&pod)
    }
}

antfly_plugin_sdk::export!(Consul);

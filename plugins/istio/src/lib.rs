//! First-party `istio` mesh profile: asks Istio to inject its sidecar, keeps Raft traffic
//! out of the proxy in both directions, and recognises `istio-proxy` as a container or as
//! a native sidecar.

antfly_plugin_sdk::mesh_profile!(
    Istio,
    antfly_plugin_sdk::MeshProfile {
        inject: &[("sidecar.istio.io/inject", "true")],
        exclude_outbound_ports: Some("traffic.sidecar.istio.io/excludeOutboundPorts"),
        exclude_inbound_ports: Some("traffic.sidecar.istio.io/excludeInboundPorts"),
        sidecars: &["istio-proxy"],
    }
);

//! First-party `linkerd` mesh profile: asks Linkerd to inject its proxy, skips the Raft
//! ports in both directions, and recognises `linkerd-proxy` as a container or as a native
//! sidecar.

antfly_plugin_sdk::mesh_profile!(
    Linkerd,
    antfly_plugin_sdk::MeshProfile {
        inject: &[("linkerd.io/inject", "enabled")],
        exclude_outbound_ports: Some("config.linkerd.io/skip-outbound-ports"),
        exclude_inbound_ports: Some("config.linkerd.io/skip-inbound-ports"),
        sidecars: &["linkerd-proxy"],
    }
);

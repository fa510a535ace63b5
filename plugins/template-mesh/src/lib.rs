//! Template mesh profile: Kuma. `antfly-operator plugins new --world mesh-profile` starts a
//! new profile from this file.
//!
//! Select it with
//!
//! ```yaml
//! spec:
//!   serviceMesh:
//!     enabled: true
//!     profile: NAME   # the name in plugins.json
//! ```
//!
//! A profile that only differs from the others by its annotation keys and sidecar names is one
//! [`MeshProfile`](antfly_plugin_sdk::MeshProfile) declaration. For anything more, implement
//! [`Guest`](antfly_plugin_sdk::Guest) yourself and reuse the profile's methods, as the
//! first-party `consul` profile does.

antfly_plugin_sdk::mesh_profile!(
    Profile,
    antfly_plugin_sdk::MeshProfile {
        // Asks Kuma to inject its data-plane proxy.
        inject: &[("kuma.io/sidecar-injection", "enabled")],
        // Raft is latency-sensitive: keep consensus and replication traffic out of the proxy.
        exclude_outbound_ports: Some("traffic.kuma.io/exclude-outbound-ports"),
        exclude_inbound_ports: Some("traffic.kuma.io/exclude-inbound-ports"),
        // The proxy's container name, as a container or as a native sidecar.
        sidecars: &["kuma-sidecar"],
    }
);

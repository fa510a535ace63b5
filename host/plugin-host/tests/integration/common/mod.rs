//! Helpers shared by the plugin-host integration tests: hosts, plugins and views.

use antfly_plugin_host::wit::{
    ClusterView, Kv, MeshClusterView, PortKind, Role, RoleScheduling, RoleView, ServicePort, ServiceView,
};
use antfly_plugin_host::{HostConfig, Plugin, PluginHost, PluginSource, World};

pub fn host() -> PluginHost {
    PluginHost::new(HostConfig::default()).expect("the default host configuration is valid")
}

/// A first-party plugin, loaded exactly as the operator loads it.
pub fn bundled(host: &PluginHost, name: &str) -> Plugin {
    let bundled = antfly_bundled_plugins::first_party()
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no bundled plugin {name}"));
    host.load(PluginSource {
        name: bundled.name.to_string(),
        world: World::parse(bundled.world).expect("bundled worlds are valid"),
        version: bundled.version.to_string(),
        wasm: antfly_plugin_host::WasmBytes::Static(bundled.wasm),
        sha256: Some(bundled.sha256.to_string()),
    })
    .unwrap_or_else(|e| panic!("failed to load {name}: {e}"))
}

/// A test fixture (hostile, template, future-wit) loaded from its file.
pub fn fixture(host: &PluginHost, name: &str, world: World) -> Plugin {
    host.load(PluginSource {
        name: name.to_string(),
        world,
        version: "0.0.0".to_string(),
        wasm: antfly_plugin_host::WasmBytes::File(antfly_bundled_plugins::fixtures::path(name)),
        sha256: None,
    })
    .unwrap_or_else(|e| panic!("failed to load fixture {name}: {e}"))
}

pub fn kv(key: &str, value: &str) -> Kv {
    Kv { key: key.to_string(), value: value.to_string() }
}

fn role_view(role: Role, replicas: u32, node_selector: Vec<Kv>) -> RoleView {
    RoleView {
        role,
        replicas,
        scheduling: RoleScheduling {
            node_selector,
            tolerations: Vec::new(),
            has_affinity: false,
            has_topology_spread: false,
        },
    }
}

/// A cluster `my-cluster` in `production` with the given settings.
pub fn cluster(settings: &str) -> ClusterView {
    cluster_with_selectors(settings, Vec::new(), Vec::new())
}

pub fn cluster_with_selectors(settings: &str, metadata_selector: Vec<Kv>, data_selector: Vec<Kv>) -> ClusterView {
    ClusterView {
        name: "my-cluster".to_string(),
        namespace: "production".to_string(),
        settings: settings.to_string(),
        roles: vec![role_view(Role::Metadata, 3, metadata_selector), role_view(Role::Data, 5, data_selector)],
    }
}

fn port(name: &str, port: u16, kind: PortKind) -> ServicePort {
    ServicePort { name: name.to_string(), port, kind }
}

/// The mesh view of `cluster`, with the seed's ports.
pub fn mesh_view(cluster_name: &str) -> MeshClusterView {
    let mut cluster = cluster("{}");
    cluster.name = cluster_name.to_string();
    MeshClusterView {
        cluster,
        services: vec![
            ServiceView {
                name: format!("{cluster_name}-metadata"),
                role: Some(Role::Metadata),
                ports: vec![
                    port("api", 12377, PortKind::Api),
                    port("raft", 9017, PortKind::Raft),
                    port("health", 4200, PortKind::Health),
                ],
            },
            ServiceView {
                name: format!("{cluster_name}-data"),
                role: Some(Role::Data),
                ports: vec![
                    port("api", 12380, PortKind::Api),
                    port("raft", 9021, PortKind::Raft),
                    port("health", 4200, PortKind::Health),
                ],
            },
        ],
    }
}

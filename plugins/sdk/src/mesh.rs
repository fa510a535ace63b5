//! The `mesh-profile` world, and [`MeshProfile`]: a profile declared by its annotation keys
//! and sidecar names.

pub use crate::bindings::exports::antfly::operator::mesh::Guest;
use crate::{Kv, MeshClusterView, PodView, PortKind, kv};

/// A mesh profile made of what differs between meshes: the annotations that ask for
/// injection, the annotation keys that keep Raft ports out of the proxy, and the names of
/// the sidecar containers.
#[derive(Clone, Copy, Debug)]
pub struct MeshProfile {
    /// Annotations that ask the mesh to inject its sidecar.
    pub inject: &'static [(&'static str, &'static str)],
    /// Annotation whose value lists the Raft ports the proxy must not intercept outbound.
    pub exclude_outbound_ports: Option<&'static str>,
    /// Annotation whose value lists the Raft ports the proxy must not intercept inbound.
    pub exclude_inbound_ports: Option<&'static str>,
    /// Names of the sidecar container, as a container or as a native sidecar (a restartable
    /// init container).
    pub sidecars: &'static [&'static str],
}

impl MeshProfile {
    /// The injection annotations, then the Raft port exclusions (when the cluster has Raft
    /// ports). Raft is latency-sensitive: consensus and replication stay out of the proxy in
    /// both directions.
    pub fn pod_annotations(&self, view: &MeshClusterView) -> Vec<Kv> {
        let mut annotations: Vec<Kv> = self.inject.iter().map(|(k, v)| kv(k, v)).collect();
        let raft_ports = ports_of_kind(view, PortKind::Raft);
        if !raft_ports.is_empty() {
            for key in [self.exclude_outbound_ports, self.exclude_inbound_ports].into_iter().flatten() {
                annotations.push(kv(key, &raft_ports));
            }
        }
        annotations
    }

    /// Whether `pod` runs one of the sidecars, as a container or as a native sidecar.
    pub fn has_sidecar(&self, pod: &PodView) -> bool {
        let named = |name: &str| self.sidecars.contains(&name);
        pod.containers.iter().any(|c| named(&c.name))
            || pod.init_containers.iter().any(|c| named(&c.name) && c.restart_policy.as_deref() == Some("Always"))
    }
}

/// The distinct port numbers of `kind` across the cluster's Services, ascending, joined by
/// commas.
pub fn ports_of_kind(view: &MeshClusterView, kind: PortKind) -> String {
    let mut ports: Vec<u16> =
        view.services.iter().flat_map(|s| s.ports.iter()).filter(|p| p.kind == kind).map(|p| p.port).collect();
    ports.sort_unstable();
    ports.dedup();
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// Declares, implements and exports a mesh profile that is exactly a [`MeshProfile`]:
///
/// ```ignore
/// antfly_plugin_sdk::mesh_profile!(Linkerd, antfly_plugin_sdk::MeshProfile {
///     inject: &[("linkerd.io/inject", "enabled")],
///     exclude_outbound_ports: Some("config.linkerd.io/skip-outbound-ports"),
///     exclude_inbound_ports: Some("config.linkerd.io/skip-inbound-ports"),
///     sidecars: &["linkerd-proxy"],
/// });
/// ```
#[macro_export]
macro_rules! mesh_profile {
    ($name:ident, $profile:expr $(,)?) => {
        struct $name;

        impl $name {
            const PROFILE: $crate::MeshProfile = $profile;
        }

        impl $crate::Guest for $name {
            fn pod_annotations(
                view: $crate::MeshClusterView,
                _role: $crate::Role,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Kv>, $crate::PluginError> {
                ::core::result::Result::Ok(Self::PROFILE.pod_annotations(&view))
            }

            fn has_sidecar(pod: $crate::PodView) -> bool {
                Self::PROFILE.has_sidecar(&pod)
            }
        }

        $crate::export!($name);
    };
}

//! The operator's shared vocabulary: roles, plugin worlds and requests, object names, labels,
//! annotations and ports. Every layer may import this module; it imports nothing of ours.

pub mod labels;
pub mod live;
pub mod names;
pub mod ports;
pub mod text;

/// Pod-template annotation holding the sha256 of `config.json`; a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "antfly.io/config-hash";
/// Annotation on applied objects: the sha256 of their desired form.
pub const APPLIED_HASH_ANNOTATION: &str = "antfly.io/applied-hash";
/// `"true"` on an AntflyCluster stops every write to it.
pub const PAUSE_ANNOTATION: &str = "antfly.io/reconcile-paused";
/// Finalizer that deletes a cluster's PVCs when `whenDeleted: Delete`.
pub const PVC_FINALIZER: &str = "antfly.io/pvc-cleanup";
/// Name of the Antfly server container in every pod.
pub const CONTAINER_NAME: &str = "antfly";

/// The two kinds of pod the operator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Metadata,
    Data,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Metadata, Role::Data];

    /// The value of the `app.kubernetes.io/component` label and the name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Metadata => "metadata",
            Role::Data => "data",
        }
    }
}

/// Which plugin world a plugin implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginWorld {
    SchedulingProvider,
    MeshProfile,
    BackupDestination,
}

impl PluginWorld {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginWorld::SchedulingProvider => "scheduling-provider",
            PluginWorld::MeshProfile => "mesh-profile",
            PluginWorld::BackupDestination => "backup-destination",
        }
    }
}

/// A plugin the cluster's spec selects, with the settings it will receive.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginRequest {
    pub world: PluginWorld,
    pub plugin: String,
    /// The spec field that selected the plugin, e.g. `spec.eks`.
    pub field: &'static str,
    /// The plugin's settings as a JSON object.
    pub settings: serde_json::Value,
}

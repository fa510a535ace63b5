//! Domain types of what plugins contribute, already validated by the extensions layer.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PreferredSchedulingTerm, Toleration, TopologySpreadConstraint};

use crate::backup::destination::{DestinationPlan, DestinationRequest, Operation};
use crate::base::{PluginWorld, Role};
use crate::validate::ValidatedCluster;

/// What a scheduling-provider plugin adds to one role's pods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchedulingContribution {
    /// Name of the plugin that made it, for errors and status.
    pub plugin: String,
    /// Key-merged into the user's nodeSelector; the provider wins on duplicate keys.
    pub node_selector: BTreeMap<String, String>,
    /// Drop every nodeSelector entry, the user's included (GKE Autopilot).
    pub clear_node_selector: bool,
    /// Appended to the user's tolerations, without duplicates.
    pub tolerations: Vec<Toleration>,
    /// Appended to the user's preferred node-affinity terms.
    pub preferred_node_affinity: Vec<PreferredSchedulingTerm>,
    /// Appended to the user's (or the default) topology spread constraints.
    pub topology_spread: Vec<TopologySpreadConstraint>,
    /// Skip the default soft zone spread (GKE Autopilot manages topology itself).
    pub suppress_default_zone_spread: bool,
    /// Added to the pod template's annotations.
    pub pod_annotations: BTreeMap<String, String>,
    /// Pod `terminationGracePeriodSeconds`, e.g. to fit inside a Spot reclaim notice.
    pub termination_grace_period_seconds: Option<i64>,
    /// Annotations for the pods' ServiceAccount (IRSA, Workload Identity).
    pub service_account_annotations: BTreeMap<String, String>,
}

/// What a mesh-profile plugin adds to one role's pods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeshContribution {
    /// Name of the profile plugin that made it.
    pub profile: String,
    /// Injection annotations; the user's `serviceMesh.annotations` win over them.
    pub pod_annotations: BTreeMap<String, String>,
}

/// Everything plugins contributed to one role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleContributions {
    pub scheduling: Vec<SchedulingContribution>,
    pub mesh: Option<MeshContribution>,
}

/// Everything plugins contributed to one cluster, per role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contributions {
    pub metadata: RoleContributions,
    pub data: RoleContributions,
    /// What the cluster's backup destinations need on every server pod.
    pub destinations: crate::backup::destination::ServerEnvironment,
}

impl Contributions {
    pub fn for_role(&self, role: Role) -> &RoleContributions {
        match role {
            Role::Metadata => &self.metadata,
            Role::Data => &self.data,
        }
    }

    pub fn for_role_mut(&mut self, role: Role) -> &mut RoleContributions {
        match role {
            Role::Metadata => &mut self.metadata,
            Role::Data => &mut self.data,
        }
    }
}

/// Error from resolving a cluster's plugin contributions.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error("{field}: {world} plugin {plugin:?} is not available{hint}", world = .world.as_str())]
    PluginNotAvailable { world: PluginWorld, plugin: String, field: &'static str, hint: String },
    #[error("{field}: plugin {plugin:?} rejected its settings: {message}")]
    SettingsRejected { plugin: String, field: String, message: String },
    /// `transient` when the same call may succeed on a retry (it missed its deadline).
    #[error("plugin {plugin:?} failed: {message}")]
    PluginFailed { plugin: String, message: String, transient: bool },
    #[error("plugin {plugin:?} returned an invalid contribution: {message}")]
    InvalidContribution { plugin: String, message: String },
}

impl ExtensionError {
    /// The error as a problem of the input, when it is one: a missing plugin or settings the
    /// plugin refused. Failures of the plugin itself are not.
    pub fn as_field_error(&self) -> Option<crate::validate::FieldError> {
        use crate::validate::FieldError;
        match self {
            ExtensionError::PluginNotAvailable { world, plugin, field, hint } => Some(FieldError {
                path: field.to_string(),
                message: format!("{} plugin {plugin:?} is not available{hint}", world.as_str()),
            }),
            ExtensionError::SettingsRejected { plugin, field, message } => Some(FieldError {
                path: field.clone(),
                message: format!("plugin {plugin:?} rejected its settings: {message}"),
            }),
            _ => None,
        }
    }

    /// Whether a retry may succeed without anything changing: a plugin call that missed its
    /// deadline on a loaded machine. Every other failure repeats until the spec or the
    /// plugin changes.
    pub fn is_transient(&self) -> bool {
        matches!(self, ExtensionError::PluginFailed { transient: true, .. })
    }
}

/// Turns a validated cluster's plugin requests into contributions.
///
/// `render` and the controller share one resolver, so both print and apply the same objects.
pub trait ExtensionResolver: Send + Sync {
    fn resolve(&self, cluster: &ValidatedCluster) -> Result<Contributions, ExtensionError>;

    /// Whether `pod` carries the sidecar of the mesh `profile` (the profile plugin decides).
    fn has_sidecar(&self, profile: &str, _pod: &k8s_openapi::api::core::v1::Pod) -> Result<bool, ExtensionError> {
        Err(ExtensionError::PluginNotAvailable {
            world: PluginWorld::MeshProfile,
            plugin: profile.to_string(),
            field: "spec.serviceMesh.profile",
            hint: String::new(),
        })
    }

    /// The checked plan of the destination plugin that serves the request's scheme.
    fn plan_destination(
        &self,
        request: &DestinationRequest,
        _operation: Operation,
        _backup_id: &str,
    ) -> Result<DestinationPlan, ExtensionError> {
        Err(ExtensionError::PluginNotAvailable {
            world: PluginWorld::BackupDestination,
            plugin: request.scheme().unwrap_or_default(),
            field: request.location_field(),
            hint: String::from(" (this build has no plugin runtime)"),
        })
    }
}

/// A resolver with no plugins: clusters that need a plugin fail instead of rendering without it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPlugins;

impl ExtensionResolver for NoPlugins {
    fn resolve(&self, cluster: &ValidatedCluster) -> Result<Contributions, ExtensionError> {
        match cluster.plugin_requests().into_iter().next() {
            Some(request) => Err(ExtensionError::PluginNotAvailable {
                world: request.world,
                plugin: request.plugin,
                field: request.field,
                hint: String::from(" (this build has no plugin runtime)"),
            }),
            None => Ok(Contributions::default()),
        }
    }
}

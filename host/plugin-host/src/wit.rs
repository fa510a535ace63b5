//! The data types of the WIT package, as plain Rust types.

pub use crate::bindings::backup::exports::antfly::operator::backup::{
    BackupPlan, BackupRequest, ClaimMount, PodEnvironment, SecretEnv, SecretFile,
};
pub use crate::bindings::scheduling::antfly::operator::types::{
    ClusterView, ContainerView, ErrorCode, InitContainerView, Kv, MeshClusterView, PluginError, PodView, PortKind,
    Role, RoleScheduling, RoleView, ServicePort, ServiceView, Toleration,
};
pub use crate::bindings::scheduling::exports::antfly::operator::scheduling::{
    NodeSelectorRequirement, PreferredTerm, SchedulingContribution, TopologySpread,
};

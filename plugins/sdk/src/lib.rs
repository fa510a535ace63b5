//! Guest SDK for antfly-operator plugins: the generated bindings of one plugin world of the
//! `antfly:operator` WIT package, and the helpers every plugin needs.
//!
//! Enable exactly one of the features `scheduling-provider`, `mesh-profile` or
//! `backup-destination`, implement [`Guest`] for a type of yours, and export it:
//!
//! ```ignore
//! use antfly_plugin_sdk::{ClusterView, Guest, PluginError, Role, SchedulingContribution};
//!
//! struct MyProvider;
//!
//! impl Guest for MyProvider {
//!     fn validate_settings(_view: ClusterView) -> Result<(), Vec<PluginError>> { Ok(()) }
//!     fn contribute(_view: ClusterView, role: Role) -> Result<SchedulingContribution, PluginError> {
//!         Ok(SchedulingContribution::empty(role))
//!     }
//! }
//!
//! antfly_plugin_sdk::export!(MyProvider);
//! ```
//!
//! A mesh profile that only sets annotations and names its sidecars is one declaration:
//! see [`mesh_profile!`].

#[cfg(any(
    all(feature = "scheduling-provider", feature = "mesh-profile"),
    all(feature = "scheduling-provider", feature = "backup-destination"),
    all(feature = "mesh-profile", feature = "backup-destination"),
))]
compile_error!(
    "enable exactly one of the features scheduling-provider, mesh-profile and backup-destination: \
     a plugin component exports exactly one world (build each plugin crate on its own, e.g. `cargo build -p NAME`)"
);

#[cfg(not(any(feature = "scheduling-provider", feature = "mesh-profile", feature = "backup-destination")))]
compile_error!("enable one of the features scheduling-provider, mesh-profile or backup-destination");

/// The generated bindings of the enabled world.
#[doc(hidden)]
pub mod bindings {
    #[cfg(feature = "scheduling-provider")]
    wit_bindgen::generate!({
        world: "scheduling-provider",
        path: "wit",
        pub_export_macro: true,
        default_bindings_module: "antfly_plugin_sdk::bindings",
    });

    #[cfg(feature = "mesh-profile")]
    wit_bindgen::generate!({
        world: "mesh-profile",
        path: "wit",
        pub_export_macro: true,
        default_bindings_module: "antfly_plugin_sdk::bindings",
    });

    #[cfg(feature = "backup-destination")]
    wit_bindgen::generate!({
        world: "backup-destination",
        path: "wit",
        pub_export_macro: true,
        default_bindings_module: "antfly_plugin_sdk::bindings",
    });
}

pub use bindings::export;

mod common;
pub use common::*;

#[cfg(feature = "scheduling-provider")]
mod scheduling;
#[cfg(feature = "scheduling-provider")]
pub use scheduling::*;

#[cfg(feature = "mesh-profile")]
mod mesh;
#[cfg(feature = "mesh-profile")]
pub use mesh::*;

#[cfg(feature = "backup-destination")]
mod backup;
#[cfg(feature = "backup-destination")]
pub use backup::*;

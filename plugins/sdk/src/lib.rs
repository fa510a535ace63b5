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
//! [`export!`] also installs a panic hook before every call, which reports the panic's
//! message to the host (the host never reads it from stderr).
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

#[doc(hidden)]
pub mod panic_hook;

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

/// Exports `$ty`, which implements [`Guest`], as the plugin's world. Every call first
/// installs the SDK's panic hook, so that a panic reaches the host with its message.
#[cfg(feature = "scheduling-provider")]
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        const _: () = {
            struct __AntflyPanicHooked;

            impl $crate::Guest for __AntflyPanicHooked {
                fn validate_settings(
                    view: $crate::ClusterView,
                ) -> ::core::result::Result<(), ::std::vec::Vec<$crate::PluginError>> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::validate_settings(view)
                }

                fn contribute(
                    view: $crate::ClusterView,
                    role: $crate::Role,
                ) -> ::core::result::Result<$crate::SchedulingContribution, $crate::PluginError> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::contribute(view, role)
                }
            }

    $crate::bindings::export!(__AntflyPanicHooked with_types_in $crate::bindings);
        };
    };
}

/// Exports `$ty`, which implements [`Guest`], as the plugin's world. Every call first
/// installs the SDK's panic hook, so that a panic reaches the host with its message.
#[cfg(feature = "mesh-profile")]
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        const _: () = {
            struct __AntflyPanicHooked;

            impl $crate::Guest for __AntflyPanicHooked {
                fn pod_annotations(
                    view: $crate::MeshClusterView,
                    role: $crate::Role,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Kv>, $crate::PluginError> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::pod_annotations(view, role)
                }

                fn has_sidecar(pod: $crate::PodView) -> bool {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::has_sidecar(pod)
                }
            }

    $crate::bindings::export!(__AntflyPanicHooked with_types_in $crate::bindings);
        };
    };
}

/// Exports `$ty`, which implements [`Guest`], as the plugin's world. Every call first
/// installs the SDK's panic hook, so that a panic reaches the host with its message.
#[cfg(feature = "backup-destination")]
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        const _: () = {
            struct __AntflyPanicHooked;

            impl $crate::Guest for __AntflyPanicHooked {
                fn schemes() -> ::std::vec::Vec<::std::string::String> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::schemes()
                }

                fn validate_location(
                    location: ::std::string::String,
                    options: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::vec::Vec<$crate::PluginError>> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::validate_location(location, options)
                }

                fn plan_backup(
                    request: $crate::BackupRequest,
                ) -> ::core::result::Result<$crate::BackupPlan, $crate::PluginError> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::plan_backup(request)
                }

                fn plan_restore(
                    request: $crate::BackupRequest,
                ) -> ::core::result::Result<$crate::BackupPlan, $crate::PluginError> {
                    $crate::panic_hook::install();
                    <$ty as $crate::Guest>::plan_restore(request)
                }
            }

    $crate::bindings::export!(__AntflyPanicHooked with_types_in $crate::bindings);
        };
    };
}

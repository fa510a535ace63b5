//! What a plugin is before it is loaded: its world, where its bytes come from, and how its
//! compiled code was obtained. Shared by the manifest reader and the host.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::error::LoadError;
use crate::files::{MAX_COMPONENT_BYTES, read_regular_file};

/// The plugin worlds of the WIT package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum World {
    SchedulingProvider,
    MeshProfile,
    BackupDestination,
}

impl World {
    pub const ALL: [World; 3] = [World::SchedulingProvider, World::MeshProfile, World::BackupDestination];

    /// The world's name in the WIT package and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            World::SchedulingProvider => "scheduling-provider",
            World::MeshProfile => "mesh-profile",
            World::BackupDestination => "backup-destination",
        }
    }

    /// The world from its name.
    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.as_str() == name)
    }

    /// The interface the world exports.
    pub(crate) fn interface(self) -> &'static str {
        match self {
            World::SchedulingProvider => "scheduling",
            World::MeshProfile => "mesh",
            World::BackupDestination => "backup",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a component's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasmBytes {
    /// Embedded in the binary (first-party plugins).
    Static(&'static [u8]),
    /// A file of a plugin directory.
    File(PathBuf),
}

impl WasmBytes {
    /// The component's bytes: borrowed when embedded, read (under [`MAX_COMPONENT_BYTES`]) when
    /// a file. `plugin` names the plugin in the error.
    pub(crate) fn read(&self, plugin: &str) -> Result<Cow<'_, [u8]>, LoadError> {
        match self {
            WasmBytes::Static(bytes) => Ok(Cow::Borrowed(bytes)),
            WasmBytes::File(path) => read_regular_file(path, MAX_COMPONENT_BYTES)
                .map(Cow::Owned)
                .map_err(|source| LoadError::Read { plugin: plugin.to_string(), path: path.clone(), source }),
        }
    }
}

/// A plugin to load.
#[derive(Clone, Debug)]
pub struct PluginSource {
    /// Name under which clusters select the plugin.
    pub name: String,
    /// The world the plugin is declared to target.
    pub world: World,
    /// The plugin's own version.
    pub version: String,
    /// The component.
    pub wasm: WasmBytes,
    /// Expected sha256 of the component, in lower-case hex. A mismatch is refused.
    pub sha256: Option<String>,
}

/// How a plugin's compiled code was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadedFrom {
    /// Compiled by Cranelift now (and stored in the cache, if there is one).
    Compiled,
    /// Deserialised from the on-disk cache.
    Cache,
}

//! Extensions: scheduling providers and mesh profiles served by WebAssembly plugins.
//!
//! This layer knows the Antfly domain but not wasmtime: it builds the views plugins receive
//! ([`views`]), calls them through [`antfly_plugin_host`], checks and converts everything
//! they return ([`check`]), and implements [`crate::compose::ExtensionResolver`] for `render` and the
//! controller. First-party plugins come embedded ([`antfly_bundled_plugins`]); vendors'
//! plugins come from a directory with a `plugins.json` manifest.

pub mod check;
mod cli;
mod resolver;
mod trial;
mod views;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use antfly_plugin_host::{
    HostConfig, HostError, Limits, LoadError, Plugin, PluginHost, PluginSource, WasmBytes, World,
};

use crate::compose::PluginWorld;

pub use cli::{default_cache_dir, error_chain, list, load_for_cli, try_plugin_yaml};
pub use trial::TrialReport;

/// Where plugins come from and how they run.
#[derive(Clone, Debug, Default)]
pub struct PluginOptions {
    /// A directory with a `plugins.json` manifest and the vendors' components.
    pub plugin_dir: Option<PathBuf>,
    /// Where compiled components are cached between runs; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Per-call sandbox limits.
    pub limits: Limits,
}

/// Where a loaded plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginOrigin {
    /// Embedded in the operator.
    Bundled,
    /// The plugin directory given with `--plugin-dir`.
    Directory(PathBuf),
}

impl std::fmt::Display for PluginOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginOrigin::Bundled => f.write_str("bundled"),
            PluginOrigin::Directory(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A plugin and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedPlugin {
    pub plugin: Plugin,
    pub origin: PluginOrigin,
}

/// Why the plugins could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PluginSetupError {
    #[error("failed to start the plugin host")]
    Host(#[source] HostError),
    #[error("failed to load a first-party plugin")]
    Bundled(#[source] LoadError),
    #[error("first-party plugin {name:?} declares an unknown world {world:?}")]
    BundledWorld { name: &'static str, world: &'static str },
    #[error("failed to load the plugin directory {}", dir.display())]
    Directory {
        dir: PathBuf,
        #[source]
        source: LoadError,
    },
    #[error("plugin {name:?} in {} has the name of a first-party {world} plugin", dir.display())]
    Shadows { name: String, world: World, dir: PathBuf },
}

/// Every loaded plugin, by world and name, on one sandboxed host.
pub struct PluginResolver {
    host: PluginHost,
    plugins: BTreeMap<(World, String), LoadedPlugin>,
}

impl PluginResolver {
    /// Starts the plugin host and loads the first-party plugins, then the plugin
    /// directory's. A directory plugin may not take a first-party plugin's name.
    pub fn load(options: &PluginOptions) -> Result<Self, PluginSetupError> {
        let host = PluginHost::new(HostConfig {
            limits: options.limits.clone(),
            cache_dir: options.cache_dir.clone(),
            ..HostConfig::default()
        })
        .map_err(PluginSetupError::Host)?;
        let mut plugins = BTreeMap::new();
        for bundled in antfly_bundled_plugins::first_party() {
            let world = World::parse(bundled.world)
                .ok_or_else(|| PluginSetupError::BundledWorld { name: bundled.name, world: bundled.world })?;
            let plugin = host
                .load(PluginSource {
                    name: bundled.name.to_string(),
                    world,
                    version: bundled.version.to_string(),
                    wasm: WasmBytes::Static(bundled.wasm),
                    sha256: Some(bundled.sha256.to_string()),
                })
                .map_err(PluginSetupError::Bundled)?;
            plugins.insert((world, bundled.name.to_string()), LoadedPlugin { plugin, origin: PluginOrigin::Bundled });
        }
        if let Some(dir) = &options.plugin_dir {
            let loaded =
                host.load_dir(dir).map_err(|source| PluginSetupError::Directory { dir: dir.clone(), source })?;
            for plugin in loaded {
                let key = (plugin.world(), plugin.name().to_string());
                if plugins.contains_key(&key) {
                    return Err(PluginSetupError::Shadows { name: key.1, world: key.0, dir: dir.clone() });
                }
                plugins.insert(key, LoadedPlugin { plugin, origin: PluginOrigin::Directory(dir.clone()) });
            }
        }
        Ok(Self { host, plugins })
    }

    /// Every plugin, by world then name.
    pub fn plugins(&self) -> impl Iterator<Item = &LoadedPlugin> {
        self.plugins.values()
    }

    /// The plugin of `world` named `name`.
    pub fn plugin(&self, world: World, name: &str) -> Option<&Plugin> {
        self.plugins.get(&(world, name.to_string())).map(|p| &p.plugin)
    }

    /// The sandboxed host, e.g. for [`PluginHost::run_blocking`].
    pub fn host(&self) -> &PluginHost {
        &self.host
    }

    /// Names of the plugins of `world`, for "not available" hints.
    fn names(&self, world: World) -> Vec<&str> {
        self.plugins.keys().filter(|(w, _)| *w == world).map(|(_, name)| name.as_str()).collect()
    }
}

impl std::fmt::Debug for PluginResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginResolver").field("plugins", &self.plugins.keys().collect::<Vec<_>>()).finish()
    }
}

pub(crate) fn host_world(world: PluginWorld) -> World {
    match world {
        PluginWorld::SchedulingProvider => World::SchedulingProvider,
        PluginWorld::MeshProfile => World::MeshProfile,
        PluginWorld::BackupDestination => World::BackupDestination,
    }
}

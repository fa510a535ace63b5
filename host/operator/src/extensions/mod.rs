//! Extensions: scheduling providers and mesh profiles served by WebAssembly plugins.
//!
//! This layer knows the Antfly domain but not wasmtime: it builds the views plugins receive
//! ([`views`]), calls them through [`antfly_plugin_host`], checks and converts everything
//! they return ([`check`]), and implements [`crate::compose::ExtensionResolver`] for `render` and the
//! controller. First-party plugins come embedded ([`antfly_bundled_plugins`]); vendors'
//! plugins come from a directory with a `plugins.json` manifest.

pub mod check;
mod destination;
pub mod fixtures;
mod observe;
mod placement;
pub mod reload;
mod resolver;
mod trial;
mod views;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use std::sync::Arc;

use antfly_plugin_host::{
    HostConfig, HostError, Limits, LoadError, Plugin, PluginHost, PluginSource, WasmBytes, World,
};

use crate::base::PluginWorld;

pub use observe::{PluginCall, PluginCallObserver};
pub use trial::TrialReport;

/// Where plugins come from and how they run.
#[derive(Clone, Default)]
pub struct PluginOptions {
    /// A directory with a `plugins.json` manifest and the vendors' components.
    pub plugin_dir: Option<PathBuf>,
    /// Where compiled components are cached between runs; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Single plugins loaded besides the directory's, for `plugins test`.
    pub extra: Vec<PluginSource>,
    /// Per-call sandbox limits.
    pub limits: Limits,
    /// Sees every plugin call (per-plugin metrics).
    pub observer: Option<Arc<dyn PluginCallObserver>>,
}

impl std::fmt::Debug for PluginOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOptions")
            .field("plugin_dir", &self.plugin_dir)
            .field("cache_dir", &self.cache_dir)
            .field("extra", &self.extra)
            .field("limits", &self.limits)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// Where a loaded plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginOrigin {
    /// Embedded in the operator.
    Bundled,
    /// The plugin directory given with `--plugin-dir`.
    Directory(PathBuf),
    /// A single component file (`plugins test`).
    File(PathBuf),
}

impl std::fmt::Display for PluginOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginOrigin::Bundled => f.write_str("bundled"),
            PluginOrigin::Directory(dir) | PluginOrigin::File(dir) => write!(f, "{}", dir.display()),
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
    Bundled(#[source] Box<LoadError>),
    #[error("first-party plugin {name:?} declares an unknown world {world:?}")]
    BundledWorld { name: &'static str, world: &'static str },
    #[error("failed to load the plugin directory {}", dir.display())]
    Directory {
        dir: PathBuf,
        #[source]
        source: Box<LoadError>,
    },
    #[error("plugin {name:?} from {origin} has the name of another loaded {world} plugin")]
    Shadows { name: String, world: World, origin: String },
    #[error("failed to load the plugin {name:?}")]
    Single {
        name: String,
        #[source]
        source: Box<LoadError>,
    },
}

/// Every loaded plugin, by world and name, on one sandboxed host.
pub struct PluginResolver {
    host: PluginHost,
    plugins: BTreeMap<(World, String), LoadedPlugin>,
}

impl PluginResolver {
    /// Starts the plugin host and loads the first-party plugins, then the plugin
    /// directory's, then the extra ones. None may take another's name.
    pub fn load(options: &PluginOptions) -> Result<Self, PluginSetupError> {
        let host = PluginHost::new(HostConfig {
            limits: options.limits.clone(),
            cache_dir: options.cache_dir.clone(),
            observer: options
                .observer
                .clone()
                .map(|o| Arc::new(observe::HostObserver(o)) as Arc<dyn antfly_plugin_host::CallObserver>),
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
                .map_err(|e| PluginSetupError::Bundled(Box::new(e)))?;
            plugins.insert((world, bundled.name.to_string()), LoadedPlugin { plugin, origin: PluginOrigin::Bundled });
        }
        Self { host, plugins }.with_directory_and_extra(options)
    }

    /// The same host and first-party plugins, with the plugin directory and the extra plugins
    /// loaded anew: what a reload of `--plugin-dir` does.
    pub fn reloaded(&self, options: &PluginOptions) -> Result<Self, PluginSetupError> {
        let bundled =
            self.plugins.iter().filter(|(_, p)| p.origin == PluginOrigin::Bundled).map(|(k, p)| (k.clone(), p.clone()));
        Self { host: self.host.clone(), plugins: bundled.collect() }.with_directory_and_extra(options)
    }

    fn with_directory_and_extra(mut self, options: &PluginOptions) -> Result<Self, PluginSetupError> {
        if let Some(dir) = &options.plugin_dir {
            let loaded = self
                .host
                .load_dir(dir)
                .map_err(|source| PluginSetupError::Directory { dir: dir.clone(), source: Box::new(source) })?;
            for plugin in loaded {
                self.insert(plugin, PluginOrigin::Directory(dir.clone()))?;
            }
        }
        for source in &options.extra {
            let origin = match &source.wasm {
                WasmBytes::File(path) => PluginOrigin::File(path.clone()),
                WasmBytes::Static(_) => PluginOrigin::Bundled,
            };
            let plugin = self
                .host
                .load(source.clone())
                .map_err(|error| PluginSetupError::Single { name: source.name.clone(), source: Box::new(error) })?;
            self.insert(plugin, origin)?;
        }
        Ok(self)
    }

    fn insert(&mut self, plugin: Plugin, origin: PluginOrigin) -> Result<(), PluginSetupError> {
        let key = (plugin.world(), plugin.name().to_string());
        if self.plugins.contains_key(&key) {
            return Err(PluginSetupError::Shadows { name: key.1, world: key.0, origin: origin.to_string() });
        }
        self.plugins.insert(key, LoadedPlugin { plugin, origin });
        Ok(())
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
    pub(crate) fn names(&self, world: World) -> Vec<&str> {
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

/// An error and its causes, on one line.
pub use antfly_plugin_host::error_chain;

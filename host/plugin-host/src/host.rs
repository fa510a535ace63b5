//! The plugin host: loads plugins (pin check, compile or cache, export check, pre-link)
//! into the shared [`Runtime`], and runs plugin work off the async runtime.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::bindings::{WIT_PACKAGE, WIT_VERSION, wit_compatible};
use crate::config::HostConfig;
use crate::error::{BlockingError, HostError, LoadError};
use crate::manifest::Manifest;
use crate::plugin::{Plugin, WorldPre};
use crate::runtime::Runtime;
use crate::signature;
use crate::source::{PluginSource, World};

/// Loads plugins and runs their calls. Cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Runtime>,
}

impl PluginHost {
    /// Creates the engine, links the sandboxed WASI, opens the cache and starts the
    /// epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        Ok(Self { inner: Arc::new(Runtime::new(config)?) })
    }

    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Loads one plugin: reads it (a regular file under [`MAX_COMPONENT_BYTES`]), checks its
    /// pin, compiles it (or loads it from the cache), checks that it exports the declared
    /// world at a compatible WIT version with every function's exact signature, and
    /// pre-links it.
    pub fn load(&self, source: PluginSource) -> Result<Plugin, LoadError> {
        let bytes = source.wasm.read(&source.name)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = &source.sha256
            && *expected != digest
        {
            return Err(LoadError::HashMismatch {
                plugin: source.name.clone(),
                expected: expected.clone(),
                actual: digest,
            });
        }
        let (component, loaded_from) = self.inner.compile(&source.name, &digest, &bytes)?;
        let interface = check_exports(&self.inner.engine, &component, source.world, &source.name, &digest)?;
        let link_error = |error| LoadError::Link { plugin: source.name.clone(), digest: digest.clone(), source: error };
        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(link_error)?;
        signature::check(&instance_pre, source.world, &interface).map_err(|mismatch| LoadError::ExportSignature {
            plugin: source.name.clone(),
            digest: digest.clone(),
            world: source.world.as_str(),
            export: mismatch.export,
            problem: mismatch.problem,
        })?;
        let pre = WorldPre::new(source.world, instance_pre).map_err(link_error)?;
        tracing::debug!(plugin = %source.name, world = %source.world, sha256 = %digest, ?loaded_from, "loaded plugin");
        Ok(Plugin::new(source, digest, loaded_from, pre, self.inner.clone()))
    }

    /// Loads every plugin of a directory's `plugins.json`, refusing the whole directory
    /// at the first bad entry.
    pub fn load_dir(&self, dir: &Path) -> Result<Vec<Plugin>, LoadError> {
        let manifest = Manifest::read(dir).map_err(LoadError::ManifestFile)?;
        manifest.sources(dir)?.into_iter().map(|source| self.load(source)).collect()
    }

    /// Runs `f`, which may call plugins, on tokio's blocking pool, at most
    /// `max_concurrent_calls` at a time, so that plugin calls never block the async
    /// runtime.
    pub async fn run_blocking<F, R>(&self, f: F) -> Result<R, BlockingError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = self.inner.async_slots.clone().acquire_owned().await.map_err(|_| BlockingError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(BlockingError::Join)
    }
}

/// Checks that the component exports the interface of `world` at a compatible version, and
/// returns that export's full name.
fn check_exports(
    engine: &Engine,
    component: &Component,
    world: World,
    plugin: &str,
    digest: &str,
) -> Result<String, LoadError> {
    let prefix = format!("{WIT_PACKAGE}/");
    let exports: Vec<(String, String)> = component
        .component_type()
        .exports(engine)
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix(&prefix)?;
            let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
            Some((interface.to_string(), version.to_string()))
        })
        .collect();
    let incompatible = exports
        .iter()
        .find(|(interface, version)| (interface == world.interface() || exports.len() == 1) && !wit_compatible(version))
        .or_else(|| exports.iter().find(|(_, version)| !wit_compatible(version)));
    if let Some((_, version)) = incompatible {
        return Err(LoadError::WitVersionMismatch {
            plugin: plugin.to_string(),
            digest: digest.to_string(),
            found: format!("{WIT_PACKAGE}@{version}"),
            supported: WIT_VERSION,
        });
    }
    if let Some((interface, version)) = exports.iter().find(|(interface, _)| interface == world.interface()) {
        return Ok(format!("{prefix}{interface}@{version}"));
    }
    let found = if exports.is_empty() {
        format!("no {WIT_PACKAGE} interface")
    } else {
        exports
            .iter()
            .map(|(interface, version)| format!("{prefix}{interface}@{version}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(LoadError::WorldMismatch {
        plugin: plugin.to_string(),
        digest: digest.to_string(),
        declared: world.as_str(),
        found,
    })
}

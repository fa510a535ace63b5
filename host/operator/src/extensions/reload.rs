//! Hot reload of `--plugin-dir`: a resolver that notices when the directory's manifest or
//! files change and loads the new set, keeping the old set when the new one fails to load.
//!
//! Change detection compares a fingerprint of the directory (every entry's name, size and
//! modification time, symlinks followed, which covers Kubernetes' atomic volume updates, and
//! the manifest's digest), so a poll costs one directory listing and one small read. A set that fails to load is retried when the directory
//! changes again.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Pod;
use sha2::{Digest, Sha256};

use super::{PluginOptions, PluginResolver, PluginSetupError};
use crate::compose::{Contributions, ExtensionError, ExtensionResolver};
use crate::validate::ValidatedCluster;

/// The result of one check of the plugin directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// No plugin directory, or nothing changed.
    Unchanged,
    /// The new set is in use.
    Reloaded { plugins: usize },
    /// The new set failed to load; the previous set stays in use.
    Failed { error: String },
}

/// Entries of the directory (name, size, modification time), and the manifest's sha256:
/// an edit of `plugins.json` that keeps its size within one timestamp tick still counts.
type Fingerprint = (Vec<(String, u64, Option<SystemTime>)>, String);

/// A [`PluginResolver`] that can be swapped for a reloaded one while reconciles use it.
pub struct ReloadingResolver {
    options: PluginOptions,
    current: RwLock<Arc<PluginResolver>>,
    /// The fingerprint of the directory the last load attempt saw.
    seen: Mutex<Option<Fingerprint>>,
    /// Why the last reload failed, while the directory still holds that set.
    last_error: Mutex<Option<String>>,
}

impl ReloadingResolver {
    pub fn load(options: PluginOptions) -> Result<Self, PluginSetupError> {
        let seen = options.plugin_dir.as_deref().map(fingerprint);
        let resolver = PluginResolver::load(&options)?;
        Ok(Self {
            options,
            current: RwLock::new(Arc::new(resolver)),
            seen: Mutex::new(seen),
            last_error: Mutex::new(None),
        })
    }

    /// The set in use.
    pub fn current(&self) -> Arc<PluginResolver> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Why the plugin directory's current content is not in use, if it is not.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Loads the plugin directory again if it changed since the last attempt. Blocking: it
    /// may compile plugins.
    pub fn reload_if_changed(&self) -> ReloadOutcome {
        let Some(dir) = self.options.plugin_dir.as_deref() else { return ReloadOutcome::Unchanged };
        let now = fingerprint(dir);
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if seen.as_ref() == Some(&now) {
                return ReloadOutcome::Unchanged;
            }
            *seen = Some(now);
        }
        let mut last_error = self.last_error.lock().unwrap_or_else(PoisonError::into_inner);
        match self.current().reloaded(&self.options) {
            Ok(resolver) => {
                let plugins = resolver.plugins().count();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(resolver);
                *last_error = None;
                ReloadOutcome::Reloaded { plugins }
            }
            Err(error) => {
                let error = super::error_chain(&error);
                *last_error = Some(error.clone());
                ReloadOutcome::Failed { error }
            }
        }
    }
}

fn fingerprint(dir: &Path) -> Fingerprint {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry.path();
            // metadata() follows symlinks: a swapped `..data` link changes what it points at.
            let metadata = std::fs::metadata(&path).ok();
            (
                entry.file_name().to_string_lossy().into_owned(),
                metadata.as_ref().map_or(0, std::fs::Metadata::len),
                metadata.and_then(|m| m.modified().ok()),
            )
        })
        .collect();
    entries.sort();
    let manifest = std::fs::read(dir.join(antfly_plugin_host::MANIFEST_FILE)).unwrap_or_default();
    (entries, hex::encode(Sha256::digest(manifest)))
}

impl ExtensionResolver for ReloadingResolver {
    fn resolve(&self, cluster: &ValidatedCluster) -> Result<Contributions, ExtensionError> {
        self.current().resolve(cluster)
    }

    fn has_sidecar(&self, profile: &str, pod: &Pod) -> Result<bool, ExtensionError> {
        self.current().has_sidecar(profile, pod)
    }
}

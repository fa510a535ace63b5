//! The plugin directory's manifest, `plugins.json`: for each plugin its name, world,
//! file, version, the WIT version it was built against, and a sha256 pin.
//!
//! ```json
//! {
//!   "manifestVersion": 1,
//!   "plugins": [
//!     {
//!       "name": "acme-scheduler",
//!       "world": "scheduling-provider",
//!       "wit": "antfly:operator@0.2.0",
//!       "file": "acme-scheduler.wasm",
//!       "version": "1.4.2",
//!       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//!     }
//!   ]
//! }
//! ```

use std::collections::BTreeSet;
use std::path::{Component as PathComponent, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bindings::{WIT_PACKAGE, WIT_VERSION, parse_version, wit_compatible};
use crate::error::{LoadError, ManifestError};
use crate::files::{MAX_MANIFEST_BYTES, read_regular_file};
use crate::source::{PluginSource, WasmBytes, World};

/// File name of the manifest inside a plugin directory.
pub const MANIFEST_FILE: &str = "plugins.json";

/// The manifest of a plugin directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Format version of the manifest; 1.
    pub manifest_version: u32,
    /// The plugins of the directory.
    pub plugins: Vec<ManifestEntry>,
}

/// One plugin of a [`Manifest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    /// Name under which clusters select the plugin: lower-case letters, digits and `-`.
    pub name: String,
    /// `scheduling-provider`, `mesh-profile` or `backup-destination`.
    pub world: String,
    /// The WIT package the plugin was built against, e.g. `antfly:operator@0.2.0`.
    pub wit: String,
    /// The component file, relative to the directory.
    pub file: String,
    /// The plugin's own version, shown by `antfly-operator plugins list`.
    pub version: String,
    /// sha256 of the component file, in lower-case hex. A file that does not match is
    /// refused.
    pub sha256: String,
}

impl Manifest {
    /// Reads `dir/plugins.json`.
    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = read_regular_file(&path, MAX_MANIFEST_BYTES)
            .map_err(|source| ManifestError::Read { path: path.clone(), source })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Parse { path, source })?;
        if manifest.manifest_version != 1 {
            return Err(ManifestError::Version { found: manifest.manifest_version });
        }
        Ok(manifest)
    }

    /// Checks every entry and turns it into a source the host can load, with files
    /// resolved against `dir`.
    pub fn sources(&self, dir: &Path) -> Result<Vec<PluginSource>, LoadError> {
        let mut names = BTreeSet::new();
        self.plugins
            .iter()
            .map(|entry| {
                let fail = |source| LoadError::Manifest { plugin: entry.name.clone(), source };
                if !names.insert(entry.name.as_str()) {
                    return Err(fail(ManifestError::Duplicate));
                }
                entry.source(dir).map_err(fail)
            })
            .collect()
    }
}

impl ManifestEntry {
    fn source(&self, dir: &Path) -> Result<PluginSource, ManifestError> {
        if !is_plugin_name(&self.name) {
            return Err(ManifestError::Name { name: self.name.clone() });
        }
        let world = World::parse(&self.world).ok_or_else(|| ManifestError::World { world: self.world.clone() })?;
        let version = self
            .wit
            .strip_prefix(WIT_PACKAGE)
            .and_then(|rest| rest.strip_prefix('@'))
            .filter(|v| parse_version(v).is_some())
            .ok_or_else(|| ManifestError::Wit { wit: self.wit.clone() })?;
        if !wit_compatible(version) {
            return Err(ManifestError::WitIncompatible { wit: self.wit.clone(), supported: WIT_VERSION });
        }
        if !is_sha256(&self.sha256) {
            return Err(ManifestError::Sha256 { sha256: self.sha256.clone() });
        }
        Ok(PluginSource {
            name: self.name.clone(),
            world,
            version: self.version.clone(),
            wasm: WasmBytes::File(resolve_file(dir, &self.file)?),
            sha256: Some(self.sha256.clone()),
        })
    }
}

/// A DNS-label-like name: it appears in conditions, events and metric labels.
pub(crate) fn is_plugin_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `file` below `dir`: relative, without `..`.
fn resolve_file(dir: &Path, file: &str) -> Result<PathBuf, ManifestError> {
    let relative = Path::new(file);
    let inside = !file.is_empty() && relative.components().all(|c| matches!(c, PathComponent::Normal(_)));
    if inside { Ok(dir.join(relative)) } else { Err(ManifestError::File { file: file.to_string() }) }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn entry() -> ManifestEntry {
        ManifestEntry {
            name: "acme".to_string(),
            world: "scheduling-provider".to_string(),
            wit: "antfly:operator@0.2.0".to_string(),
            file: "acme.wasm".to_string(),
            version: "1.0.0".to_string(),
            sha256: "a".repeat(64),
        }
    }

    fn sources(entries: Vec<ManifestEntry>) -> Result<Vec<PluginSource>, LoadError> {
        Manifest { manifest_version: 1, plugins: entries }.sources(Path::new("/plugins"))
    }

    #[test]
    fn a_valid_entry_resolves_its_file_inside_the_directory() {
        let sources = sources(vec![entry()]).unwrap();
        assert_eq!(sources[0].wasm, WasmBytes::File(PathBuf::from("/plugins/acme.wasm")));
    }

    #[test]
    fn an_incompatible_wit_major_is_refused() {
        let mut e = entry();
        e.wit = "antfly:operator@1.0.0".to_string();
        let error = sources(vec![e]).unwrap_err();
        let LoadError::Manifest { plugin, source } = &error else { panic!("{error}") };
        assert_eq!(plugin, "acme");
        let error = source.to_string();
        assert!(error.contains("antfly:operator@1.0.0"), "{error}");
        assert!(error.contains("does not support"), "{error}");
    }

    #[test]
    fn files_outside_the_directory_are_refused() {
        for file in ["../x.wasm", "/etc/x.wasm", "", "a/../../x.wasm"] {
            let mut e = entry();
            e.file = file.to_string();
            assert!(sources(vec![e]).is_err(), "{file}");
        }
    }

    #[test]
    fn names_worlds_and_pins_are_checked() {
        let mut bad_name = entry();
        bad_name.name = "Acme_Plugin".to_string();
        let mut bad_world = entry();
        bad_world.world = "scheduler".to_string();
        let mut bad_pin = entry();
        bad_pin.sha256 = "ABC".to_string();
        for e in [bad_name, bad_world, bad_pin] {
            assert!(sources(vec![e]).is_err());
        }
        assert!(sources(vec![entry(), entry()]).is_err());
    }
}

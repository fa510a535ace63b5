//! The first-party antfly-operator plugins, built from `plugins/` for wasm32-wasip2 by
//! this crate's build script and embedded in the binary.
//!
//! This crate knows nothing of wasmtime: it hands out bytes, names and digests, and the
//! plugin host loads them like any other plugin (the digest acts as the pin).

/// One embedded plugin component.
#[derive(Clone, Copy, Debug)]
pub struct BundledPlugin {
    /// Name under which clusters select the plugin (`eks`, `istio`, ...).
    pub name: &'static str,
    /// The WIT world the plugin targets (`scheduling-provider`, `mesh-profile`,
    /// `backup-destination`).
    pub world: &'static str,
    /// Version of the plugin crate.
    pub version: &'static str,
    /// sha256 of `wasm`, in lower-case hex, computed at build time.
    pub sha256: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The first-party plugins: `eks`, `gke`, `istio`, `linkerd`, `consul`, and the backup
/// destinations `s3`, `gcs` and `file`.
pub fn first_party() -> &'static [BundledPlugin] {
    FIRST_PARTY
}

/// Paths of the test fixtures built from `plugins/testing` and `plugins/template`. They
/// are never embedded.
#[cfg(feature = "fixtures")]
pub mod fixtures {
    use std::path::{Path, PathBuf};

    /// The fixture's component file. Known names: `hostile` (a scheduling provider whose
    /// settings pick an attack), `future-wit` (built against `antfly:operator@1.0.0`) and
    /// `template` (the vendor template).
    pub fn path(name: &str) -> PathBuf {
        Path::new(env!("ANTFLY_FIXTURE_DIR")).join(format!("{name}.wasm"))
    }

    /// The `wit/` directory of the repository.
    pub fn wit_dir() -> &'static Path {
        Path::new(env!("ANTFLY_WIT_DIR"))
    }

    /// The component of the JavaScript plugin `plugins/js/{name}`, as `.ci/js-plugins.sh`
    /// builds it into `target/plugins-js/{name}.wasm`. Cargo does not build it (that needs
    /// Node.js and npm), so a missing or stale component is an error that says what to run.
    pub fn js_component(name: &str) -> Result<PathBuf, String> {
        // This crate lives in `host/bundled-plugins`.
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new("."));
        let component = repository.join(format!("target/plugins-js/{name}.wasm"));
        let project = repository.join(format!("plugins/js/{name}"));
        let build = "build it with `bash .ci/js-plugins.sh` (needs Node.js 20+ and npm; `.ci/run` does this \
                     before `cargo test`)";
        let Ok(built) = std::fs::metadata(&component).and_then(|m| m.modified()) else {
            return Err(format!(
                "the JavaScript plugin {name} is not built: {} is missing; {build}",
                component.display()
            ));
        };
        let mut sources = vec![project.join("package-lock.json"), project.join("build.mjs")];
        if let Ok(entries) = std::fs::read_dir(project.join("src")) {
            sources.extend(entries.flatten().map(|entry| entry.path()));
        }
        let newer = sources
            .into_iter()
            .find(|source| std::fs::metadata(source).and_then(|m| m.modified()).is_ok_and(|modified| modified > built));
        match newer {
            Some(source) => Err(format!(
                "the JavaScript plugin {name} is stale: {} changed after {} was built; {build}",
                source.display(),
                component.display()
            )),
            None => Ok(component),
        }
    }
}

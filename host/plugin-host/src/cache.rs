//! On-disk cache of compiled components.
//!
//! Layout: `<cache dir>/<engine key>/<component sha256>.cwasm`, next to a sidecar
//! `<component sha256>.cwasm.sha256` holding the artifact's own sha256. The engine key is
//! a digest of [`Engine::precompile_compatibility_hash`], so a new wasmtime or a new
//! engine configuration never reads an old artifact.
//!
//! Loading compiled code is only safe for artifacts the host itself wrote: the host creates
//! the directories with mode 0700, refuses a directory that others may write to, writes
//! every artifact atomically (temporary file, then rename), and loads an artifact only when
//! its sidecar digest matches its content.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;

const ARTIFACT_EXTENSION: &str = "cwasm";
const SIDECAR_EXTENSION: &str = "cwasm.sha256";

/// The cache of one engine configuration.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// Opens (and creates) the cache for `engine` under `root`.
    pub(crate) fn open(root: &Path, engine: &Engine) -> Result<Self, HostError> {
        let dir = root.join(engine_key(engine));
        create_private_dir(root)?;
        create_private_dir(&dir)?;
        Ok(Self { dir })
    }

    fn artifact_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.{ARTIFACT_EXTENSION}"))
    }

    fn sidecar_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.{SIDECAR_EXTENSION}"))
    }

    /// The artifact of the component with sha256 `digest`, if one is cached and intact.
    pub(crate) fn lookup(&self, digest: &str) -> Option<PathBuf> {
        let path = self.artifact_path(digest);
        let expected = fs::read_to_string(self.sidecar_path(digest)).ok()?;
        let bytes = fs::read(&path).ok()?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual == expected.trim() {
            Some(path)
        } else {
            tracing::warn!(path = %path.display(), "cached plugin artifact does not match its digest; recompiling");
            None
        }
    }

    /// Stores a compiled artifact and returns its path.
    pub(crate) fn store(&self, digest: &str, artifact: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.artifact_path(digest);
        write_atomically(&path, artifact)?;
        write_atomically(&self.sidecar_path(digest), hex::encode(Sha256::digest(artifact)).as_bytes())?;
        Ok(path)
    }

    /// Removes an artifact that failed to load.
    pub(crate) fn evict(&self, digest: &str) {
        // Best effort: a stale artifact is overwritten at the next store anyway.
        let _ = fs::remove_file(self.sidecar_path(digest));
        let _ = fs::remove_file(self.artifact_path(digest));
    }
}

/// Loads a compiled component from the cache.
///
/// Only paths returned by [`ArtifactCache::lookup`] or [`ArtifactCache::store`] reach
/// this function: artifacts the host wrote itself and whose digest was checked.
pub(crate) fn load_artifact(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    #[expect(
        unsafe_code,
        reason = "deserialising runs compiled code; the host wrote this artifact itself into \
                  a private directory and checked its sidecar digest"
    )]
    // SAFETY: see above; the artifact was produced by `Engine::precompile_component` of an
    // engine with the same compatibility hash, and wasmtime checks the engine
    // configuration again while deserialising.
    unsafe {
        Component::deserialize_file(engine, path)
    }
}

/// A hex digest of the engine's compatibility hash (wasmtime version, target, settings).
pub(crate) fn engine_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher::default();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

/// Feeds [`Hash`] into sha256, which, unlike `DefaultHasher`, is stable across Rust
/// versions.
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn create_private_dir(dir: &Path) -> Result<(), HostError> {
    let error = |source| HostError::CacheDir { path: dir.to_path_buf(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        if !dir.exists() {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(error)?;
        }
        let mode = fs::metadata(dir).map_err(error)?.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(HostError::CacheDirPermissions { path: dir.to_path_buf() });
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir).map_err(error)?;
    Ok(())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
    let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

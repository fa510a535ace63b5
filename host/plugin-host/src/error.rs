//! Typed errors of the plugin host: loading a plugin, reading a manifest, calling a plugin.

use std::path::PathBuf;
use std::time::Duration;

use crate::files::FileError;

/// Why a plugin could not be loaded. Every variant names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin {plugin:?}: failed to read {}", path.display())]
    Read {
        plugin: String,
        path: PathBuf,
        #[source]
        source: FileError,
    },
    #[error(
        "plugin {plugin:?}: sha256 mismatch: the manifest pins {expected} but the file has \
         {actual}; refusing to load it"
    )]
    HashMismatch { plugin: String, expected: String, actual: String },
    #[error(
        "plugin {plugin:?} (sha256 {digest}) targets WIT {found}, which this operator does not \
         support (it supports antfly:operator@{supported}); rebuild the plugin against a \
         compatible WIT version"
    )]
    WitVersionMismatch { plugin: String, digest: String, found: String, supported: &'static str },
    #[error(
        "plugin {plugin:?} (sha256 {digest}) is declared as a {declared} plugin but exports \
         {found}"
    )]
    WorldMismatch { plugin: String, digest: String, declared: &'static str, found: String },
    #[error(
        "plugin {plugin:?} (sha256 {digest}): its export {export} does not match the \
         {world} world: {problem}"
    )]
    ExportSignature { plugin: String, digest: String, world: &'static str, export: String, problem: String },
    #[error("plugin {plugin:?} (sha256 {digest}): failed to compile the component")]
    Compile {
        plugin: String,
        digest: String,
        #[source]
        source: wasmtime::Error,
    },
    #[error(
        "plugin {plugin:?} (sha256 {digest}): failed to link the component; it may import \
         interfaces the sandbox does not provide"
    )]
    Link {
        plugin: String,
        digest: String,
        #[source]
        source: wasmtime::Error,
    },
    #[error("plugin {plugin:?}: a plugin of that name is already loaded")]
    Duplicate { plugin: String },
    #[error("invalid plugin manifest")]
    ManifestFile(#[source] ManifestError),
    #[error("plugin {plugin:?}: invalid manifest entry")]
    Manifest {
        plugin: String,
        #[source]
        source: ManifestError,
    },
}

/// Why a plugin manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("failed to read the plugin manifest {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: FileError,
    },
    #[error("failed to parse the plugin manifest {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported manifest version {found} (this operator reads version 1)")]
    Version { found: u32 },
    #[error("invalid plugin name {name:?}: use lower-case letters, digits and '-', at most 63 characters")]
    Name { name: String },
    #[error("unknown world {world:?}: expected scheduling-provider, mesh-profile or backup-destination")]
    World { world: String },
    #[error("invalid file {file:?}: it must be a relative path inside the plugin directory")]
    File { file: String },
    #[error("invalid sha256 {sha256:?}: expected 64 lower-case hexadecimal digits")]
    Sha256 { sha256: String },
    #[error("invalid WIT version {wit:?}: expected antfly:operator@MAJOR.MINOR.PATCH")]
    Wit { wit: String },
    #[error(
        "targets WIT {wit}, which this operator does not support (it supports \
         antfly:operator@{supported})"
    )]
    WitIncompatible { wit: String, supported: &'static str },
    #[error("listed twice")]
    Duplicate,
}

/// Why a call to a plugin failed. The plugin's own typed errors are not `CallError`s:
/// they come back as the inner `Err` of a successful call.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin:?} (sha256 {}) failed in {call}: {kind}", short_digest(digest))]
pub struct CallError {
    /// Name of the plugin.
    pub plugin: String,
    /// sha256 of the plugin's component, in hex.
    pub digest: String,
    /// The WIT function that was called, for example `contribute`.
    pub call: &'static str,
    /// What went wrong.
    pub kind: CallErrorKind,
}

/// The class of a [`CallError`].
#[derive(Debug, thiserror::Error)]
pub enum CallErrorKind {
    #[error("exceeded its deadline of {} ms", deadline.as_millis())]
    Timeout { deadline: Duration },
    #[error("exceeded its memory limit of {} MiB", limit_bytes >> 20)]
    MemoryLimit { limit_bytes: usize },
    #[error("{}", stack_overflow(*stack, *limit_bytes))]
    StackOverflow { stack: Stack, limit_bytes: usize },
    #[error("panicked: {message}")]
    Panic { message: String },
    #[error("tried to use {capability}, which plugins are denied")]
    DeniedCapability { capability: String },
    /// `size` is `None` when the host stopped copying the result at the limit.
    #[error("{}", oversized_output(*size, *limit))]
    OversizedOutput { size: Option<usize>, limit: usize },
    #[error("returned an invalid value: {message}")]
    InvalidOutput { message: String },
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("does not implement {call}: it is a {world} plugin")]
    WrongWorld { call: &'static str, world: &'static str },
    #[error("failed to start an instance: {message}")]
    Instantiate { message: String },
    /// The compiled code of a parked plugin could not be mapped again.
    #[error("could not be mapped again: {message}")]
    Unavailable { message: String },
}

/// Which stack a plugin exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// The wasm call stack, capped by the engine.
    Wasm,
    /// The shadow stack a compiled language keeps in linear memory (Rust and C put large
    /// locals there); overflowing it shows as an out-of-bounds memory access.
    Shadow,
}

fn stack_overflow(stack: Stack, limit_bytes: usize) -> String {
    match stack {
        Stack::Wasm => format!("exhausted its stack (limit {} KiB)", limit_bytes >> 10),
        Stack::Shadow => {
            "exhausted its stack (its shadow stack in linear memory overflowed: an out-of-bounds memory access)"
                .to_string()
        }
    }
}

fn oversized_output(size: Option<usize>, limit: usize) -> String {
    match size {
        Some(size) => format!("returned {size} bytes, more than the limit of {limit} bytes"),
        None => format!("returned more than the limit of {limit} bytes (the host stopped copying at the limit)"),
    }
}

impl CallErrorKind {
    /// A deadline is the one failure that may not repeat: the same call can finish in time
    /// on a less loaded machine. Every other failure is deterministic.
    pub fn is_transient(&self) -> bool {
        matches!(self, CallErrorKind::Timeout { .. } | CallErrorKind::Unavailable { .. })
    }

    /// A stable, short name of the class, for metrics, events and condition reasons.
    pub fn category(&self) -> &'static str {
        match self {
            CallErrorKind::Timeout { .. } => "Timeout",
            CallErrorKind::MemoryLimit { .. } => "MemoryLimit",
            CallErrorKind::StackOverflow { .. } => "StackOverflow",
            CallErrorKind::Panic { .. } => "Panic",
            CallErrorKind::DeniedCapability { .. } => "DeniedCapability",
            CallErrorKind::OversizedOutput { .. } => "OversizedOutput",
            CallErrorKind::InvalidOutput { .. } => "InvalidOutput",
            CallErrorKind::Trap { .. } => "Trap",
            CallErrorKind::WrongWorld { .. } => "WrongWorld",
            CallErrorKind::Instantiate { .. } => "Instantiate",
            CallErrorKind::Unavailable { .. } => "Unavailable",
        }
    }
}

/// Error of [`crate::PluginHost::run_blocking`].
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    #[error("the plugin host is shutting down")]
    Closed,
    #[error("a plugin call task failed")]
    Join(#[source] tokio::task::JoinError),
}

/// Error of creating a [`crate::PluginHost`].
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("failed to configure the wasmtime engine")]
    Engine(#[source] wasmtime::Error),
    #[error("failed to link WASI into the sandbox")]
    Link(#[source] wasmtime::Error),
    #[error("failed to prepare the plugin cache directory {}", path.display())]
    CacheDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the plugin cache directory {} is writable by other users; refusing to load \
         compiled code from it",
        path.display()
    )]
    CacheDirPermissions { path: PathBuf },
    #[error("failed to start the epoch ticker thread")]
    Ticker(#[source] std::io::Error),
}

/// The first 12 hex digits of a digest, enough to tell plugins apart in messages.
pub(crate) fn short_digest(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

//! Sandboxed wasmtime host for antfly-operator plugins.
//!
//! This crate knows wasmtime, not Kubernetes. It compiles each plugin component once
//! (caching the compiled artifact on disk), pre-links it, and runs every call in a fresh
//! store under the limits of [`Limits`]: an epoch deadline driven by one ticker thread, a
//! memory cap, a wasm stack cap and an output-size cap, which also bounds what the host
//! copies out of the guest. WASI is linked deny-by-default: no preopens, environment,
//! arguments, network or timers; clocks and randomness are pinned; stdout and stderr go to a
//! small buffer. A panic's message comes from the SDK's panic hook (the host's
//! `antfly:sandbox/guest-panic` import), never from stderr, and every plugin-supplied text is
//! stripped of control characters and bounded ([`sanitize_text`]).
//!
//! Calls are synchronous and may take up to the deadline: from async code, use
//! [`PluginHost::run_blocking`], which runs them on tokio's blocking pool behind a
//! bounded semaphore.

mod bindings;
mod cache;
mod config;
mod error;
mod files;
mod host;
mod manifest;
mod observer;
mod output;
mod plugin;
mod runtime;
mod sandbox;
mod signature;
mod source;
mod text;
pub mod wit;

pub use bindings::{WIT_PACKAGE, WIT_VERSION};
pub use config::{HostConfig, Limits, available_cores};
pub use error::{BlockingError, CallError, CallErrorKind, HostError, LoadError, ManifestError, Stack};
pub use files::{FileError, MAX_COMPONENT_BYTES, MAX_MANIFEST_BYTES};
pub use host::PluginHost;
pub use manifest::{MANIFEST_FILE, Manifest, ManifestEntry};
pub use observer::{CallObserver, CallRecord};
pub use plugin::Plugin;
pub use source::{LoadedFrom, PluginSource, WasmBytes, World};
pub use text::{MAX_PLUGIN_TEXT_BYTES, TRUNCATION_MARKER, error_chain, sanitize_text, truncate};

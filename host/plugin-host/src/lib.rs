//! Sandboxed wasmtime host for antfly-operator plugins.
//!
//! This crate knows wasmtime, not Kubernetes. It compiles each plugin component once
//! (caching the compiled artifact on disk), pre-links it, and runs every call in a fresh
//! store under the limits of [`Limits`]: an epoch deadline driven by one ticker thread, a
//! memory cap, a wasm stack cap and an output-size cap. WASI is linked deny-by-default:
//! no preopens, environment, arguments, network or timers; clocks and randomness are
//! pinned; stdout and stderr go to a small buffer so that a panic's message reaches the
//! error.
//!
//! Calls are synchronous and may take up to the deadline: from async code, use
//! [`PluginHost::run_blocking`], which runs them on tokio's blocking pool behind a
//! bounded semaphore.

mod bindings;
mod cache;
mod config;
mod error;
mod host;
mod manifest;
mod observer;
mod output;
mod plugin;
mod runtime;
mod sandbox;
mod source;
pub mod wit;

pub use bindings::{WIT_PACKAGE, WIT_VERSION};
pub use config::{HostConfig, Limits};
pub use error::{BlockingError, CallError, CallErrorKind, HostError, LoadError, ManifestError};
pub use host::PluginHost;
pub use manifest::{MANIFEST_FILE, Manifest, ManifestEntry};
pub use observer::{CallObserver, CallRecord};
pub use plugin::Plugin;
pub use source::{LoadedFrom, PluginSource, WasmBytes, World};

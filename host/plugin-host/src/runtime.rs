//! The shared runtime of every plugin: one engine, one WASI linker, one epoch ticker thread,
//! the compiled-artifact cache, and the slots that bound concurrent calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::cache::{ArtifactCache, load_artifact};
use crate::config::HostConfig;
use crate::error::{HostError, LoadError};
use crate::sandbox::{self, CallState};
use crate::source::LoadedFrom;

/// The engine and everything every call shares.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) config: HostConfig,
    pub(crate) deadline_ticks: u64,
    pub(crate) slots: Slots,
    pub(crate) linker: Linker<CallState>,
    pub(crate) cache: Option<ArtifactCache>,
    pub(crate) async_slots: Arc<tokio::sync::Semaphore>,
    _ticker: Ticker,
}

impl Runtime {
    pub(crate) fn new(config: HostConfig) -> Result<Self, HostError> {
        let engine = config.engine()?;
        let mut linker = Linker::new(&engine);
        sandbox::link_wasi(&mut linker).map_err(HostError::Link)?;
        let cache = config.cache_dir.as_deref().map(|dir| ArtifactCache::open(dir, &engine)).transpose()?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick).map_err(HostError::Ticker)?;
        let slots = config.max_concurrent_calls.max(1);
        Ok(Self {
            deadline_ticks: config.deadline_ticks(),
            slots: Slots::new(slots),
            async_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            engine,
            config,
            linker,
            cache,
            _ticker: ticker,
        })
    }

    /// Compiles `bytes`, going through the cache when there is one.
    pub(crate) fn compile(
        &self,
        plugin: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(Component, LoadedFrom), LoadError> {
        let engine = &self.engine;
        let compile_error =
            |source| LoadError::Compile { plugin: plugin.to_string(), digest: digest.to_string(), source };
        let Some(cache) = &self.cache else {
            let component = Component::new(engine, bytes).map_err(compile_error)?;
            return Ok((component, LoadedFrom::Compiled));
        };
        if let Some(path) = cache.lookup(digest) {
            match load_artifact(engine, &path) {
                Ok(component) => return Ok((component, LoadedFrom::Cache)),
                Err(error) => {
                    tracing::warn!(plugin, error = %format!("{error:#}"), "cached plugin artifact failed to load; recompiling");
                    cache.evict(digest);
                }
            }
        }
        let artifact = engine.precompile_component(bytes).map_err(compile_error)?;
        let component = match cache.store(digest, &artifact) {
            Ok(path) => load_artifact(engine, &path).map_err(compile_error)?,
            Err(error) => {
                tracing::warn!(plugin, %error, "failed to cache a compiled plugin; compiling in memory");
                Component::new(engine, bytes).map_err(compile_error)?
            }
        };
        Ok((component, LoadedFrom::Compiled))
    }
}

/// A counting semaphore for synchronous callers: it bounds concurrent instances, which
/// also keeps the pooling allocator from running out of slots.
pub(crate) struct Slots {
    free: Mutex<usize>,
    released: Condvar,
}

impl Slots {
    fn new(count: usize) -> Self {
        Self { free: Mutex::new(count), released: Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard { slots: self }
    }
}

pub(crate) struct SlotGuard<'a> {
    slots: &'a Slots,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut free = self.slots.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.slots.released.notify_one();
    }
}

/// The one thread that advances the engine's epoch, which drives every call's deadline.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name("antfly-plugin-epoch".to_string()).spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(tick);
                    engine.increment_epoch();
                }
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // The thread only sleeps and ticks; it cannot fail.
            let _ = thread.join();
        }
    }
}

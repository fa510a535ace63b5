//! Sandbox limits and host settings, and the wasmtime engine configuration they imply.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Strategy};

use crate::error::HostError;
use crate::observer::CallObserver;

/// Limits that apply to every plugin call. All of them live here, in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call, instantiation included. Enforced by epoch
    /// interruption, so a call ends between `deadline - epoch_tick` and `deadline`.
    pub deadline: Duration,
    /// Cap on a call's linear memory, in bytes. Growing past it traps.
    pub memory_bytes: usize,
    /// Cap on the size of a call's result, in bytes of strings plus a fixed cost per
    /// element.
    pub max_output_bytes: usize,
    /// Cap on the wasm stack, in bytes. Deeper recursion traps cleanly.
    pub max_wasm_stack_bytes: usize,
    /// How much of a plugin's stdout and stderr is kept, in bytes, to report panics.
    pub captured_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            max_wasm_stack_bytes: 512 << 10,
            captured_output_bytes: 4 << 10,
        }
    }
}

/// Settings of a [`crate::PluginHost`].
#[derive(Clone)]
pub struct HostConfig {
    /// Per-call limits.
    pub limits: Limits,
    /// Period of the single epoch ticker thread.
    pub epoch_tick: Duration,
    /// Where compiled components are cached, keyed by the component's sha256 and the
    /// engine's compatibility hash. `None` compiles in memory at every start.
    pub cache_dir: Option<PathBuf>,
    /// Calls that may run at once; further calls wait for a slot. Also sizes the pooling
    /// allocator. Defaults to the available cores: plugin calls are CPU-bound, and a call
    /// that waited for a slot starts its deadline only once it runs, so more calls than
    /// cores would only share the cores and miss their deadlines together.
    pub max_concurrent_calls: usize,
    /// Use the pooling instance allocator (fast instantiation from pre-reserved slots).
    pub pooling: bool,
    /// Sees every call, e.g. for per-plugin metrics.
    pub observer: Option<Arc<dyn CallObserver>>,
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field("limits", &self.limits)
            .field("epoch_tick", &self.epoch_tick)
            .field("cache_dir", &self.cache_dir)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("pooling", &self.pooling)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            epoch_tick: Duration::from_millis(10),
            cache_dir: None,
            max_concurrent_calls: available_cores(),
            pooling: true,
            observer: None,
        }
    }
}

/// The cores this process may use, at least one.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl HostConfig {
    /// Epoch ticks that make up the deadline, at least one.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        let ticks = self.limits.deadline.as_nanos().div_ceil(tick);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// The engine every plugin is compiled for and runs in.
    pub(crate) fn engine(&self) -> Result<Engine, HostError> {
        if !self.pooling {
            return Engine::new(&self.base_config()).map_err(HostError::Engine);
        }
        // Reset reused slots by scanning for dirty pages (Linux 6.7+) and rewriting them
        // rather than unmapping memory: a plugin call touches few pages, and the next call
        // then takes no page faults. Without the scan, keeping memory resident would mean
        // zeroing it all at every call, so fall back to wasmtime's default reset.
        let mut config = self.base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pool(true)));
        Engine::new(&config).or_else(|_| {
            let mut config = self.base_config();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pool(false)));
            Engine::new(&config).map_err(HostError::Engine)
        })
    }

    fn base_config(&self) -> Config {
        let mut config = Config::new();
        config
            .strategy(Strategy::Cranelift)
            .cranelift_opt_level(OptLevel::Speed)
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(self.limits.max_wasm_stack_bytes);
        config
    }

    fn pool(&self, pagemap_scan: bool) -> PoolingAllocationConfig {
        let slots = u32::try_from(self.max_concurrent_calls.max(1)).unwrap_or(u32::MAX);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(MAX_CORE_INSTANCES_PER_COMPONENT))
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(slots.saturating_mul(MAX_MEMORIES_PER_COMPONENT))
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .total_tables(slots.saturating_mul(MAX_TABLES_PER_COMPONENT))
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .max_memory_size(self.limits.memory_bytes);
        if pagemap_scan {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_BYTES);
        }
        pool
    }
}

/// A Rust component for wasm32-wasip2 has a handful of core instances (the program, its
/// shims and fixups, one per imported interface); leave room for bigger toolchains.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Bytes of each memory and table that slot reuse rewrites instead of unmapping.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;
const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
const MAX_TABLES_PER_COMPONENT: u32 = 8;

//! A loaded plugin and its calls. Each call runs in a fresh store, which is dropped after
//! the call whether it succeeded or trapped.
//!
//! A plugin's compiled code is mapped only once something calls it. With a compile cache,
//! mapping it again costs a file read and a deserialisation (about a millisecond), so after
//! its checks at load a plugin is parked: its component is dropped, which unmaps the code,
//! and its first call maps it again from the cache. Plugins that no cluster names hold no
//! memory; the first-party plugins and a `--plugin-dir` of twenty took about 6 MiB mapped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap, WasmBacktrace};

use crate::bindings::{BackupDestinationPre, MeshProfilePre, SchedulingProviderPre};
use crate::error::{CallError, CallErrorKind, Stack, short_digest};
use crate::observer::CallRecord;
use crate::output::OutputSize;
use crate::runtime::Runtime;
use crate::sandbox::{CallState, DeniedTrap, GuestPanic};
use crate::source::{LoadedFrom, PluginSource, WasmBytes, World};
use crate::text::{MAX_PLUGIN_TEXT_BYTES, error_chain, sanitize_text};
use crate::wit::{
    BackupPlan, BackupRequest, ClusterView, Kv, MeshClusterView, PluginError, PodView, Role, SchedulingContribution,
};

pub(crate) enum WorldPre {
    Scheduling(SchedulingProviderPre<CallState>),
    Mesh(MeshProfilePre<CallState>),
    Backup(BackupDestinationPre<CallState>),
}

impl WorldPre {
    /// Binds a pre-linked component to the exports of `world`.
    pub(crate) fn new(world: World, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match world {
            World::SchedulingProvider => WorldPre::Scheduling(SchedulingProviderPre::new(pre)?),
            World::MeshProfile => WorldPre::Mesh(MeshProfilePre::new(pre)?),
            World::BackupDestination => WorldPre::Backup(BackupDestinationPre::new(pre)?),
        })
    }
}

/// A loaded, pre-linked plugin. Cheap to clone; calls may run concurrently.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: String,
    version: String,
    world: World,
    digest: String,
    loaded_from: LoadedFrom,
    /// Where the component's bytes are, to map its code again after parking.
    wasm: WasmBytes,
    /// The pre-linked component while its code is mapped; `None` while parked.
    resident: Mutex<Option<Arc<WorldPre>>>,
    host: Arc<Runtime>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("world", &self.inner.world)
            .field("version", &self.inner.version)
            .field("sha256", &self.inner.digest)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(
        source: PluginSource,
        digest: String,
        loaded_from: LoadedFrom,
        pre: WorldPre,
        host: Arc<Runtime>,
    ) -> Self {
        // Without a cache, mapping the code again would mean compiling it again.
        let resident = host.cache.is_none().then(|| Arc::new(pre));
        Self {
            inner: Arc::new(PluginInner {
                name: source.name,
                version: source.version,
                world: source.world,
                digest,
                loaded_from,
                wasm: source.wasm,
                resident: Mutex::new(resident),
                host,
            }),
        }
    }

    /// Whether the plugin's compiled code is mapped now: from its first call on, or always
    /// when the host has no compile cache.
    pub fn is_resident(&self) -> bool {
        self.lock_resident().is_some()
    }

    fn lock_resident(&self) -> std::sync::MutexGuard<'_, Option<Arc<WorldPre>>> {
        self.inner.resident.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pre-linked component, mapped again if the plugin is parked. Concurrent first calls
    /// wait for one mapping.
    fn resident(&self, call: &'static str) -> Result<Arc<WorldPre>, CallError> {
        let mut resident = self.lock_resident();
        if let Some(pre) = &*resident {
            return Ok(pre.clone());
        }
        let started = Instant::now();
        let pre = Arc::new(self.map_again().map_err(|message| {
            let kind = CallErrorKind::Unavailable { message };
            self.observe(call, started.elapsed(), Some(&kind));
            self.error(call, kind)
        })?);
        *resident = Some(pre.clone());
        Ok(pre)
    }

    /// Reads the component again, checks that it is still the one loaded, and maps its
    /// compiled code (from the cache; compiled anew if the artifact is gone). The export
    /// checks of [`crate::PluginHost::load`] held for these exact bytes.
    fn map_again(&self) -> Result<WorldPre, String> {
        let inner = &self.inner;
        let bytes = inner.wasm.read(&inner.name).map_err(|e| error_chain(&e))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != inner.digest {
            return Err(format!(
                "its component changed since it was loaded (sha256 {}, loaded as {}); reload the plugins",
                short_digest(&digest),
                short_digest(&inner.digest)
            ));
        }
        let (component, _) = inner.host.compile(&inner.name, &digest, &bytes).map_err(|e| error_chain(&e))?;
        let pre = inner.host.linker.instantiate_pre(&component).map_err(|e| format!("{e:#}"))?;
        WorldPre::new(inner.world, pre).map_err(|e| format!("{e:#}"))
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn version(&self) -> &str {
        &self.inner.version
    }

    pub fn world(&self) -> World {
        self.inner.world
    }

    /// sha256 of the component, in lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.inner.digest
    }

    pub fn loaded_from(&self) -> LoadedFrom {
        self.inner.loaded_from
    }

    /// `scheduling-provider`: checks the plugin's settings. The inner `Err` lists the
    /// plugin's objections.
    pub fn validate_settings(&self, view: &ClusterView) -> Result<Result<(), Vec<PluginError>>, CallError> {
        const CALL: &str = "validate-settings";
        let pre = self.resident(CALL)?;
        let WorldPre::Scheduling(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_scheduling().call_validate_settings(store, view)
        })
    }

    /// `scheduling-provider`: what the plugin adds to the pods of `role`.
    pub fn contribute(
        &self,
        view: &ClusterView,
        role: Role,
    ) -> Result<Result<SchedulingContribution, PluginError>, CallError> {
        const CALL: &str = "contribute";
        let pre = self.resident(CALL)?;
        let WorldPre::Scheduling(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_scheduling().call_contribute(store, view, role)
        })
    }

    /// `mesh-profile`: annotations for the pod template of `role`.
    pub fn pod_annotations(
        &self,
        view: &MeshClusterView,
        role: Role,
    ) -> Result<Result<Vec<Kv>, PluginError>, CallError> {
        const CALL: &str = "pod-annotations";
        let pre = self.resident(CALL)?;
        let WorldPre::Mesh(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_mesh().call_pod_annotations(store, view, role)
        })
    }

    /// `mesh-profile`: whether `pod` runs the mesh's sidecar.
    pub fn has_sidecar(&self, pod: &PodView) -> Result<bool, CallError> {
        const CALL: &str = "has-sidecar";
        let pre = self.resident(CALL)?;
        let WorldPre::Mesh(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_mesh().call_has_sidecar(store, pod)
        })
    }

    /// `backup-destination`: the URL schemes the destination handles.
    pub fn schemes(&self) -> Result<Vec<String>, CallError> {
        const CALL: &str = "schemes";
        let pre = self.resident(CALL)?;
        let WorldPre::Backup(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_backup().call_schemes(store)
        })
    }

    /// `backup-destination`: checks a location and its options (JSON text).
    pub fn validate_location(&self, location: &str, options: &str) -> Result<Result<(), Vec<PluginError>>, CallError> {
        const CALL: &str = "validate-location";
        let pre = self.resident(CALL)?;
        let WorldPre::Backup(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_backup().call_validate_location(store, location, options)
        })
    }

    /// `backup-destination`: plans a backup.
    pub fn plan_backup(&self, request: &BackupRequest) -> Result<Result<BackupPlan, PluginError>, CallError> {
        const CALL: &str = "plan-backup";
        let pre = self.resident(CALL)?;
        let WorldPre::Backup(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_backup().call_plan_backup(store, request)
        })
    }

    /// `backup-destination`: plans a restore.
    pub fn plan_restore(&self, request: &BackupRequest) -> Result<Result<BackupPlan, PluginError>, CallError> {
        const CALL: &str = "plan-restore";
        let pre = self.resident(CALL)?;
        let WorldPre::Backup(pre) = &*pre else {
            return Err(self.wrong_world(CALL));
        };
        self.run(CALL, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.antfly_operator_backup().call_plan_restore(store, request)
        })
    }

    fn wrong_world(&self, call: &'static str) -> CallError {
        self.error(call, CallErrorKind::WrongWorld { call, world: self.inner.world.as_str() })
    }

    fn error(&self, call: &'static str, kind: CallErrorKind) -> CallError {
        CallError { plugin: self.inner.name.clone(), digest: self.inner.digest.clone(), call, kind }
    }

    /// Runs `f` in a fresh store under the host's limits, then checks what it returned.
    fn run<R: OutputSize>(
        &self,
        call: &'static str,
        f: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _slot = self.inner.host.slots.acquire();
        let started = Instant::now();
        let result = self.run_in_store(call, f);
        self.observe(call, started.elapsed(), result.as_ref().err().map(|e| &e.kind));
        result
    }

    fn observe(&self, call: &'static str, duration: Duration, error: Option<&CallErrorKind>) {
        if let Some(observer) = &self.inner.host.config.observer {
            observer.observe(&CallRecord {
                world: self.inner.world,
                plugin: &self.inner.name,
                function: call,
                duration,
                error,
            });
        }
    }

    fn run_in_store<R: OutputSize>(
        &self,
        call: &'static str,
        f: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let host = &self.inner.host;
        let limits = &host.config.limits;
        let mut store = Store::new(&host.engine, CallState::new(limits));
        store.limiter(|state| state.limiter());
        store.set_epoch_deadline(host.deadline_ticks);
        store.epoch_deadline_trap();
        // Bounds every copy out of the guest, the result included, by the output cap while it
        // is copied: a huge list or string fails before the host allocates it.
        store.set_hostcall_fuel(limits.max_output_bytes);
        let result = f(&mut store);
        // The instance dies with the store, trapped or not.
        let state = store.into_data();
        let value = result.map_err(|error| {
            let kind = classify(&error, &state, host);
            tracing::debug!(
                plugin = %self.inner.name,
                call,
                error = %kind,
                output = %sanitize_text(&state.output.text(), MAX_PLUGIN_TEXT_BYTES),
                "plugin call failed"
            );
            self.error(call, kind)
        })?;
        if let Some(capability) = state.denied.first() {
            return Err(self.error(call, CallErrorKind::DeniedCapability { capability: (*capability).to_string() }));
        }
        let size = value.output_size();
        if size > limits.max_output_bytes {
            return Err(
                self.error(call, CallErrorKind::OversizedOutput { size: Some(size), limit: limits.max_output_bytes })
            );
        }
        Ok(value)
    }
}

/// What wasmtime says when a copy out of the guest used up the hostcall fuel. Its error type
/// is private, so it is recognised by its message (pinned by a test with a real plugin).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Names the limit or fault behind a failed call. Every message that can carry text of the
/// plugin's (a panic, names in a backtrace, a host error about its values) is sanitized.
fn classify(error: &wasmtime::Error, state: &CallState, host: &Runtime) -> CallErrorKind {
    let limits = &host.config.limits;
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return CallErrorKind::Timeout { deadline: limits.deadline };
    }
    if state.memory_limit_hit() {
        return CallErrorKind::MemoryLimit { limit_bytes: limits.memory_bytes };
    }
    if let Some(DeniedTrap(capability)) = error.downcast_ref::<DeniedTrap>() {
        return CallErrorKind::DeniedCapability { capability: (*capability).to_string() };
    }
    if error.chain().any(|cause| cause.to_string().contains(HOSTCALL_FUEL_EXHAUSTED)) {
        return CallErrorKind::OversizedOutput { size: None, limit: limits.max_output_bytes };
    }
    match trap {
        Some(Trap::StackOverflow) => {
            return CallErrorKind::StackOverflow { stack: Stack::Wasm, limit_bytes: limits.max_wasm_stack_bytes };
        }
        // Memory-safe guests (Rust, a JavaScript engine) reach outside their linear memory
        // only when their shadow stack overflows: Rust places it first, so it underflows to
        // an address past the end of memory.
        Some(Trap::MemoryOutOfBounds) => {
            return CallErrorKind::StackOverflow { stack: Stack::Shadow, limit_bytes: limits.max_wasm_stack_bytes };
        }
        // A Rust panic aborts with `unreachable` right after its hook reported it. A report
        // followed by any other trap is not a panic, and stderr is never read.
        Some(Trap::UnreachableCodeReached) if state.panic.is_some() => {
            if let Some(GuestPanic { message, location }) = &state.panic {
                let message = if location.is_empty() { message.clone() } else { format!("{message} (at {location})") };
                return CallErrorKind::Panic { message };
            }
        }
        _ => {}
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallErrorKind::Trap { message: format!("the plugin called exit({})", exit.0) };
    }
    let message = sanitize_text(&without_backtrace(error), MAX_PLUGIN_TEXT_BYTES);
    if trap.is_some() || error.downcast_ref::<WasmBacktrace>().is_some() {
        return CallErrorKind::Trap { message };
    }
    // Outside wasm execution: the plugin returned values that cannot be lifted (for
    // example invalid UTF-8 or an out-of-range enum), or could not be instantiated.
    if message.contains("instantiat") || message.contains("concurrent") {
        CallErrorKind::Instantiate { message }
    } else {
        CallErrorKind::InvalidOutput { message }
    }
}

/// The error's causes on one line, without the wasm backtrace: its frames carry names from
/// the plugin's own name section, and a raw backtrace is no message.
fn without_backtrace(error: &wasmtime::Error) -> String {
    // The backtrace is attached as a context, which the chain shows by its text only.
    const BACKTRACE: &str = "error while executing at wasm backtrace";
    error
        .chain()
        .filter(|cause| !cause.to_string().starts_with(BACKTRACE))
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

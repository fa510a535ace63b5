//! The per-call sandbox: store state, deny-by-default WASI, pinned clocks and randomness,
//! captured output and the memory limiter.
//!
//! A Rust guest for wasm32-wasip2 imports about a dozen WASI interfaces even when its
//! world imports nothing, so WASI must be linked. It is linked with an empty context (no
//! preopens, environment or arguments, no network), and the entry points of the denied
//! capabilities are replaced: reading the environment or the preopened directories
//! returns nothing but is recorded, and asking for the network or for a timer traps. A
//! call that touched a denied capability fails, even if the plugin recovered.
//!
//! Besides WASI, the sandbox provides one import of its own, `antfly:sandbox/guest-panic`:
//! the SDK's panic hook reports a panic's message there before the guest aborts.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::cli::environment;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::sockets::network::{self, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::{instance_network, tcp_create_socket};
use wasmtime_wasi::p2::bindings::sync::sockets::udp_create_socket;
use wasmtime_wasi::p2::{
    DynPollable, OutputStream, Pollable, SocketError, SocketResult, StreamResult, TcpSocket, UdpSocket,
};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::config::Limits;
use crate::text::{MAX_PLUGIN_TEXT_BYTES, sanitize_text};

/// Fixed wall-clock time seen by plugins: the Unix epoch.
const PINNED_WALL_CLOCK: Duration = Duration::ZERO;
/// Fixed monotonic time seen by plugins, in nanoseconds.
const PINNED_MONOTONIC_NS: u64 = 0;
/// Seeds of the pinned random generators.
const SECURE_SEED: u64 = 0x616e_7466_6c79_0001;
const INSECURE_SEED: u64 = 0x616e_7466_6c79_0002;

/// Store data of one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    /// Denied capabilities the plugin reached for, in order.
    pub(crate) denied: Vec<&'static str>,
    /// What the plugin wrote to stdout and stderr, truncated. Never parsed: a plugin writes
    /// whatever it likes there.
    pub(crate) output: Capture,
    /// The first panic the guest's panic hook reported, already sanitized.
    pub(crate) panic: Option<GuestPanic>,
}

/// A panic as the SDK's panic hook reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GuestPanic {
    pub(crate) message: String,
    pub(crate) location: String,
}

impl CallState {
    pub(crate) fn new(limits: &Limits) -> Self {
        let output = Capture::new(limits.captured_output_bytes);
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(PinnedWallClock)
            .secure_random(PinnedRng::new(SECURE_SEED))
            .insecure_random(PinnedRng::new(INSECURE_SEED))
            .insecure_random_seed(u128::from(INSECURE_SEED))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .allow_blocking_current_thread(true);
        Self {
            wasi: builder.build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.memory_bytes),
            denied: Vec::new(),
            output,
            panic: None,
        }
    }

    pub(crate) fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// Whether the call ended because memory growth was refused.
    pub(crate) fn memory_limit_hit(&self) -> bool {
        self.limiter.hit
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Links WASI into `linker`, then replaces the entry points of denied capabilities.
pub(crate) fn link_wasi(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    environment::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    preopens::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    instance_network::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    tcp_create_socket::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    udp_create_socket::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    monotonic_clock::add_to_linker::<CallState, Denials>(linker, Denied::of)?;
    linker.allow_shadowing(false);
    link_panic_hook(linker)
}

/// The interface the SDK's panic hook calls (see `plugins/sdk/src/panic_hook.rs`).
pub(crate) const GUEST_PANIC_INTERFACE: &str = "antfly:sandbox/guest-panic@0.1.0";

/// Provides `report(message, location)`. Its strings are copied under the hostcall fuel
/// like every guest-to-host copy, then sanitized; only the first report counts.
fn link_panic_hook(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.instance(GUEST_PANIC_INTERFACE)?.func_wrap(
        "report",
        |mut store: StoreContextMut<'_, CallState>, (message, location): (String, String)| {
            let state = store.data_mut();
            if state.panic.is_none() {
                state.panic = Some(GuestPanic {
                    message: sanitize_text(&message, MAX_PLUGIN_TEXT_BYTES),
                    location: sanitize_text(&location, MAX_PLUGIN_TEXT_BYTES / 4),
                });
            }
            Ok(())
        },
    )
}

/// A trap raised when a plugin asks for a capability that cannot be faked as empty.
#[derive(Debug, thiserror::Error)]
#[error("denied capability: {0}")]
pub(crate) struct DeniedTrap(pub(crate) &'static str);

/// Host implementations of the denied entry points, recording each attempt.
struct Denials;

impl HasData for Denials {
    type Data<'a> = Denied<'a>;
}

/// The record of denied capabilities of one call.
struct Denied<'a>(&'a mut Vec<&'static str>);

impl Denied<'_> {
    fn of(state: &mut CallState) -> Denied<'_> {
        Denied(&mut state.denied)
    }

    fn record(&mut self, capability: &'static str) {
        if !self.0.contains(&capability) {
            self.0.push(capability);
        }
    }

    fn deny_network(&mut self) -> wasmtime::Error {
        const NETWORK: &str = "the network (wasi:sockets)";
        self.record(NETWORK);
        wasmtime::Error::new(DeniedTrap(NETWORK))
    }

    fn deny_timer(&mut self) -> wasmtime::Error {
        const TIMERS: &str = "timers and sleeping (wasi:clocks/monotonic-clock)";
        self.record(TIMERS);
        wasmtime::Error::new(DeniedTrap(TIMERS))
    }
}

impl environment::Host for Denied<'_> {
    fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        self.record("the environment (wasi:cli/environment)");
        Ok(Vec::new())
    }

    fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
        self.record("the arguments (wasi:cli/environment)");
        Ok(Vec::new())
    }

    fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
        self.record("the working directory (wasi:cli/environment)");
        Ok(None)
    }
}

impl preopens::Host for Denied<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<wasmtime_wasi::filesystem::Descriptor>, String)>> {
        self.record("the filesystem (wasi:filesystem/preopens)");
        Ok(Vec::new())
    }
}

impl instance_network::Host for Denied<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<wasmtime_wasi::p2::Network>> {
        Err(self.deny_network())
    }
}

/// Needed by the socket-creating interfaces to convert their errors; no network resource
/// can exist, since `instance-network` is denied.
impl network::Host for Denied<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<network::ErrorCode> {
        error.downcast()
    }

    fn network_error_code(
        &mut self,
        _error: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<network::ErrorCode>> {
        Ok(None)
    }
}

impl network::HostNetwork for Denied<'_> {
    fn drop(&mut self, _network: Resource<network::Network>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl tcp_create_socket::Host for Denied<'_> {
    fn create_tcp_socket(&mut self, _family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        Err(SocketError::trap(self.deny_network()))
    }
}

impl udp_create_socket::Host for Denied<'_> {
    fn create_udp_socket(&mut self, _family: IpAddressFamily) -> SocketResult<Resource<UdpSocket>> {
        Err(SocketError::trap(self.deny_network()))
    }
}

impl monotonic_clock::Host for Denied<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(PINNED_MONOTONIC_NS)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, _when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        Err(self.deny_timer())
    }

    fn subscribe_duration(&mut self, _duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        Err(self.deny_timer())
    }
}

/// The wall clock plugins see: always the Unix epoch.
struct PinnedWallClock;

impl HostWallClock for PinnedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        PINNED_WALL_CLOCK
    }
}

/// A seeded SplitMix64 generator: the same sequence at every call.
struct PinnedRng(u64);

impl PinnedRng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl rand::TryRng for PinnedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// Keeps the first `capacity` bytes a plugin writes to stdout and stderr, and silently
/// drops the rest, so that a chatty plugin neither fails nor grows host memory.
#[derive(Clone)]
pub(crate) struct Capture {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn new(capacity: usize) -> Self {
        Self { capacity, buffer: Arc::new(Mutex::new(Vec::new())) }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was captured, lossily decoded.
    pub(crate) fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// [`StoreLimits`] with `trap_on_grow_failure`, remembering whether it refused growth so
/// that the trap can be reported as a memory-limit error.
struct Limiter {
    inner: StoreLimits,
    hit: bool,
}

impl Limiter {
    fn new(memory_bytes: usize) -> Self {
        Self {
            inner: StoreLimitsBuilder::new().memory_size(memory_bytes).trap_on_grow_failure(true).build(),
            hit: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.hit = true;
        }
        allowed
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.hit = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

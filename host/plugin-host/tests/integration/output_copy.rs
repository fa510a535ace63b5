//! The output cap bounds what the host copies out of a plugin while it copies: a plugin
//! returning a huge list or string fails without the host ever allocating it. This test
//! binary counts the host's allocations to prove it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use antfly_plugin_host::wit::Role;
use std::time::Duration;

use antfly_plugin_host::{CallErrorKind, HostConfig, Limits, PluginHost, World};

/// Records the largest single allocation made on a thread while its `RECORDING` is on.
struct LargestAllocation;

thread_local! {
    // Per thread: the other tests of this binary run on threads of their own, and what they
    // allocate meanwhile (compiling a 12 MB component, say) is not this call's. Plugin calls
    // run on the calling thread.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn recording() -> bool {
    RECORDING.try_with(Cell::get).unwrap_or(false)
}

#[expect(unsafe_code, reason = "a global allocator is an unsafe trait; this one only forwards to System")]
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if recording() {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator, which allocated `ptr`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if recording() {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator, which allocated `ptr`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

#[test]
fn huge_results_fail_before_the_host_allocates_them() {
    // A generous deadline: building the results takes the guest a while on a loaded machine.
    let host = PluginHost::new(HostConfig {
        limits: Limits { deadline: Duration::from_secs(2), ..Limits::default() },
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = crate::common::fixture(&host, "hostile", World::SchedulingProvider);
    let limit = host.config().limits.max_output_bytes;
    // `huge-list`: 128 Ki entries, 6 MiB as host values; `huge-string`: 8 MiB.
    for attack in ["huge-list", "huge-string"] {
        let view = crate::common::cluster(&format!(r#"{{"attack":"{attack}"}}"#));
        LARGEST.store(0, Ordering::Relaxed);
        RECORDING.set(true);
        let result = plugin.contribute(&view, Role::Data);
        RECORDING.set(false);
        let error = result.unwrap_err();
        assert!(matches!(error.kind, CallErrorKind::OversizedOutput { size: None, .. }), "{attack}: {error}");
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(largest <= 2 * limit, "{attack}: the host allocated {largest} bytes at once");
    }
}

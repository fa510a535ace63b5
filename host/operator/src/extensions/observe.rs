//! Per-call observation in the domain's words, so that metrics need not know the plugin host.

use std::sync::Arc;
use std::time::Duration;

use antfly_plugin_host::{CallObserver, CallRecord};

/// One finished plugin call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginCall<'a> {
    /// `scheduling-provider`, `mesh-profile` or `backup-destination`.
    pub world: &'static str,
    pub plugin: &'a str,
    /// The WIT function, e.g. `contribute`.
    pub function: &'static str,
    pub duration: Duration,
    /// The limit or fault that failed the call (`Timeout`, `MemoryLimit`, `Trap`, ...).
    pub failure: Option<&'static str>,
}

/// Receives every plugin call, on the calling thread.
pub trait PluginCallObserver: Send + Sync {
    fn observe(&self, call: &PluginCall<'_>);
}

/// Adapts a [`PluginCallObserver`] to the plugin host's hook.
pub(super) struct HostObserver(pub(super) Arc<dyn PluginCallObserver>);

impl CallObserver for HostObserver {
    fn observe(&self, call: &CallRecord<'_>) {
        self.0.observe(&PluginCall {
            world: call.world.as_str(),
            plugin: call.plugin,
            function: call.function,
            duration: call.duration,
            failure: call.error.map(|e| e.category()),
        });
    }
}

//! A hook that sees every plugin call: its world, plugin, function, duration and outcome, so
//! that the embedding program can keep per-plugin metrics without wrapping each call.

use std::time::Duration;

use crate::error::CallErrorKind;
use crate::source::World;

/// One finished plugin call.
#[derive(Debug)]
pub struct CallRecord<'a> {
    pub world: World,
    pub plugin: &'a str,
    /// The WIT function, e.g. `contribute`.
    pub function: &'static str,
    /// Wall-clock time, waiting for a call slot excluded.
    pub duration: Duration,
    /// `None` when the call returned a value (which may be the plugin's own refusal).
    pub error: Option<&'a CallErrorKind>,
}

/// Receives every [`CallRecord`]. Called on the calling thread, after the call; keep it cheap.
pub trait CallObserver: Send + Sync {
    fn observe(&self, call: &CallRecord<'_>);
}

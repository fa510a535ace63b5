//! Reconcile errors, one variant per failure site, each with a stable category.

use std::time::Duration;

use crate::compose::ExtensionError;
use crate::pipeline::PipelineError;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("failed to build the desired state: {0}")]
    Pipeline(#[source] PipelineError),
    #[error("failed to detect mesh sidecars: {0}")]
    Plugins(#[source] ExtensionError),
    #[error("plugin call task failed: {0}")]
    PluginTask(String),
    #[error("failed to apply {kind} {name}: {source}")]
    Apply { kind: &'static str, name: String, source: kube::Error },
    #[error("failed to delete {kind} {name}: {source}")]
    Delete { kind: &'static str, name: String, source: kube::Error },
    #[error("failed to list {kind}: {source}")]
    List { kind: &'static str, source: kube::Error },
    #[error("failed to write status: {0}")]
    WriteStatus(#[source] kube::Error),
    #[error("failed to update finalizers: {0}")]
    Finalizer(#[source] kube::Error),
    #[error("failed to serialise {0}: {1}")]
    Serialise(&'static str, String),
    #[error("not the leader; refusing to write")]
    NotLeader,
}

impl ReconcileError {
    /// A stable label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::Pipeline(PipelineError::Invalid(_)) => "invalid_spec",
            ReconcileError::Pipeline(PipelineError::Plugins(_))
            | ReconcileError::Plugins(_)
            | ReconcileError::PluginTask(_) => "plugin",
            ReconcileError::Apply { .. } | ReconcileError::Delete { .. } => "apply",
            ReconcileError::List { .. } => "observe",
            ReconcileError::WriteStatus(_) | ReconcileError::Finalizer(_) => "status",
            ReconcileError::Serialise(..) => "internal",
            ReconcileError::NotLeader => "leadership",
        }
    }

    /// Transient failures back off per object; others wait for a change (or a slow retry).
    pub fn retry_after(&self, attempt: u32) -> Option<Duration> {
        match self {
            ReconcileError::Pipeline(PipelineError::Invalid(_)) => None,
            // A missed deadline says the machine was busy, not that the plugin is wrong.
            ReconcileError::Pipeline(PipelineError::Plugins(e)) | ReconcileError::Plugins(e) if e.is_transient() => {
                Some(backoff(attempt).min(MAX_TRANSIENT_PLUGIN_BACKOFF))
            }
            // The rest is deterministic (a trap, bad output, refused settings): retry slowly,
            // in case the plugin directory changes.
            ReconcileError::Pipeline(PipelineError::Plugins(_)) | ReconcileError::Plugins(_) => {
                Some(DETERMINISTIC_PLUGIN_RETRY)
            }
            _ => Some(backoff(attempt)),
        }
    }
}

/// The longest wait before retrying a plugin call that missed its deadline.
pub const MAX_TRANSIENT_PLUGIN_BACKOFF: Duration = Duration::from_secs(30);
/// The wait before retrying a plugin failure that would repeat as it is.
pub const DETERMINISTIC_PLUGIN_RETRY: Duration = Duration::from_secs(300);

/// Exponential backoff from 2 s at the first attempt, capped at 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(8)).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::ExtensionError;

    fn plugin_failure(transient: bool) -> ReconcileError {
        let error = ExtensionError::PluginFailed { plugin: "p".into(), message: "m".into(), transient };
        ReconcileError::Pipeline(PipelineError::Plugins(error))
    }

    #[test]
    fn a_missed_deadline_is_retried_within_seconds_with_backoff() {
        let deadline = plugin_failure(true);
        let waits: Vec<Duration> = (1..=8).map(|attempt| deadline.retry_after(attempt).unwrap_or_default()).collect();
        assert_eq!(waits[0], Duration::from_secs(2));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(waits[7], MAX_TRANSIENT_PLUGIN_BACKOFF);
        let sidecars = ReconcileError::Plugins(ExtensionError::PluginFailed {
            plugin: "istio".into(),
            message: "deadline".into(),
            transient: true,
        });
        assert_eq!(sidecars.retry_after(1), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_deterministic_plugin_failure_waits_longer() {
        assert_eq!(plugin_failure(false).retry_after(1), Some(DETERMINISTIC_PLUGIN_RETRY));
        let rejected = ReconcileError::Pipeline(PipelineError::Plugins(ExtensionError::SettingsRejected {
            plugin: "eks".into(),
            field: "spec.eks".into(),
            message: "bad".into(),
        }));
        assert_eq!(rejected.retry_after(1), Some(DETERMINISTIC_PLUGIN_RETRY));
    }
}

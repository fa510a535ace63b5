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
            // Plugins are deterministic; retry slowly in case the plugin directory changes.
            ReconcileError::Pipeline(PipelineError::Plugins(_)) | ReconcileError::Plugins(_) => {
                Some(Duration::from_secs(300))
            }
            _ => Some(backoff(attempt)),
        }
    }
}

/// Exponential backoff from 1 s, capped at 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(8)).min(Duration::from_secs(300))
}

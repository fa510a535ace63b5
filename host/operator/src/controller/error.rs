//! Reconcile errors, one variant per failure site, each with a stable category.

use std::time::Duration;

use super::compact::DecodeError;
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
    #[error(transparent)]
    Cache(#[from] DecodeError),
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
            ReconcileError::Serialise(..) | ReconcileError::Cache(_) => "internal",
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
            // An API server that sheds load (429, or 503 under priority and fairness) says
            // when to come back; never sooner, and with the usual backoff if it says more.
            other => Some(match other.api_status().and_then(server_retry_after) {
                Some(asked) => asked.max(backoff(attempt)).min(MAX_SERVER_RETRY_AFTER),
                None => backoff(attempt),
            }),
        }
    }

    /// The API server's answer behind this error, if it answered.
    fn api_status(&self) -> Option<&kube::core::Status> {
        let source = match self {
            ReconcileError::Apply { source, .. }
            | ReconcileError::Delete { source, .. }
            | ReconcileError::List { source, .. } => source,
            ReconcileError::WriteStatus(source) | ReconcileError::Finalizer(source) => source,
            _ => return None,
        };
        match source {
            kube::Error::Api(status) => Some(status),
            _ => None,
        }
    }
}

/// The longest wait a server's `Retry-After` is honoured for.
pub const MAX_SERVER_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The wait a shedding API server asks for (`details.retryAfterSeconds` of a 429 or 5xx).
fn server_retry_after(status: &kube::core::Status) -> Option<Duration> {
    if status.code != 429 && status.code < 500 {
        return None;
    }
    let seconds = status.details.as_ref()?.retry_after_seconds;
    (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
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
    fn a_shedding_api_server_is_left_alone_for_as_long_as_it_asks() {
        // As the API server answers a shed request.
        let refused = |code: u16, retry_after_seconds: u32| {
            let status: kube::core::Status = serde_json::from_value(serde_json::json!({
                "status": "Failure", "code": code, "reason": "TooManyRequests",
                "details": {"retryAfterSeconds": retry_after_seconds},
            }))
            .expect("a Status");
            ReconcileError::Apply {
                kind: "StatefulSet",
                name: "c-data".into(),
                source: kube::Error::Api(Box::new(status)),
            }
        };
        assert_eq!(refused(429, 7).retry_after(1), Some(Duration::from_secs(7)));
        assert_eq!(refused(429, 7).retry_after(4), Some(Duration::from_secs(16)), "never sooner than the backoff");
        assert_eq!(refused(503, 3600).retry_after(1), Some(MAX_SERVER_RETRY_AFTER), "bounded");
        assert_eq!(refused(429, 0).retry_after(1), Some(Duration::from_secs(2)), "no hint: the backoff");
        assert_eq!(refused(409, 7).retry_after(1), Some(Duration::from_secs(2)), "only shedding answers");
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

//! Drain-gated scale-down of data nodes, as a pure decision from the StatefulSet's replicas,
//! the target, and what the cluster's status remembers.
//!
//! One ordinal at a time, the highest first: the server is asked to drain its node (node id =
//! ordinal + 1, as in the pod command), the drain is polled until the server says the node is
//! safe to terminate, and only then do the StatefulSet's replicas drop by one. A target raised
//! back over the draining ordinal cancels the drain and keeps the pod. A drain still unsafe
//! past the timeout halts: the pod stays, a condition and an event say so, and it goes on only
//! if the server later says the node is safe, the target is raised back, or the timeout grows.
//!
//! All the state is in `status.dataScaleDownStatus`, so an operator restarted mid-drain
//! resumes it.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::{DataScaleDownStatus, ScaleDownPhase};

/// How long a drain may stay unsafe before it halts, when the spec sets nothing.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(1800);

/// The Antfly node id of a data pod ordinal.
pub fn node_id(ordinal: i32) -> u64 {
    u64::try_from(ordinal).unwrap_or(0) + 1
}

/// What the operator does next about the data StatefulSet's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run this many replicas (a scale-up, or no change); no drain is involved.
    Apply(i32),
    /// A scale-down is due but must wait (a rollout, a pod not Ready); keep the replicas.
    Wait { replicas: i32, reason: String },
    /// Ask the server to drain the node of this ordinal; keep the replicas.
    StartDrain { ordinal: i32 },
    /// Ask the server where the drain of this ordinal stands.
    Poll { ordinal: i32 },
    /// The target came back over the draining ordinal: cancel its drain, keep the pod.
    Cancel { ordinal: i32 },
}

/// The next decision. `live`: the StatefulSet's replicas now (`None` before it exists);
/// `unsettled`: why no new drain may start now, if that is so.
pub fn decide(
    live: Option<i32>,
    target: i32,
    remembered: Option<&DataScaleDownStatus>,
    unsettled: Option<String>,
) -> Decision {
    let Some(live) = live else { return Decision::Apply(target) };
    let active = remembered
        .filter(|s| matches!(s.phase, ScaleDownPhase::Draining | ScaleDownPhase::Halted))
        .and_then(|s| s.draining_ordinal)
        // An ordinal at or past the live replicas is already gone.
        .filter(|ordinal| *ordinal < live);
    if let Some(ordinal) = active {
        return if target > ordinal { Decision::Cancel { ordinal } } else { Decision::Poll { ordinal } };
    }
    if target >= live {
        return Decision::Apply(target);
    }
    match unsettled {
        Some(reason) => Decision::Wait { replicas: live, reason },
        None => Decision::StartDrain { ordinal: live - 1 },
    }
}

/// What the server said of a drain, or why it could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrainReport {
    /// The phase and whether the server says the node is safe to terminate.
    Answered {
        phase: String,
        safe: bool,
        message: Option<String>,
    },
    Failed(String),
}

/// After a poll: remove the pod, keep draining, or halt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    Remove,
    Draining(String),
    Halted(String),
}

/// The outcome of a poll of `ordinal`'s drain, started at `started`.
pub fn after_poll(
    ordinal: i32,
    report: &DrainReport,
    started: Option<Timestamp>,
    now: Timestamp,
    timeout: Duration,
) -> PollOutcome {
    let id = node_id(ordinal);
    let said = match report {
        DrainReport::Answered { safe: true, .. } => return PollOutcome::Remove,
        DrainReport::Answered { phase, message, .. } => match message {
            Some(message) => format!("node {id} is {phase}: {message}"),
            None => format!("node {id} is {phase}"),
        },
        DrainReport::Failed(error) => format!("cannot read the drain of node {id}: {error}"),
    };
    // A start in the future (a clock jump) counts as no time passed.
    let elapsed = started.map(|s| Duration::try_from(now.duration_since(s)).unwrap_or_default()).unwrap_or_default();
    if elapsed > timeout {
        // Nothing from the server in the message: it must not change while halted (one event).
        PollOutcome::Halted(format!(
            "node {id} is still not safe to remove after the drain timeout of {}s, so its pod stays; raise the \
             data replicas (minReplicas with the autoscaler) back to cancel, or raise \
             spec.dataNodes.drainTimeoutSeconds to wait longer",
            timeout.as_secs()
        ))
    } else {
        PollOutcome::Draining(said)
    }
}

#[cfg(test)]
mod tests;

//! Rollouts under the operator's control, as a pure decision from what the cluster shows.
//!
//! Both StatefulSets use `OnDelete`: a changed pod template restarts nothing until the operator
//! deletes a pod, and the StatefulSet controller recreates it from the current template. Each
//! reconcile calls [`plan`] on the observed StatefulSets and pods and performs at most one
//! restart. The operator keeps no rollout state of its own: the pods' revision labels and the
//! StatefulSets' `updateRevision` are the state, so a restarted operator resumes where the
//! cluster stands, and a reverted spec (the old revision becomes the update revision again)
//! rolls the already updated pods back the same way.
//!
//! The order and the guards:
//! - data pods roll before metadata pods; metadata waits until every data pod is updated and
//!   Ready;
//! - one pod at a time, highest ordinal first; a Ready pod is restarted only when every other
//!   pod of its role is Ready (and answers its health check), and for metadata pods only
//!   while a majority of the other metadata pods is Ready;
//! - an outdated pod that is not Ready is restarted first: it serves nothing, so restarting it
//!   costs no availability, and it is how a halted rollout moves on once the spec is fixed;
//! - an updated pod that is still not Ready (or not healthy) `timeout` after it was created
//!   halts the rollout: nothing else is restarted until the spec changes.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::base::Role;
use crate::base::live::LiveStatefulSet;

/// The label the StatefulSet controller puts on each pod: the revision it was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// How long an updated pod may take to become Ready before the rollout halts, by default.
pub const DEFAULT_POD_READY_TIMEOUT: Duration = Duration::from_secs(600);

/// One pod, as the rollout sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub uid: String,
    pub ordinal: i32,
    pub revision: Option<String>,
    pub ready: bool,
    /// Whether the server's health endpoint answered; `None` when not checked (the pod is not
    /// Ready, or checks are off), which counts as healthy for a Ready pod.
    pub healthy: Option<bool>,
    /// Since when the pod is in its current readiness: the later of its creation and its
    /// Ready condition's last transition.
    pub since: Option<Timestamp>,
    pub terminating: bool,
    pub ip: Option<String>,
}

impl PodView {
    /// The pod's view, or `None` for a pod `statefulset` does not own: one without its
    /// controller reference (a pod someone else made, or one orphaned while the StatefulSet is
    /// recreated), or whose name carries no ordinal of it.
    pub fn from_pod(pod: &Pod, statefulset: &str) -> Option<Self> {
        let owned =
            pod.metadata.owner_references.iter().flatten().any(|owner| {
                owner.controller == Some(true) && owner.kind == "StatefulSet" && owner.name == statefulset
            });
        if !owned {
            return None;
        }
        let name = pod.metadata.name.clone()?;
        let ordinal = name.strip_prefix(statefulset)?.strip_prefix('-')?.parse().ok()?;
        let status = pod.status.as_ref();
        let ready_condition =
            status.and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        let ready = ready_condition.is_some_and(|c| c.status == "True");
        let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let transition = ready_condition.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0);
        Some(Self {
            name,
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ordinal,
            revision: pod.metadata.labels.as_ref().and_then(|l| l.get(REVISION_LABEL)).cloned(),
            ready,
            healthy: None,
            since: created.max(transition),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            ip: status.and_then(|s| s.pod_ip.clone()),
        })
    }

    fn serving(&self) -> bool {
        self.ready && self.healthy != Some(false)
    }
}

/// One role's StatefulSet and pods, as observed.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleView {
    pub role: Role,
    pub replicas: i32,
    /// `status.updateRevision`, once the StatefulSet controller has seen the current spec;
    /// `None` while it has not (`status.observedGeneration` behind `metadata.generation`).
    pub update_revision: Option<String>,
    pub pods: Vec<PodView>,
}

impl RoleView {
    /// The view of `statefulset` (absent: not created yet) and its pods.
    pub fn observe(role: Role, statefulset: Option<&LiveStatefulSet>, name: &str, pods: &[Pod]) -> Self {
        let replicas = statefulset.and_then(|s| s.spec.replicas).unwrap_or(0);
        let update_revision = statefulset.and_then(LiveStatefulSet::update_revision).map(String::from);
        let mut pods: Vec<PodView> = pods.iter().filter_map(|p| PodView::from_pod(p, name)).collect();
        pods.sort_by_key(|p| p.ordinal);
        Self { role, replicas, update_revision, pods }
    }

    /// Pods made from the current revision.
    pub fn updated(&self) -> i32 {
        let count = self.pods.iter().filter(|p| self.is_updated(p)).count();
        i32::try_from(count).unwrap_or(i32::MAX)
    }

    fn is_updated(&self, pod: &PodView) -> bool {
        self.update_revision.is_some() && pod.revision == self.update_revision
    }

    /// Pods not made from the current revision; none while the revision is unknown.
    fn outdated(&self) -> impl Iterator<Item = &PodView> {
        self.pods.iter().filter(|p| self.update_revision.is_some() && !self.is_updated(p))
    }
}

/// What the operator does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every pod runs the current spec.
    Complete,
    /// Nothing to do until the cluster changes (a pod starting, a StatefulSet catching up),
    /// or until `deadline`, when a pod still not back halts the rollout.
    Wait { role: Role, reason: String, deadline: Option<Timestamp> },
    /// Delete this pod (its uid as the precondition) so that it comes back updated.
    Restart { role: Role, pod: String, uid: String, reason: String },
    /// An updated pod did not come back in time; nothing more is restarted.
    Halted { role: Role, pod: String, message: String },
}

/// The next step of the rollout of both roles, at `now`.
pub fn plan(data: &RoleView, metadata: &RoleView, timeout: Duration, now: Timestamp) -> Step {
    // With no outdated pod anywhere there is no rollout: pods starting or failing are the
    // StatefulSet's and the readiness status's business. A StatefulSet whose revision is not
    // known yet is waited for below.
    let known = data.update_revision.is_some() && metadata.update_revision.is_some();
    if known && data.outdated().next().is_none() && metadata.outdated().next().is_none() {
        return Step::Complete;
    }
    for role in [data, metadata] {
        match plan_role(role, timeout, now) {
            Step::Complete => {}
            other => return other,
        }
    }
    Step::Complete
}

/// One role's next step; `Complete` only when every pod is updated and serving, so that the
/// next role waits for this one to be whole again.
fn plan_role(view: &RoleView, timeout: Duration, now: Timestamp) -> Step {
    let role = view.role;
    let wait = |reason: String| Step::Wait { role, reason, deadline: None };
    let Some(revision) = &view.update_revision else {
        return wait(format!("the {} StatefulSet has not caught up with the spec", role.as_str()));
    };
    let outdated: Vec<&PodView> = view.outdated().collect();
    if let Some(pod) = view.pods.iter().find(|p| p.terminating) {
        return wait(format!("pod {} is terminating", pod.name));
    }
    let present = i32::try_from(view.pods.len()).unwrap_or(i32::MAX);
    if present < view.replicas {
        return wait(format!("{present} of {} {} pods exist", view.replicas, role.as_str()));
    }
    // An updated pod that is not serving holds the rollout, and halts it once late. A Ready pod
    // whose health check failed only holds it: one slow answer is not a pod that never came
    // back, and its readiness probe will say so if it is.
    if let Some(pod) = view.pods.iter().find(|p| p.revision.as_ref() == Some(revision) && !p.serving()) {
        if pod.ready {
            return wait(format!("updated pod {} has not answered its health check yet", pod.name));
        }
        // A clock ahead of ours (the kubelet's) counts as no time passed, never as late.
        let age = pod.since.map(|since| Duration::try_from(now.duration_since(since)).unwrap_or_default());
        return match age {
            Some(age) if age > timeout => Step::Halted {
                role,
                pod: pod.name.clone(),
                // No live age here: the message must stay the same while halted, or each
                // reconcile would publish a new event.
                message: format!(
                    "updated {} pod {} is not Ready within {}s; the rollout goes no further until the spec changes",
                    role.as_str(),
                    pod.name,
                    timeout.as_secs()
                ),
            },
            _ => Step::Wait {
                role,
                reason: format!("updated pod {} is not Ready yet", pod.name),
                deadline: pod.since.and_then(|since| since.checked_add(timeout).ok()),
            },
        };
    }
    if outdated.is_empty() {
        return Step::Complete;
    }
    // An outdated pod that serves nothing can go first, at no cost in availability.
    if let Some(pod) = outdated.iter().rev().find(|p| !p.serving()) {
        return restart(role, pod, "outdated and not serving");
    }
    let Some(next) = outdated.iter().max_by_key(|p| p.ordinal) else { return Step::Complete };
    // The rules above leave every other pod serving by now; this guard says why that matters
    // and holds should they change.
    let others_serving = view.pods.iter().filter(|p| p.name != next.name && p.serving()).count();
    let others = view.pods.len() - 1;
    let allowed = match role {
        Role::Data => others_serving == others,
        // The pods still serving while this one restarts must be a Raft majority of the group.
        Role::Metadata => others == 0 || others_serving * 2 > view.pods.len(),
    };
    if !allowed {
        return wait(format!(
            "{others_serving} of the other {others} {} pods serve; restarting {} now would risk {}",
            role.as_str(),
            next.name,
            if role == Role::Metadata { "the Raft majority" } else { "a second unavailable pod" }
        ));
    }
    restart(role, next, "outdated")
}

fn restart(role: Role, pod: &PodView, why: &str) -> Step {
    Step::Restart { role, pod: pod.name.clone(), uid: pod.uid.clone(), reason: why.to_string() }
}

/// The `Rollout` condition's message for a step, with per-role progress.
pub fn describe(step: &Step, data: &RoleView, metadata: &RoleView) -> String {
    let progress = format!(
        "updated {}/{} data pods, {}/{} metadata pods",
        data.updated(),
        data.replicas,
        metadata.updated(),
        metadata.replicas
    );
    match step {
        Step::Complete => format!("{progress}: every pod runs the current spec"),
        Step::Wait { reason, .. } => format!("{progress}; waiting: {reason}"),
        Step::Restart { pod, reason, .. } => format!("{progress}; restarting {pod} ({reason})"),
        Step::Halted { message, .. } => format!("{progress}; halted: {message}"),
    }
}

#[cfg(test)]
mod tests;

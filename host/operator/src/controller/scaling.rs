//! The data-scaling step, before the apply: the autoscaler's recommendation from
//! `metrics.k8s.io`, then the drain-gated scale-down through the Antfly API. It decides the
//! data StatefulSet's replicas for this reconcile and writes nothing but Antfly API calls; the
//! state goes into the cluster's status (see [`crate::scaling`]).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::context::{Context, cluster_key};
use super::error::ReconcileError;
use super::rollout::observe;
use super::update_status::{publish, warn_condition};
use crate::api::{
    AntflyCluster, AntflyClusterStatus, AutoScalingSpec, AutoScalingStatus, DataScaleDownStatus, ScaleDirection,
    ScaleDownPhase, ScaleSource,
};
use crate::base::live::LiveStatefulSet;
use crate::base::text::truncate_utf8;
use crate::base::{CONTAINER_NAME, Role, labels, names};
use crate::scaling::autoscale::{self, Observation};
use crate::scaling::drain::{self, Decision, DrainReport, PollOutcome, node_id};
use crate::scaling::metrics::{PodMetricsList, utilization};
use crate::status;
use crate::validate::ValidatedCluster;

/// Each drain call's bound, and the finalize call's.
const DRAIN_CALL_TIMEOUT: Duration = Duration::from_secs(5);
const FINALIZE_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon to poll a drain again, or look again at a scale-down that waits.
const DRAIN_POLL: Duration = Duration::from_secs(5);

/// What the scaling step decided.
pub struct Scaled {
    /// The data StatefulSet's replicas for this reconcile.
    pub replicas: i32,
    /// A drain is under way: the rollout waits for it.
    pub draining: bool,
    /// Whether to look again soon (a drain to poll, metrics to read).
    pub recheck: Option<Duration>,
    /// A drained node to finalize once the lower replicas are applied.
    pub finalize: Option<(antfly_api::Client, u64)>,
}

/// The data replicas the spec, or the autoscaler, asks for; the drain decides how to get there.
pub async fn scale_data(
    ctx: &Context,
    cluster: &AntflyCluster,
    validated: &ValidatedCluster,
    status: &mut AntflyClusterStatus,
    now: Timestamp,
) -> Result<Scaled, ReconcileError> {
    let name = names::role(validated.name(), Role::Data);
    let live_set = ctx.caches.live_statefulset(validated.namespace(), &name)?;
    let live = live_replicas(ctx, validated, &cluster_key(cluster), live_set.as_ref());
    let unsettled = unsettled(ctx, validated)?;
    let autoscaling = validated.spec().data_nodes.auto_scaling.as_ref().filter(|a| a.enabled);
    let (target, source, mut recheck) = match autoscaling {
        Some(spec) => {
            let target = autoscale(ctx, cluster, validated, spec, live, unsettled.as_deref(), status, now).await;
            (target, ScaleSource::Autoscaler, Some(ctx.autoscale_interval))
        }
        None => {
            status.auto_scaling_status = None;
            status::remove_condition(&mut status.conditions, status::AUTO_SCALING);
            (validated.spec().data_nodes.replicas, ScaleSource::Manual, None)
        }
    };

    let remembered = status.data_scale_down_status.clone();
    let decision = drain::decide(live, target, remembered.as_ref(), unsettled);
    let timeout = validated
        .spec()
        .data_nodes
        .drain_timeout_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(drain::DEFAULT_DRAIN_TIMEOUT, Duration::from_secs);
    let api = antfly_client(ctx, validated);
    let live_count = live.unwrap_or(target);
    let mut next = remembered.clone().unwrap_or_default();
    let previous_phase = remembered.as_ref().map(|s| s.phase);
    let mut finalize = None;
    let replicas = match decision {
        Decision::Apply(replicas) => {
            if let Some(s) = status.data_scale_down_status.as_mut() {
                let closed = match s.phase {
                    ScaleDownPhase::Waiting => Some((
                        ScaleDownPhase::Cancelled,
                        format!("the target went back to {replicas} before a drain began"),
                    )),
                    // The draining pod is gone already (its StatefulSet was recreated smaller).
                    ScaleDownPhase::Draining | ScaleDownPhase::Halted => {
                        Some((ScaleDownPhase::Complete, "the draining pod is gone".to_string()))
                    }
                    ScaleDownPhase::Cancelled | ScaleDownPhase::Complete => None,
                };
                if let Some((phase, message)) = closed {
                    s.phase = phase;
                    s.message = message;
                    s.draining_ordinal = None;
                    s.last_transition_time = Some(Time(now));
                }
                s.applied = replicas;
            }
            report_condition(ctx, cluster, status, now).await;
            return Ok(Scaled { replicas, draining: false, recheck, finalize: None });
        }
        Decision::Wait { replicas, reason } => {
            next = begin(&next, source, live_count, target, previous_phase);
            next.phase = ScaleDownPhase::Waiting;
            next.message = format!("scale-down to {target} waits: {reason}");
            recheck = Some(recheck.map_or(DRAIN_POLL, |r| r.min(DRAIN_POLL)));
            replicas
        }
        Decision::StartDrain { ordinal } => {
            next = begin(&next, source, live_count, target, previous_phase);
            let id = node_id(ordinal);
            let reason = format!("antfly-operator: scale-down of {} to {target}", validated.name());
            let asked = match &api {
                // A node the server does not know (404) holds nothing to drain; the status
                // poll that follows confirms it (`not_found`, safe to terminate).
                Ok(api) => match api.request_shutdown(id, &reason).await {
                    Err(error) if error.status() == Some(404) => Ok(()),
                    other => other.map_err(|e| e.to_string()),
                },
                Err(error) => Err(error.clone()),
            };
            match asked {
                Ok(()) => {
                    info!(cluster = %validated.name(), ordinal, node = id, "asked the server to drain a data node");
                    next.phase = ScaleDownPhase::Draining;
                    next.draining_ordinal = Some(ordinal);
                    next.node_id = Some(id);
                    next.drain_started = Some(Time(now));
                    next.message = format!("draining node {id} ({name}-{ordinal})");
                    let note = format!("draining node {id} ({name}-{ordinal}) to scale data nodes to {target}");
                    publish(ctx, cluster, EventType::Normal, "DrainStarted", note).await;
                }
                Err(error) => {
                    next.phase = ScaleDownPhase::Waiting;
                    next.message = format!("could not ask the server to drain node {id}: {error}");
                }
            }
            recheck = Some(DRAIN_POLL);
            live_count
        }
        Decision::Poll { ordinal } => {
            let id = node_id(ordinal);
            let answer = match &api {
                Ok(api) => api.shutdown_status(id).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.clone()),
            };
            let report = match answer {
                Ok(answer) => DrainReport::Answered {
                    phase: answer.phase.to_string(),
                    safe: answer.is_safe_to_remove(),
                    message: answer.message.clone(),
                },
                Err(error) => DrainReport::Failed(error),
            };
            let started = next.drain_started.as_ref().map(|t| t.0);
            recheck = Some(DRAIN_POLL);
            next.target = target;
            match drain::after_poll(ordinal, &report, started, now, timeout) {
                PollOutcome::Remove => {
                    finalize = api.as_ref().ok().map(|api| (api.clone(), id));
                    info!(cluster = %validated.name(), ordinal, node = id, "node drained; removing its pod");
                    next.phase = if ordinal <= target { ScaleDownPhase::Complete } else { ScaleDownPhase::Waiting };
                    next.draining_ordinal = None;
                    next.message = format!("node {id} drained; {name}-{ordinal} removed");
                    let note = format!("node {id} drained; removed {name}-{ordinal}");
                    publish(ctx, cluster, EventType::Normal, "NodeRemoved", note).await;
                    ordinal
                }
                PollOutcome::Draining(message) => {
                    next.phase = ScaleDownPhase::Draining;
                    next.message = message;
                    live_count
                }
                PollOutcome::Halted(message) => {
                    next.phase = ScaleDownPhase::Halted;
                    next.message = message;
                    live_count
                }
            }
        }
        Decision::Cancel { ordinal } => {
            let id = node_id(ordinal);
            let cancelled = match &api {
                Ok(api) => match api.cancel_shutdown(id).await {
                    Ok(()) => Ok(()),
                    // Refused, perhaps because it was cancelled already and that was not
                    // recorded: a node active (or unknown) again has no drain to cancel.
                    Err(error) => match api.shutdown_status(id).await {
                        Ok(answer) if !matches!(answer.phase.as_str(), "draining" | "blocked" | "complete") => Ok(()),
                        _ => Err(error.to_string()),
                    },
                },
                Err(error) => Err(error.clone()),
            };
            match cancelled {
                Ok(()) => {
                    next.phase = ScaleDownPhase::Cancelled;
                    next.draining_ordinal = None;
                    next.message =
                        format!("the target went back to {target}; cancelled the drain of node {id}, the pod stays");
                    let note = next.message.clone();
                    publish(ctx, cluster, EventType::Normal, "DrainCancelled", note).await;
                    next.target = target;
                    target.max(live_count)
                }
                Err(error) => {
                    next.message = format!("could not cancel the drain of node {id}: {error}");
                    recheck = Some(DRAIN_POLL);
                    live_count
                }
            }
        }
    };
    if Some(next.phase) != previous_phase {
        next.last_transition_time = Some(Time(now));
    }
    next.applied = replicas;
    // The server's words reach status bounded.
    next.message = truncate_utf8(std::mem::take(&mut next.message), MAX_SERVER_TEXT_BYTES);
    // A halted drain holds no rollout: the operator has stopped waiting on it.
    let draining = next.phase == ScaleDownPhase::Draining;
    status.data_scale_down_status = Some(next);
    report_condition(ctx, cluster, status, now).await;
    Ok(Scaled { replicas, draining, recheck, finalize })
}

/// The most of a server's or metrics API's text that goes into status.
const MAX_SERVER_TEXT_BYTES: usize = 1024;

/// The data StatefulSet's replicas as they stand: the cache's, unless it has not yet caught up
/// with this operator's own last write of them; or, while the StatefulSet is being recreated
/// around its pods, as many as the highest pod ordinal says. `None` for a new cluster.
fn live_replicas(
    ctx: &Context,
    cluster: &ValidatedCluster,
    key: &str,
    live_set: Option<&LiveStatefulSet>,
) -> Option<i32> {
    if let Some(set) = live_set {
        let cached = set.spec.replicas;
        return match ctx.written_replicas.unseen(key, set.resource_version()) {
            Some(written) => Some(written),
            None => cached,
        };
    }
    let pods = ctx.caches.role_pods(cluster.namespace(), cluster.name(), Role::Data);
    let prefix = format!("{}-", names::role(cluster.name(), Role::Data));
    pods.iter()
        .filter_map(|p| p.metadata.name.as_deref()?.strip_prefix(&prefix)?.parse::<i32>().ok())
        .max()
        .map(|ordinal| ordinal.saturating_add(1))
}

/// The status of a scale-down, new or carried on.
fn begin(
    previous: &DataScaleDownStatus,
    source: ScaleSource,
    live: i32,
    target: i32,
    previous_phase: Option<ScaleDownPhase>,
) -> DataScaleDownStatus {
    let carried_on = matches!(previous_phase, Some(ScaleDownPhase::Waiting | ScaleDownPhase::Draining));
    DataScaleDownStatus {
        source,
        from: if carried_on { previous.from } else { live },
        target,
        applied: live,
        ..previous.clone()
    }
}

/// Sets the DataScaleDown condition from the scale-down status; a halt is a Warning event.
async fn report_condition(ctx: &Context, cluster: &AntflyCluster, status: &mut AntflyClusterStatus, now: Timestamp) {
    let generation = cluster.metadata.generation;
    let Some(scale) = status.data_scale_down_status.clone() else {
        status::remove_condition(&mut status.conditions, status::DATA_SCALE_DOWN);
        return;
    };
    let (ok, reason) = match scale.phase {
        ScaleDownPhase::Complete | ScaleDownPhase::Cancelled => (true, "Idle"),
        ScaleDownPhase::Waiting => (false, "Waiting"),
        ScaleDownPhase::Draining => (false, "Draining"),
        ScaleDownPhase::Halted => {
            let message = scale.message.clone();
            warn_condition(ctx, cluster, status, status::DATA_SCALE_DOWN, "DrainHalted", message, now).await;
            return;
        }
    };
    let message = format!("{:?} {} → {}: {}", scale.source, scale.from, scale.target, scale.message);
    status::set_condition(&mut status.conditions, status::DATA_SCALE_DOWN, ok, reason, message, generation, now);
}

/// Why no new drain may start now: a rollout pending, or a data pod missing or not Ready.
fn unsettled(ctx: &Context, cluster: &ValidatedCluster) -> Result<Option<String>, ReconcileError> {
    let views = [observe(ctx, cluster, Role::Metadata, &[])?, observe(ctx, cluster, Role::Data, &[])?];
    let [metadata, data] = &views;
    if metadata.update_revision.is_none() || data.update_revision.is_none() {
        return Ok(Some("the StatefulSets have not caught up with the spec".into()));
    }
    if views.iter().any(|v| v.updated() < i32::try_from(v.pods.len()).unwrap_or(i32::MAX)) {
        return Ok(Some("a rollout is in progress".into()));
    }
    let ready = data.pods.iter().filter(|p| p.ready && !p.terminating).count();
    let present = i32::try_from(ready).unwrap_or(i32::MAX);
    Ok((present < data.replicas).then(|| format!("{present} of {} data pods are Ready", data.replicas)))
}

/// The Antfly API of the cluster: its metadata Service, or the operator's override (tests).
fn antfly_client(ctx: &Context, cluster: &ValidatedCluster) -> Result<antfly_api::Client, String> {
    let url = ctx.antfly_api_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}.{}.svc.{}:{}",
            names::role(cluster.name(), Role::Metadata),
            cluster.namespace(),
            cluster.cluster_domain(),
            crate::base::ports::METADATA_API
        )
    });
    antfly_api::Client::new(&url)
        .map(|c| c.with_timeout(DRAIN_CALL_TIMEOUT).with_max_attempts(2))
        .map_err(|e| format!("the Antfly API address {url:?}: {e}"))
}

/// Finalizes a removed node in the background: the call was seen to hang on a real server,
/// so it is bounded and nothing waits for it.
pub fn finalize(api: antfly_api::Client, id: u64) {
    tokio::spawn(async move {
        if let Err(error) = api.remove_node(id, FINALIZE_TIMEOUT).await {
            warn!(node = id, %error, "finalizing a removed node failed or timed out; its drain had completed");
        }
    });
}

/// The autoscaler: reads metrics at most every interval and returns the data replicas it asks
/// for, recording its reasoning in `status.autoScalingStatus` and the AutoScaling condition.
#[allow(clippy::too_many_arguments)]
async fn autoscale(
    ctx: &Context,
    cluster: &AntflyCluster,
    validated: &ValidatedCluster,
    spec: &AutoScalingSpec,
    live: Option<i32>,
    unsettled: Option<&str>,
    status: &mut AntflyClusterStatus,
    now: Timestamp,
) -> i32 {
    let generation = cluster.metadata.generation;
    let factor = validated.replication_factor();
    let (min, max) = autoscale::bounds(spec, factor);
    let current = live.unwrap_or_else(|| validated.spec().data_nodes.replicas.clamp(min, max));
    let mut state = status.auto_scaling_status.clone().unwrap_or(AutoScalingStatus {
        current_replicas: current,
        desired_replicas: current,
        ..AutoScalingStatus::default()
    });
    state.current_replicas = current;
    // Never below min or above max, whatever was recommended before the spec changed.
    state.desired_replicas = state.desired_replicas.clamp(min, max);
    let key = cluster_key(cluster);
    let due = ctx.autoscale_due(&key);
    // A halted drain does not hold the autoscaler: a higher recommendation cancels it.
    let halted = status.data_scale_down_status.as_ref().is_some_and(|s| s.phase == ScaleDownPhase::Halted);
    let blocked = if state.desired_replicas != current && !halted {
        Some(format!("scaling {current} → {} is in progress", state.desired_replicas))
    } else {
        unsettled.map(|reason| format!("holding: {reason}"))
    };
    // Between evaluations the condition stays as the last one left it.
    let condition = if let Some(reason) = blocked {
        state.blocked_reason = Some(reason.clone());
        Some((true, "Holding", reason))
    } else if due {
        ctx.note_autoscale_evaluation(&key);
        Some(match read_utilization(ctx, validated, spec).await {
            Err(reason) => {
                // Missing or partial metrics: no scaling, and say why.
                let reason = truncate_utf8(reason, MAX_SERVER_TEXT_BYTES);
                state.blocked_reason = Some(reason.clone());
                (false, "MetricsUnavailable", reason)
            }
            Ok((cpu, memory)) => {
                state.cpu_utilization_percentage = cpu.map(|v| v.round() as i32);
                state.memory_utilization_percentage = memory.map(|v| v.round() as i32);
                let observed = Observation {
                    current,
                    cpu_percent: cpu,
                    memory_percent: memory,
                    last_scale: state.last_scale_time.as_ref().zip(state.last_scale_direction).map(|(t, d)| (t.0, d)),
                    now,
                };
                let recommendation = autoscale::recommend(spec, factor, &observed);
                if recommendation.desired != current {
                    let direction =
                        if recommendation.desired > current { ScaleDirection::Up } else { ScaleDirection::Down };
                    state.last_scale_time = Some(Time(now));
                    state.last_scale_direction = Some(direction);
                    info!(cluster = %validated.name(), from = current, to = recommendation.desired, "autoscaler scales data nodes");
                }
                state.desired_replicas = recommendation.desired;
                state.blocked_reason = recommendation.held_back.clone();
                let message =
                    recommendation.held_back.unwrap_or_else(|| format!("recommends {}", recommendation.desired));
                (true, "Active", message)
            }
        })
    } else {
        None
    };
    if let Some((ok, reason, detail)) = condition {
        let message =
            format!("data replicas {current}, recommended {} (min {min}, max {max}); {detail}", state.desired_replicas);
        status::set_condition(&mut status.conditions, status::AUTO_SCALING, ok, reason, message, generation, now);
    }
    let target = state.desired_replicas;
    status.auto_scaling_status = Some(state);
    target
}

/// CPU and memory utilisation of the data pods, as percentages of their requests, for the
/// targets the spec sets (validation requires at least one).
async fn read_utilization(
    ctx: &Context,
    cluster: &ValidatedCluster,
    spec: &AutoScalingSpec,
) -> Result<(Option<f64>, Option<f64>), String> {
    let resources = &cluster.spec().data_nodes.resources;
    let wants_cpu = spec.target_cpu_utilization_percentage.is_some();
    let wants_memory = spec.target_memory_utilization_percentage.is_some();
    let cpu_request = resources.cpu.as_deref();
    let memory_request = resources.memory.as_deref();
    if wants_cpu && cpu_request.is_none() {
        return Err("spec.dataNodes.resources.cpu must be set to measure CPU utilisation".into());
    }
    if wants_memory && memory_request.is_none() {
        return Err("spec.dataNodes.resources.memory must be set to measure memory utilisation".into());
    }
    let pods: Vec<String> = ctx
        .caches
        .role_pods(cluster.namespace(), cluster.name(), Role::Data)
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let selector = labels::role_pod_selector(cluster.name(), Role::Data);
    let path = format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods?labelSelector={}",
        cluster.namespace(),
        form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
    );
    let request = http::Request::get(path).body(Vec::new()).map_err(|e| e.to_string())?;
    let list: PodMetricsList = ctx
        .client
        .request(request)
        .await
        .map_err(|e| format!("cannot read metrics.k8s.io (is a metrics server installed?): {e}"))?;
    let cpu = match cpu_request.filter(|_| wants_cpu) {
        Some(request) => Some(utilization(&list, &pods, CONTAINER_NAME, "cpu", request)?),
        None => None,
    };
    let memory = match memory_request.filter(|_| wants_memory) {
        Some(request) => Some(utilization(&list, &pods, CONTAINER_NAME, "memory", request)?),
        None => None,
    };
    Ok((cpu, memory))
}

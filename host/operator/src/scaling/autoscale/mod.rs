//! The data-node autoscaler's arithmetic, from the architecture seed: metrics every 30 s;
//! scale up by at most 50% or 2 replicas (whichever allows more), down by at most 25% or 1
//! replica (whichever allows more); within min and max; with cooldowns.
//!
//! The raw recommendation is the Kubernetes HPA's: `ceil(current × utilisation / target)` per
//! metric, the larger across CPU and memory, with a 10% tolerance around the target in which
//! nothing changes.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::AutoScalingSpec;
pub use crate::api::ScaleDirection;
use crate::validate::syntax::duration_seconds;

/// How often metrics are read and a recommendation made.
pub const EVALUATION_INTERVAL: Duration = Duration::from_secs(30);
/// Within this fraction of the target, utilisation counts as on target.
pub const TOLERANCE: f64 = 0.1;
/// Cooldowns when the spec sets none.
pub const DEFAULT_SCALE_UP_COOLDOWN: Duration = Duration::from_secs(60);
pub const DEFAULT_SCALE_DOWN_COOLDOWN: Duration = Duration::from_secs(300);
/// `maxReplicas` when the spec sets none.
pub const DEFAULT_MAX_REPLICAS: i32 = 10;

/// What the autoscaler saw and remembers.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Data replicas now (the StatefulSet's).
    pub current: i32,
    /// Average CPU use of the data pods as a percentage of their request, if measured.
    pub cpu_percent: Option<f64>,
    /// Average memory use as a percentage of the request, if measured.
    pub memory_percent: Option<f64>,
    /// The last scale the autoscaler made, from status.
    pub last_scale: Option<(Timestamp, ScaleDirection)>,
    pub now: Timestamp,
}

/// The autoscaler's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    /// The replicas to run now.
    pub desired: i32,
    /// What the metrics alone ask for, within min and max, before step limits and cooldowns.
    pub wanted: i32,
    /// Why `desired` is not `wanted`, if it is not.
    pub held_back: Option<String>,
}

/// The bounds the spec sets, with defaults: `min` at least the replication factor.
pub fn bounds(spec: &AutoScalingSpec, replication_factor: i32) -> (i32, i32) {
    let min = spec.min_replicas.unwrap_or(replication_factor).max(replication_factor).max(1);
    let max = spec.max_replicas.unwrap_or(DEFAULT_MAX_REPLICAS).max(min);
    (min, max)
}

/// The largest step up and down from `current` in one scale.
pub fn step_limits(current: i32) -> (i32, i32) {
    let up = (current / 2).max(2);
    let down = (current / 4).max(1);
    (up, down)
}

fn cooldown(text: Option<&String>, default: Duration) -> Duration {
    text.and_then(|t| duration_seconds(t).ok()).map_or(default, Duration::from_secs)
}

/// The replicas one metric asks for; `None` without a target or a measurement.
fn for_metric(current: i32, used: Option<f64>, target: Option<i32>) -> Option<i32> {
    let (used, target) = (used?, f64::from(target?));
    let ratio = used / target;
    if (ratio - 1.0).abs() <= TOLERANCE {
        return Some(current);
    }
    let wanted = (f64::from(current) * ratio).ceil();
    Some(if wanted >= f64::from(i32::MAX) { i32::MAX } else { wanted as i32 })
}

/// The recommendation for `observed` under `spec`.
pub fn recommend(spec: &AutoScalingSpec, replication_factor: i32, observed: &Observation) -> Recommendation {
    let (min, max) = bounds(spec, replication_factor);
    let current = observed.current;
    let metrics = [
        for_metric(current, observed.cpu_percent, spec.target_cpu_utilization_percentage),
        for_metric(current, observed.memory_percent, spec.target_memory_utilization_percentage),
    ];
    let raw = metrics.into_iter().flatten().max().unwrap_or(current);
    let wanted = raw.clamp(min, max);
    let (up, down) = step_limits(current);
    let stepped = wanted.clamp(current.saturating_sub(down), current.saturating_add(up));
    let mut held_back = (stepped != wanted).then(|| {
        format!("{current} → {wanted} is more than one step; going to {stepped} first (steps: +{up} up, -{down} down)")
    });
    let since_last = |direction: ScaleDirection| {
        observed
            .last_scale
            .filter(|(_, d)| *d == direction || direction == ScaleDirection::Down)
            // A last scale in the future (a clock jump) counts as just now.
            .map(|(at, _)| Duration::try_from(observed.now.duration_since(at)).unwrap_or_default())
    };
    // Up waits on the last scale-up; down waits on the last scale either way (no flapping).
    let cooling = match stepped.cmp(&current) {
        std::cmp::Ordering::Greater => {
            Some((ScaleDirection::Up, cooldown(spec.scale_up_cooldown.as_ref(), DEFAULT_SCALE_UP_COOLDOWN), "scale-up"))
        }
        std::cmp::Ordering::Less => Some((
            ScaleDirection::Down,
            cooldown(spec.scale_down_cooldown.as_ref(), DEFAULT_SCALE_DOWN_COOLDOWN),
            "scale",
        )),
        std::cmp::Ordering::Equal => None,
    };
    let desired = match cooling {
        Some((direction, wait, since)) if since_last(direction).is_some_and(|elapsed| elapsed < wait) => {
            let kind = if direction == ScaleDirection::Up { "scale-up" } else { "scale-down" };
            held_back = Some(format!("{kind} cooldown of {}s since the last {since}", wait.as_secs()));
            current
        }
        _ => stepped,
    };
    Recommendation { desired, wanted, held_back }
}

#[cfg(test)]
mod tests;

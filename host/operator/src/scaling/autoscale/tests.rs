use k8s_openapi::jiff::SignedDuration;

use super::*;

fn spec(min: i32, max: i32, cpu: i32) -> AutoScalingSpec {
    AutoScalingSpec {
        enabled: true,
        min_replicas: Some(min),
        max_replicas: Some(max),
        target_cpu_utilization_percentage: Some(cpu),
        target_memory_utilization_percentage: None,
        scale_up_cooldown: Some("60s".into()),
        scale_down_cooldown: Some("300s".into()),
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(2_000_000_000).expect("a valid time")
}

fn at(current: i32, cpu: f64) -> Observation {
    Observation { current, cpu_percent: Some(cpu), memory_percent: None, last_scale: None, now: now() }
}

fn desired(spec: &AutoScalingSpec, observed: &Observation) -> i32 {
    recommend(spec, 1, observed).desired
}

/// The seed's table: up by at most +50% or +2, down by at most -25% or -1, whichever allows
/// more; fractions round down.
#[test]
fn steps_follow_the_seed_table() {
    let rows = [
        // (current, max step up, max step down)
        (1, 2, 1),
        (3, 2, 1),
        (4, 2, 1),
        (5, 2, 1),
        (6, 3, 1),
        (7, 3, 1),
        (8, 4, 2),
        (10, 5, 2),
        (20, 10, 5),
    ];
    for (current, up, down) in rows {
        assert_eq!(step_limits(current), (up, down), "current {current}");
    }
}

#[test]
fn load_far_above_target_scales_up_one_step_at_a_time() {
    let spec = spec(1, 100, 50);
    // 3 pods at 200% of a 50% target want 12: one step is +2.
    let recommendation = recommend(&spec, 1, &at(3, 200.0));
    assert_eq!((recommendation.wanted, recommendation.desired), (12, 5));
    assert!(recommendation.held_back.as_deref().is_some_and(|m| m.contains("more than one step")));
    assert_eq!(desired(&spec, &at(10, 200.0)), 15, "+50% of 10");
    assert_eq!(desired(&spec, &at(7, 200.0)), 10, "+50% of 7 rounds down to 3");
}

#[test]
fn load_far_below_target_scales_down_one_step_at_a_time() {
    let spec = spec(1, 100, 80);
    assert_eq!(desired(&spec, &at(10, 8.0)), 8, "-25% of 10");
    assert_eq!(desired(&spec, &at(3, 8.0)), 2, "-1");
    assert_eq!(desired(&spec, &at(7, 8.0)), 6, "-25% of 7 rounds down to 1");
}

#[test]
fn near_the_target_nothing_changes() {
    let spec = spec(1, 100, 70);
    assert_eq!(desired(&spec, &at(4, 75.0)), 4, "within 10% of the target");
    assert_eq!(desired(&spec, &at(4, 64.0)), 4);
    assert_eq!(desired(&spec, &at(4, 80.0)), 5, "ceil(4 × 80/70) = 5");
}

#[test]
fn min_and_max_clamp_and_min_never_goes_below_the_replication_factor() {
    let spec = spec(3, 10, 50);
    assert_eq!(recommend(&spec, 1, &at(9, 400.0)).wanted, 10);
    assert_eq!(desired(&spec, &at(9, 400.0)), 10, "the step allows 13; max is 10");
    assert_eq!(desired(&spec, &at(3, 1.0)), 3, "min");
    assert_eq!(desired(&spec, &at(12, 50.0)), 10, "above max comes down, within a step");
    assert_eq!(bounds(&spec, 5), (5, 10), "the replication factor raises min");
    let no_bounds = AutoScalingSpec { enabled: true, ..AutoScalingSpec::default() };
    assert_eq!(bounds(&no_bounds, 3), (3, DEFAULT_MAX_REPLICAS));
}

#[test]
fn cooldowns_hold_a_scale_until_they_have_passed() {
    let spec = spec(1, 100, 50);
    let ago = |secs: i64| now() - SignedDuration::from_secs(secs);
    let mut observed = at(4, 200.0);
    observed.last_scale = Some((ago(59), ScaleDirection::Up));
    let held = recommend(&spec, 1, &observed);
    assert_eq!(held.desired, 4);
    assert_eq!(held.held_back.as_deref(), Some("scale-up cooldown of 60s since the last scale-up"));
    observed.last_scale = Some((ago(60), ScaleDirection::Up));
    assert_eq!(desired(&spec, &observed), 6, "at exactly the cooldown, it scales");
    // A scale-down waits for its cooldown after a scale in either direction.
    let mut idle = at(4, 1.0);
    idle.last_scale = Some((ago(299), ScaleDirection::Up));
    assert_eq!(desired(&spec, &idle), 4);
    idle.last_scale = Some((ago(300), ScaleDirection::Up));
    assert_eq!(desired(&spec, &idle), 3);
    // A scale-up does not wait on a recent scale-down.
    let mut busy = at(4, 200.0);
    busy.last_scale = Some((ago(1), ScaleDirection::Down));
    assert_eq!(desired(&spec, &busy), 6);
}

#[test]
fn the_larger_metric_wins() {
    let mut both = spec(1, 100, 50);
    both.target_memory_utilization_percentage = Some(50);
    let observed = Observation { memory_percent: Some(100.0), ..at(4, 25.0) };
    assert_eq!(recommend(&both, 1, &observed).wanted, 8, "memory asks for 8, CPU for 2");
    let busy_cpu = Observation { memory_percent: Some(50.0), ..at(4, 100.0) };
    assert_eq!(recommend(&both, 1, &busy_cpu).wanted, 8, "CPU asks for 8, memory for 4");
}

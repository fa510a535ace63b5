//! Hostile plugins end in their typed error within their limit, and the same host keeps
//! serving good calls afterwards.

use std::time::{Duration, Instant};

use crate::common::{cluster, fixture, kv};
use antfly_plugin_host::wit::Role;
use antfly_plugin_host::{
    CallError, CallErrorKind, HostConfig, Limits, MAX_PLUGIN_TEXT_BYTES, Plugin, PluginHost, Stack, TRUNCATION_MARKER,
    World,
};

/// Slack on top of a limit. These bounds prove that a runaway call is stopped, not how fast:
/// speed is the benchmarks' business, and a loaded CI machine must not fail them.
const SLACK: Duration = Duration::from_secs(2);

fn hostile() -> (PluginHost, Plugin) {
    let host = crate::common::host();
    let plugin = fixture(&host, "hostile", World::SchedulingProvider);
    (host, plugin)
}

/// The hostile plugin on a host with its own limits.
fn hostile_with(limits: Limits) -> (PluginHost, Plugin) {
    let host = PluginHost::new(HostConfig { limits, ..HostConfig::default() }).unwrap();
    let plugin = fixture(&host, "hostile", World::SchedulingProvider);
    (host, plugin)
}

fn attack(plugin: &Plugin, attack: &str) -> (Result<(), CallError>, Duration) {
    let view = cluster(&format!(r#"{{"attack":"{attack}"}}"#));
    let started = Instant::now();
    let result = plugin.contribute(&view, Role::Data).map(|_| ());
    (result, started.elapsed())
}

fn assert_still_serves(plugin: &Plugin) {
    let view = cluster(r#"{"attack":"ok"}"#);
    let contribution = plugin.contribute(&view, Role::Data).unwrap().unwrap();
    assert_eq!(contribution.node_selector, vec![kv("example.com/pool", "good")]);
}

#[test]
fn an_infinite_loop_times_out_at_the_deadline() {
    let (host, plugin) = hostile();
    let (result, elapsed) = attack(&plugin, "loop");
    let error = result.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Timeout { .. }), "{error}");
    let deadline = host.config().limits.deadline;
    assert!(elapsed >= deadline - host.config().epoch_tick, "{elapsed:?}");
    assert!(elapsed <= deadline + SLACK, "{elapsed:?}");
    assert_eq!(error.plugin, "hostile");
    assert_eq!(error.call, "contribute");
    assert_eq!(error.digest, plugin.sha256());
    assert!(error.to_string().contains("exceeded its deadline of 100 ms"), "{error}");
    assert_still_serves(&plugin);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    // A generous deadline, so that the memory limit and not the clock stops the bomb, even in
    // a debug build on a loaded machine.
    let (_host, plugin) = hostile_with(Limits { deadline: Duration::from_secs(10), ..Limits::default() });
    let (result, _) = attack(&plugin, "memory");
    let error = result.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::MemoryLimit { limit_bytes } if limit_bytes == 64 << 20), "{error}");
    assert_still_serves(&plugin);
}

#[test]
fn deep_recursion_overflows_the_stack_cleanly() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "recursion");
    let error = result.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::StackOverflow { stack: Stack::Wasm, .. }), "{error}");
    assert_still_serves(&plugin);
}

#[test]
fn overflowing_the_shadow_stack_in_linear_memory_is_a_stack_error() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "shadow-stack");
    let error = result.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::StackOverflow { stack: Stack::Shadow, .. }), "{error}");
    assert_eq!(error.kind.category(), "StackOverflow");
    let message = error.to_string();
    assert!(message.contains("exhausted its stack"), "{message}");
    assert!(!message.contains("backtrace") && !message.contains('\n'), "{message}");
    assert_still_serves(&plugin);
}

#[test]
fn a_panic_reports_its_message() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "panic");
    let error = result.unwrap_err();
    let CallErrorKind::Panic { message } = &error.kind else {
        panic!("expected a panic, got {error}");
    };
    assert!(message.starts_with("hostile plugin panicked on purpose (at "), "{message}");
    assert!(message.ends_with(')') && message.contains("src/lib.rs:"), "{message}");
    assert_still_serves(&plugin);

    let view = cluster(r#"{"attack":"validate-panic"}"#);
    let error = plugin.validate_settings(&view).unwrap_err();
    assert_eq!(error.call, "validate-settings");
    assert!(error.to_string().contains("panicked in validate-settings"), "{error}");
}

#[test]
fn a_forged_panic_line_on_stderr_is_not_a_panic() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "fake-panic");
    let error = result.unwrap_err();
    assert!(matches!(&error.kind, CallErrorKind::Trap { .. }), "{error}");
    let message = error.to_string();
    assert!(!message.contains("forged") && !message.contains("fake.rs"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert_still_serves(&plugin);
}

#[test]
fn a_panic_message_is_stripped_of_control_characters_and_bounded() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "panic-with-tricks");
    let error = result.unwrap_err();
    let CallErrorKind::Panic { message } = &error.kind else { panic!("expected a panic, got {error}") };
    assert!(message.starts_with("red OVERWRITTEN"), "{message}");
    assert!(message.contains(TRUNCATION_MARKER), "{message}");
    assert!(message.len() <= 2 * MAX_PLUGIN_TEXT_BYTES, "{}", message.len());
    assert!(!message.chars().any(|c| c.is_control() || c == '\u{202e}'), "{message:?}");
    assert!(message.ends_with(')') && message.contains("src/lib.rs:"), "{message}");
}

#[test]
fn an_oversized_result_is_refused() {
    // A generous deadline: building the results takes the guest a while on a loaded machine.
    let (host, plugin) = hostile_with(Limits { deadline: Duration::from_secs(2), ..Limits::default() });
    for attack_name in ["oversized", "huge-list", "huge-string"] {
        let (result, _) = attack(&plugin, attack_name);
        let error = result.unwrap_err();
        assert!(
            matches!(error.kind, CallErrorKind::OversizedOutput { size: None, limit }
                if limit == host.config().limits.max_output_bytes),
            "{attack_name}: {error}"
        );
        assert!(error.to_string().contains("more than the limit of 1048576 bytes"), "{error}");
    }
    assert_still_serves(&plugin);
}

#[test]
fn concurrent_calls_are_bounded_by_the_cores_and_each_gets_its_whole_deadline() {
    assert_eq!(HostConfig::default().max_concurrent_calls, antfly_plugin_host::available_cores());
    // One slot keeps the test to one core; three calls then run in three waves.
    let host = PluginHost::new(HostConfig { max_concurrent_calls: 1, ..HostConfig::default() }).unwrap();
    let plugin = fixture(&host, "hostile", World::SchedulingProvider);
    let deadline = host.config().limits.deadline;
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let plugin = plugin.clone();
            std::thread::spawn(move || attack(&plugin, "loop"))
        })
        .collect();
    for call in calls {
        let (result, elapsed) = call.join().unwrap();
        assert!(matches!(result.unwrap_err().kind, CallErrorKind::Timeout { .. }));
        // A call that waited for the slot did not spend its deadline waiting.
        assert!(elapsed >= deadline - host.config().epoch_tick, "{elapsed:?}");
    }
    assert!(started.elapsed() >= 3 * (deadline - host.config().epoch_tick), "{:?}", started.elapsed());
}

#[test]
fn opening_a_file_is_a_denied_capability() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "read-file");
    let error = result.unwrap_err();
    assert!(
        matches!(&error.kind, CallErrorKind::DeniedCapability { capability } if capability.contains("filesystem")),
        "{error}"
    );
    assert_still_serves(&plugin);
}

#[test]
fn reading_the_environment_is_a_denied_capability() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "read-env");
    let error = result.unwrap_err();
    assert!(
        matches!(&error.kind, CallErrorKind::DeniedCapability { capability } if capability.contains("environment")),
        "{error}"
    );
    assert_still_serves(&plugin);
}

#[test]
fn the_network_and_timers_are_denied() {
    let (_host, plugin) = hostile();
    for (name, needle) in [("network", "network"), ("sleep", "timers")] {
        let started = Instant::now();
        let (result, _) = attack(&plugin, name);
        let error = result.unwrap_err();
        assert!(
            matches!(&error.kind, CallErrorKind::DeniedCapability { capability } if capability.contains(needle)),
            "{name}: {error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{name}");
    }
    assert_still_serves(&plugin);
}

#[test]
fn exiting_is_a_trap() {
    let (_host, plugin) = hostile();
    let (result, _) = attack(&plugin, "exit");
    let error = result.unwrap_err();
    assert!(matches!(&error.kind, CallErrorKind::Trap { message } if message.contains("called exit")), "{error}");
    assert_still_serves(&plugin);
}

#[test]
fn clocks_and_randomness_are_pinned() {
    let (_host, plugin) = hostile();
    let view = cluster(r#"{"attack":"clock-and-random"}"#);
    let first = plugin.contribute(&view, Role::Data).unwrap().unwrap();
    let second = plugin.contribute(&view, Role::Data).unwrap().unwrap();
    assert_eq!(first, second);
    assert_eq!(first.pod_annotations[0], kv("example.com/now", "0"));
}

#[test]
fn limits_are_configurable() {
    let (_host, plugin) =
        hostile_with(Limits { deadline: Duration::from_millis(30), memory_bytes: 8 << 20, ..Limits::default() });
    let (result, elapsed) = attack(&plugin, "loop");
    assert!(matches!(result.unwrap_err().kind, CallErrorKind::Timeout { .. }));
    assert!(elapsed <= Duration::from_millis(30) + SLACK, "{elapsed:?}");
    let (result, _) = attack(&plugin, "memory");
    assert!(matches!(
        result.unwrap_err().kind,
        CallErrorKind::MemoryLimit { limit_bytes } if limit_bytes == 8 << 20
    ));
    assert_still_serves(&plugin);
}

#[test]
fn calls_to_another_world_are_refused() {
    let host = crate::common::host();
    let istio = crate::common::bundled(&host, "istio");
    let error = istio.contribute(&cluster("{}"), Role::Data).unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::WrongWorld { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_blocking_keeps_plugin_calls_off_the_async_runtime() {
    // A long deadline, so that a blocked runtime would show as a wait of seconds, far above
    // what scheduling delays on a loaded machine add to a short sleep.
    let (host, plugin) = hostile_with(Limits { deadline: Duration::from_secs(3), ..Limits::default() });
    let mut tasks = Vec::new();
    for attack in ["loop", "ok", "ok", "ok"] {
        let host = host.clone();
        let plugin = plugin.clone();
        tasks.push(tokio::spawn(async move {
            let view = cluster(&format!(r#"{{"attack":"{attack}"}}"#));
            host.run_blocking(move || plugin.contribute(&view, Role::Data)).await.unwrap()
        }));
    }
    // The runtime stays responsive while the loop burns its deadline on the blocking pool.
    let tick = Instant::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(tick.elapsed() < Duration::from_secs(1), "{:?}", tick.elapsed());
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert!(matches!(results[0].as_ref().unwrap_err().kind, CallErrorKind::Timeout { .. }));
    for result in &results[1..] {
        assert!(result.as_ref().unwrap().is_ok());
    }
}

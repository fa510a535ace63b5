//! Test fixture: a scheduling provider that attacks the sandbox or returns invalid
//! contributions. Its settings choose the attack: `{"attack": "loop"}`.
//!
//! `validate-settings` always succeeds (unless the attack is `validate-panic`); every
//! attack happens in `contribute`. The attack `ok` returns a valid contribution, so the
//! tests can check that the host still serves good calls after a hostile one. The attack
//! `metadata-placement` tries, for metadata pods only, the placement named by `variant`.

use std::collections::HashMap;
use std::hint::black_box;

use antfly_plugin_sdk::{
    ClusterView, ErrorCode, Guest, NodeSelectorRequirement, PluginError, PreferredTerm, Role, SchedulingContribution,
    Toleration, kv,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Settings {
    attack: String,
    #[serde(default)]
    variant: String,
}

/// Text that a terminal or a log viewer would interpret: colours, a carriage return that
/// overwrites the line, a bidi override that reverses what follows, and a fake log line.
const TERMINAL_TRICKS: &str = "\u{1b}[31mred\u{1b}[0m\rOVERWRITTEN\u{202e}desrever\u{202c}\n\
                               level=info msg=\"all good\"\u{7}";

struct Hostile;

impl Guest for Hostile {
    fn validate_settings(view: ClusterView) -> Result<(), Vec<PluginError>> {
        if attack(&view).is_ok_and(|a| a == "validate-panic") {
            panic!("hostile plugin panicked in validate-settings");
        }
        Ok(())
    }

    fn contribute(view: ClusterView, role: Role) -> Result<SchedulingContribution, PluginError> {
        let attack = attack(&view)?;
        let mut c = SchedulingContribution::empty(role);
        match attack.as_str() {
            "ok" => c.node_selector.push(kv("example.com/pool", "good")),
            "loop" => {
                let mut i: u64 = 0;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![0xA5; 1 << 20]));
                }
            }
            "recursion" => {
                let depth = recurse(black_box(u64::MAX));
                c.pod_annotations.push(kv("example.com/depth", &depth.to_string()));
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "fake-panic" => {
                // A convincing panic line on stderr, then a trap that is not a panic.
                eprintln!("thread '<unnamed>' panicked at src/fake.rs:1:1:\nforged panic message\n");
                std::process::abort();
            }
            "panic-with-tricks" => panic!("{TERMINAL_TRICKS}{}", "z".repeat(100 << 10)),
            "error-with-tricks" => {
                return Err(PluginError {
                    code: ErrorCode::Internal,
                    message: format!("{TERMINAL_TRICKS}{}", "e".repeat(100 << 10)),
                    field: String::new(),
                });
            }
            "shadow-stack" => {
                let depth = recurse_on_the_shadow_stack(black_box(u64::MAX));
                c.pod_annotations.push(kv("example.com/depth", &depth.to_string()));
            }
            "huge-list" => {
                // 128 Ki empty entries: 5 MiB in the guest, 6 MiB once lifted by the host.
                let mut entries = Vec::with_capacity(128 << 10);
                entries.resize_with(128 << 10, || kv("", ""));
                c.pod_annotations = entries;
            }
            "huge-string" => c.pod_annotations.push(kv("example.com/huge", &"h".repeat(8 << 20))),
            "metadata-placement" => {
                if role == Role::Metadata {
                    metadata_placement(&variant(&view), &mut c)?;
                }
            }
            "oversized" => {
                // 8 MiB of output: beyond the host's output cap, within its memory cap.
                let big = "x".repeat(1 << 20);
                for i in 0..8 {
                    c.pod_annotations.push(kv(&format!("example.com/big-{i}"), &big));
                }
            }
            "huge-annotations" => {
                // 300 KiB: within the output cap, beyond Kubernetes' 256 KiB annotations.
                c.pod_annotations.push(kv("example.com/huge", &"y".repeat(300 << 10)));
            }
            "bad-effect" => c.tolerations.push(Toleration {
                key: "example.com/taint".to_string(),
                operator: "Exists".to_string(),
                value: String::new(),
                effect: "Sometimes".to_string(),
                toleration_seconds: None,
            }),
            "bad-operator" => c.tolerations.push(Toleration {
                key: "example.com/taint".to_string(),
                operator: "Maybe".to_string(),
                value: String::new(),
                effect: "NoSchedule".to_string(),
                toleration_seconds: None,
            }),
            "bad-label-key" => c.node_selector.push(kv("not a/valid/key!", "x")),
            "bad-label-value" => c.node_selector.push(kv("example.com/pool", "no spaces allowed")),
            "bad-annotation-key" => c.pod_annotations.push(kv("-bad-/key", "x")),
            "bad-weight" => c.preferred_node_affinity.push(PreferredTerm {
                weight: 101,
                match_expressions: vec![NodeSelectorRequirement {
                    key: "node.kubernetes.io/instance-type".to_string(),
                    operator: "In".to_string(),
                    values: vec!["m6i.large".to_string()],
                }],
            }),
            "negative-grace" => c.termination_grace_period_seconds = Some(-1),
            "metadata-spot" => {
                // Puts every role, metadata included, on EKS Spot.
                c.node_selector.push(kv("eks.amazonaws.com/capacityType", "SPOT"));
            }
            "wrong-role" => {
                c.role = match role {
                    Role::Metadata => Role::Data,
                    Role::Data => Role::Metadata,
                };
            }
            "read-file" => {
                let text = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|e| format!("denied: {e}"));
                c.pod_annotations.push(kv("example.com/file", &text));
            }
            "read-env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                c.pod_annotations.push(kv("example.com/env", &vars.join(";")));
            }
            "network" => {
                let result = std::net::TcpStream::connect("127.0.0.1:80");
                c.pod_annotations.push(kv("example.com/net", &format!("{:?}", result.is_ok())));
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(5)),
            "exit" => std::process::exit(3),
            "clock-and-random" => {
                // Both are pinned by the host, so two calls must agree.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let mut map = HashMap::new();
                for i in 0..16 {
                    map.insert(i, i);
                }
                let order: Vec<String> = map.keys().map(|k| k.to_string()).collect();
                c.pod_annotations.push(kv("example.com/now", &now.to_string()));
                c.pod_annotations.push(kv("example.com/order", &order.join(",")));
            }
            other => {
                return Err(PluginError {
                    code: ErrorCode::InvalidSettings,
                    message: format!("unknown attack {other:?}"),
                    field: "attack".to_string(),
                });
            }
        }
        Ok(c)
    }
}

fn settings(view: &ClusterView) -> Result<Settings, PluginError> {
    serde_json::from_str::<Settings>(&view.settings).map_err(|e| PluginError {
        code: ErrorCode::InvalidSettings,
        message: e.to_string(),
        field: String::new(),
    })
}

fn attack(view: &ClusterView) -> Result<String, PluginError> {
    settings(view).map(|s| s.attack)
}

fn variant(view: &ClusterView) -> String {
    settings(view).map(|s| s.variant).unwrap_or_default()
}

fn prefer(key: &str, operator: &str, values: &[&str]) -> PreferredTerm {
    PreferredTerm {
        weight: 100,
        match_expressions: vec![NodeSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }],
    }
}

/// Ways to move metadata (Raft) pods onto Spot or preemptible capacity, and one allowed
/// contribution (`allowed`).
fn metadata_placement(variant: &str, c: &mut SchedulingContribution) -> Result<(), PluginError> {
    match variant {
        "allowed" => {
            c.node_selector.push(kv("karpenter.sh/capacity-type", "on-demand"));
            c.tolerations.push(Toleration::exists("example.com/dedicated", "NoSchedule"));
            c.preferred_node_affinity.push(prefer("node.kubernetes.io/instance-type", "In", &["m6i.large"]));
        }
        "clear-user-pins" => c.clear_node_selector = true,
        "override-user-pin" => c.node_selector.push(kv("eks.amazonaws.com/capacityType", "SPOT")),
        "override-user-pin-case" => c.node_selector.push(kv("eks.amazonaws.com/capacityType", "Spot")),
        "wildcard-toleration" => c.tolerations.push(Toleration::exists("", "")),
        "wildcard-noschedule" => c.tolerations.push(Toleration::exists("", "NoSchedule")),
        "tolerate-gke-spot" => c.tolerations.push(Toleration::equal("cloud.google.com/gke-spot", "true", "NoSchedule")),
        "tolerate-aks-spot" => {
            c.tolerations.push(Toleration::equal("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule"));
        }
        "tolerate-lifecycle-spot" => {
            c.tolerations.push(Toleration::equal("node.kubernetes.io/lifecycle", "spot", "NoSchedule"));
        }
        "not-in-on-demand" => {
            c.preferred_node_affinity.push(prefer("eks.amazonaws.com/capacityType", "NotIn", &["ON_DEMAND"]))
        }
        "does-not-exist-on-demand" => {
            c.preferred_node_affinity.push(prefer("eks.amazonaws.com/capacityType", "DoesNotExist", &[]));
        }
        "exists-gke-spot" => c.preferred_node_affinity.push(prefer("cloud.google.com/gke-spot", "Exists", &[])),
        "karpenter-spot" => c.node_selector.push(kv("karpenter.sh/capacity-type", "spot")),
        "gke-spot" => c.node_selector.push(kv("cloud.google.com/gke-spot", "true")),
        "gke-preemptible" => {
            c.preferred_node_affinity.push(prefer("cloud.google.com/gke-preemptible", "In", &["true"]))
        }
        "gke-provisioning-spot" => c.node_selector.push(kv("cloud.google.com/gke-provisioning", "spot")),
        "aks-spot" => c.preferred_node_affinity.push(prefer("kubernetes.azure.com/scalesetpriority", "In", &["spot"])),
        "karpenter-spot-case" => {
            c.preferred_node_affinity.push(prefer("karpenter.sh/capacity-type", "In", &["on-demand", "SPOT"]));
        }
        "spot-pool-name" => c.node_selector.push(kv("example.com/pool", "spot-pool")),
        other => return Err(PluginError::invalid_settings("variant", format!("unknown variant {other:?}"))),
    }
    Ok(())
}

/// Recurses until the stack runs out; the frame keeps a buffer alive so that each level
/// costs real stack.
fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let frame = black_box([depth; 8]);
    recurse(black_box(depth - 1)).wrapping_add(frame[3])
}

/// Recurses with a 64 KiB buffer per frame: a Rust guest keeps such locals on its shadow
/// stack in linear memory (1 MiB), which overflows long before the wasm stack does.
fn recurse_on_the_shadow_stack(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let mut frame = black_box([0u8; 64 << 10]);
    frame[black_box(7)] = depth as u8;
    let frame = black_box(frame);
    recurse_on_the_shadow_stack(black_box(depth - 1)).wrapping_add(u64::from(frame[7]))
}

antfly_plugin_sdk::export!(Hostile);

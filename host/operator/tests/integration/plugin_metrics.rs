//! Per-plugin metrics after real reconciles on a real API server: every call is counted by
//! world, plugin and function, and a failure is attributed to the plugin that failed, not to
//! the others the same cluster or operator uses.

use std::sync::Arc;

use crate::support::*;
use antfly_envtest::ControlPlane;
use antfly_operator::api::AntflyCluster;
use antfly_operator::controller::metrics::{Metrics, PluginCallLabel, PluginFailureLabel};
use antfly_operator::extensions::{PluginOptions, PluginResolver};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::json;

/// A plugin directory holding the hostile fixture under the name `hostile`.
fn hostile_plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let wasm = std::fs::read(antfly_bundled_plugins::fixtures::path("hostile")).expect("hostile fixture is built");
    std::fs::write(dir.path().join("hostile.wasm"), &wasm).expect("copy");
    let manifest = json!({"manifestVersion": 1, "plugins": [{
        "name": "hostile", "world": "scheduling-provider", "wit": "antfly:operator@0.2.0", "file": "hostile.wasm",
        "version": "0.0.1", "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm)),
    }]});
    std::fs::write(dir.path().join("plugins.json"), manifest.to_string()).expect("manifest");
    dir
}

fn calls(metrics: &Metrics, plugin: &str, function: &'static str) -> u64 {
    let label = PluginCallLabel { world: "scheduling-provider", plugin: plugin.into(), function };
    metrics.plugin_calls.get_or_create(&label).get()
}

fn failures(metrics: &Metrics, plugin: &str, reason: &'static str) -> u64 {
    let label =
        PluginFailureLabel { world: "scheduling-provider", plugin: plugin.into(), function: "contribute", reason };
    metrics.plugin_failures.get_or_create(&label).get()
}

#[tokio::test]
async fn plugin_calls_and_failures_are_counted_per_plugin_after_real_reconciles() {
    let cp = ControlPlane::start().await.expect("control plane");
    let admin = cp.client();
    install_operator_manifests(&admin).await;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "plugins"}})).expect("namespace");
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns).await.expect("namespace");

    let dir = hostile_plugin_dir();
    let metrics = Arc::new(Metrics::default());
    let options = PluginOptions {
        plugin_dir: Some(dir.path().to_path_buf()),
        observer: Some(metrics.clone()),
        ..PluginOptions::default()
    };
    let resolver = Arc::new(PluginResolver::load(&options).expect("plugins load"));
    let operator = RunningOperator::start_with(operator_client(&cp), "metrics-test", metrics.clone(), resolver);

    let clusters = Api::<AntflyCluster>::namespaced(admin.clone(), "plugins");
    for (name, spec) in [
        ("spot", json!({"eks": {"enabled": true, "spot": {"dataNodes": true}}})),
        ("looping", json!({"schedulingProvider": {"plugin": "hostile", "settings": {"attack": "loop"}}})),
    ] {
        let cluster: AntflyCluster = serde_json::from_value(json!({
            "apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("cluster");
        clusters.create(&PostParams::default(), &cluster).await.expect("create cluster");
    }

    eventually("eks was called for both roles", || async {
        calls(&metrics, "eks", "validate-settings") >= 1 && calls(&metrics, "eks", "contribute") >= 2
    })
    .await;
    eventually("the hostile plugin's timeout is counted against it", || async {
        failures(&metrics, "hostile", "Timeout") >= 1
    })
    .await;
    eventually("the looping cluster reports the plugin failure", || async {
        clusters.get("looping").await.ok().and_then(|c| c.status).is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "PluginsReady" && c.status == "False" && c.message.contains("exceeded its deadline")
            })
        })
    })
    .await;

    // Failures belong to the plugin that failed: none is counted against eks.
    let encoded = metrics.encode();
    assert!(!encoded.lines().any(|l| l.starts_with("antfly_operator_plugin_failures_total") && l.contains("\"eks\"")));
    assert!(encoded.contains("antfly_operator_plugin_call_duration_seconds_count{world=\"scheduling-provider\",plugin=\"eks\",function=\"contribute\"}"), "{encoded}");
    operator.stop().await;
}

//! The JavaScript `aks` scheduling provider (`plugins/js/aks`, built by componentize-js into
//! `target/plugins-js/aks.wasm` by `.ci/js-plugins.sh`) runs through the same host, sandbox
//! and default limits as the Rust plugins, and answers like its Rust counterpart `eks` does.
//!
//! These tests fail, rather than skip, when the component is missing or stale: the message
//! says to run `bash .ci/js-plugins.sh`.

use std::sync::OnceLock;

use crate::common::{cluster, cluster_with_selectors, kv};
use antfly_plugin_host::wit::{
    ErrorCode, NodeSelectorRequirement, PreferredTerm, Role, SchedulingContribution, Toleration,
};
use antfly_plugin_host::{HostConfig, Limits, Plugin, PluginHost, PluginSource, WasmBytes, World};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "6f1c2a4e-1b2c-4d5e-8f90-123456789abc";
const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// One host and one compiled `aks` for the whole test binary: compiling the 12 MB component
/// takes seconds, and the artifact is cached under `target/` across runs.
fn aks() -> &'static Plugin {
    static AKS: OnceLock<(PluginHost, Plugin)> = OnceLock::new();
    let (_, plugin) = AKS.get_or_init(|| {
        let host = PluginHost::new(HostConfig { cache_dir: Some(cache_dir()), ..HostConfig::default() }).unwrap();
        assert_eq!(host.config().limits, Limits::default(), "the JavaScript plugin runs under the default limits");
        let plugin = host.load(source(component())).unwrap_or_else(|e| panic!("failed to load aks: {e}"));
        (host, plugin)
    });
    plugin
}

fn component() -> std::path::PathBuf {
    antfly_bundled_plugins::fixtures::js_component("aks").unwrap_or_else(|message| panic!("{message}"))
}

fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugin-cache/tests")
}

fn source(path: std::path::PathBuf) -> PluginSource {
    PluginSource {
        name: "aks".to_string(),
        world: World::SchedulingProvider,
        version: "0.1.0".to_string(),
        wasm: WasmBytes::File(path),
        sha256: None,
    }
}

fn contribution(settings: &str, role: Role) -> SchedulingContribution {
    let view = cluster(settings);
    aks().validate_settings(&view).unwrap().unwrap_or_else(|problems| panic!("{settings}: {problems:?}"));
    aks().contribute(&view, role).unwrap().unwrap()
}

/// Every problem of `settings`, as (field, code) pairs.
fn problems(settings: &str) -> Vec<(String, ErrorCode)> {
    let problems = aks().validate_settings(&cluster(settings)).unwrap().unwrap_err();
    problems.into_iter().map(|p| (p.field, p.code)).collect()
}

fn spot_toleration() -> Toleration {
    Toleration {
        key: "kubernetes.azure.com/scalesetpriority".to_string(),
        operator: "Equal".to_string(),
        value: "spot".to_string(),
        effect: "NoSchedule".to_string(),
        toleration_seconds: None,
    }
}

#[test]
fn aks_spot_puts_data_nodes_on_spot_with_the_azure_taint_toleration_and_20s_grace() {
    let data = contribution(r#"{"spotDataNodes":true}"#, Role::Data);
    assert_eq!(data.role, Role::Data);
    assert_eq!(data.node_selector, vec![kv("kubernetes.azure.com/scalesetpriority", "spot")]);
    assert_eq!(data.tolerations, vec![spot_toleration()]);
    // Azure evicts 30 s after its notice.
    assert_eq!(data.termination_grace_period_seconds, Some(20));
    assert!(!data.clear_node_selector);
    assert!(!data.suppress_default_zone_spread);
    assert!(data.pod_annotations.is_empty() && data.topology_spread.is_empty());
}

#[test]
fn aks_never_puts_metadata_nodes_on_spot_whatever_the_settings() {
    for settings in [
        r#"{"spotDataNodes":true}"#,
        r#"{"spotDataNodes":true,"nodePool":"dbpool"}"#,
        r#"{"spotDataNodes":true,"nodePool":"dbpool","spotNodePool":"dbspot","spotGracePeriodSeconds":10}"#,
        r#"{"spotDataNodes":true,"vmSizes":["Standard_D8ds_v5"]}"#,
    ] {
        let metadata = contribution(settings, Role::Metadata);
        assert_eq!(metadata.role, Role::Metadata);
        assert!(metadata.node_selector.iter().all(|e| e.key != "kubernetes.azure.com/scalesetpriority"), "{settings}");
        assert!(metadata.tolerations.is_empty(), "{settings}");
        assert!(metadata.preferred_node_affinity.is_empty(), "{settings}");
        assert_eq!(metadata.termination_grace_period_seconds, None, "{settings}");
        let data = contribution(settings, Role::Data);
        assert_eq!(data.node_selector[0], kv("kubernetes.azure.com/scalesetpriority", "spot"), "{settings}");
    }
}

#[test]
fn aks_pins_metadata_to_the_regular_pool_and_data_to_the_spot_pool() {
    let settings = r#"{"spotDataNodes":true,"nodePool":"dbpool","spotNodePool":"dbspot","spotGracePeriodSeconds":15}"#;
    let metadata = contribution(settings, Role::Metadata);
    assert_eq!(metadata.node_selector, vec![kv("kubernetes.azure.com/agentpool", "dbpool")]);
    let data = contribution(settings, Role::Data);
    assert_eq!(
        data.node_selector,
        vec![kv("kubernetes.azure.com/scalesetpriority", "spot"), kv("kubernetes.azure.com/agentpool", "dbspot")]
    );
    assert_eq!(data.termination_grace_period_seconds, Some(15));

    // Without Spot, one regular pool takes both roles.
    for role in [Role::Metadata, Role::Data] {
        let pinned = contribution(r#"{"nodePool":"dbpool"}"#, role);
        assert_eq!(pinned.node_selector, vec![kv("kubernetes.azure.com/agentpool", "dbpool")]);
        assert!(pinned.tolerations.is_empty());
        assert_eq!(pinned.termination_grace_period_seconds, None);
    }
}

#[test]
fn aks_vm_sizes_become_a_weight_100_preference_on_data_nodes_only() {
    let settings = r#"{"vmSizes":["Standard_D8ds_v5","Standard_E8ds_v5"]}"#;
    assert_eq!(
        contribution(settings, Role::Data).preferred_node_affinity,
        vec![PreferredTerm {
            weight: 100,
            match_expressions: vec![NodeSelectorRequirement {
                key: "node.kubernetes.io/instance-type".to_string(),
                operator: "In".to_string(),
                values: vec!["Standard_D8ds_v5".to_string(), "Standard_E8ds_v5".to_string()],
            }],
        }]
    );
    assert!(contribution(settings, Role::Metadata).preferred_node_affinity.is_empty());
}

#[test]
fn aks_workload_identity_annotates_the_shared_service_account_alike_from_both_roles() {
    let settings = format!(
        r#"{{"spotDataNodes":true,"workloadIdentityClientId":"{CLIENT_ID}","workloadIdentityTenantId":"{TENANT_ID}"}}"#
    );
    let expected =
        vec![kv("azure.workload.identity/client-id", CLIENT_ID), kv("azure.workload.identity/tenant-id", TENANT_ID)];
    assert_eq!(contribution(&settings, Role::Metadata).service_account_annotations, expected);
    assert_eq!(contribution(&settings, Role::Data).service_account_annotations, expected);
}

#[test]
fn aks_without_settings_contributes_nothing() {
    for role in [Role::Metadata, Role::Data] {
        let empty = contribution("{}", role);
        assert_eq!(empty.role, role);
        assert!(empty.node_selector.is_empty() && empty.tolerations.is_empty());
        assert!(empty.preferred_node_affinity.is_empty() && empty.service_account_annotations.is_empty());
        assert_eq!(empty.termination_grace_period_seconds, None);
    }
}

#[test]
fn aks_validation_returns_every_problem_with_its_field() {
    let settings = r#"{
        "spotDataNodes": true,
        "nodePool": "DB_POOL",
        "spotNodePool": "dbspot",
        "vmSizes": ["Standard_D8ds_v5", "m6i.large", 7],
        "spotGracePeriodSeconds": 40,
        "workloadIdentityClientId": "my-identity",
        "workloadIdentityTenantId": "72f988bf",
        "spotDatanodes": true
    }"#;
    assert_eq!(
        problems(settings),
        vec![
            ("spotDatanodes".to_string(), ErrorCode::InvalidSettings),
            ("nodePool".to_string(), ErrorCode::InvalidSettings),
            ("spotGracePeriodSeconds".to_string(), ErrorCode::InvalidSettings),
            ("vmSizes[1]".to_string(), ErrorCode::InvalidSettings),
            ("vmSizes[2]".to_string(), ErrorCode::InvalidSettings),
            ("workloadIdentityClientId".to_string(), ErrorCode::InvalidSettings),
            ("workloadIdentityTenantId".to_string(), ErrorCode::InvalidSettings),
        ]
    );
    let messages: Vec<String> =
        aks().validate_settings(&cluster(settings)).unwrap().unwrap_err().into_iter().map(|p| p.message).collect();
    assert!(messages[0].contains("unknown setting \"spotDatanodes\""), "{messages:?}");
    assert!(messages[1].contains("is not an AKS node pool name"), "{messages:?}");
    assert!(messages[2].contains("from 0 to 25"), "{messages:?}");
    assert!(messages[5].contains("\"my-identity\" is not a UUID"), "{messages:?}");
}

#[test]
fn aks_wrong_types_and_contradictions_are_named_by_field() {
    assert_eq!(
        problems(r#"{"spotDataNodes":"yes","nodePool":3,"vmSizes":"Standard_D8ds_v5"}"#),
        vec![
            ("spotDataNodes".to_string(), ErrorCode::InvalidSettings),
            ("nodePool".to_string(), ErrorCode::InvalidSettings),
            ("vmSizes".to_string(), ErrorCode::InvalidSettings),
        ]
    );
    assert_eq!(
        problems(
            r#"{"spotNodePool":"dbspot","spotGracePeriodSeconds":10,"workloadIdentityTenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47"}"#
        ),
        vec![
            ("spotNodePool".to_string(), ErrorCode::Conflict),
            ("spotGracePeriodSeconds".to_string(), ErrorCode::Conflict),
            ("workloadIdentityTenantId".to_string(), ErrorCode::Conflict),
        ]
    );
    // Keys of Object.prototype are unknown settings like any other.
    assert_eq!(problems(r#"{"constructor":1}"#), vec![("constructor".to_string(), ErrorCode::InvalidSettings)]);
    // A pool is either Spot or regular: metadata nodes cannot share the Spot pool.
    assert_eq!(
        problems(r#"{"spotDataNodes":true,"nodePool":"dbpool","spotNodePool":"dbpool"}"#),
        vec![("spotNodePool".to_string(), ErrorCode::Conflict)]
    );
}

#[test]
fn aks_refuses_settings_that_are_not_a_json_object() {
    for (settings, message) in
        [("{nope", "the settings are not valid JSON"), ("[1,2]", "the settings must be a JSON object, not array")]
    {
        let problems = aks().validate_settings(&cluster(settings)).unwrap().unwrap_err();
        assert_eq!(problems.len(), 1, "{settings}");
        assert_eq!(problems[0].field, "", "{settings}");
        assert!(problems[0].message.contains(message), "{settings}: {}", problems[0].message);
        // `contribute` refuses them too, with the first problem.
        let refused = aks().contribute(&cluster(settings), Role::Data).unwrap().unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidSettings);
    }
}

#[test]
fn aks_refuses_the_users_own_metadata_selector_on_spot_and_pool_contradictions() {
    let spot = vec![kv("kubernetes.azure.com/scalesetpriority", "spot")];
    let view = cluster_with_selectors(r#"{"spotDataNodes":true}"#, spot, Vec::new());
    let problems = aks().validate_settings(&view).unwrap().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].code, ErrorCode::Conflict);
    assert_eq!(problems[0].field, "spec.metadataNodes.nodeSelector");
    assert!(problems[0].message.contains("metadata (Raft) nodes never run on Spot"), "{}", problems[0].message);

    let other_pool = vec![kv("kubernetes.azure.com/agentpool", "web")];
    let view = cluster_with_selectors(r#"{"nodePool":"dbpool"}"#, Vec::new(), other_pool);
    let problems = aks().validate_settings(&view).unwrap().unwrap_err();
    assert_eq!(problems[0].field, "spec.dataNodes.nodeSelector");
    assert!(problems[0].message.contains("kubernetes.azure.com/agentpool=web"), "{}", problems[0].message);
}

#[test]
fn aks_answers_the_same_on_every_fresh_instance() {
    let view =
        cluster(&format!(r#"{{"spotDataNodes":true,"nodePool":"dbpool","workloadIdentityClientId":"{CLIENT_ID}"}}"#));
    let first = aks().contribute(&view, Role::Data).unwrap().unwrap();
    for _ in 0..3 {
        assert_eq!(aks().contribute(&view, Role::Data).unwrap().unwrap(), first);
    }
}

#[test]
fn aks_loads_from_a_plugin_directory_with_its_sha256_pin() {
    // Compile once, through the shared plugin, so that this load finds the artifact cached.
    aks();
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(component()).unwrap();
    std::fs::write(dir.path().join("aks.wasm"), &bytes).unwrap();
    let manifest = serde_json::json!({
        "manifestVersion": 1,
        "plugins": [{
            "name": "aks",
            "world": "scheduling-provider",
            "wit": "antfly:operator@0.2.0",
            "file": "aks.wasm",
            "version": "0.1.0",
            "sha256": hex::encode(Sha256::digest(&bytes)),
        }]
    });
    std::fs::write(dir.path().join("plugins.json"), manifest.to_string()).unwrap();

    let host = PluginHost::new(HostConfig { cache_dir: Some(cache_dir()), ..HostConfig::default() }).unwrap();
    let plugins = host.load_dir(dir.path()).unwrap();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].world(), World::SchedulingProvider);
    let data = plugins[0].contribute(&cluster(r#"{"spotDataNodes":true}"#), Role::Data).unwrap().unwrap();
    assert_eq!(data.tolerations, vec![spot_toleration()]);
}

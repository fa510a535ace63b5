//! The extensions layer through the real plugin host and the real first-party components:
//! seed values end up as domain contributions, and invalid contributions are refused.

use std::sync::LazyLock;

use antfly_plugin_host::wit;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Toleration};

use super::*;
use crate::base::Role;
use crate::compose::{ExtensionError, ExtensionResolver};
use crate::fixtures::validated;

/// One resolver for every test: loading compiles the five first-party components.
static BUNDLED: LazyLock<PluginResolver> =
    LazyLock::new(|| PluginResolver::load(&PluginOptions::default()).expect("first-party plugins load"));

/// The bundled plugins plus the hostile fixture, from a plugin directory.
static WITH_HOSTILE: LazyLock<(PluginResolver, tempfile::TempDir)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temporary directory");
    let wasm = std::fs::read(antfly_bundled_plugins::fixtures::path("hostile")).expect("hostile fixture is built");
    std::fs::write(dir.path().join("hostile.wasm"), &wasm).expect("copy the fixture");
    let manifest = serde_json::json!({
        "manifestVersion": 1,
        "plugins": [{
            "name": "hostile",
            "world": "scheduling-provider",
            "wit": "antfly:operator@0.2.0",
            "file": "hostile.wasm",
            "version": "0.0.1",
            "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm)),
        }]
    });
    std::fs::write(dir.path().join("plugins.json"), manifest.to_string()).expect("write the manifest");
    let options = PluginOptions { plugin_dir: Some(dir.path().to_path_buf()), ..PluginOptions::default() };
    (PluginResolver::load(&options).expect("plugin directory loads"), dir)
});

fn hostile(attack: &str) -> Result<crate::compose::Contributions, ExtensionError> {
    let cluster =
        validated(&format!("  schedulingProvider:\n    plugin: hostile\n    settings:\n      attack: {attack}\n"));
    WITH_HOSTILE.0.resolve(&cluster)
}

#[test]
fn eks_spot_contributes_to_data_nodes_only() {
    let cluster = validated("  eks:\n    enabled: true\n    spot:\n      dataNodes: true\n");
    let contributions = BUNDLED.resolve(&cluster).expect("eks resolves");
    let data = &contributions.data.scheduling[0];
    assert_eq!(data.plugin, "eks");
    assert_eq!(data.node_selector["eks.amazonaws.com/capacityType"], "SPOT");
    assert_eq!(
        data.tolerations,
        vec![Toleration {
            key: Some("eks.amazonaws.com/spot".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Toleration::default()
        }]
    );
    assert_eq!(data.termination_grace_period_seconds, Some(25));
    let metadata = &contributions.metadata.scheduling[0];
    assert!(metadata.node_selector.is_empty() && metadata.tolerations.is_empty());
    assert_eq!(metadata.termination_grace_period_seconds, None);
}

#[test]
fn gke_autopilot_clears_selectors_and_suppresses_the_default_spread() {
    let cluster = validated("  gke:\n    autopilot: true\n");
    let contributions = BUNDLED.resolve(&cluster).expect("gke resolves");
    for role in Role::ALL {
        let c = &contributions.for_role(role).scheduling[0];
        assert!(c.clear_node_selector && c.suppress_default_zone_spread);
        assert_eq!(c.pod_annotations["cloud.google.com/compute-class"], "Balanced");
        assert_eq!(c.termination_grace_period_seconds, Some(15));
    }
}

#[test]
fn the_istio_profile_contributes_mesh_annotations_for_both_roles() {
    let cluster = validated("  serviceMesh:\n    enabled: true\n    profile: istio\n");
    let contributions = BUNDLED.resolve(&cluster).expect("istio resolves");
    for role in Role::ALL {
        let mesh = contributions.for_role(role).mesh.as_ref().expect("a mesh contribution");
        assert_eq!(mesh.profile, "istio");
        assert_eq!(mesh.pod_annotations["sidecar.istio.io/inject"], "true");
        assert_eq!(mesh.pod_annotations["traffic.sidecar.istio.io/excludeOutboundPorts"], "9017,9021");
    }
}

#[test]
fn consul_upstreams_name_the_clusters_services() {
    let cluster = validated("  serviceMesh:\n    enabled: true\n    profile: consul\n");
    let contributions = BUNDLED.resolve(&cluster).expect("consul resolves");
    let mesh = contributions.data.mesh.expect("a mesh contribution");
    assert_eq!(mesh.pod_annotations["consul.hashicorp.com/connect-service-upstreams"], "c-metadata:12377,c-data:12380");
}

#[test]
fn sidecar_detection_asks_the_profile_with_the_pod() {
    let pod = |containers: &[&str]| Pod {
        spec: Some(PodSpec {
            containers: containers.iter().map(|n| Container { name: n.to_string(), ..Container::default() }).collect(),
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    assert!(BUNDLED.has_sidecar("linkerd", &pod(&["antfly", "linkerd-proxy"])).expect("linkerd answers"));
    assert!(!BUNDLED.has_sidecar("linkerd", &pod(&["antfly", "istio-proxy"])).expect("linkerd answers"));
    let error = BUNDLED.has_sidecar("kuma", &pod(&["antfly"])).expect_err("no kuma profile");
    assert!(error.to_string().contains("loaded mesh-profile plugins: consul, istio, linkerd"), "{error}");
}

#[test]
fn an_unknown_provider_is_not_available_and_the_hint_lists_what_is() {
    let cluster = validated("  schedulingProvider:\n    plugin: acme\n");
    let error = BUNDLED.resolve(&cluster).expect_err("acme is not loaded");
    assert!(matches!(error, ExtensionError::PluginNotAvailable { .. }), "{error}");
    assert!(error.to_string().contains("loaded scheduling-provider plugins: eks, gke"), "{error}");
}

#[test]
fn rejected_settings_name_the_field_under_the_spec() {
    let cluster = validated("  eks:\n    enabled: true\n    irsaRoleARN: not-an-arn\n");
    let error = BUNDLED.resolve(&cluster).expect_err("bad ARN");
    let ExtensionError::SettingsRejected { field, message, .. } = &error else { panic!("{error}") };
    assert_eq!(field, "spec.eks.irsaRoleARN");
    assert!(message.contains("not an IAM role ARN"), "{message}");
}

#[test]
fn invalid_contributions_are_refused_with_the_offending_field() {
    for (attack, needle) in [
        ("bad-effect", "tolerations[0].effect: \"Sometimes\" is not one of NoSchedule, PreferNoSchedule, NoExecute"),
        ("bad-operator", "tolerations[0].operator: \"Maybe\" is not one of Exists, Equal"),
        ("bad-label-key", "nodeSelector: key \"not a/valid/key!\""),
        ("bad-label-value", "nodeSelector.example.com/pool: value \"no spaces allowed\""),
        ("bad-annotation-key", "podAnnotations: key \"-bad-/key\""),
        ("bad-weight", "preferredNodeAffinity[0].weight must be between 1 and 100, got 101"),
        ("negative-grace", "terminationGracePeriodSeconds must be at least 0, got -1"),
        ("metadata-spot", "would let metadata (Raft) pods run on Spot capacity"),
        ("wrong-role", "contribution is for the data role, but the metadata role was asked for"),
        ("huge-annotations", "more than Kubernetes' 262144 bytes"),
    ] {
        let error = hostile(attack).expect_err(attack);
        assert!(matches!(error, ExtensionError::InvalidContribution { .. }), "{attack}: {error}");
        assert!(error.to_string().contains(needle), "{attack}: {error}");
        assert!(error.to_string().contains("plugin \"hostile\""), "{attack}: {error}");
    }
    let ok = hostile("ok").expect("a good call still works");
    assert_eq!(ok.data.scheduling[0].node_selector["example.com/pool"], "good");
}

#[test]
fn sandbox_failures_name_the_plugin_and_the_limit() {
    let error = hostile("loop").expect_err("the loop times out");
    let message = error.to_string();
    assert!(matches!(error, ExtensionError::PluginFailed { .. }), "{message}");
    assert!(message.contains("plugin \"hostile\""), "{message}");
    assert!(message.contains("exceeded its deadline of 100 ms"), "{message}");
    let error = hostile("panic").expect_err("the panic fails the call").to_string();
    assert!(error.contains("panicked: hostile plugin panicked on purpose"), "{error}");
}

/// Writes `plugins.json` and the components of `plugins` (name, fixture, version) into `dir`;
/// `pin` replaces every sha256 when given.
fn write_plugin_dir(dir: &std::path::Path, plugins: &[(&str, &str, &str)], pin: Option<&str>) {
    let entries: Vec<serde_json::Value> = plugins
        .iter()
        .map(|(name, fixture, version)| {
            let wasm = std::fs::read(antfly_bundled_plugins::fixtures::path(fixture)).expect("fixture is built");
            std::fs::write(dir.join(format!("{name}.wasm")), &wasm).expect("copy");
            let sha256 = pin.map_or_else(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm)), String::from);
            serde_json::json!({
                "name": name, "world": "scheduling-provider", "wit": "antfly:operator@0.2.0",
                "file": format!("{name}.wasm"), "version": version, "sha256": sha256,
            })
        })
        .collect();
    let manifest = serde_json::json!({ "manifestVersion": 1, "plugins": entries });
    std::fs::write(dir.join("plugins.json"), manifest.to_string()).expect("manifest");
}

#[test]
fn a_directory_plugin_cannot_shadow_a_first_party_name() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_plugin_dir(dir.path(), &[("eks", "template", "6.6.6")], None);
    let options = PluginOptions { plugin_dir: Some(dir.path().to_path_buf()), ..PluginOptions::default() };
    let error = PluginResolver::load(&options).expect_err("eks is first-party");
    assert!(matches!(error, PluginSetupError::Shadows { .. }), "{error}");
}

#[test]
fn trying_a_plugin_reports_each_roles_contribution() {
    let cluster = validated("  eks:\n    enabled: true\n    useSpotInstances: true\n");
    let report = BUNDLED.try_plugin(&cluster, "eks").expect("eks runs");
    assert_eq!(report.settings_field, "spec.eks");
    assert_eq!(report.data["nodeSelector"]["eks.amazonaws.com/capacityType"], "SPOT");
    assert_eq!(report.data["terminationGracePeriodSeconds"], 25);
    assert_eq!(report.metadata, serde_json::json!({}));
    let mesh = BUNDLED.try_plugin(&validated("  dataNodes:\n    replicas: 3\n"), "linkerd").expect("linkerd runs");
    assert_eq!(mesh.metadata["podAnnotations"]["linkerd.io/inject"], "enabled");
}

#[test]
fn checks_refuse_tolerations_kubernetes_would_refuse() {
    let toleration =
        |key: &str, operator: &str, value: &str, effect: &str, seconds: Option<i64>| wit::SchedulingContribution {
            role: wit::Role::Data,
            node_selector: Vec::new(),
            clear_node_selector: false,
            tolerations: vec![wit::Toleration {
                key: key.into(),
                operator: operator.into(),
                value: value.into(),
                effect: effect.into(),
                toleration_seconds: seconds,
            }],
            preferred_node_affinity: Vec::new(),
            topology_spread: Vec::new(),
            suppress_default_zone_spread: false,
            pod_annotations: Vec::new(),
            termination_grace_period_seconds: None,
            service_account_annotations: Vec::new(),
        };
    let check = |c| check::scheduling_contribution("p", "c", Role::Data, c);
    assert!(check(toleration("", "Exists", "", "", None)).is_ok());
    assert!(check(toleration("k", "Equal", "v", "NoExecute", Some(30))).is_ok());
    assert!(check(toleration("", "Equal", "v", "NoSchedule", None)).is_err());
    assert!(check(toleration("k", "Exists", "v", "NoSchedule", None)).is_err());
    assert!(check(toleration("k", "Equal", "v", "NoSchedule", Some(30))).is_err());
}

#[test]
fn checks_fill_a_spreads_selector_with_the_roles_pods() {
    let contribution = wit::SchedulingContribution {
        role: wit::Role::Metadata,
        node_selector: Vec::new(),
        clear_node_selector: false,
        tolerations: Vec::new(),
        preferred_node_affinity: Vec::new(),
        topology_spread: vec![wit::TopologySpread {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            match_labels: Vec::new(),
            min_domains: Some(3),
        }],
        suppress_default_zone_spread: false,
        pod_annotations: Vec::new(),
        termination_grace_period_seconds: None,
        service_account_annotations: Vec::new(),
    };
    let checked = check::scheduling_contribution("p", "c", Role::Metadata, contribution.clone()).expect("valid");
    let selector = checked.topology_spread[0].label_selector.clone().and_then(|s| s.match_labels).expect("labels");
    assert_eq!(selector["app.kubernetes.io/component"], "metadata");
    assert_eq!(selector["app.kubernetes.io/instance"], "c");
    let mut skewed = contribution;
    skewed.topology_spread[0].max_skew = 0;
    assert!(check::scheduling_contribution("p", "c", Role::Metadata, skewed).is_err());
}

#[test]
fn every_cluster_example_renders_with_the_first_party_plugins() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut rendered = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.expect("readable entry").path();
        let text = std::fs::read_to_string(&path).expect("readable example");
        if path.extension().is_none_or(|e| e != "yaml") || !text.contains("kind: AntflyCluster") {
            continue;
        }
        let yaml = crate::render::render(&text, &*BUNDLED).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(yaml.contains("kind: StatefulSet"), "{}", path.display());
        rendered += 1;
    }
    assert!(rendered >= 10, "only {rendered} cluster examples");
}

#[test]
fn a_changed_plugin_directory_is_reloaded_and_a_bad_one_keeps_the_previous_set() {
    use reload::{ReloadOutcome, ReloadingResolver};

    let dir = tempfile::tempdir().expect("temporary directory");
    write_plugin_dir(dir.path(), &[("pool", "template", "1.0.0")], None);
    let options = PluginOptions { plugin_dir: Some(dir.path().to_path_buf()), ..PluginOptions::default() };
    let resolver = ReloadingResolver::load(options).expect("the first set loads");
    let first_party = antfly_bundled_plugins::first_party().len();
    let version =
        |name: &str| resolver.current().plugin(World::SchedulingProvider, name).map(|p| p.version().to_string());
    assert_eq!(version("pool").as_deref(), Some("1.0.0"));
    assert_eq!(resolver.reload_if_changed(), ReloadOutcome::Unchanged);

    // A good change: a new version and a second plugin.
    write_plugin_dir(dir.path(), &[("pool", "template", "1.1.0"), ("attack", "hostile", "0.0.1")], None);
    assert_eq!(resolver.reload_if_changed(), ReloadOutcome::Reloaded { plugins: first_party + 2 });
    assert_eq!(version("pool").as_deref(), Some("1.1.0"));
    assert_eq!(version("attack").as_deref(), Some("0.0.1"));
    let cluster = validated("  schedulingProvider:\n    plugin: pool\n    settings:\n      nodePool: blue\n");
    let contributions = resolver.resolve(&cluster).expect("the reloaded plugin serves");
    assert_eq!(contributions.data.scheduling[0].node_selector["example.com/node-pool"], "blue");

    // A bad change: a pin that does not match. The previous set keeps serving.
    write_plugin_dir(dir.path(), &[("pool", "template", "2.0.0")], Some(&"0".repeat(64)));
    let ReloadOutcome::Failed { error } = resolver.reload_if_changed() else { panic!("a bad pin fails the reload") };
    assert!(error.contains("sha256"), "{error}");
    assert_eq!(resolver.last_error().as_deref(), Some(error.as_str()));
    assert_eq!(version("pool").as_deref(), Some("1.1.0"));
    assert_eq!(version("attack").as_deref(), Some("0.0.1"));
    assert!(resolver.resolve(&cluster).is_ok());
    // Nothing changed since: no retry of the same bad set.
    assert_eq!(resolver.reload_if_changed(), ReloadOutcome::Unchanged);

    // Fixed: the new set loads and the error clears.
    write_plugin_dir(dir.path(), &[("pool", "template", "2.0.1")], None);
    assert_eq!(resolver.reload_if_changed(), ReloadOutcome::Reloaded { plugins: first_party + 1 });
    assert_eq!(version("pool").as_deref(), Some("2.0.1"));
    assert_eq!(version("attack"), None);
    assert_eq!(resolver.last_error(), None);
}

/// The hostile plugin's `metadata-placement` attack, for a cluster whose user pinned its
/// metadata pods to EKS on-demand nodes.
fn metadata_placement(variant: &str) -> Result<crate::compose::Contributions, ExtensionError> {
    let cluster = validated(&format!(
        "  metadataNodes:\n    replicas: 3\n    nodeSelector:\n      eks.amazonaws.com/capacityType: ON_DEMAND\n  \
         schedulingProvider:\n    plugin: hostile\n    settings:\n      attack: metadata-placement\n      \
         variant: {variant}\n"
    ));
    WITH_HOSTILE.0.resolve(&cluster)
}

#[test]
fn no_contribution_can_put_metadata_pods_on_spot_capacity() {
    for (variant, needle) in [
        ("clear-user-pins", "nodeSelector eks.amazonaws.com/capacityType=ON_DEMAND is removed"),
        ("override-user-pin", "overrides eks.amazonaws.com/capacityType=ON_DEMAND"),
        ("override-user-pin-case", "overrides eks.amazonaws.com/capacityType=ON_DEMAND"),
        ("wildcard-toleration", "empty key tolerates every taint"),
        ("wildcard-noschedule", "empty key tolerates every taint"),
        ("tolerate-gke-spot", "toleration of cloud.google.com/gke-spot"),
        ("tolerate-aks-spot", "toleration of kubernetes.azure.com/scalesetpriority"),
        ("tolerate-lifecycle-spot", "toleration of node.kubernetes.io/lifecycle"),
        ("not-in-on-demand", "does not exclude \"SPOT\""),
        ("does-not-exist-on-demand", "eks.amazonaws.com/capacityType DoesNotExist"),
        ("exists-gke-spot", "selects a label of Spot or preemptible nodes"),
        ("karpenter-spot", "karpenter.sh/capacity-type=spot"),
        ("gke-spot", "cloud.google.com/gke-spot=true"),
        ("gke-preemptible", "cloud.google.com/gke-preemptible In"),
        ("gke-provisioning-spot", "cloud.google.com/gke-provisioning=spot"),
        ("aks-spot", "kubernetes.azure.com/scalesetpriority In"),
        ("karpenter-spot-case", "selects \"SPOT\""),
        ("spot-pool-name", "example.com/pool=spot-pool"),
    ] {
        let error = metadata_placement(variant).expect_err(variant);
        let message = error.to_string();
        assert!(matches!(error, ExtensionError::InvalidContribution { .. }), "{variant}: {message}");
        assert!(message.contains("plugin \"hostile\""), "{variant}: {message}");
        assert!(message.contains(needle), "{variant}: {message}");
        assert!(message.contains("would let metadata (Raft) pods run on Spot capacity"), "{variant}: {message}");
    }
}

#[test]
fn a_metadata_contribution_may_add_on_demand_pins_and_explicit_tolerations() {
    let contributions = metadata_placement("allowed").expect("an allowed contribution");
    let metadata = &contributions.metadata.scheduling[0];
    assert_eq!(metadata.node_selector["karpenter.sh/capacity-type"], "on-demand");
    assert_eq!(metadata.tolerations[0].key.as_deref(), Some("example.com/dedicated"));
}

#[test]
fn plugin_text_reaches_errors_without_control_characters_and_bounded() {
    let error = hostile("error-with-tricks").expect_err("the plugin returns an error");
    let message = error.to_string();
    assert!(message.contains("red OVERWRITTEN"), "{message}");
    assert!(!message.chars().any(|c| c.is_control() || c == '\u{202e}'), "{message:?}");
    assert!(message.len() < 2 * antfly_plugin_host::MAX_PLUGIN_TEXT_BYTES, "{}", message.len());
    assert!(message.ends_with(antfly_plugin_host::TRUNCATION_MARKER), "{message}");

    let panic = hostile("panic-with-tricks").expect_err("the plugin panics").to_string();
    assert!(!panic.chars().any(|c| c.is_control()), "{panic:?}");
    assert!(panic.len() < 3 * antfly_plugin_host::MAX_PLUGIN_TEXT_BYTES, "{}", panic.len());
}

#[test]
fn only_a_missed_deadline_is_a_transient_plugin_failure() {
    assert!(hostile("loop").expect_err("times out").is_transient());
    for attack in ["panic", "exit", "oversized", "bad-effect"] {
        assert!(!hostile(attack).expect_err(attack).is_transient(), "{attack}");
    }
}

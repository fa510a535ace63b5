//! Tests of validation: each rejection names its field, all are reported at once.

use crate::base::PluginWorld;
use crate::fixtures::{errors, parse, validated};
use crate::validate::validate;

#[test]
fn even_metadata_replicas_are_rejected_with_the_field_path() {
    assert_eq!(
        errors("  metadataNodes:\n    replicas: 4\n"),
        ["spec.metadataNodes.replicas: must be odd (3 or 5; 1 for development), got 4"]
    );
}

#[test]
fn three_five_and_one_metadata_replicas_are_accepted() {
    for n in [1, 3, 5] {
        validated(&format!("  metadataNodes:\n    replicas: {n}\n"));
    }
}

#[test]
fn every_error_is_reported_at_once() {
    let found = errors(concat!(
        "  config: '[1]'\n",
        "  metadataNodes:\n    replicas: 2\n",
        "  dataNodes:\n    replicas: 0\n",
        "  storage:\n    dataStorage: ten\n",
    ));
    assert_eq!(
        found,
        [
            "spec.config: must be a JSON object, got an array",
            "spec.metadataNodes.replicas: must be odd (3 or 5; 1 for development), got 2",
            "spec.dataNodes.replicas: must be at least 1, got 0",
            "spec.storage.dataStorage: must be a quantity such as 500m, 2 or 10Gi, got \"ten\"",
        ]
    );
}

#[test]
fn config_must_be_valid_json() {
    let found = errors("  config: '{\"log\": '\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("spec.config: must be valid JSON: "), "{found:?}");
}

#[test]
fn replication_factor_cannot_exceed_data_nodes() {
    assert_eq!(
        errors("  config: '{\"replication_factor\": 5}'\n"),
        ["spec.dataNodes.replicas: 3 is below the replication factor 5 set in spec.config: every shard needs 5 \
          data nodes, so fewer are refused"]
    );
}

#[test]
fn the_autoscaler_may_not_go_below_the_replication_factor() {
    assert_eq!(
        errors(
            "  dataNodes:\n    autoScaling:\n      enabled: true\n      minReplicas: 2\n      maxReplicas: 6\n      \
             targetCPUUtilizationPercentage: 70\n"
        ),
        ["spec.dataNodes.autoScaling.minReplicas: 2 is below the replication factor 3: a scale-down there would \
          leave shards short of replicas"]
    );
}

#[test]
fn fewer_data_nodes_than_the_default_replication_factor_say_how_to_fix_it() {
    assert_eq!(
        errors("  dataNodes:\n    replicas: 2\n"),
        ["spec.dataNodes.replicas: 2 is below the replication factor 3 (the default); run at least 3 data \
             nodes, or set \"replication_factor\": 2 in spec.config"]
    );
    crate::fixtures::validated("  dataNodes:\n    replicas: 1\n  config: '{\"replication_factor\": 1}'\n");
}

#[test]
fn node_selector_under_autopilot_is_rejected_with_the_seed_message() {
    let found = errors("  gke:\n    autopilot: true\n  dataNodes:\n    nodeSelector:\n      workload: antfly\n");
    assert_eq!(
        found,
        ["spec.dataNodes.nodeSelector: spec.dataNodes.nodeSelector conflicts with spec.gke.autopilot=true"]
    );
}

#[test]
fn gke_and_eks_cannot_both_be_enabled() {
    let found = errors("  gke:\n    autopilot: true\n  eks:\n    enabled: true\n");
    assert_eq!(found, ["spec.eks.enabled: spec.gke and spec.eks cannot both be enabled"]);
}

#[test]
fn eks_spot_requires_eks_enabled() {
    assert_eq!(
        errors("  eks:\n    useSpotInstances: true\n"),
        ["spec.eks.spot.dataNodes: requires spec.eks.enabled=true"]
    );
}

#[test]
fn bad_tolerations_and_spread_name_each_field() {
    let found = errors(concat!(
        "  dataNodes:\n",
        "    tolerations:\n      - key: a\n        operator: Sometimes\n        effect: Never\n",
        "    topologySpreadConstraints:\n      - maxSkew: 0\n        topologyKey: zone\n        whenUnsatisfiable: Maybe\n",
    ));
    assert_eq!(
        found,
        [
            "spec.dataNodes.tolerations[0].operator: must be Exists or Equal, got \"Sometimes\"",
            "spec.dataNodes.tolerations[0].effect: must be NoSchedule, PreferNoSchedule or NoExecute, got \"Never\"",
            "spec.dataNodes.topologySpreadConstraints[0].maxSkew: must be at least 1, got 0",
            "spec.dataNodes.topologySpreadConstraints[0].whenUnsatisfiable: must be DoNotSchedule or ScheduleAnyway, got \"Maybe\"",
        ]
    );
}

#[test]
fn autoscaling_needs_a_maximum_and_a_sane_range() {
    let found = errors(
        "  dataNodes:\n    autoScaling:\n      enabled: true\n      minReplicas: 5\n      targetCPUUtilizationPercentage: 170\n      scaleUpCooldown: soon\n",
    );
    assert_eq!(
        found,
        [
            "spec.dataNodes.autoScaling.maxReplicas: must be set when autoscaling is enabled",
            "spec.dataNodes.autoScaling.targetCPUUtilizationPercentage: must be between 1 and 100, got 170",
            "spec.dataNodes.autoScaling.scaleUpCooldown: must be a duration such as 30s, 5m or 1h30m, got \"soon\"",
        ]
    );
}

#[test]
fn cluster_names_must_fit_child_object_names() {
    let mut cluster = parse("  image: x\n");
    cluster.metadata.name = Some("a".repeat(44));
    let errors = validate(&cluster).expect_err("long name").errors;
    assert_eq!(errors[0].path, "metadata.name");
    cluster.metadata.name = Some("Upper".into());
    assert_eq!(validate(&cluster).expect_err("uppercase").errors[0].path, "metadata.name");
}

#[test]
fn scheduling_provider_cannot_be_combined_with_a_cloud() {
    let found = errors("  eks:\n    enabled: true\n  schedulingProvider:\n    plugin: acme\n    settings: {}\n");
    assert_eq!(found, ["spec.schedulingProvider: cannot be combined with spec.gke or spec.eks"]);
}

#[test]
fn plugin_requests_follow_the_spec() {
    let cluster = validated(concat!(
        "  eks:\n    enabled: true\n    spot:\n      dataNodes: true\n",
        "  serviceMesh:\n    enabled: true\n    profile: linkerd\n",
    ));
    let requests = cluster.plugin_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].world, requests[0].plugin.as_str(), requests[0].field),
        (PluginWorld::SchedulingProvider, "eks", "spec.eks")
    );
    assert_eq!(requests[0].settings["spot"]["dataNodes"], true);
    assert_eq!((requests[1].world, requests[1].plugin.as_str()), (PluginWorld::MeshProfile, "linkerd"));
    assert!(validated("  image: x\n").plugin_requests().is_empty());
}

#[test]
fn a_disabled_mesh_selects_no_profile_plugin() {
    let cluster = validated("  serviceMesh:\n    enabled: false\n    profile: istio\n");
    assert!(cluster.plugin_requests().is_empty());
}

#[test]
fn defaults_follow_the_seed() {
    let cluster = validated("  image: x\n");
    let spec = cluster.spec();
    assert_eq!((spec.metadata_nodes.replicas, spec.data_nodes.replicas), (3, 3));
    assert_eq!((spec.storage.metadata_storage.as_str(), spec.storage.data_storage.as_str()), ("1Gi", "10Gi"));
    assert_eq!(cluster.cluster_domain(), "cluster.local");
    assert!(cluster.pdb().is_none() && cluster.public_api().is_none());
    let empty = validated("  {}\n");
    assert_eq!(empty.spec().image, "ghcr.io/antflydb/antfly:latest");
}

#[test]
fn arbitrary_yaml_never_panics_validation() {
    // Shapes that type-check but carry odd values: validation must report, not panic.
    let odd_specs = [
        "  metadataNodes:\n    replicas: -2147483648\n",
        "  dataNodes:\n    replicas: 2147483647\n",
        "  config: '{\"replication_factor\": \"three\"}'\n",
        "  config: '{}{}'\n",
        "  storage:\n    dataStorage: ''\n    storageClass: ''\n",
        "  dataNodes:\n    nodeSelector:\n      '': ''\n",
        "  dataNodes:\n    tolerations:\n      - {}\n",
        "  clusterDomain: '...'\n",
        "  schedulingProvider:\n    plugin: ''\n    settings: {a: [1, {b: null}]}\n",
        "  dataNodes:\n    autoScaling:\n      scaleDownCooldown: '99999999999999999999h'\n",
    ];
    for spec in odd_specs {
        let _ = validate(&parse(spec));
    }
}

#[test]
fn settings_the_operator_does_not_apply_are_named() {
    let cluster = validated("  eks:\n    enabled: true\n    ebsVolumeType: gp3\n");
    let notes = cluster.unapplied_settings();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("spec.eks.ebsVolumeType=gp3 is not applied"), "{notes:?}");
    assert!(validated("  image: x\n").unapplied_settings().is_empty());
}

#[test]
fn the_name_budget_keeps_revision_labels_within_63_characters() {
    // `{c}-metadata-{hash}` with a 10-character hash is the longest derived label value.
    assert_eq!(crate::validate::MAX_CLUSTER_NAME_LEN + "-metadata-".len() + 10, 63);
    let mut cluster = parse("  image: x\n");
    cluster.metadata.name = Some("a".repeat(43));
    validate(&cluster).expect("43 characters fit");
    cluster.metadata.name = Some("1abc".into());
    let errors = validate(&cluster).expect_err("digit first").errors;
    assert_eq!(errors[0].path, "metadata.name");
    assert!(errors[0].message.contains("must start with a lowercase letter"), "{errors:?}");
}

#[test]
fn quantities_must_be_positive_and_requests_within_limits() {
    let found = errors(concat!(
        "  storage:\n    dataStorage: '0'\n    metadataStorage: -1Gi\n",
        "  dataNodes:\n    resources:\n      cpu: '2'\n      memory: 1Gi\n      limits:\n        cpu: 1500m\n        memory: 1Gi\n",
        "  metadataNodes:\n    resources:\n      cpu: '-1'\n",
    ));
    assert_eq!(
        found,
        [
            "spec.metadataNodes.resources.cpu: must be greater than zero, got \"-1\"",
            "spec.dataNodes.resources.cpu: must be less than or equal to the cpu limit (1500m), got 2",
            "spec.storage.metadataStorage: must be greater than zero, got \"-1Gi\"",
            "spec.storage.dataStorage: must be greater than zero, got \"0\"",
        ]
    );
}

#[test]
fn tolerations_follow_the_api_servers_rules() {
    let found = errors(concat!(
        "  dataNodes:\n    tolerations:\n",
        "      - {key: a, operator: Exists, value: b}\n",
        "      - {operator: Equal, value: b}\n",
        "      - {key: a, value: b, effect: NoSchedule, tolerationSeconds: 5}\n",
        "      - {key: a, value: 'has space'}\n",
        "      - {operator: Exists}\n",
        "      - {key: a, value: b, effect: NoExecute, tolerationSeconds: 5}\n",
    ));
    assert_eq!(
        found,
        [
            "spec.dataNodes.tolerations[0].value: must be empty when operator is Exists",
            "spec.dataNodes.tolerations[1].operator: must be Exists when key is empty (to tolerate every taint)",
            "spec.dataNodes.tolerations[2].effect: must be NoExecute when tolerationSeconds is set, got \"NoSchedule\"",
            "spec.dataNodes.tolerations[3].value: value \"has space\" must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ]
    );
}

#[test]
fn spread_constraints_refuse_min_domains_without_do_not_schedule_and_duplicate_pairs() {
    let found = errors(concat!(
        "  dataNodes:\n    topologySpreadConstraints:\n",
        "      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway, minDomains: 2}\n",
        "      - {maxSkew: 2, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}\n",
        "      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 0, matchLabelKeys: [app]}\n",
    ));
    assert_eq!(
        found,
        [
            "spec.dataNodes.topologySpreadConstraints[0].minDomains: may only be set when whenUnsatisfiable is DoNotSchedule",
            "spec.dataNodes.topologySpreadConstraints[1]: duplicates another constraint with topologyKey \"zone\" and whenUnsatisfiable \"ScheduleAnyway\"",
            "spec.dataNodes.topologySpreadConstraints[2].minDomains: must be at least 1, got 0",
            "spec.dataNodes.topologySpreadConstraints[2].matchLabelKeys: may only be set together with labelSelector",
        ]
    );
}

#[test]
fn affinity_is_validated_in_full() {
    let found = errors(concat!(
        "  metadataNodes:\n    affinity:\n      nodeAffinity:\n",
        "        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms: []\n",
        "        preferredDuringSchedulingIgnoredDuringExecution:\n",
        "          - weight: 0\n            preference:\n              matchExpressions:\n",
        "                - {key: a, operator: Gt, values: [x]}\n",
        "                - {key: 'b c', operator: Exists}\n",
        "      podAntiAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n",
        "          - topologyKey: ''\n            labelSelector:\n              matchExpressions:\n",
        "                - {key: a, operator: In}\n",
        "            namespaces: [Bad]\n",
    ));
    let path = "spec.metadataNodes.affinity";
    assert_eq!(
        found,
        [
            format!(
                "{path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: must have at least one node selector term"
            ),
            format!(
                "{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be between 1 and 100, got 0"
            ),
            format!(
                "{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values: must be one integer when operator is Gt"
            ),
            format!(
                "{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[1].key: key \"b c\" must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ),
            format!(
                "{path}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: must not be empty"
            ),
            format!(
                "{path}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: must be set when operator is In"
            ),
            format!(
                "{path}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]: must consist of lowercase letters, digits and '-', and start and end with a letter or digit, got \"Bad\""
            ),
        ]
    );
}

#[test]
fn images_annotations_and_the_cluster_domain_have_kubernetes_limits() {
    let big = "x".repeat(crate::validate::MAX_ANNOTATIONS_BYTES);
    let found = errors(&format!(
        "  image: 'Not An Image'\n  clusterDomain: {}\n  serviceMesh:\n    annotations:\n      a: {big}\n",
        ["d".repeat(60), "d".repeat(60), "d".repeat(60), "d".repeat(60)].join(".")
    ));
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("spec.clusterDomain: makes the pods' DNS names 274 characters"), "{found:?}");
    assert!(found[1].starts_with("spec.image: must be an image reference"), "{found:?}");
    assert!(found[2].starts_with("spec.serviceMesh.annotations: total 262145 bytes"), "{found:?}");
}

#[test]
fn the_clusters_own_labels_and_annotations_are_checked() {
    let mut cluster = parse("  image: x\n");
    cluster.metadata.labels = Some([("team".to_string(), "a b".to_string())].into());
    cluster.metadata.annotations = Some([("bad key!".to_string(), String::new())].into());
    let paths: Vec<String> = validate(&cluster).expect_err("bad metadata").errors.into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["metadata.labels[team]", "metadata.annotations[bad key!]"]);
}

#[test]
fn an_empty_storage_class_means_no_class() {
    let cluster = validated("  storage:\n    storageClass: ''\n");
    assert_eq!(cluster.spec().storage.storage_class.as_deref(), Some(""));
}

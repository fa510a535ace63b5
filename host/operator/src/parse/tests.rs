//! Tests of parsing: paths and lines, unknown fields, merge keys, nulls and bounded cost.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

use super::schema::UNDERSTOOD_KEYWORDS;
use super::*;

const HEAD: &str = "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: c\nspec:\n";

fn cluster(spec: &str) -> Result<AntflyCluster, ParseErrors> {
    cluster_with(spec, ParseOptions::default()).map(|(c, _)| c)
}

fn cluster_with(spec: &str, options: ParseOptions) -> Result<(AntflyCluster, Vec<Problem>), ParseErrors> {
    let parsed = parse(&format!("{HEAD}{spec}"), options)?;
    match parsed.documents.into_iter().next().map(|d| d.object) {
        Some(Object::Cluster(c)) => Ok((*c, parsed.warnings)),
        other => panic!("expected one cluster, got {other:?}"),
    }
}

fn problems(text: &str) -> Vec<String> {
    parse(text, ParseOptions::default())
        .expect_err("input must be refused")
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn spec_problems(spec: &str) -> Vec<String> {
    problems(&format!("{HEAD}{spec}"))
}

#[test]
fn every_type_error_is_reported_with_its_path_and_line() {
    let found = spec_problems(concat!(
        "  metadataNodes:\n",
        "    replicas: \"3\"\n",
        "  dataNodes:\n",
        "    replicas: many\n",
        "    tolerations: {key: a}\n",
        "  image: 7\n",
        "  publicAPI:\n",
        "    enabled: \"true\"\n",
    ));
    assert_eq!(
        found,
        [
            "spec.metadataNodes.replicas (line 7): must be an integer, got string \"3\"; remove the quotes",
            "spec.dataNodes.replicas (line 9): must be an integer, got string \"many\"; remove the quotes",
            "spec.dataNodes.tolerations (line 10): must be a list, got object",
            "spec.image (line 11): must be a string, got integer 7; quote it to make it a string",
            "spec.publicAPI.enabled (line 13): must be a boolean (true or false), got string \"true\"; remove the quotes",
        ]
    );
}

#[test]
fn unknown_fields_are_refused_with_their_path_and_a_suggestion() {
    let found = spec_problems(
        "  metadataNodes:\n    replica: 5\n  dataNodes:\n    tolerations:\n      - {key: a, operater: Exists}\n",
    );
    assert_eq!(
        found,
        [
            "spec.metadataNodes.replica (line 7): unknown field \"replica\" (did you mean \"replicas\"?)",
            "spec.dataNodes.tolerations[0].operater (line 10): unknown field \"operater\" (did you mean \"operator\"?)",
        ]
    );
    let top = problems(
        "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: c\n  lables: {}\nspec: {}\nspek: {}\n",
    );
    assert_eq!(
        top,
        [
            "metadata.lables (line 5): unknown field \"lables\" (did you mean \"labels\"?)",
            "spek (line 7): unknown field \"spek\" (did you mean \"spec\"?)",
        ]
    );
}

#[test]
fn lenient_parsing_drops_unknown_fields_with_a_warning() {
    let options = ParseOptions { unknown_fields: UnknownFields::Warn };
    let (cluster, warnings) = cluster_with("  metadataNodes:\n    replica: 5\n", options).expect("lenient parse");
    assert_eq!(cluster.spec.metadata_nodes.replicas, 3);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "spec.metadataNodes.replica");
}

#[test]
fn opaque_plugin_settings_keep_any_field() {
    let cluster = cluster("  schedulingProvider:\n    plugin: acme\n    settings: {zone: [a, b], nested: {x: null}}\n")
        .expect("settings are opaque");
    let settings = cluster.spec.scheduling_provider.expect("provider").settings.expect("settings");
    assert_eq!(settings, serde_json::json!({"zone": ["a", "b"], "nested": {"x": null}}));
}

#[test]
fn merge_keys_follow_yaml_1_1_explicit_keys_win() {
    let text = concat!(
        "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata: {name: c}\n",
        "spec:\n",
        "  metadataNodes: &nodes\n    replicas: 5\n    nodeSelector: {pool: db}\n",
        "  dataNodes:\n    <<: [*nodes, {replicas: 9}]\n    replicas: 4\n",
    );
    let parsed = parse(text, ParseOptions::default()).expect("merge keys parse");
    let Object::Cluster(cluster) = &parsed.documents[0].object else { panic!("cluster") };
    assert_eq!(cluster.spec.data_nodes.replicas, 4, "the explicit key wins over merged ones");
    assert_eq!(cluster.spec.data_nodes.scheduling.node_selector["pool"], "db");
    let first_wins = text.replace("    replicas: 4\n", "");
    let parsed = parse(&first_wins, ParseOptions::default()).expect("merge keys parse");
    let Object::Cluster(cluster) = &parsed.documents[0].object else { panic!("cluster") };
    assert_eq!(cluster.spec.data_nodes.replicas, 5, "the first merged mapping wins");
}

#[test]
fn a_merge_key_whose_value_is_not_a_mapping_is_an_error() {
    let found = spec_problems("  dataNodes:\n    <<: 5\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("line 7: invalid YAML: "), "{found:?}");
}

#[test]
fn yaml_1_1_booleans_are_booleans_as_in_kubectl() {
    let cluster = cluster("  publicAPI:\n    enabled: yes\n").expect("yes is a boolean");
    assert!(cluster.spec.public_api.expect("public api").enabled);
    let found = spec_problems("  dataNodes:\n    nodeSelector:\n      spot: yes\n");
    assert_eq!(
        found,
        [
            "spec.dataNodes.nodeSelector[spot] (line 8): must be a string, got boolean true; quote it to make it a string"
        ]
    );
}

#[test]
fn null_means_absent_and_empty_strings_are_kept() {
    let cluster = cluster("  metadataNodes:\n    replicas: null\n  storage:\n    storageClass: \"\"\n  image: ~\n")
        .expect("nulls are absent");
    assert_eq!(cluster.spec.metadata_nodes.replicas, 3, "a null field takes its default");
    assert_eq!(cluster.spec.image, crate::api::DEFAULT_IMAGE);
    assert_eq!(cluster.spec.storage.storage_class.as_deref(), Some(""));
    assert_eq!(
        problems("apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata: {name: c}\nspec: null\n"),
        ["spec (line 1): required field is missing"]
    );
    assert_eq!(
        spec_problems("  dataNodes:\n    tolerations: [null]\n"),
        ["spec.dataNodes.tolerations[0] (line 7): must be an object, got null"]
    );
}

#[test]
fn duplicate_keys_and_syntax_errors_name_the_line() {
    assert_eq!(
        spec_problems("  image: a\n  image: b\n"),
        ["line 7: invalid YAML: duplicate mapping key: image, set DuplicateKeyPolicy in Options if acceptable"]
    );
    let found = problems("apiVersion: antfly.io/v1\nkind: [\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("line 2: invalid YAML: "), "{found:?}");
}

#[test]
fn documents_of_other_kinds_are_named() {
    assert_eq!(
        problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
        [
            "line 1: expected kind AntflyCluster, AntflyBackup, AntflyRestore in apiVersion antfly.io/v1, got kind \"ConfigMap\" in apiVersion \"v1\""
        ]
    );
    assert_eq!(problems("- a\n"), ["line 1: a document must be a mapping, got array"]);
}

#[test]
fn several_documents_parse_with_their_kinds_and_empty_ones_are_skipped() {
    let text = format!("---\n{HEAD}  image: x\n---\n---\n{}", include_str!("../../../../examples/daily-backup.yaml"));
    let parsed = parse(&text, ParseOptions::default()).expect("two documents");
    let kinds: Vec<&str> = parsed.documents.iter().map(|d| d.object.kind()).collect();
    assert_eq!(kinds, ["AntflyCluster", "AntflyBackup"]);
    assert!(parsed.documents[1].line > 9, "lines count from the start of the input");
}

#[test]
fn an_alias_bomb_fails_fast_with_an_error() {
    // Ten levels of ten aliases each: 10^10 strings if expanded.
    let mut text = String::from(HEAD);
    text.push_str("  schedulingProvider:\n    plugin: acme\n    settings:\n      l0: &l0 [\"0123456789\"]\n");
    for level in 1..10 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("      l{level}: &l{level} [{refs}]\n"));
    }
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("invalid YAML"), "{found:?}");
    assert!(found[0].contains("exceed") || found[0].contains("budget") || found[0].contains("limit"), "{found:?}");

    // The same in a 1 MB file: many small bombs.
    let mut big = String::from(HEAD);
    big.push_str(
        "  schedulingProvider:\n    plugin: acme\n    settings:\n      a: &a [\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]\n",
    );
    let mut i = 0;
    while big.len() < 1_000_000 {
        big.push_str(&format!("      b{i}: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"));
        i += 1;
    }
    let found = problems(&big);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("line "), "{found:?}");
}

#[test]
fn oversized_input_and_objects_are_refused() {
    let huge = format!("{HEAD}  config: '{}'\n", "x".repeat(MAX_INPUT_BYTES));
    let found = problems(&huge);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("the API server accepts at most 3145728 bytes"), "{found:?}");
    let large = format!("{HEAD}  config: '{}'\n", "x".repeat(MAX_OBJECT_BYTES));
    let found = problems(&large);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("Kubernetes stores objects of at most 1572864 bytes"), "{found:?}");
}

#[test]
fn deep_nesting_is_refused() {
    let mut text = format!("{HEAD}  schedulingProvider:\n    plugin: acme\n    settings:\n      x: ");
    text.push_str(&"[".repeat(5_000));
    text.push_str(&"]".repeat(5_000));
    text.push('\n');
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("invalid YAML"), "{found:?}");
}

#[test]
fn whole_numbers_written_as_floats_are_integers_and_int32_is_enforced() {
    assert_eq!(cluster("  dataNodes:\n    replicas: 4.0\n").expect("4.0").spec.data_nodes.replicas, 4);
    assert_eq!(
        spec_problems("  dataNodes:\n    replicas: 4.5\n"),
        ["spec.dataNodes.replicas (line 7): must be an integer, got number 4.5"]
    );
    assert_eq!(
        spec_problems("  dataNodes:\n    replicas: 4294967296\n"),
        ["spec.dataNodes.replicas (line 7): must be between -2147483648 and 2147483647, got 4294967296"]
    );
}

#[test]
fn quantities_may_be_written_as_whole_numbers_as_in_pods() {
    let cluster = cluster("  dataNodes:\n    resources:\n      cpu: 2\n      limits: {memory: 1073741824}\n  storage:\n    dataStorage: 5Gi\n")
        .expect("numbers are quantities");
    assert_eq!(cluster.spec.data_nodes.resources.cpu.as_deref(), Some("2"));
    let limits = cluster.spec.data_nodes.resources.limits.expect("limits");
    assert_eq!(limits.memory.as_deref(), Some("1073741824"));
    assert_eq!(
        spec_problems("  dataNodes:\n    resources:\n      cpu: 0.5\n"),
        ["spec.dataNodes.resources.cpu (line 8): must be a whole number or a string, got number 0.5; quote it"]
    );
}

#[test]
fn enums_and_ranges_of_the_schema_are_checked() {
    assert_eq!(
        spec_problems("  imagePullPolicy: Sometimes\n  publicAPI:\n    port: 0\n"),
        [
            "spec.imagePullPolicy (line 6): must be one of Always, IfNotPresent, Never, got string \"Sometimes\"",
            "spec.publicAPI.port (line 8): must be at least 1, got 0",
        ]
    );
}

#[test]
fn problems_leave_a_partial_object_for_validation() {
    let errors = parse(
        &format!("{HEAD}  metadataNodes:\n    replicas: x\n  dataNodes:\n    replicas: 2\n"),
        ParseOptions::default(),
    )
    .expect_err("type error");
    let Some(Object::Cluster(partial)) = errors.partial.first().map(|d| &d.object) else { panic!("partial cluster") };
    assert_eq!(partial.spec.metadata_nodes.replicas, 3, "the bad value is left out");
    assert_eq!(partial.spec.data_nodes.replicas, 2, "the rest is kept");
}

#[test]
fn locations_find_the_closest_written_parent() {
    let parsed = parse(&format!("{HEAD}  config: '{{}}'\n"), ParseOptions::default()).expect("parses");
    let locations = &parsed.documents[0].locations;
    assert_eq!(locations.find("spec.config.replication_factor"), Some((6, 11)));
    assert_eq!(locations.find("spec.dataNodes[0].x"), Some((6, 3)), "the spec mapping starts at its first key");
    let parsed = parse(
        &format!("{HEAD}  schedulingProvider:\n    plugin: acme\n    settings:\n      zones: [a, b]\n"),
        ParseOptions::default(),
    )
    .expect("parses");
    let locations = &parsed.documents[0].locations;
    assert_eq!(
        locations.find("spec.schedulingProvider.settings.zones[1]"),
        Some((9, 18)),
        "opaque settings are located too"
    );
}

fn keywords(schema: &JSONSchemaProps, path: &str, unknown: &mut Vec<String>) {
    let json = serde_json::to_value(schema).expect("schema serialises");
    for key in json.as_object().expect("schema is an object").keys() {
        if !UNDERSTOOD_KEYWORDS.contains(&key.as_str()) {
            unknown.push(format!("{path}: {key}"));
        }
    }
    for (name, property) in schema.properties.iter().flatten() {
        keywords(property, &format!("{path}.{name}"), unknown);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = &schema.items {
        keywords(items, &format!("{path}[]"), unknown);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = &schema.additional_properties {
        keywords(values, &format!("{path}{{}}"), unknown);
    }
}

#[test]
fn the_crds_use_only_schema_keywords_the_parser_checks() {
    let mut unknown = Vec::new();
    for kind in KINDS {
        keywords(root_schema(kind), kind, &mut unknown);
    }
    assert_eq!(unknown, Vec::<String>::new());
}

#[test]
fn printed_yaml_reads_back_the_same_under_yaml_1_1_rules() {
    // render's output goes to kubectl, which reads YAML 1.1: strings that look like
    // booleans, octals, numbers or nulls must come out quoted.
    let strings = [
        "yes",
        "on",
        "Off",
        "y",
        "N",
        "0755",
        "012",
        "1e3",
        "3.0",
        "+1",
        "0x1F",
        "0b101",
        "1_000",
        "~",
        "null",
        ".inf",
        "<<",
        "2001-12-14",
        "1:20",
        "true",
    ];
    let value = serde_json::Value::Object(strings.iter().map(|s| (s.to_string(), serde_json::json!(s))).collect());
    let printed = serde_saphyr::to_string(&value).expect("serialises");
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let read: serde_json::Value = serde_saphyr::from_str_with_options(&printed, options).expect("reads back");
    assert_eq!(read, value, "{printed}");
}

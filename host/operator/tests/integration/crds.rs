//! The committed CRD YAML in `crds/` must match what the types generate.

const COMMITTED: &str = include_str!("../../../../crds/antfly.io.yaml");

#[test]
fn committed_crds_are_up_to_date() {
    let generated = antfly_operator::api::crds_yaml().expect("CRDs serialise");
    assert!(
        generated == COMMITTED,
        "crds/antfly.io.yaml is stale; regenerate it with:\n  cargo run -p antfly-operator -- crd > crds/antfly.io.yaml"
    );
}

#[test]
fn crds_have_status_subresources_printer_columns_and_short_names() {
    for crd in antfly_operator::api::crds() {
        let version = &crd.spec.versions[0];
        assert_eq!((crd.spec.group.as_str(), version.name.as_str()), ("antfly.io", "v1"));
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(), "{}", crd.spec.names.kind);
        assert!(crd.spec.names.short_names.as_ref().is_some_and(|s| !s.is_empty()));
    }
    let cluster = antfly_operator::api::crds().remove(0);
    let columns: Vec<String> =
        cluster.spec.versions[0].additional_printer_columns.iter().flatten().map(|c| c.name.clone()).collect();
    assert_eq!(columns, ["Phase", "Metadata ready", "Data ready", "Age"]);
}

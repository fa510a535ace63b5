//! The `antfly.io/v1` API: AntflyCluster, AntflyBackup and AntflyRestore.

mod backup;
mod cluster;
mod restore;
mod schema;

pub use backup::*;
pub use cluster::*;
pub use restore::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, ValidationRule,
};
use kube::CustomResourceExt;

/// All CRDs of the API group, in the order `crd` prints and `crds/` stores them.
///
/// `null` means "absent" for every spec field: the schemas carry no `nullable`, so the API
/// server prunes nulls (and applies defaults) exactly as `render` does.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![AntflyCluster::crd(), AntflyBackup::crd(), AntflyRestore::crd()];
    let name_rules = [
        (MAX_CLUSTER_NAME_LEN, "Service names, pod names and revision labels"),
        (MAX_BACKUP_NAME_LEN, "backup ids and Job names ({name}-{YYYYMMDDHHMMSS}-{n})"),
        (MAX_RESTORE_NAME_LEN, "the restore Job's name ({name}-restore)"),
    ];
    for (crd, (max, why)) in crds.iter_mut().zip(name_rules) {
        add_name_rule(crd, max, why);
    }
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            let spec = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                .and_then(|root| root.properties.as_mut())
                .and_then(|properties| properties.get_mut("spec"));
            if let Some(spec) = spec {
                strip_nullable(spec);
            }
        }
    }
    crds
}

/// Longest AntflyBackup name: its runs are Jobs named `{name}-{YYYYMMDDHHMMSS}[-n]`, and a
/// Job name is a label value (at most 63 characters).
pub const MAX_BACKUP_NAME_LEN: usize = 63 - 1 - 14 - 3;
/// Longest AntflyRestore name: its Job is `{name}-restore`.
pub const MAX_RESTORE_NAME_LEN: usize = 63 - "-restore".len();

/// `metadata.name` must be a DNS-1035 label of at most `max` characters, checked at admission.
fn add_name_rule(crd: &mut CustomResourceDefinition, max: usize, why: &str) {
    let root =
        crd.spec.versions.first_mut().and_then(|v| v.schema.as_mut()).and_then(|s| s.open_api_v3_schema.as_mut());
    if let Some(root) = root {
        root.x_kubernetes_validations.get_or_insert_with(Vec::new).push(ValidationRule {
            rule: format!(
                "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= {max}"
            ),
            message: Some(format!(
                "metadata.name must be a DNS-1035 label of at most {max} characters, so that {why} stay valid"
            )),
            ..ValidationRule::default()
        });
    }
}

fn strip_nullable(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    for property in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        strip_nullable(property);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = &mut schema.items {
        strip_nullable(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = &mut schema.additional_properties {
        strip_nullable(values);
    }
}

/// The CRDs as multi-document YAML, exactly as committed in `crds/`.
pub fn crds_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}

//! Test fixtures: short AntflyCluster YAML run through the real parse and validate steps.

use crate::api::AntflyCluster;
use crate::validate::{ValidatedCluster, ValidationErrors, validate};

/// Parse a cluster named `c` in namespace `ns` with the given `spec` YAML (indented by 2).
/// Typed deserialisation only, without the schema's checks, so that validation itself meets
/// out-of-range values.
pub fn parse(spec: &str) -> AntflyCluster {
    let yaml =
        format!("apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: c\n  namespace: ns\nspec:\n{spec}");
    serde_saphyr::from_str(&yaml).expect("fixture YAML must parse")
}

pub fn validated(spec: &str) -> ValidatedCluster {
    validate(&parse(spec)).expect("fixture must be valid")
}

pub fn errors(spec: &str) -> Vec<String> {
    let ValidationErrors { errors } = validate(&parse(spec)).expect_err("fixture must be invalid");
    errors.iter().map(ToString::to_string).collect()
}

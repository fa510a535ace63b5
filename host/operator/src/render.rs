//! `render`: the reconcile pipeline stopped before apply: parse, validate, resolve plugins,
//! build, and print every object as multi-document YAML.

use crate::api::AntflyCluster;
use crate::build::ClusterResources;
use crate::compose::ExtensionResolver;
use crate::pipeline::{PipelineError, desired_state};

/// The development cluster `render` uses when no file is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../examples/dev-cluster.yaml");

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("failed to parse AntflyCluster: {0}")]
    Parse(#[source] serde_yaml::Error),
    #[error("expected kind AntflyCluster in apiVersion antfly.io/v1, got kind {kind:?} in {api_version:?}")]
    WrongKind { api_version: String, kind: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("failed to serialise objects: {0}")]
    Serialise(String),
}

/// Parse one AntflyCluster document, checking its apiVersion and kind.
pub fn parse_cluster(yaml: &str) -> Result<AntflyCluster, RenderError> {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(RenderError::Parse)?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version != "antfly.io/v1" || kind != "AntflyCluster" {
        return Err(RenderError::WrongKind { api_version, kind });
    }
    serde_yaml::from_value(value).map_err(RenderError::Parse)
}

/// Serialise objects as multi-document YAML.
pub fn to_yaml(resources: &ClusterResources) -> Result<String, RenderError> {
    let objects = resources.to_json_objects().map_err(|e| RenderError::Serialise(e.to_string()))?;
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object).map_err(|e| RenderError::Serialise(e.to_string()))?);
    }
    Ok(out)
}

/// Parse, validate, resolve, build and serialise one AntflyCluster document.
pub fn render(yaml: &str, resolver: &dyn ExtensionResolver) -> Result<String, RenderError> {
    let cluster = parse_cluster(yaml)?;
    to_yaml(&desired_state(&cluster, resolver)?.resources)
}

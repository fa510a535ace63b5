//! The one pipeline that `render` and every reconcile run: validate, resolve plugin
//! contributions, build, and check the built objects against Kubernetes' limits. Pure apart
//! from the plugin calls, which the resolver sandboxes.

use crate::api::AntflyCluster;
use crate::build::{ClusterResources, build_resources, limits};
use crate::compose::{Contributions, ExtensionError, ExtensionResolver};
use crate::status::{CONFIGURATION_VALID, PLUGINS_READY};
use crate::validate::{ValidatedCluster, ValidationErrors, validate};

/// Everything the operator wants to exist for one cluster.
#[derive(Clone, Debug)]
pub struct DesiredState {
    pub cluster: ValidatedCluster,
    pub contributions: Contributions,
    pub resources: ClusterResources,
}

/// The step of the pipeline that failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The spec, or the objects composed from it and the plugins' contributions, break a rule
    /// (of this operator or of the API server).
    #[error("invalid AntflyCluster:\n{0}")]
    Invalid(#[source] ValidationErrors),
    #[error("{0}")]
    Plugins(#[source] ExtensionError),
}

/// How a failed step shows in status and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedStep {
    /// The condition set to False.
    pub condition: &'static str,
    /// The condition's reason, also the Warning event's reason.
    pub reason: &'static str,
}

impl PipelineError {
    pub fn failed_step(&self) -> FailedStep {
        match self {
            PipelineError::Invalid(_) => FailedStep { condition: CONFIGURATION_VALID, reason: "InvalidSpec" },
            PipelineError::Plugins(_) => FailedStep { condition: PLUGINS_READY, reason: "PluginFailed" },
        }
    }

    /// The message for status and events, without the step's prefix.
    pub fn detail(&self) -> String {
        match self {
            PipelineError::Invalid(errors) => errors.to_string(),
            PipelineError::Plugins(error) => error.to_string(),
        }
    }
}

/// Validate `cluster`, resolve its plugin contributions, build its objects and check them.
pub fn desired_state(cluster: &AntflyCluster, resolver: &dyn ExtensionResolver) -> Result<DesiredState, PipelineError> {
    let cluster = validate(cluster).map_err(PipelineError::Invalid)?;
    let contributions = resolver.resolve(&cluster).map_err(PipelineError::Plugins)?;
    let resources = build_resources(&cluster, &contributions);
    // What the plugins added may break Kubernetes' limits (annotation totals, spread pairs,
    // ConfigMap size): the API server would refuse those objects, so none is applied.
    let errors = limits::check(&cluster, &contributions, &resources);
    if !errors.is_empty() {
        return Err(PipelineError::Invalid(ValidationErrors { errors }));
    }
    Ok(DesiredState { cluster, contributions, resources })
}

//! The one pipeline that `render` and every reconcile run: validate, resolve plugin
//! contributions, build, and check the built objects against Kubernetes' limits. Pure apart
//! from the plugin calls, which the resolver sandboxes.

use crate::api::AntflyCluster;
use crate::backup::destination::{DestinationRequest, Operation, PodEnvironment, ServerEnvironment};
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
    /// Destinations whose server environment is not on the pods, and why. Their own
    /// AntflyBackup or AntflyRestore reports it; the cluster is built without them.
    pub destination_problems: Vec<DestinationProblem>,
}

/// A backup destination of the cluster that could not be planned or merged.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationProblem {
    /// `AntflyBackup/nightly`.
    pub owner: String,
    pub message: String,
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

/// Validate `cluster`, resolve its plugin contributions and the server environment of its
/// backup `destinations`, build its objects and check them.
pub fn desired_state(
    cluster: &AntflyCluster,
    destinations: &[DestinationRequest],
    resolver: &dyn ExtensionResolver,
) -> Result<DesiredState, PipelineError> {
    desired_state_of_valid(validate(cluster).map_err(PipelineError::Invalid)?, destinations, resolver)
}

/// Whether [`desired_state_of_valid`] calls a plugin for `cluster`: a scheduling provider or
/// mesh profile it names, or the destination of one of `destinations`.
pub fn calls_plugins(cluster: &ValidatedCluster, destinations: &[DestinationRequest]) -> bool {
    !cluster.plugin_requests().is_empty() || !destinations.is_empty()
}

/// [`desired_state`] for a cluster that has passed validation.
pub fn desired_state_of_valid(
    cluster: ValidatedCluster,
    destinations: &[DestinationRequest],
    resolver: &dyn ExtensionResolver,
) -> Result<DesiredState, PipelineError> {
    let mut contributions = resolver.resolve(&cluster).map_err(PipelineError::Plugins)?;
    let (destinations, destination_problems) = server_environment(destinations, resolver);
    contributions.destinations = destinations;
    let resources = build_resources(&cluster, &contributions);
    // What the plugins added may break Kubernetes' limits (annotation totals, spread pairs,
    // ConfigMap size): the API server would refuse those objects, so none is applied.
    let errors = limits::check(&cluster, &contributions, &resources);
    if !errors.is_empty() {
        return Err(PipelineError::Invalid(ValidationErrors { errors }));
    }
    Ok(DesiredState { cluster, contributions, resources, destination_problems })
}

/// The server environment of every destination that plans and merges cleanly, in the order
/// given (the controller sorts by owner), and the problems of the others.
pub fn server_environment(
    destinations: &[DestinationRequest],
    resolver: &dyn ExtensionResolver,
) -> (ServerEnvironment, Vec<DestinationProblem>) {
    let mut accepted: Vec<(String, PodEnvironment)> = Vec::new();
    let mut problems = Vec::new();
    for request in destinations {
        // The server environment never depends on the run, so no backup id is needed.
        let operation = if request.field == "spec.source" { Operation::Restore } else { Operation::Backup };
        match resolver.plan_destination(request, operation, "") {
            Ok(plan) => {
                let candidate =
                    accepted.iter().map(|(o, e)| (o.as_str(), e)).chain([(request.owner.as_str(), &plan.server)]);
                match ServerEnvironment::merge(candidate) {
                    Ok(_) => accepted.push((request.owner.clone(), plan.server)),
                    Err(conflicts) => problems
                        .push(DestinationProblem { owner: request.owner.clone(), message: conflicts.join("; ") }),
                }
            }
            Err(error) => {
                problems.push(DestinationProblem { owner: request.owner.clone(), message: error.to_string() })
            }
        }
    }
    let merged = ServerEnvironment::merge(accepted.iter().map(|(o, e)| (o.as_str(), e))).unwrap_or_default();
    (merged, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::parse_cluster;

    fn validated(yaml: &str) -> ValidatedCluster {
        validate(&parse_cluster(yaml).expect("example")).expect("valid")
    }

    #[test]
    fn only_a_cluster_that_names_a_plugin_calls_one() {
        let dev = validated(include_str!("../../../examples/dev-cluster.yaml"));
        assert!(!calls_plugins(&dev, &[]));
        let eks = validated(include_str!("../../../examples/eks-cluster.yaml"));
        assert!(calls_plugins(&eks, &[]));
        let mesh = validated(include_str!("../../../examples/service-mesh-istio-profile-cluster.yaml"));
        assert!(calls_plugins(&mesh, &[]));
    }
}

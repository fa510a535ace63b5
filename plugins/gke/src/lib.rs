//! First-party `gke` scheduling provider: GKE Autopilot compute classes and GKE Standard
//! Spot VMs for data nodes, and validation of `spec.gke`.
//!
//! Settings are the JSON of `spec.gke`. Under Autopilot the nodeSelector is cleared for
//! both roles (Autopilot rejects most selectors) and the user may not set one; GKE
//! Standard Spot applies to data nodes only.

use antfly_plugin_sdk::{
    ClusterView, ErrorCode, Guest, PluginError, Role, SchedulingContribution, all_problems, kv, settings_error,
};
use serde::Deserialize;

const COMPUTE_CLASS_ANNOTATION: &str = "cloud.google.com/compute-class";
const DEFAULT_COMPUTE_CLASS: &str = "Balanced";
const SPOT_LABEL: &str = "cloud.google.com/gke-spot";
/// GKE gives Spot and Autopilot pods 15 s between SIGTERM and SIGKILL on preemption.
const GRACE_PERIOD_SECONDS: i64 = 15;

/// The JSON of `spec.gke`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    autopilot: bool,
    #[serde(default)]
    autopilot_compute_class: Option<String>,
    #[serde(default)]
    spot: Option<Spot>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spot {
    #[serde(default)]
    data_nodes: bool,
}

impl Settings {
    fn parse(text: &str) -> Result<Self, PluginError> {
        serde_json::from_str(text).map_err(|e| settings_error("spec.gke", e))
    }

    fn spot_data_nodes(&self) -> bool {
        self.spot.as_ref().is_some_and(|s| s.data_nodes)
    }

    fn compute_class(&self) -> &str {
        self.autopilot_compute_class.as_deref().unwrap_or(DEFAULT_COMPUTE_CLASS)
    }

    fn problems(&self, view: &ClusterView) -> Vec<PluginError> {
        let mut problems = Vec::new();
        if let Some(class) = &self.autopilot_compute_class
            && !is_compute_class(class)
        {
            problems.push(PluginError::invalid_settings(
                "autopilotComputeClass",
                format!("autopilotComputeClass {class:?} is not a compute class name such as Balanced or Scale-Out"),
            ));
        }
        if !self.autopilot {
            return problems;
        }
        for role_view in &view.roles {
            if !role_view.scheduling.node_selector.is_empty() {
                let field = format!("spec.{}.nodeSelector", roles_field(role_view.role));
                let message = format!("{field} conflicts with spec.gke.autopilot=true");
                problems.push(PluginError::new(ErrorCode::Conflict, &field, message));
            }
        }
        if self.spot_data_nodes() {
            problems.push(PluginError::new(
                ErrorCode::Conflict,
                "spot.dataNodes",
                "spec.gke.spot.dataNodes conflicts with spec.gke.autopilot=true; \
                 choose Spot capacity through spec.gke.autopilotComputeClass",
            ));
        }
        problems
    }

    fn contribution(&self, role: Role) -> SchedulingContribution {
        let mut contribution = SchedulingContribution::empty(role);
        if self.autopilot {
            contribution.clear_node_selector = true;
            contribution.pod_annotations.push(kv(COMPUTE_CLASS_ANNOTATION, self.compute_class()));
            contribution.termination_grace_period_seconds = Some(GRACE_PERIOD_SECONDS);
            // Autopilot manages topology itself.
            contribution.suppress_default_zone_spread = true;
        } else if self.spot_data_nodes() && role == Role::Data {
            contribution.node_selector.push(kv(SPOT_LABEL, "true"));
            contribution.termination_grace_period_seconds = Some(GRACE_PERIOD_SECONDS);
        }
        contribution
    }
}

/// The CRD field that holds a role's scheduling settings.
fn roles_field(role: Role) -> &'static str {
    match role {
        Role::Metadata => "metadataNodes",
        Role::Data => "dataNodes",
    }
}

/// Built-in classes (`Balanced`, `Scale-Out`, `Performance`, ...) and custom compute
/// classes: a Kubernetes object name or a CamelCase built-in, at most 63 characters.
fn is_compute_class(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
}

struct Gke;

impl Guest for Gke {
    fn validate_settings(view: ClusterView) -> Result<(), Vec<PluginError>> {
        let settings = Settings::parse(&view.settings).map_err(|e| vec![e])?;
        all_problems(settings.problems(&view))
    }

    fn contribute(view: ClusterView, role: Role) -> Result<SchedulingContribution, PluginError> {
        let settings = Settings::parse(&view.settings)?;
        if let Some(problem) = settings.problems(&view).into_iter().next() {
            return Err(problem);
        }
        Ok(settings.contribution(role))
    }
}

antfly_plugin_sdk::export!(Gke);

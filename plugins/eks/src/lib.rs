//! First-party `eks` scheduling provider: Amazon EKS Spot for data nodes, preferred
//! instance types, IRSA, and validation of `spec.eks`.
//!
//! Settings are the JSON of `spec.eks`. Metadata (Raft) pods never go to Spot: only the
//! data role receives the Spot selector, toleration and grace period.

use antfly_plugin_sdk::{
    ClusterView, Guest, NodeSelectorRequirement, PluginError, PreferredTerm, Role, SchedulingContribution, Toleration,
    all_problems, kv, settings_error,
};
use serde::Deserialize;

/// Node label that EKS managed node groups set to `SPOT` or `ON_DEMAND`.
const CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
/// Taint key that Spot node groups commonly carry.
const SPOT_TAINT_KEY: &str = "eks.amazonaws.com/spot";
/// Spot reclaim notices give two minutes; 25 s leaves time to drain and to be replaced.
const SPOT_GRACE_PERIOD_SECONDS: i64 = 25;
const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
const EBS_VOLUME_TYPES: [&str; 6] = ["gp2", "gp3", "io1", "io2", "st1", "sc1"];

/// The JSON of `spec.eks`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    use_spot_instances: bool,
    #[serde(default)]
    spot: Option<Spot>,
    #[serde(default)]
    instance_types: Vec<String>,
    #[serde(default)]
    ebs_volume_type: Option<String>,
    #[serde(default, rename = "irsaRoleARN")]
    irsa_role_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spot {
    #[serde(default)]
    data_nodes: bool,
}

impl Settings {
    fn parse(text: &str) -> Result<Self, PluginError> {
        serde_json::from_str(text).map_err(|e| settings_error("spec.eks", e))
    }

    /// Both spellings put data nodes (never metadata nodes) on Spot.
    fn spot_data_nodes(&self) -> bool {
        self.use_spot_instances || self.spot.as_ref().is_some_and(|s| s.data_nodes)
    }

    fn problems(&self) -> Vec<PluginError> {
        let mut problems = Vec::new();
        if let Some(volume_type) = &self.ebs_volume_type
            && !EBS_VOLUME_TYPES.contains(&volume_type.as_str())
        {
            problems.push(PluginError::invalid_settings(
                "ebsVolumeType",
                format!("ebsVolumeType {volume_type:?} is not one of {}", EBS_VOLUME_TYPES.join(", ")),
            ));
        }
        if let Some(arn) = &self.irsa_role_arn
            && !is_iam_role_arn(arn)
        {
            problems.push(PluginError::invalid_settings(
                "irsaRoleARN",
                format!("irsaRoleARN {arn:?} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"),
            ));
        }
        for (i, instance_type) in self.instance_types.iter().enumerate() {
            if !is_instance_type(instance_type) {
                problems.push(PluginError::invalid_settings(
                    &format!("instanceTypes[{i}]"),
                    format!("{instance_type:?} is not an EC2 instance type such as m6i.2xlarge"),
                ));
            }
        }
        problems
    }

    fn contribution(&self, role: Role) -> SchedulingContribution {
        let mut contribution = SchedulingContribution::empty(role);
        if !self.enabled {
            return contribution;
        }
        if let Some(arn) = &self.irsa_role_arn {
            // One ServiceAccount serves both roles; both report the same annotation.
            contribution.service_account_annotations.push(kv(IRSA_ANNOTATION, arn));
        }
        if role != Role::Data {
            // Metadata nodes run Raft: never Spot, never instance-type churn.
            return contribution;
        }
        if self.spot_data_nodes() {
            contribution.node_selector.push(kv(CAPACITY_TYPE_LABEL, "SPOT"));
            contribution.tolerations.push(Toleration::exists(SPOT_TAINT_KEY, "NoSchedule"));
            contribution.termination_grace_period_seconds = Some(SPOT_GRACE_PERIOD_SECONDS);
        }
        if !self.instance_types.is_empty() {
            contribution.preferred_node_affinity.push(PreferredTerm {
                weight: 100,
                match_expressions: vec![NodeSelectorRequirement {
                    key: INSTANCE_TYPE_LABEL.to_string(),
                    operator: "In".to_string(),
                    values: self.instance_types.clone(),
                }],
            });
        }
        contribution
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<optional path/><name>`.
fn is_iam_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(role_path) = resource.strip_prefix("role/") else {
        return false;
    };
    let name = role_path.rsplit('/').next().unwrap_or_default();
    matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 64
        && role_path.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}

/// `family.size`, lower case, as EC2 spells instance types.
fn is_instance_type(value: &str) -> bool {
    let Some((family, size)) = value.split_once('.') else {
        return false;
    };
    let part_ok =
        |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    value.len() <= 63 && part_ok(family) && part_ok(size)
}

struct Eks;

impl Guest for Eks {
    fn validate_settings(view: ClusterView) -> Result<(), Vec<PluginError>> {
        let settings = Settings::parse(&view.settings).map_err(|e| vec![e])?;
        all_problems(settings.problems())
    }

    fn contribute(view: ClusterView, role: Role) -> Result<SchedulingContribution, PluginError> {
        let settings = Settings::parse(&view.settings)?;
        if let Some(problem) = settings.problems().into_iter().next() {
            return Err(problem);
        }
        Ok(settings.contribution(role))
    }
}

antfly_plugin_sdk::export!(Eks);

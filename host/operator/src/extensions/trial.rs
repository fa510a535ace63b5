//! `plugins try`: runs one plugin against a sample AntflyCluster, offline, and reports what
//! it contributes, checked exactly as a reconcile checks it. For plugin vendors.

use antfly_plugin_host::World;
use serde::Serialize;
use serde_json::{Map, Value};

use super::resolver::{mesh, scheduling};
use super::{PluginResolver, host_world};
use crate::base::{PluginRequest, PluginWorld};
use crate::compose::{ExtensionError, MeshContribution, SchedulingContribution};
use crate::validate::ValidatedCluster;

/// What a plugin contributed to a sample cluster.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialReport {
    pub plugin: String,
    pub world: String,
    pub version: String,
    pub sha256: String,
    /// The settings the plugin received, and the spec field they came from.
    pub settings_field: String,
    pub settings: Value,
    pub metadata: Value,
    pub data: Value,
}

impl PluginResolver {
    /// Runs the plugin named `name` against `cluster`. Its settings are those the cluster's
    /// spec gives it when the spec selects it; otherwise a scheduling provider gets
    /// `spec.schedulingProvider.settings` (or `{}`), and a mesh profile `{}`.
    pub fn try_plugin(&self, cluster: &ValidatedCluster, name: &str) -> Result<TrialReport, ExtensionError> {
        let world = [World::SchedulingProvider, World::MeshProfile]
            .into_iter()
            .find(|w| self.plugin(*w, name).is_some())
            .ok_or_else(|| ExtensionError::PluginNotAvailable {
                world: PluginWorld::SchedulingProvider,
                plugin: name.to_string(),
                field: "--plugin",
                hint: format!(
                    " (loaded: {})",
                    self.plugins().map(|p| p.plugin.name().to_string()).collect::<Vec<_>>().join(", ")
                ),
            })?;
        let request = cluster
            .plugin_requests()
            .into_iter()
            .find(|r| r.plugin == name && host_world(r.world) == world)
            .unwrap_or_else(|| fallback_request(cluster, world, name));
        let plugin = self.require(&request)?;
        let (metadata, data) = match request.world {
            PluginWorld::MeshProfile => {
                let mut by_role = mesh(plugin, cluster)?;
                let data = by_role.pop().map(|(_, c)| mesh_json(&c)).unwrap_or_default();
                let metadata = by_role.pop().map(|(_, c)| mesh_json(&c)).unwrap_or_default();
                (metadata, data)
            }
            _ => {
                let mut by_role = scheduling(plugin, cluster, &request)?;
                let data = by_role.pop().map(|(_, c)| scheduling_json(&c)).unwrap_or_default();
                let metadata = by_role.pop().map(|(_, c)| scheduling_json(&c)).unwrap_or_default();
                (metadata, data)
            }
        };
        Ok(TrialReport {
            plugin: plugin.name().to_string(),
            world: plugin.world().to_string(),
            version: plugin.version().to_string(),
            sha256: plugin.sha256().to_string(),
            settings_field: request.field.to_string(),
            settings: request.settings,
            metadata,
            data,
        })
    }
}

fn fallback_request(cluster: &ValidatedCluster, world: World, name: &str) -> PluginRequest {
    let empty = || Value::Object(Map::new());
    match world {
        World::MeshProfile => PluginRequest {
            world: PluginWorld::MeshProfile,
            plugin: name.to_string(),
            field: "spec.serviceMesh.profile",
            settings: empty(),
        },
        _ => PluginRequest {
            world: PluginWorld::SchedulingProvider,
            plugin: name.to_string(),
            field: "spec.schedulingProvider",
            settings: cluster
                .spec()
                .scheduling_provider
                .as_ref()
                .and_then(|p| p.settings.clone())
                .unwrap_or_else(empty),
        },
    }
}

/// A contribution in the spelling of the pod spec fields it ends up in; empty fields are
/// left out.
fn scheduling_json(c: &SchedulingContribution) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Value, keep: bool| {
        if keep {
            out.insert(key.to_string(), value);
        }
    };
    put("nodeSelector", to_json(&c.node_selector), !c.node_selector.is_empty());
    put("clearNodeSelector", Value::Bool(true), c.clear_node_selector);
    put("tolerations", to_json(&c.tolerations), !c.tolerations.is_empty());
    put("preferredNodeAffinity", to_json(&c.preferred_node_affinity), !c.preferred_node_affinity.is_empty());
    put("topologySpreadConstraints", to_json(&c.topology_spread), !c.topology_spread.is_empty());
    put("suppressDefaultZoneSpread", Value::Bool(true), c.suppress_default_zone_spread);
    put("podAnnotations", to_json(&c.pod_annotations), !c.pod_annotations.is_empty());
    put(
        "terminationGracePeriodSeconds",
        c.termination_grace_period_seconds.map(Value::from).unwrap_or_default(),
        c.termination_grace_period_seconds.is_some(),
    );
    put(
        "serviceAccountAnnotations",
        to_json(&c.service_account_annotations),
        !c.service_account_annotations.is_empty(),
    );
    Value::Object(out)
}

fn mesh_json(c: &MeshContribution) -> Value {
    let mut out = Map::new();
    out.insert("podAnnotations".to_string(), to_json(&c.pod_annotations));
    Value::Object(out)
}

/// Plain data (maps of strings, k8s types) always serialises to JSON.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

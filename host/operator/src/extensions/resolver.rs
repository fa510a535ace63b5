//! [`ExtensionResolver`] over the plugin runtime: one validate call and one contribution
//! call per role for each scheduling provider, one annotation call per role for the mesh
//! profile. Every result is checked before it becomes a contribution.

use std::collections::BTreeMap;

use antfly_plugin_host::wit::{self, ErrorCode};
use antfly_plugin_host::{CallError, MAX_PLUGIN_TEXT_BYTES, Plugin, World, sanitize_text};
use k8s_openapi::api::core::v1::Pod;

use super::views::{cluster_view, mesh_view, pod_view, wit_role};
use super::{PluginResolver, check, host_world, placement};
use crate::backup::destination::{DestinationPlan, DestinationRequest, Operation};
use crate::base::{PluginRequest, PluginWorld, Role};
use crate::compose::{Contributions, ExtensionError, ExtensionResolver, MeshContribution, SchedulingContribution};
use crate::validate::ValidatedCluster;

impl ExtensionResolver for PluginResolver {
    fn resolve(&self, cluster: &ValidatedCluster) -> Result<Contributions, ExtensionError> {
        let mut contributions = Contributions::default();
        for request in cluster.plugin_requests() {
            let plugin = self.require(&request)?;
            match request.world {
                PluginWorld::SchedulingProvider => {
                    for (role, contribution) in scheduling(plugin, cluster, &request)? {
                        contributions.for_role_mut(role).scheduling.push(contribution);
                    }
                }
                PluginWorld::MeshProfile => {
                    for (role, contribution) in mesh(plugin, cluster)? {
                        contributions.for_role_mut(role).mesh = Some(contribution);
                    }
                }
                // Backup destinations serve AntflyBackup and AntflyRestore, not clusters.
                PluginWorld::BackupDestination => {}
            }
        }
        // Each provider was checked alone; together they must still keep metadata off Spot.
        placement::check_metadata(cluster, &contributions.metadata.scheduling)?;
        check_shared_service_account(&contributions)?;
        check_annotation_budget(&contributions)?;
        Ok(contributions)
    }

    fn has_sidecar(&self, profile: &str, pod: &Pod) -> Result<bool, ExtensionError> {
        let plugin = self.plugin(World::MeshProfile, profile).ok_or_else(|| ExtensionError::PluginNotAvailable {
            world: PluginWorld::MeshProfile,
            plugin: profile.to_string(),
            field: "spec.serviceMesh.profile",
            hint: self.hint(World::MeshProfile),
        })?;
        plugin.has_sidecar(&pod_view(pod)).map_err(failed)
    }

    fn plan_destination(
        &self,
        request: &DestinationRequest,
        operation: Operation,
        backup_id: &str,
    ) -> Result<DestinationPlan, ExtensionError> {
        self.plan(request, operation, backup_id)
    }
}

impl PluginResolver {
    pub(super) fn require(&self, request: &PluginRequest) -> Result<&Plugin, ExtensionError> {
        let world = host_world(request.world);
        self.plugin(world, &request.plugin).ok_or_else(|| ExtensionError::PluginNotAvailable {
            world: request.world,
            plugin: request.plugin.clone(),
            field: request.field,
            hint: self.hint(world),
        })
    }

    fn hint(&self, world: World) -> String {
        let names = self.names(world);
        if names.is_empty() {
            format!(" (no {world} plugin is loaded)")
        } else {
            format!(" (loaded {world} plugins: {})", names.join(", "))
        }
    }
}

/// Validates the provider's settings, then asks for each role's contribution.
pub(super) fn scheduling(
    plugin: &Plugin,
    cluster: &ValidatedCluster,
    request: &PluginRequest,
) -> Result<Vec<(Role, SchedulingContribution)>, ExtensionError> {
    let view = cluster_view(cluster, &request.settings);
    if let Err(problems) = plugin.validate_settings(&view).map_err(failed)? {
        return Err(rejected(plugin, request, &problems));
    }
    let contributions = Role::ALL
        .into_iter()
        .map(|role| {
            let contribution = plugin
                .contribute(&view, wit_role(role))
                .map_err(failed)?
                .map_err(|problem| plugin_error(plugin, request, problem))?;
            check::scheduling_contribution(plugin.name(), cluster.name(), role, contribution)
                .map(|c| (role, c))
                .map_err(|message| invalid(plugin, &message))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata: Vec<SchedulingContribution> =
        contributions.iter().filter(|(role, _)| *role == Role::Metadata).map(|(_, c)| c.clone()).collect();
    placement::check_metadata(cluster, &metadata)?;
    Ok(contributions)
}

/// Asks the mesh profile for each role's annotations.
pub(super) fn mesh(
    plugin: &Plugin,
    cluster: &ValidatedCluster,
) -> Result<Vec<(Role, MeshContribution)>, ExtensionError> {
    let view = mesh_view(cluster);
    Role::ALL
        .into_iter()
        .map(|role| {
            let annotations = plugin.pod_annotations(&view, wit_role(role)).map_err(failed)?.map_err(|problem| {
                ExtensionError::PluginFailed {
                    plugin: plugin.name().to_string(),
                    message: plugin_text(&problem.message),
                    transient: false,
                }
            })?;
            let pod_annotations = check::mesh_annotations(annotations).map_err(|message| invalid(plugin, &message))?;
            Ok((role, MeshContribution { profile: plugin.name().to_string(), pod_annotations }))
        })
        .collect()
}

/// Both roles share one ServiceAccount: their providers must agree on its annotations.
fn check_shared_service_account(contributions: &Contributions) -> Result<(), ExtensionError> {
    let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for role in Role::ALL {
        for contribution in &contributions.for_role(role).scheduling {
            for (key, value) in &contribution.service_account_annotations {
                match seen.get(key.as_str()) {
                    Some((plugin, previous)) if previous != value => {
                        return Err(ExtensionError::InvalidContribution {
                            plugin: contribution.plugin.clone(),
                            message: format!(
                                "ServiceAccount annotation {key} is {value:?}, but {plugin:?} set it to {previous:?}"
                            ),
                        });
                    }
                    _ => {
                        seen.insert(key, (&contribution.plugin, value));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every plugin's pod annotations together must fit Kubernetes' annotation budget.
fn check_annotation_budget(contributions: &Contributions) -> Result<(), ExtensionError> {
    for role in Role::ALL {
        let contributions = contributions.for_role(role);
        let scheduling = contributions.scheduling.iter().map(|c| (c.plugin.as_str(), &c.pod_annotations));
        let mesh = contributions.mesh.iter().map(|m| (m.profile.as_str(), &m.pod_annotations));
        let mut size = 0usize;
        for (plugin, annotations) in scheduling.chain(mesh) {
            size = annotations.iter().fold(size, |sum, (k, v)| sum.saturating_add(k.len() + v.len()));
            if size > check::MAX_ANNOTATIONS_BYTES {
                return Err(ExtensionError::InvalidContribution {
                    plugin: plugin.to_string(),
                    message: format!(
                        "the {} pods' plugin annotations exceed Kubernetes' {} bytes",
                        role.as_str(),
                        check::MAX_ANNOTATIONS_BYTES
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Settings problems reported one by one; the rest are counted.
const MAX_REPORTED_PROBLEMS: usize = 20;

/// Text a plugin chose (its messages and field names, and the values it returned that a
/// check quotes): inert and at most [`MAX_PLUGIN_TEXT_BYTES`] bytes before it reaches a
/// condition, an event or a log.
fn plugin_text(text: &str) -> String {
    sanitize_text(text, MAX_PLUGIN_TEXT_BYTES)
}

/// A sandbox failure: names the plugin, its digest, the call and the limit or fault. A
/// missed deadline is transient.
pub(super) fn failed(error: CallError) -> ExtensionError {
    ExtensionError::PluginFailed {
        plugin: error.plugin.clone(),
        // The host already sanitized the parts that came from the plugin.
        message: sanitize_text(&error.to_string(), 2 * MAX_PLUGIN_TEXT_BYTES),
        transient: error.kind.is_transient(),
    }
}

fn invalid(plugin: &Plugin, message: &str) -> ExtensionError {
    ExtensionError::InvalidContribution { plugin: plugin.name().to_string(), message: plugin_text(message) }
}

/// The plugin refused its settings: report every problem (up to a bound), under the field
/// that holds them.
fn rejected(plugin: &Plugin, request: &PluginRequest, problems: &[wit::PluginError]) -> ExtensionError {
    let field = problems
        .first()
        .map(|p| field_path(request, &plugin_text(&p.field)))
        .unwrap_or_else(|| settings_field(request));
    let mut messages: Vec<String> = problems
        .iter()
        .take(MAX_REPORTED_PROBLEMS)
        .map(|p| {
            let path = field_path(request, &plugin_text(&p.field));
            let message = plugin_text(&p.message);
            if message.contains(&path) { message } else { format!("{path}: {message}") }
        })
        .collect();
    if problems.len() > MAX_REPORTED_PROBLEMS {
        messages.push(format!("and {} more problems", problems.len() - MAX_REPORTED_PROBLEMS));
    }
    let message = if messages.is_empty() { "no reason given".to_string() } else { messages.join("; ") };
    ExtensionError::SettingsRejected { plugin: plugin.name().to_string(), field, message }
}

/// A typed error from `contribute`.
fn plugin_error(plugin: &Plugin, request: &PluginRequest, problem: wit::PluginError) -> ExtensionError {
    match problem.code {
        ErrorCode::InvalidSettings | ErrorCode::Conflict => rejected(plugin, request, &[problem]),
        ErrorCode::Unsupported | ErrorCode::Internal => ExtensionError::PluginFailed {
            plugin: plugin.name().to_string(),
            message: plugin_text(&problem.message),
            transient: false,
        },
    }
}

/// The spec path holding the plugin's settings.
fn settings_field(request: &PluginRequest) -> String {
    match request.field {
        "spec.schedulingProvider" => "spec.schedulingProvider.settings".to_string(),
        other => other.to_string(),
    }
}

/// A plugin's field path made absolute: `spec.` paths stay, others are relative to the
/// settings.
fn field_path(request: &PluginRequest, field: &str) -> String {
    if field.starts_with("spec.") {
        field.to_string()
    } else if field.is_empty() {
        settings_field(request)
    } else if field.starts_with('[') {
        format!("{}{field}", settings_field(request))
    } else {
        format!("{}.{field}", settings_field(request))
    }
}

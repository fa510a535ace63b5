//! Backup destinations over the plugin runtime: the location's scheme selects the plugin,
//! which validates the location and its options, then plans; every plan is checked before
//! the operator uses it.

use antfly_plugin_host::wit::{self, BackupRequest};
use antfly_plugin_host::{MAX_PLUGIN_TEXT_BYTES, Plugin, World, sanitize_text};

use super::PluginResolver;
use super::resolver::failed;
use crate::backup::destination::{DestinationPlan, DestinationRequest, Operation, PodEnvironment, check_plan};
use crate::base::PluginWorld;
use crate::compose::ExtensionError;

impl PluginResolver {
    /// The destination plugin serving `scheme`. Two plugins claiming one scheme is an error:
    /// a vendor's plugin never silently replaces another.
    pub fn destination_for(&self, scheme: &str, field: &'static str) -> Result<&Plugin, ExtensionError> {
        let mut serving = Vec::new();
        let mut loaded = Vec::new();
        for name in self.names(World::BackupDestination) {
            let Some(plugin) = self.plugin(World::BackupDestination, name) else { continue };
            let schemes = plugin.schemes().map_err(failed)?;
            if schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
                serving.push(plugin);
            }
            loaded.push(format!("{name} ({})", schemes.join(", ")));
        }
        match serving.as_slice() {
            [plugin] => Ok(plugin),
            [] => Err(ExtensionError::PluginNotAvailable {
                world: PluginWorld::BackupDestination,
                plugin: format!("{scheme}://"),
                field,
                hint: if loaded.is_empty() {
                    " (no backup-destination plugin is loaded)".to_string()
                } else {
                    format!(" (loaded destinations: {})", loaded.join(", "))
                },
            }),
            [first, second, ..] => Err(ExtensionError::InvalidContribution {
                plugin: second.name().to_string(),
                message: format!("scheme {scheme}:// is claimed by both {:?} and {:?}", first.name(), second.name()),
            }),
        }
    }

    pub(super) fn plan(
        &self,
        request: &DestinationRequest,
        operation: Operation,
        backup_id: &str,
    ) -> Result<DestinationPlan, ExtensionError> {
        let scheme = request.scheme().map_err(|e| ExtensionError::SettingsRejected {
            plugin: String::new(),
            field: e.field,
            message: e.message,
        })?;
        let plugin = self.destination_for(&scheme, request.location_field())?;
        if let Err(problems) = plugin.validate_location(&request.location, &request.options).map_err(failed)? {
            return Err(rejected(plugin, request, &problems));
        }
        let call = BackupRequest {
            cluster: request.cluster.clone(),
            namespace: request.namespace.clone(),
            backup_id: backup_id.to_string(),
            location: request.location.clone(),
            options: request.options.clone(),
            tables: request.tables.clone(),
        };
        let planned = match operation {
            Operation::Backup => plugin.plan_backup(&call),
            Operation::Restore => plugin.plan_restore(&call),
        }
        .map_err(failed)?
        .map_err(|problem| rejected(plugin, request, &[problem]))?;
        let plan = from_wit(planned);
        let problems = check_plan(&plan);
        if !problems.is_empty() {
            return Err(ExtensionError::InvalidContribution {
                plugin: plugin.name().to_string(),
                message: text(&format!("invalid backup plan: {}", problems.join("; "))),
            });
        }
        Ok(plan)
    }
}

/// The operator's copy of a plan, before any check.
pub(super) fn from_wit(plan: wit::BackupPlan) -> DestinationPlan {
    DestinationPlan { location: plan.location, job: environment(plan.job), server: environment(plan.server) }
}

fn environment(environment: wit::PodEnvironment) -> PodEnvironment {
    PodEnvironment {
        env: environment.env.into_iter().map(|kv| (kv.key, kv.value)).collect(),
        secret_env: environment.secret_env.into_iter().map(|s| (s.name, s.secret_name, s.secret_key)).collect(),
        env_from_secrets: environment.env_from_secrets,
        secret_files: environment.secret_files.into_iter().map(|f| (f.env_name, f.secret_name, f.secret_key)).collect(),
        claim_mounts: environment.claim_mounts.into_iter().map(|m| (m.claim_name, m.mount_path)).collect(),
    }
}

/// The destination refused the location or its options: every problem, under its field.
fn rejected(plugin: &Plugin, request: &DestinationRequest, problems: &[wit::PluginError]) -> ExtensionError {
    let field_of = |problem: &wit::PluginError| {
        let field = text(&problem.field);
        match field.as_str() {
            "" | "location" => request.location_field().to_string(),
            "options" => request.options_field().to_string(),
            other => format!("{}.{other}", request.options_field()),
        }
    };
    let messages: Vec<String> =
        problems.iter().take(20).map(|p| format!("{}: {}", field_of(p), text(&p.message))).collect();
    ExtensionError::SettingsRejected {
        plugin: plugin.name().to_string(),
        field: problems.first().map(field_of).unwrap_or_else(|| request.location_field().to_string()),
        message: if messages.is_empty() { "no reason given".to_string() } else { messages.join("; ") },
    }
}

fn text(value: &str) -> String {
    sanitize_text(value, MAX_PLUGIN_TEXT_BYTES)
}

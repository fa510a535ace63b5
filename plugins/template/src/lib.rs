//! Template scheduling provider: pins a cluster to a dedicated node pool.
//! `antfly-operator plugins new --world scheduling-provider` starts a new provider from this
//! file.
//!
//! With the settings
//!
//! ```yaml
//! spec:
//!   schedulingProvider:
//!     plugin: NAME            # the name in plugins.json
//!     settings:
//!       nodePool: antfly        # required: value of the node-pool label
//!       tolerateDedicated: true # optional: tolerate the pool's `dedicated` taint
//! ```
//!
//! both roles get the nodeSelector `example.com/node-pool: antfly` and, if asked, the
//! toleration `example.com/dedicated=antfly:NoSchedule`.

use antfly_plugin_sdk::{
    ClusterView, Guest, PluginError, Role, SchedulingContribution, Toleration, is_label_value, kv, settings_error,
};
use serde::Deserialize;

const NODE_POOL_LABEL: &str = "example.com/node-pool";
const DEDICATED_TAINT: &str = "example.com/dedicated";

/// The plugin's settings: `spec.schedulingProvider.settings`, as JSON.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    node_pool: String,
    #[serde(default)]
    tolerate_dedicated: bool,
}

impl Settings {
    /// Parses and checks the settings. Name the field each problem concerns.
    fn parse(text: &str) -> Result<Self, PluginError> {
        let settings: Settings = serde_json::from_str(text).map_err(|e| settings_error("settings", e))?;
        if settings.node_pool.is_empty() || !is_label_value(&settings.node_pool) {
            let message = format!("nodePool {:?} is not a label value", settings.node_pool);
            return Err(PluginError::invalid_settings("nodePool", message));
        }
        Ok(settings)
    }
}

struct Template;

impl Guest for Template {
    fn validate_settings(view: ClusterView) -> Result<(), Vec<PluginError>> {
        Settings::parse(&view.settings).map(|_| ()).map_err(|problem| vec![problem])
    }

    fn contribute(view: ClusterView, role: Role) -> Result<SchedulingContribution, PluginError> {
        let settings = Settings::parse(&view.settings)?;
        let mut tolerations = Vec::new();
        if settings.tolerate_dedicated {
            tolerations.push(Toleration::equal(DEDICATED_TAINT, &settings.node_pool, "NoSchedule"));
        }
        // Return only what the plugin adds; leave everything else empty. The contribution
        // must name the role it was asked for.
        Ok(SchedulingContribution {
            node_selector: vec![kv(NODE_POOL_LABEL, &settings.node_pool)],
            tolerations,
            ..SchedulingContribution::empty(role)
        })
    }
}

antfly_plugin_sdk::export!(Template);

//! Template scheduling-provider plugin: copy this crate to start your own.
//!
//! It pins a cluster to a dedicated node pool. With the settings
//!
//! ```yaml
//! spec:
//!   schedulingProvider:
//!     plugin: template
//!     settings:
//!       nodePool: antfly        # required: value of the node-pool label
//!       tolerateDedicated: true # optional: tolerate the pool's `dedicated` taint
//! ```
//!
//! both roles get the nodeSelector `example.com/node-pool: antfly` and, if asked, the
//! toleration `example.com/dedicated=antfly:NoSchedule`.
//!
//! Build it with `cargo build --release --target wasm32-wasip2 -p antfly-plugin-template`
//! from `plugins/`, then try it offline with
//! `antfly-operator plugins try --plugin-dir DIR --plugin template -f cluster.yaml`.
//! See `docs/plugins.md`.

// The bindings for the `scheduling-provider` world of `wit/`. Copy the WIT files next
// to your crate and point `path` at them.
#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "scheduling-provider",
        path: "../../wit",
    });

    use super::Template;
    export!(Template);
}

use bindings::antfly::operator::types::{ClusterView, ErrorCode, Kv, PluginError, Role, Toleration};
use bindings::exports::antfly::operator::scheduling::{Guest, SchedulingContribution};
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
        let settings: Settings = serde_json::from_str(text).map_err(|e| PluginError {
            code: ErrorCode::InvalidSettings,
            message: format!("settings are not valid: {e}"),
            field: String::new(),
        })?;
        if settings.node_pool.is_empty() || !is_label_value(&settings.node_pool) {
            return Err(PluginError {
                code: ErrorCode::InvalidSettings,
                message: format!("nodePool {:?} is not a label value", settings.node_pool),
                field: "nodePool".to_string(),
            });
        }
        Ok(settings)
    }
}

/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`,
/// starting and ending with an alphanumeric. (The operator checks again; checking here
/// gives the user a better message.)
fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() <= 63
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
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
            tolerations.push(Toleration {
                key: DEDICATED_TAINT.to_string(),
                operator: "Equal".to_string(),
                value: settings.node_pool.clone(),
                effect: "NoSchedule".to_string(),
                toleration_seconds: None,
            });
        }
        // Return only what the plugin adds; leave everything else empty. The contribution
        // must name the role it was asked for.
        Ok(SchedulingContribution {
            role,
            node_selector: vec![Kv { key: NODE_POOL_LABEL.to_string(), value: settings.node_pool }],
            clear_node_selector: false,
            tolerations,
            preferred_node_affinity: Vec::new(),
            topology_spread: Vec::new(),
            suppress_default_zone_spread: false,
            pod_annotations: Vec::new(),
            termination_grace_period_seconds: None,
            service_account_annotations: Vec::new(),
        })
    }
}

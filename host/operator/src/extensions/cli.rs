//! Command-line helpers: loading plugins with a default cache, `plugins list` and
//! `plugins try`.

use std::path::{Path, PathBuf};

use super::{PluginOptions, PluginResolver, PluginSetupError};
use crate::render::parse_cluster;
use crate::validate::validate;

/// The default cache of compiled plugins: `$XDG_CACHE_HOME/antfly-operator/plugins`, or
/// `$HOME/.cache/antfly-operator/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("antfly-operator").join("plugins"))
}

/// Loads the first-party plugins and those of `plugin_dir`. Without an explicit
/// `cache_dir`, compiled plugins are cached in [`default_cache_dir`] when it is usable,
/// and compiled in memory otherwise (a read-only container, for example).
pub fn load_for_cli(plugin_dir: Option<&Path>, cache_dir: Option<&Path>) -> Result<PluginResolver, PluginSetupError> {
    let options = PluginOptions {
        plugin_dir: plugin_dir.map(Path::to_path_buf),
        cache_dir: cache_dir.map(Path::to_path_buf).or_else(default_cache_dir),
        ..PluginOptions::default()
    };
    match PluginResolver::load(&options) {
        Err(PluginSetupError::Host(error)) if cache_dir.is_none() && options.cache_dir.is_some() => {
            tracing::warn!(error = %error_chain(&error), "the default plugin cache is unusable; compiling plugins in memory");
            PluginResolver::load(&PluginOptions { cache_dir: None, ..options })
        }
        result => result,
    }
}

/// An error and its causes, on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `plugins try`: runs `plugin` against the AntflyCluster in `cluster_yaml` and prints
/// its checked contribution as YAML.
pub fn try_plugin_yaml(resolver: &PluginResolver, cluster_yaml: &str, plugin: &str) -> Result<String, String> {
    let cluster = parse_cluster(cluster_yaml).map_err(|e| e.to_string())?;
    let validated = validate(&cluster).map_err(|e| format!("invalid AntflyCluster:\n{e}"))?;
    let report = resolver.try_plugin(&validated, plugin).map_err(|e| e.to_string())?;
    serde_saphyr::to_string(&report).map_err(|e| format!("failed to serialise the report: {e}"))
}

/// `plugins list`: one line per plugin with its world, version, sha256 and origin.
pub fn list(resolver: &PluginResolver) -> String {
    let rows: Vec<[String; 5]> = resolver
        .plugins()
        .map(|p| {
            [
                p.plugin.name().to_string(),
                p.plugin.world().to_string(),
                p.plugin.version().to_string(),
                p.plugin.sha256().to_string(),
                p.origin.to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "WORLD", "VERSION", "SHA256", "SOURCE"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

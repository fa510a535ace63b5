//! `plugins` commands and plugin loading for every command: the default cache, `plugins list`
//! and `plugins try`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use antfly_operator::compose::ExtensionError;
use antfly_operator::extensions::fixtures::{Fixture, Outcome};
use antfly_operator::extensions::reload::ReloadingResolver;
use antfly_operator::extensions::{PluginCallObserver, PluginOptions, PluginResolver, PluginSetupError, error_chain};
use antfly_operator::render::parse_cluster;
use antfly_operator::validate::validate;
use antfly_plugin_host::{PluginSource, WasmBytes, World};

use super::scaffold::PROJECT_FILE;

/// The default cache of compiled plugins: `$XDG_CACHE_HOME/antfly-operator/plugins`, or
/// `$HOME/.cache/antfly-operator/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("antfly-operator").join("plugins"))
}

/// Loads with `load`. Without an explicit cache directory, compiled plugins are cached in
/// [`default_cache_dir`] when it is usable, and compiled in memory otherwise (a read-only
/// container, for example).
fn load_with_cache_fallback<T>(
    mut options: PluginOptions,
    load: impl Fn(PluginOptions) -> Result<T, PluginSetupError>,
) -> Result<T, PluginSetupError> {
    let explicit = options.cache_dir.is_some();
    options.cache_dir = options.cache_dir.or_else(default_cache_dir);
    match load(options.clone()) {
        Err(PluginSetupError::Host(error)) if !explicit && options.cache_dir.is_some() => {
            tracing::warn!(error = %error_chain(&error), "the default plugin cache is unusable; compiling plugins in memory");
            load(PluginOptions { cache_dir: None, ..options })
        }
        result => result,
    }
}

/// `plugins try`: runs `plugin` against the AntflyCluster in `cluster_yaml` and prints
/// its checked contribution as YAML.
pub fn try_plugin_yaml(resolver: &PluginResolver, cluster_yaml: &str, plugin: &str) -> Result<String, String> {
    if resolver.plugin(antfly_plugin_host::World::BackupDestination, plugin).is_some() {
        return try_destination_yaml(resolver, cluster_yaml, plugin);
    }
    let cluster = parse_cluster(cluster_yaml).map_err(|e| e.to_string())?;
    let validated = validate(&cluster).map_err(|e| format!("invalid AntflyCluster:\n{e}"))?;
    let report = resolver.try_plugin(&validated, plugin).map_err(|e| e.to_string())?;
    serde_saphyr::to_string(&report).map_err(|e| format!("failed to serialise the report: {e}"))
}

/// `plugins try` of a backup destination: plans the AntflyBackup or AntflyRestore of the
/// input, checked as a reconcile checks it, and prints the plan.
fn try_destination_yaml(resolver: &PluginResolver, yaml: &str, plugin: &str) -> Result<String, String> {
    use antfly_operator::backup::{backup_destination, destination::Operation, restore_destination};
    use antfly_operator::compose::ExtensionResolver;
    use antfly_operator::parse::{Object, ParseOptions, parse};

    let parsed = parse(yaml, ParseOptions::default()).map_err(|e| e.to_string())?;
    let (request, operation) = parsed
        .documents
        .iter()
        .find_map(|d| match &d.object {
            Object::Backup(b) => Some(backup_destination(b).map(|r| (r, Operation::Backup))),
            Object::Restore(r) => Some(restore_destination(r).map(|r| (r, Operation::Restore))),
            Object::Cluster(_) => None,
        })
        .ok_or_else(|| {
            format!("{plugin} is a backup destination: try it on an AntflyBackup or AntflyRestore file (-f FILE)")
        })?
        .map_err(|e| e.to_string())?;
    let scheme = request.scheme().map_err(|e| e.to_string())?;
    let serving = resolver.destination_for(&scheme, request.location_field()).map_err(|e| e.to_string())?;
    if serving.name() != plugin {
        return Err(format!(
            "{}: scheme {scheme}:// is served by {:?}, not {plugin:?}",
            request.location_field(),
            serving.name()
        ));
    }
    let plan = resolver.plan_destination(&request, operation, "trial-20300101000000").map_err(|e| e.to_string())?;
    let report = serde_json::json!({
        "plugin": plugin,
        "world": "backup-destination",
        "request": {"owner": request.owner, "location": request.location, "options": serde_json::from_str::<serde_json::Value>(&request.options).unwrap_or_default()},
        "plan": antfly_operator::extensions::fixtures::plan_json(&plan),
    });
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

/// Where plugins come from, besides the first-party ones embedded in the binary.
#[derive(clap::Args)]
pub struct PluginArgs {
    /// Directory of third-party plugins, with a plugins.json manifest.
    #[arg(long, env = "ANTFLY_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Cache of compiled plugins (default: $XDG_CACHE_HOME/antfly-operator/plugins).
    #[arg(long, env = "ANTFLY_PLUGIN_CACHE_DIR")]
    plugin_cache_dir: Option<PathBuf>,
}

impl PluginArgs {
    fn options(&self) -> PluginOptions {
        PluginOptions {
            plugin_dir: self.plugin_dir.clone(),
            cache_dir: self.plugin_cache_dir.clone(),
            ..PluginOptions::default()
        }
    }

    /// The plugins, once.
    pub fn load(&self) -> Result<PluginResolver, String> {
        load_with_cache_fallback(self.options(), |options| PluginResolver::load(&options)).map_err(|e| error_chain(&e))
    }

    /// The plugins, reloadable when the plugin directory changes; `observer` sees every call.
    pub fn load_reloading(&self, observer: Arc<dyn PluginCallObserver>) -> Result<ReloadingResolver, String> {
        let options = PluginOptions { observer: Some(observer), ..self.options() };
        load_with_cache_fallback(options, ReloadingResolver::load).map_err(|e| error_chain(&e))
    }
}

/// What `plugins test` runs: one component, its world and name, and its fixtures.
pub struct TestTarget {
    pub name: String,
    pub world: World,
    pub component: PathBuf,
    pub fixtures: Option<PathBuf>,
}

/// The project file written by `plugins new`.
#[derive(serde::Deserialize)]
struct ProjectFile {
    name: String,
    world: String,
    component: PathBuf,
}

impl TestTarget {
    /// A project directory (with `antfly-plugin.json`) or a component file with its world.
    pub fn locate(path: &Path, world: Option<&str>, name: Option<&str>) -> Result<Self, String> {
        if path.is_dir() {
            let file = path.join(PROJECT_FILE);
            let text = std::fs::read_to_string(&file).map_err(|e| {
                format!("failed to read {}: {e} (a plugin project from `plugins new`, or a .wasm file)", file.display())
            })?;
            let project: ProjectFile =
                serde_json::from_str(&text).map_err(|e| format!("{} is not valid: {e}", file.display()))?;
            let world = World::parse(&project.world)
                .ok_or_else(|| format!("{}: unknown world {:?}", file.display(), project.world))?;
            return Ok(Self {
                name: name.map_or(project.name, str::to_string),
                world,
                component: path.join(project.component),
                fixtures: Some(path.join("fixtures")),
            });
        }
        let world = world.ok_or("--world is required for a component file")?;
        let world = World::parse(world).ok_or_else(|| format!("unknown world {world:?}"))?;
        let name = match name {
            Some(name) => name.to_string(),
            None => path.file_stem().map(|s| s.to_string_lossy().replace('_', "-")).ok_or("no plugin name")?,
        };
        Ok(Self { name, world, component: path.to_path_buf(), fixtures: None })
    }
}

/// `plugins test`: runs the plugin against its fixtures and every example, offline. Returns
/// the report, and whether everything passed.
pub fn test_plugin(target: &TestTarget, cache_dir: Option<&Path>) -> Result<(String, bool), String> {
    if !target.component.is_file() {
        return Err(format!(
            "{} does not exist; build the plugin first (cargo build --release --target wasm32-wasip2)",
            target.component.display()
        ));
    }
    let options = PluginOptions {
        extra: vec![PluginSource {
            name: target.name.clone(),
            world: target.world,
            version: "test".into(),
            wasm: WasmBytes::File(target.component.clone()),
            sha256: None,
        }],
        cache_dir: cache_dir.map(Path::to_path_buf),
        ..PluginOptions::default()
    };
    let resolver =
        load_with_cache_fallback(options, |options| PluginResolver::load(&options)).map_err(|e| error_chain(&e))?;
    let mut report = String::new();
    let (mut passed, mut failed) = (0, 0);
    for (file, fixture) in read_fixtures(target.fixtures.as_deref())? {
        let label = fixture.name.clone().unwrap_or_else(|| file.clone());
        match resolver.run_fixture(target.world, &target.name, &fixture) {
            Outcome::Passed => {
                passed += 1;
                report.push_str(&format!("ok    {file}: {label}\n"));
            }
            Outcome::Failed(differences) => {
                failed += 1;
                report.push_str(&format!("FAIL  {file}: {label}\n"));
                for line in differences {
                    report.push_str(&format!("        {line}\n"));
                }
            }
        }
    }
    let (checked, crashed) = check_examples(&resolver, target, &mut report);
    report.push_str(&format!(
        "fixtures: {passed} passed, {failed} failed; examples: {checked} run, {crashed} failed in the sandbox or the host's checks\n"
    ));
    Ok((report, failed == 0 && crashed == 0))
}

/// Each fixture of the directory, in file-name order.
fn read_fixtures(dir: Option<&Path>) -> Result<Vec<(String, Fixture)>, String> {
    let Some(dir) = dir.filter(|d| d.is_dir()) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("failed to read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
            // Through a JSON value: deserialising the fixture's Kubernetes types straight from
            // YAML would add megabytes of serde code to the binary.
            let fixture: Fixture = serde_saphyr::from_str::<serde_json::Value>(&text)
                .map_err(|e| e.to_string())
                .and_then(|value| serde_json::from_value(value).map_err(|e| e.to_string()))
                .map_err(|e| format!("{} is not a fixture: {e}", path.display()))?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((file, fixture))
        })
        .collect()
}

/// Runs the plugin on every example cluster the operator ships. A plugin may refuse a
/// cluster (its settings, say); a trap, a limit or a contribution the host refuses is a
/// failure. Returns how many ran and how many failed.
fn check_examples(resolver: &PluginResolver, target: &TestTarget, report: &mut String) -> (usize, usize) {
    if target.world == World::BackupDestination {
        return (0, 0);
    }
    let (mut checked, mut crashed) = (0, 0);
    for (file, text) in antfly_operator::examples::EXAMPLES {
        let Ok(cluster) = parse_cluster(text) else { continue };
        let Ok(validated) = validate(&cluster) else { continue };
        checked += 1;
        match resolver.try_plugin(&validated, &target.name) {
            Ok(_) | Err(ExtensionError::SettingsRejected { .. }) => {}
            Err(error) => {
                crashed += 1;
                report.push_str(&format!("FAIL  example {file}: {error}\n"));
            }
        }
    }
    (checked, crashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_list_shows_world_version_and_sha256() {
        let resolver = PluginResolver::load(&PluginOptions::default()).expect("first-party plugins load");
        let listing = list(&resolver);
        let lines: Vec<&str> = listing.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{listing}");
        let eks = antfly_bundled_plugins::first_party().iter().find(|p| p.name == "eks").expect("eks is bundled");
        assert!(lines.iter().any(|l| l.contains("eks") && l.contains("scheduling-provider") && l.contains(eks.sha256)));
        assert!(lines.iter().all(|l| l.starts_with("NAME") || l.trim_end().ends_with("bundled")), "{listing}");
        assert_eq!(lines.len(), 1 + antfly_bundled_plugins::first_party().len(), "{listing}");
    }
}

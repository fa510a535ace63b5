//! Plugin fixtures for `plugins test`: an input (a cluster, a pod or a backup) and what the
//! plugin must answer (a contribution, a sidecar verdict, a backup plan, or an error). Each
//! fixture runs through the same calls and checks as a reconcile, and a mismatch lists every
//! differing field.

use antfly_plugin_host::wit::BackupRequest;

use crate::backup::destination::{DestinationPlan, PodEnvironment};
use antfly_plugin_host::{Plugin, World};
use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::PluginResolver;
use crate::api::AntflyCluster;
use crate::compose::ExtensionResolver;
use crate::validate::validate;

/// One fixture file's content.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Shown in the report; defaults to the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// An AntflyCluster (scheduling providers and mesh profiles).
    #[serde(default)]
    pub cluster: Option<Box<AntflyCluster>>,
    /// A Pod (mesh profiles: `has-sidecar`).
    #[serde(default)]
    pub pod: Option<Box<Pod>>,
    /// A backup or restore request (backup destinations).
    #[serde(default)]
    pub backup: Option<BackupInput>,
    pub expect: Expectation,
}

/// The request a backup destination plans for.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupInput {
    pub location: String,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default = "default_cluster")]
    pub cluster: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_backup_id")]
    pub backup_id: String,
    #[serde(default)]
    pub tables: Vec<String>,
    /// Plan a restore instead of a backup.
    #[serde(default)]
    pub restore: bool,
}

fn default_cluster() -> String {
    "example".into()
}
fn default_namespace() -> String {
    "default".into()
}
fn default_backup_id() -> String {
    "example-20260101000000".into()
}

/// What the plugin must answer. Give `error` alone, or the answers for the fixture's input.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expectation {
    /// A substring of the error the call must fail with.
    #[serde(default)]
    pub error: Option<String>,
    /// The metadata role's contribution, as `plugins try` prints it (`{}` for none).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The data role's contribution.
    #[serde(default)]
    pub data: Option<Value>,
    /// Whether the pod carries the profile's sidecar.
    #[serde(default)]
    pub has_sidecar: Option<bool>,
    /// The backup plan: `location`, `job` and `server` environments.
    #[serde(default)]
    pub plan: Option<Value>,
}

/// The verdict on one fixture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Each line names a field, what was expected and what came.
    Failed(Vec<String>),
}

impl PluginResolver {
    /// Runs one fixture against the plugin `name` of `world`.
    pub fn run_fixture(&self, world: World, name: &str, fixture: &Fixture) -> Outcome {
        let Some(plugin) = self.plugin(world, name) else {
            return Outcome::Failed(vec![format!("no {world} plugin named {name:?} is loaded")]);
        };
        let actual = match (&fixture.cluster, &fixture.pod, &fixture.backup) {
            (Some(cluster), None, None) if world != World::BackupDestination => self.contribution(cluster, name),
            (None, Some(pod), None) if world == World::MeshProfile => {
                self.has_sidecar(name, pod).map(|has| json!({ "hasSidecar": has })).map_err(|e| e.to_string())
            }
            (None, None, Some(backup)) if world == World::BackupDestination => plan(plugin, backup),
            _ => {
                let input = match world {
                    World::SchedulingProvider => "`cluster`",
                    World::MeshProfile => "`cluster` or `pod`",
                    World::BackupDestination => "`backup`",
                };
                return Outcome::Failed(vec![format!("a {world} fixture gives exactly one input: {input}")]);
            }
        };
        compare(&fixture.expect, actual)
    }

    fn contribution(&self, cluster: &AntflyCluster, name: &str) -> Result<Value, String> {
        let validated = validate(cluster).map_err(|e| format!("invalid AntflyCluster:\n{e}"))?;
        let report = self.try_plugin(&validated, name).map_err(|e| e.to_string())?;
        Ok(json!({ "metadata": report.metadata, "data": report.data }))
    }
}

fn plan(plugin: &Plugin, input: &BackupInput) -> Result<Value, String> {
    let options = input.options.clone().unwrap_or_else(|| Value::Object(Map::new())).to_string();
    match plugin.validate_location(&input.location, &options) {
        Err(error) => return Err(error.to_string()),
        Ok(Err(problems)) => {
            return Err(problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "));
        }
        Ok(Ok(())) => {}
    }
    let request = BackupRequest {
        cluster: input.cluster.clone(),
        namespace: input.namespace.clone(),
        backup_id: input.backup_id.clone(),
        location: input.location.clone(),
        options,
        tables: input.tables.clone(),
    };
    let planned = if input.restore { plugin.plan_restore(&request) } else { plugin.plan_backup(&request) };
    match planned {
        Err(error) => Err(error.to_string()),
        Ok(Err(problem)) => Err(problem.message),
        Ok(Ok(plan)) => Ok(json!({ "plan": plan_json(&super::destination::from_wit(plan)) })),
    }
}

/// A backup plan in the spelling of fixtures.
pub fn plan_json(plan: &DestinationPlan) -> Value {
    json!({ "location": plan.location, "job": environment_json(&plan.job), "server": environment_json(&plan.server) })
}

fn environment_json(environment: &PodEnvironment) -> Value {
    json!({
        "env": environment.env.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect::<Vec<_>>(),
        "secretEnv": environment
            .secret_env
            .iter()
            .map(|(name, secret, key)| json!({ "name": name, "secretName": secret, "secretKey": key }))
            .collect::<Vec<_>>(),
        "envFromSecrets": environment.env_from_secrets,
        "secretFiles": environment
            .secret_files
            .iter()
            .map(|(name, secret, key)| json!({ "envName": name, "secretName": secret, "secretKey": key }))
            .collect::<Vec<_>>(),
        "claimMounts": environment
            .claim_mounts
            .iter()
            .map(|(claim, path)| json!({ "claimName": claim, "mountPath": path }))
            .collect::<Vec<_>>(),
    })
}

/// Compares what came with what the fixture expects; only the expected fields count.
fn compare(expect: &Expectation, actual: Result<Value, String>) -> Outcome {
    let mut differences = Vec::new();
    match (&expect.error, actual) {
        (Some(wanted), Err(error)) if error.contains(wanted.as_str()) => {}
        (Some(wanted), Err(error)) => {
            differences.push(format!("error: expected one containing {wanted:?}, got {error:?}"))
        }
        (Some(wanted), Ok(value)) => {
            differences.push(format!("error: expected one containing {wanted:?}, got success: {value}"))
        }
        (None, Err(error)) => differences.push(format!("unexpected error: {error}")),
        (None, Ok(actual)) => {
            let expected = [
                ("metadata", expect.metadata.clone()),
                ("data", expect.data.clone()),
                ("hasSidecar", expect.has_sidecar.map(Value::Bool)),
                ("plan", expect.plan.clone()),
            ];
            if expected.iter().all(|(_, value)| value.is_none()) {
                differences.push("expect: gives no expected answer".to_string());
            }
            for (key, wanted) in expected {
                if let Some(wanted) = wanted {
                    diff(key, &wanted, actual.get(key).unwrap_or(&Value::Null), &mut differences);
                }
            }
        }
    }
    if differences.is_empty() { Outcome::Passed } else { Outcome::Failed(differences) }
}

/// Every path where `expected` and `actual` differ, as `path: expected X, got Y`.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                diff(&format!("{path}.{key}"), value, got.get(key).unwrap_or(&Value::Null), out);
            }
            for (key, value) in got.iter().filter(|(key, _)| !want.contains_key(*key)) {
                out.push(format!("{path}.{key}: expected nothing, got {value}"));
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                diff(&format!("{path}[{i}]"), w, g, out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_path_of_each_mismatch() {
        let expect = Expectation { data: Some(json!({ "nodeSelector": { "a": "1" } })), ..Expectation::default() };
        let actual = json!({ "data": { "nodeSelector": { "a": "2" }, "tolerations": [] } });
        let Outcome::Failed(lines) = compare(&expect, Ok(actual)) else { panic!("expected a mismatch") };
        assert_eq!(
            lines,
            vec![
                "data.nodeSelector.a: expected \"1\", got \"2\"".to_string(),
                "data.tolerations: expected nothing, got []".to_string(),
            ]
        );
    }

    #[test]
    fn an_expected_error_passes_only_when_the_call_fails_with_it() {
        let expect = Expectation { error: Some("not valid".into()), ..Expectation::default() };
        assert_eq!(compare(&expect, Err("settings are not valid: x".into())), Outcome::Passed);
        assert!(matches!(compare(&expect, Ok(json!({}))), Outcome::Failed(_)));
        assert!(matches!(compare(&expect, Err("other".into())), Outcome::Failed(_)));
    }

    #[test]
    fn a_fixture_without_expected_answers_fails() {
        assert!(matches!(compare(&Expectation::default(), Ok(json!({}))), Outcome::Failed(_)));
    }
}

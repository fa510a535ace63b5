//! Backup destinations as the host sees them: the request a destination plugin plans for,
//! the checks every plan passes before it is used (a plugin is untrusted), and the server
//! environment the plans put on the cluster's pods.
//!
//! A plan only ever names Secrets and their keys; the operator never reads a Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EnvFromSource, EnvVar, EnvVarSource, KeyToPath, PersistentVolumeClaimVolumeSource, PodSpec, SecretEnvSource,
    SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use serde_json::Value;

use crate::api::{BackupLocation, RestoreSource};

/// Where secret files are mounted: `{SECRET_FILES_DIR}/{secret}/{key}`.
pub const SECRET_FILES_DIR: &str = "/var/run/antfly/secrets";
/// Environment the operator sets itself; a plan may not redefine it.
const RESERVED_ENV: [&str; 3] = ["POD_NAME", "POD_IP", "POD_NAMESPACE"];
/// Paths a claim may not be mounted at or under.
const RESERVED_PATHS: [&str; 13] = [
    "/antflydb",
    "/config",
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/tmp",
    "/var/run/secrets",
    "/var/run/antfly",
];
/// Bounds on one plan, far above any real destination's needs.
const MAX_ENTRIES: usize = 64;
const MAX_VALUE_BYTES: usize = 4096;

/// Run-time operation of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Backup,
    Restore,
}

/// What a destination plugin is asked to plan.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationRequest {
    /// `AntflyBackup/nightly` or `AntflyRestore/r1`, for messages.
    pub owner: String,
    /// The spec field holding the location (`spec.destination` or `spec.source`).
    pub field: &'static str,
    pub cluster: String,
    pub namespace: String,
    pub location: String,
    /// Options as JSON text, `credentialsSecret` merged in.
    pub options: String,
    pub tables: Vec<String>,
}

/// The parts of a request that the user got wrong, before any plugin is called.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl DestinationRequest {
    pub fn for_backup(
        owner: &str,
        namespace: &str,
        cluster: &str,
        location: &BackupLocation,
        tables: &[String],
    ) -> Result<Self, RequestError> {
        Self::new(
            format!("AntflyBackup/{owner}"),
            "spec.destination",
            namespace,
            cluster,
            &location.location,
            location.credentials_secret.as_ref().map(|s| s.name.as_str()),
            location.options.as_ref(),
            tables,
        )
    }

    pub fn for_restore(
        owner: &str,
        namespace: &str,
        cluster: &str,
        source: &RestoreSource,
        tables: &[String],
    ) -> Result<Self, RequestError> {
        Self::new(
            format!("AntflyRestore/{owner}"),
            "spec.source",
            namespace,
            cluster,
            &source.location,
            source.credentials_secret.as_ref().map(|s| s.name.as_str()),
            source.options.as_ref(),
            tables,
        )
    }

    #[allow(clippy::too_many_arguments, reason = "one constructor behind the two kinds")]
    fn new(
        owner: String,
        field: &'static str,
        namespace: &str,
        cluster: &str,
        location: &str,
        credentials_secret: Option<&str>,
        options: Option<&Value>,
        tables: &[String],
    ) -> Result<Self, RequestError> {
        let mut object = match options {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => {
                return Err(RequestError { field: format!("{field}.options"), message: "must be an object".into() });
            }
        };
        if let Some(secret) = credentials_secret {
            match object.get("credentialsSecret") {
                Some(Value::String(named)) if named != secret => {
                    return Err(RequestError {
                        field: format!("{field}.options.credentialsSecret"),
                        message: format!(
                            "names {named:?} but {field}.credentialsSecret names {secret:?}: set one of them"
                        ),
                    });
                }
                _ => {
                    object.insert("credentialsSecret".into(), Value::String(secret.to_string()));
                }
            }
        }
        Ok(DestinationRequest {
            owner,
            field,
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
            location: location.to_string(),
            options: Value::Object(object).to_string(),
            tables: tables.to_vec(),
        })
    }

    /// The spec path of the location.
    pub fn location_field(&self) -> &'static str {
        if self.field == "spec.source" { "spec.source.location" } else { "spec.destination.location" }
    }

    /// The spec path of the options.
    pub fn options_field(&self) -> &'static str {
        if self.field == "spec.source" { "spec.source.options" } else { "spec.destination.options" }
    }

    /// The location's scheme, lower case: it selects the plugin.
    pub fn scheme(&self) -> Result<String, RequestError> {
        let error = |message: String| RequestError { field: format!("{}.location", self.field), message };
        let (scheme, _) = self.location.split_once("://").ok_or_else(|| {
            error(format!("{:?} is not a URL: expected SCHEME://…, e.g. s3://bucket/prefix", self.location))
        })?;
        let valid = !scheme.is_empty()
            && scheme.len() <= 32
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid {
            return Err(error(format!("scheme {scheme:?} is not a URL scheme")));
        }
        Ok(scheme.to_ascii_lowercase())
    }
}

/// Environment for one kind of pod, as planned (mirrors the WIT `pod-environment`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodEnvironment {
    pub env: Vec<(String, String)>,
    /// (variable, secret, key)
    pub secret_env: Vec<(String, String, String)>,
    pub env_from_secrets: Vec<String>,
    /// (variable receiving the path, secret, key)
    pub secret_files: Vec<(String, String, String)>,
    /// (claim, mount path)
    pub claim_mounts: Vec<(String, String)>,
}

/// A checked plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestinationPlan {
    pub location: String,
    pub job: PodEnvironment,
    pub server: PodEnvironment,
}

/// Every problem with a plan a plugin returned; the plan is used only when there are none.
pub fn check_plan(plan: &DestinationPlan) -> Vec<String> {
    let mut problems = Vec::new();
    if plan.location.is_empty() || plan.location.len() > MAX_VALUE_BYTES || plan.location.chars().any(char::is_control)
    {
        problems.push("location must be 1-4096 printable characters".to_string());
    }
    for (which, environment) in [("job", &plan.job), ("server", &plan.server)] {
        check_environment(which, environment, &mut problems);
    }
    problems
}

fn check_environment(which: &str, environment: &PodEnvironment, problems: &mut Vec<String>) {
    let entries = environment.env.len()
        + environment.secret_env.len()
        + environment.env_from_secrets.len()
        + environment.secret_files.len()
        + environment.claim_mounts.len();
    if entries > MAX_ENTRIES {
        problems.push(format!("{which}: {entries} entries, more than {MAX_ENTRIES}"));
        return;
    }
    let mut names = BTreeMap::new();
    let mut variable = |name: &str, problems: &mut Vec<String>| {
        if !is_env_name(name) {
            problems.push(format!("{which}: {name:?} is not an environment variable name"));
        } else if RESERVED_ENV.contains(&name) {
            problems.push(format!("{which}: {name} is set by the operator"));
        } else if names.insert(name.to_string(), ()).is_some() {
            problems.push(format!("{which}: {name} is set twice"));
        }
    };
    for (name, value) in &environment.env {
        variable(name, problems);
        if value.len() > MAX_VALUE_BYTES {
            problems.push(format!("{which}: the value of {name} is longer than {MAX_VALUE_BYTES} bytes"));
        }
    }
    for (name, secret, key) in environment.secret_env.iter().chain(&environment.secret_files) {
        variable(name, problems);
        check_secret_key(which, secret, key, problems);
    }
    for secret in &environment.env_from_secrets {
        if !is_dns_subdomain(secret) {
            problems.push(format!("{which}: {secret:?} is not a Secret name"));
        }
    }
    for (claim, path) in &environment.claim_mounts {
        if !is_dns_subdomain(claim) {
            problems.push(format!("{which}: {claim:?} is not a PersistentVolumeClaim name"));
        }
        if let Err(why) = check_mount_path(path) {
            problems.push(format!("{which}: mount path {path:?} {why}"));
        }
    }
}

fn check_secret_key(which: &str, secret: &str, key: &str, problems: &mut Vec<String>) {
    if !is_dns_subdomain(secret) {
        problems.push(format!("{which}: {secret:?} is not a Secret name"));
    }
    let key_ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !key_ok {
        problems.push(format!("{which}: {key:?} is not a Secret key"));
    }
}

/// An absolute, normalised path outside the server's and the system's directories.
pub fn check_mount_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') || path == "/" {
        return Err("must be an absolute path below /");
    }
    if path.len() > 1024 || path.chars().any(|c| c.is_control() || c == ':') {
        return Err("must be at most 1024 printable characters without ':'");
    }
    if path[1..].split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return Err("must be normalised (no empty, '.' or '..' segments, no trailing '/')");
    }
    if RESERVED_PATHS.iter().any(|reserved| path == *reserved || path.starts_with(&format!("{reserved}/"))) {
        return Err("is a directory of the server or the system");
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 256
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Kubernetes object name (DNS-1123 subdomain).
fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

/// The server environment of every destination of one cluster, merged: what its pods carry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerEnvironment {
    pub env: Vec<EnvVar>,
    pub env_from: Vec<EnvFromSource>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

impl ServerEnvironment {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.env_from.is_empty() && self.volumes.is_empty()
    }

    /// Merges `plans` (owner, environment), in order. The same entry from two destinations
    /// is kept once; the same variable or path with different sources is a conflict.
    pub fn merge<'a>(plans: impl IntoIterator<Item = (&'a str, &'a PodEnvironment)>) -> Result<Self, Vec<String>> {
        let mut merged = ServerEnvironment::default();
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        let mut problems = Vec::new();
        for (owner, environment) in plans {
            let mut add_env = |merged: &mut ServerEnvironment, var: EnvVar, problems: &mut Vec<String>| match merged
                .env
                .iter()
                .find(|e| e.name == var.name)
            {
                Some(existing) if *existing != var => problems.push(format!(
                    "environment variable {} of {owner} conflicts with the one of {}",
                    var.name,
                    owners.get(&var.name).copied().unwrap_or("another destination")
                )),
                Some(_) => {}
                None => {
                    owners.insert(var.name.clone(), owner);
                    merged.env.push(var);
                }
            };
            for (name, value) in &environment.env {
                let var = EnvVar { name: name.clone(), value: Some(value.clone()), value_from: None };
                add_env(&mut merged, var, &mut problems);
            }
            for (name, secret, key) in &environment.secret_env {
                let var = EnvVar { name: name.clone(), value: None, value_from: Some(secret_key(secret, key)) };
                add_env(&mut merged, var, &mut problems);
            }
            for (name, secret, key) in &environment.secret_files {
                let volume = format!("secret-{}", short_hash(secret));
                let path = format!("{SECRET_FILES_DIR}/{secret}");
                let var = EnvVar { name: name.clone(), value: Some(format!("{path}/{key}")), value_from: None };
                add_env(&mut merged, var, &mut problems);
                merged.add_secret_file(&volume, secret, key, &path);
            }
            for secret in &environment.env_from_secrets {
                let source = EnvFromSource {
                    secret_ref: Some(SecretEnvSource { name: secret.clone(), optional: Some(false) }),
                    ..EnvFromSource::default()
                };
                if !merged.env_from.contains(&source) {
                    merged.env_from.push(source);
                }
            }
            for (claim, path) in &environment.claim_mounts {
                let volume = format!("backup-{}", short_hash(claim));
                match merged.mounts.iter().find(|m| m.mount_path == *path) {
                    Some(existing) if existing.name != volume => {
                        problems.push(format!("{owner} mounts claim {claim} at {path}, where another claim is mounted"))
                    }
                    Some(_) => {}
                    None => {
                        merged.mounts.push(VolumeMount {
                            name: volume.clone(),
                            mount_path: path.clone(),
                            ..VolumeMount::default()
                        });
                        if !merged.volumes.iter().any(|v| v.name == volume) {
                            merged.volumes.push(Volume {
                                name: volume,
                                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                    claim_name: claim.clone(),
                                    read_only: Some(false),
                                }),
                                ..Volume::default()
                            });
                        }
                    }
                }
            }
        }
        if problems.is_empty() { Ok(merged) } else { Err(problems) }
    }

    fn add_secret_file(&mut self, volume: &str, secret: &str, key: &str, path: &str) {
        let item = KeyToPath { key: key.to_string(), path: key.to_string(), mode: None };
        match self.volumes.iter_mut().find(|v| v.name == volume) {
            Some(existing) => {
                let items = existing.secret.as_mut().and_then(|s| s.items.as_mut());
                if let Some(items) = items
                    && !items.contains(&item)
                {
                    items.push(item);
                }
            }
            None => {
                self.volumes.push(Volume {
                    name: volume.to_string(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.to_string()),
                        items: Some(vec![item]),
                        default_mode: Some(0o440),
                        optional: Some(false),
                    }),
                    ..Volume::default()
                });
                self.mounts.push(VolumeMount {
                    name: volume.to_string(),
                    mount_path: path.to_string(),
                    read_only: Some(true),
                    ..VolumeMount::default()
                });
            }
        }
    }

    /// Adds the environment to a pod: volumes to the pod, variables and mounts to the
    /// container named `container`.
    pub fn apply_to(&self, spec: &mut PodSpec, container: &str) {
        if self.is_empty() {
            return;
        }
        spec.volumes.get_or_insert_with(Vec::new).extend(self.volumes.iter().cloned());
        if let Some(container) = spec.containers.iter_mut().find(|c| c.name == container) {
            container.env.get_or_insert_with(Vec::new).extend(self.env.iter().cloned());
            if !self.env_from.is_empty() {
                container.env_from.get_or_insert_with(Vec::new).extend(self.env_from.iter().cloned());
            }
            if !self.mounts.is_empty() {
                container.volume_mounts.get_or_insert_with(Vec::new).extend(self.mounts.iter().cloned());
            }
        }
    }

    /// Whether the container `container` of `spec` carries every entry.
    pub fn carried_by(&self, spec: &PodSpec, container: &str) -> bool {
        let Some(container) = spec.containers.iter().find(|c| c.name == container) else {
            return self.is_empty();
        };
        let volumes = spec.volumes.as_ref().map(|v| v.iter().map(|v| &v.name).collect::<Vec<_>>()).unwrap_or_default();
        contains_all(&self.env, container.env.as_deref())
            && contains_all(&self.env_from, container.env_from.as_deref())
            && contains_all(&self.mounts, container.volume_mounts.as_deref())
            && self.volumes.iter().all(|v| volumes.contains(&&v.name))
    }
}

fn contains_all<T: PartialEq>(wanted: &[T], have: Option<&[T]>) -> bool {
    wanted.iter().all(|w| have.is_some_and(|have| have.contains(w)))
}

fn secret_key(secret: &str, key: &str) -> EnvVarSource {
    EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name: secret.to_string(),
            key: key.to_string(),
            optional: Some(false),
        }),
        ..EnvVarSource::default()
    }
}

/// A short stable name part for a Secret or claim name (which may be longer than a volume
/// name may be).
fn short_hash(name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(name.as_bytes())[..5])
}

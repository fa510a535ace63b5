//! First-party `gcs` backup destination: Google Cloud Storage, `gs://BUCKET[/PREFIX]`.
//!
//! Options (camelCase JSON):
//!
//! ```yaml
//! credentialsSecret: gcs-backup  # optional: a Secret holding a service-account key file
//! keyFileKey: key.json           # its key holding the file (this default)
//! ```
//!
//! With `credentialsSecret`, the Job and the server pods mount the key file and
//! `GOOGLE_APPLICATION_CREDENTIALS` names its path (the host chooses the path). Without it,
//! the pods use GKE Workload Identity and get nothing from this destination.

use antfly_plugin_sdk::{
    BackupPlan, BackupRequest, Guest, ObjectLocation, PluginError, PodEnvironment, SecretFile, all_problems,
    checked_object_location, first_problem, is_ipv4_address, parse_options, secret_key_problem, secret_name_problem,
    shown,
};
use serde::Deserialize;

const SCHEME: &str = "gs";
const DEFAULT_KEY_FILE_KEY: &str = "key.json";
const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    credentials_secret: Option<String>,
    #[serde(default)]
    key_file_key: Option<String>,
}

/// A location and options that passed every check.
struct Destination<'a> {
    location: ObjectLocation<'a>,
    options: Options,
}

/// The location and options, or every problem with them.
fn check<'a>(location: &'a str, options: &str) -> Result<Destination<'a>, Vec<PluginError>> {
    let mut problems = Vec::new();
    let location = checked_object_location(SCHEME, location, bucket_problems, &mut problems);
    let options = match parse_options::<Options>(options) {
        Ok(options) => {
            match &options.credentials_secret {
                Some(secret) => problems.extend(secret_name_problem("credentialsSecret", secret)),
                None if options.key_file_key.is_some() => problems.push(PluginError::invalid_settings(
                    "keyFileKey",
                    "keyFileKey names a key of credentialsSecret, which is not given",
                )),
                None => {}
            }
            if let Some(key) = &options.key_file_key {
                problems.extend(secret_key_problem("keyFileKey", key));
            }
            Some(options)
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    match (location, options) {
        (Some(location), Some(options)) if problems.is_empty() => Ok(Destination { location, options }),
        _ => Err(problems),
    }
}

/// The rules of Cloud Storage bucket names, each broken one a problem.
fn bucket_problems(bucket: &str) -> Vec<PluginError> {
    let mut reasons = Vec::new();
    let dotted = bucket.contains('.');
    let longest = if dotted { 222 } else { 63 };
    if !(3..=longest).contains(&bucket.len()) {
        reasons.push(format!(
            "is {} characters long, not 3-63 (or up to 222 with dots, each part at most 63)",
            bucket.len()
        ));
    }
    if dotted && bucket.split('.').any(|part| part.len() > 63) {
        reasons.push("has a dot-separated part longer than 63 characters".to_string());
    }
    if dotted && bucket.split('.').any(str::is_empty) {
        reasons.push("has an empty dot-separated part".to_string());
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)) {
        reasons.push("may hold only lower-case letters, digits, '-', '_' and '.'".to_string());
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(bucket.bytes().next()) || !alnum(bucket.bytes().last()) {
        reasons.push("must start and end with a lower-case letter or a digit".to_string());
    }
    if bucket.starts_with("goog") {
        reasons.push("must not start with \"goog\"".to_string());
    }
    if names_google(bucket) {
        reasons.push("must not contain \"google\" or a close misspelling of it".to_string());
    }
    if is_ipv4_address(bucket) {
        reasons.push("must not be an IPv4 address".to_string());
    }
    reasons
        .into_iter()
        .map(|reason| {
            PluginError::invalid_settings(
                "location",
                format!("bucket {} {reason} (Cloud Storage bucket naming rules)", shown(bucket)),
            )
        })
        .collect()
}

/// Whether the name holds `google` once digits that look like letters are read as those
/// letters (`g00gle`, `goog1e`, `googl3`).
fn names_google(bucket: &str) -> bool {
    let read: String = bucket
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            '3' => 'e',
            other => other,
        })
        .collect();
    read.contains("google")
}

fn plan(request: &BackupRequest) -> Result<BackupPlan, PluginError> {
    let Destination { location, options } = check(&request.location, &request.options).map_err(first_problem)?;
    let mut environment = PodEnvironment::empty();
    if let Some(secret) = &options.credentials_secret {
        environment.secret_files.push(SecretFile {
            env_name: CREDENTIALS_ENV.to_string(),
            secret_name: secret.clone(),
            secret_key: options.key_file_key.clone().unwrap_or_else(|| DEFAULT_KEY_FILE_KEY.to_string()),
        });
    }
    Ok(BackupPlan { location: location.normalised(SCHEME), job: environment.clone(), server: environment })
}

struct Gcs;

impl Guest for Gcs {
    fn schemes() -> Vec<String> {
        vec![SCHEME.to_string()]
    }

    fn validate_location(location: String, options: String) -> Result<(), Vec<PluginError>> {
        all_problems(check(&location, &options).err().unwrap_or_default())
    }

    fn plan_backup(request: BackupRequest) -> Result<BackupPlan, PluginError> {
        plan(&request)
    }

    fn plan_restore(request: BackupRequest) -> Result<BackupPlan, PluginError> {
        plan(&request)
    }
}

antfly_plugin_sdk::export!(Gcs);

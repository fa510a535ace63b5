//! Template backup destination: Azure Blob Storage, `azblob://CONTAINER/PREFIX`.
//! `antfly-operator plugins new --world backup-destination` starts a new destination from
//! this file.
//!
//! Options (the backup's `destination.options`, as JSON):
//!
//! ```yaml
//! storageAccount: mybackups       # required: the storage account
//! credentialsSecret: azure-backup # optional: a Secret with the key `accountKey`;
//!                                 # without it, the pods use Azure Workload Identity
//! ```
//!
//! A destination never sees a Secret's content: it names the Secret and its keys, and the
//! operator wires them into the backup Job and the server pods as Secret references.

use antfly_plugin_sdk::{
    BackupPlan, BackupRequest, Guest, PluginError, PodEnvironment, SecretEnv, all_problems, is_dns_subdomain, kv,
    settings_error, split_location,
};
use serde::Deserialize;

const SCHEME: &str = "azblob";
const ACCOUNT_KEY: &str = "accountKey";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    storage_account: String,
    #[serde(default)]
    credentials_secret: Option<String>,
}

/// Every problem with a location and its options.
fn problems(location: &str, options: &str) -> Vec<PluginError> {
    let mut problems = Vec::new();
    match split_location(location) {
        Some((scheme, rest)) if scheme == SCHEME => {
            let container = rest.split('/').next().unwrap_or_default();
            if !is_container_name(container) {
                problems.push(PluginError::invalid_settings(
                    "location",
                    format!(
                        "container {container:?} is not a valid Azure container name \
                         (3-63 lower-case letters, digits and single hyphens)"
                    ),
                ));
            }
        }
        _ => problems.push(PluginError::invalid_settings(
            "location",
            format!("location {location:?} is not an {SCHEME}://CONTAINER/PREFIX URL"),
        )),
    }
    match serde_json::from_str::<Options>(options) {
        Err(e) => problems.push(settings_error("options", e)),
        Ok(options) => {
            let account = &options.storage_account;
            if !(3..=24).contains(&account.len())
                || !account.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                problems.push(PluginError::invalid_settings(
                    "storageAccount",
                    format!("storageAccount {account:?} must be 3-24 lower-case letters and digits"),
                ));
            }
            if let Some(secret) = &options.credentials_secret
                && !is_dns_subdomain(secret)
            {
                problems.push(PluginError::invalid_settings(
                    "credentialsSecret",
                    format!("credentialsSecret {secret:?} is not a Secret name"),
                ));
            }
        }
    }
    problems
}

/// 3-63 characters of lower-case letters, digits and hyphens, starting and ending with a
/// letter or digit, with no two hyphens in a row.
fn is_container_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && !name.contains("--")
}

fn plan(request: &BackupRequest) -> Result<BackupPlan, PluginError> {
    if let Some(problem) = problems(&request.location, &request.options).into_iter().next() {
        return Err(problem);
    }
    let options: Options = serde_json::from_str(&request.options).map_err(|e| settings_error("options", e))?;
    let mut environment = PodEnvironment::empty();
    environment.env.push(kv("AZURE_STORAGE_ACCOUNT", &options.storage_account));
    if let Some(secret) = &options.credentials_secret {
        environment.secret_env.push(SecretEnv {
            name: "AZURE_STORAGE_KEY".to_string(),
            secret_name: secret.clone(),
            secret_key: ACCOUNT_KEY.to_string(),
        });
    }
    let (_, rest) = split_location(&request.location).unwrap_or_default();
    Ok(BackupPlan {
        location: format!("{SCHEME}://{}", rest.trim_end_matches('/')),
        job: environment.clone(),
        server: environment,
    })
}

struct AzureBlob;

impl Guest for AzureBlob {
    fn schemes() -> Vec<String> {
        vec![SCHEME.to_string()]
    }

    fn validate_location(location: String, options: String) -> Result<(), Vec<PluginError>> {
        all_problems(problems(&location, &options))
    }

    fn plan_backup(request: BackupRequest) -> Result<BackupPlan, PluginError> {
        plan(&request)
    }

    fn plan_restore(request: BackupRequest) -> Result<BackupPlan, PluginError> {
        plan(&request)
    }
}

antfly_plugin_sdk::export!(AzureBlob);

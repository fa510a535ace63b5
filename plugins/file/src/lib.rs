//! First-party `file` backup destination: a directory on a PersistentVolumeClaim that the
//! Job and every server pod mount, `file:///ABSOLUTE/PATH`.
//!
//! Options (camelCase JSON):
//!
//! ```yaml
//! claimName: antfly-backups  # required: the PersistentVolumeClaim, mounted at PATH
//! ```
//!
//! Every server pod mounts the claim, so a cluster whose pods run on several nodes needs a
//! ReadWriteMany claim. The path is the mount point: it must be absolute and normalised, and
//! it must not be `/`, the server's own directories or a system path.

use antfly_plugin_sdk::{
    BackupPlan, BackupRequest, ClaimMount, Guest, PluginError, PodEnvironment, all_problems, first_problem,
    is_dns_subdomain, parse_options, shown, split_location,
};
use serde::Deserialize;

const SCHEME: &str = "file";
const MAX_PATH_BYTES: usize = 1024;
/// Directories the claim must not be mounted at or under.
const RESERVED: [&str; 11] = [
    "/antflydb",
    "/config",
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/bin",
    "/usr",
    "/lib",
    "/var/run/secrets",
    "/var/run/antfly",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    claim_name: String,
}

/// The mount path and options, or every problem with them.
fn check<'a>(location: &'a str, options: &str) -> Result<(&'a str, Options), Vec<PluginError>> {
    let mut problems = Vec::new();
    let path = match split_location(location) {
        Some((scheme, path)) if scheme == SCHEME => {
            let found = path_problems(path);
            let valid = found.is_empty();
            problems.extend(found.into_iter().map(|reason| {
                PluginError::invalid_settings("location", format!("location {} {reason}", shown(location)))
            }));
            valid.then_some(path)
        }
        _ => {
            problems.push(PluginError::invalid_settings(
                "location",
                format!("location {} is not a {SCHEME}:///ABSOLUTE/PATH URL", shown(location)),
            ));
            None
        }
    };
    let options = match parse_options::<Options>(options) {
        Ok(options) => {
            if !is_dns_subdomain(&options.claim_name) {
                problems.push(PluginError::invalid_settings(
                    "claimName",
                    format!(
                        "claimName {} is not a PersistentVolumeClaim name (a DNS-1123 subdomain: lower-case \
                         letters, digits, '-' and '.')",
                        shown(&options.claim_name)
                    ),
                ));
            }
            Some(options)
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    match (path, options) {
        (Some(path), Some(options)) if problems.is_empty() => Ok((path, options)),
        _ => Err(problems),
    }
}

/// Why `path` (what follows `file://`) is not a mount path, each reason once.
fn path_problems(path: &str) -> Vec<String> {
    if !path.starts_with('/') {
        return vec![format!(
            "is not absolute: write {SCHEME}:///ABSOLUTE/PATH (three slashes; no host, no relative path)"
        )];
    }
    let mut reasons = Vec::new();
    if path.len() > MAX_PATH_BYTES {
        reasons.push(format!("has a path of {} bytes; at most {MAX_PATH_BYTES} are allowed", path.len()));
    }
    if !path.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        reasons.push("has a path with characters other than printable ASCII".to_string());
    }
    if path.contains(['?', '#']) {
        reasons.push("has a query or a fragment ('?' or '#')".to_string());
    }
    if path == "/" {
        reasons.push("is the root directory, which cannot be a mount point".to_string());
        return reasons;
    }
    let segments = path[1..].split('/');
    if segments.clone().any(|s| s.is_empty() || s == "." || s == "..") {
        reasons.push("is not a normalised path: no '.', '..' or empty segments, no trailing slash".to_string());
    } else if let Some(reserved) = RESERVED.iter().find(|r| path == **r || path.starts_with(&format!("{r}/"))) {
        reasons.push(format!("is at or under {reserved}, which the server or the system owns"));
    }
    reasons
}

fn plan(request: &BackupRequest) -> Result<BackupPlan, PluginError> {
    let (path, options) = check(&request.location, &request.options).map_err(first_problem)?;
    let mut environment = PodEnvironment::empty();
    environment.claim_mounts.push(ClaimMount { claim_name: options.claim_name, mount_path: path.to_string() });
    Ok(BackupPlan { location: format!("{SCHEME}://{path}"), job: environment.clone(), server: environment })
}

struct File;

impl Guest for File {
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

antfly_plugin_sdk::export!(File);

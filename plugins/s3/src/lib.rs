//! First-party `s3` backup destination: Amazon S3 and S3-compatible stores (MinIO),
//! `s3://BUCKET[/PREFIX]`.
//!
//! Options (camelCase JSON):
//!
//! ```yaml
//! region: eu-west-1                  # optional: AWS_REGION
//! endpoint: http://minio.minio:9000  # optional: an S3-compatible store (AWS_ENDPOINT_URL_S3)
//! forcePathStyle: true               # optional: AWS_S3_FORCE_PATH_STYLE=true (MinIO needs it)
//! credentialsSecret: s3-backup       # optional: a Secret with an access key
//! accessKeyIdKey: AWS_ACCESS_KEY_ID          # its key holding the access key id (this default)
//! secretAccessKeyKey: AWS_SECRET_ACCESS_KEY  # its key holding the secret key (this default)
//! ```
//!
//! The Job and the server pods get the same environment. With `credentialsSecret`, they read
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the Secret's keys. Without it, the
//! pods use IRSA and get no credentials at all: the ServiceAccount annotation
//! `eks.amazonaws.com/role-arn` comes from the cluster spec (`spec.eks.irsaRoleARN`), not
//! from this destination.

use antfly_plugin_sdk::{
    BackupPlan, BackupRequest, Guest, ObjectLocation, PluginError, PodEnvironment, SecretEnv, all_problems,
    checked_object_location, first_problem, is_ipv4_address, kv, parse_options, secret_key_problem,
    secret_name_problem, shown,
};
use serde::Deserialize;

const SCHEME: &str = "s3";
const DEFAULT_ACCESS_KEY_ID_KEY: &str = "AWS_ACCESS_KEY_ID";
const DEFAULT_SECRET_ACCESS_KEY_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    force_path_style: bool,
    #[serde(default)]
    credentials_secret: Option<String>,
    #[serde(default)]
    access_key_id_key: Option<String>,
    #[serde(default)]
    secret_access_key_key: Option<String>,
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
            problems.extend(option_problems(&options));
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

/// The rules of general-purpose bucket names, each broken one a problem.
fn bucket_problems(bucket: &str) -> Vec<PluginError> {
    let mut reasons = Vec::new();
    if !(3..=63).contains(&bucket.len()) {
        reasons.push(format!("is {} characters long, not 3-63", bucket.len()));
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        reasons.push("may hold only lower-case letters, digits, '.' and '-'".to_string());
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(bucket.bytes().next()) || !alnum(bucket.bytes().last()) {
        reasons.push("must start and end with a lower-case letter or a digit".to_string());
    }
    if bucket.contains("..") {
        reasons.push("must not hold two adjacent dots".to_string());
    }
    if is_ipv4_address(bucket) {
        reasons.push("must not be an IPv4 address".to_string());
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| bucket.starts_with(**p)) {
        reasons.push(format!("must not start with the reserved prefix {prefix:?}"));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| bucket.ends_with(**s)) {
        reasons.push(format!("must not end with the reserved suffix {suffix:?}"));
    }
    reasons
        .into_iter()
        .map(|reason| {
            PluginError::invalid_settings(
                "location",
                format!("bucket {} {reason} (S3 bucket naming rules)", shown(bucket)),
            )
        })
        .collect()
}

fn option_problems(options: &Options) -> Vec<PluginError> {
    let mut problems = Vec::new();
    if let Some(region) = &options.region
        && !is_region(region)
    {
        problems.push(PluginError::invalid_settings(
            "region",
            format!("region {} is not a region name such as eu-west-1", shown(region)),
        ));
    }
    if let Some(endpoint) = &options.endpoint
        && let Err(reason) = endpoint_problem(endpoint)
    {
        problems.push(PluginError::invalid_settings("endpoint", format!("endpoint {} {reason}", shown(endpoint))));
    }
    match &options.credentials_secret {
        Some(secret) => problems.extend(secret_name_problem("credentialsSecret", secret)),
        None => {
            for (field, given) in
                [("accessKeyIdKey", &options.access_key_id_key), ("secretAccessKeyKey", &options.secret_access_key_key)]
            {
                if given.is_some() {
                    problems.push(PluginError::invalid_settings(
                        field,
                        format!("{field} names a key of credentialsSecret, which is not given"),
                    ));
                }
            }
        }
    }
    for (field, key) in
        [("accessKeyIdKey", &options.access_key_id_key), ("secretAccessKeyKey", &options.secret_access_key_key)]
    {
        if let Some(key) = key {
            problems.extend(secret_key_problem(field, key));
        }
    }
    problems
}

/// `eu-west-1`, `us-gov-west-1`, or a store's own name such as `minio`: lower-case letters,
/// digits and hyphens, starting with a letter, ending with a letter or digit, at most 32.
fn is_region(region: &str) -> bool {
    let bytes = region.as_bytes();
    (1..=32).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

/// Why `endpoint` is not `http[s]://HOST[:PORT][/]`, if it is not.
fn endpoint_problem(endpoint: &str) -> Result<(), &'static str> {
    let lower = endpoint.to_ascii_lowercase();
    let Some(authority) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else {
        return Err("is not an http:// or https:// URL");
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains(['/', '?', '#']) {
        return Err("must name only a scheme, a host and a port: no path, query or fragment");
    }
    if authority.contains('@') {
        return Err("must not carry credentials (userinfo); use credentialsSecret");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else { return Err("has an unclosed IPv6 bracket") };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("has an invalid IPv6 address");
        }
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[') && !is_host_name(host) {
        return Err("has no valid host name (letters, digits, '-' and '.')");
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err("has an invalid port (1-65535)");
    }
    Ok(())
}

fn is_host_name(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

fn plan(request: &BackupRequest) -> Result<BackupPlan, PluginError> {
    let Destination { location, options } = check(&request.location, &request.options).map_err(first_problem)?;
    let mut environment = PodEnvironment::empty();
    if let Some(region) = &options.region {
        environment.env.push(kv("AWS_REGION", region));
    }
    if let Some(endpoint) = &options.endpoint {
        environment.env.push(kv("AWS_ENDPOINT_URL_S3", endpoint.strip_suffix('/').unwrap_or(endpoint)));
    }
    if options.force_path_style {
        environment.env.push(kv("AWS_S3_FORCE_PATH_STYLE", "true"));
    }
    if let Some(secret) = &options.credentials_secret {
        let id_key = options.access_key_id_key.as_deref().unwrap_or(DEFAULT_ACCESS_KEY_ID_KEY);
        let secret_key = options.secret_access_key_key.as_deref().unwrap_or(DEFAULT_SECRET_ACCESS_KEY_KEY);
        environment.secret_env.push(SecretEnv::new("AWS_ACCESS_KEY_ID", secret, id_key));
        environment.secret_env.push(SecretEnv::new("AWS_SECRET_ACCESS_KEY", secret, secret_key));
    }
    Ok(BackupPlan { location: location.normalised(SCHEME), job: environment.clone(), server: environment })
}

struct S3;

impl Guest for S3 {
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

antfly_plugin_sdk::export!(S3);

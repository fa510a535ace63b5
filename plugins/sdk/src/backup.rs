//! The `backup-destination` world: locations, and the environment backups and restores need,
//! with the checks that more than one destination makes (bucket names, Secret names, object
//! locations).

use crate::PluginError;
pub use crate::bindings::exports::antfly::operator::backup::{
    BackupPlan, BackupRequest, ClaimMount, Guest, PodEnvironment, SecretEnv, SecretFile,
};

/// Longest location a destination accepts, in bytes; the host refuses longer ones anyway.
pub const MAX_LOCATION_BYTES: usize = 2048;
/// Longest prefix of an object-store location: object names are at most 1024 bytes (S3 and
/// GCS), and the prefix leaves room for the backup's own names.
pub const MAX_PREFIX_BYTES: usize = 768;

impl PodEnvironment {
    /// No environment at all.
    pub fn empty() -> Self {
        PodEnvironment {
            env: Vec::new(),
            secret_env: Vec::new(),
            env_from_secrets: Vec::new(),
            secret_files: Vec::new(),
            claim_mounts: Vec::new(),
        }
    }
}

impl SecretEnv {
    /// The environment variable `name` from `secret_key` of the Secret `secret_name`.
    pub fn new(name: &str, secret_name: &str, secret_key: &str) -> Self {
        SecretEnv { name: name.to_string(), secret_name: secret_name.to_string(), secret_key: secret_key.to_string() }
    }
}

/// The scheme of a location URL (`s3` for `s3://bucket/prefix`), lower-cased, and the rest.
pub fn split_location(location: &str) -> Option<(String, &str)> {
    let (scheme, rest) = location.split_once("://")?;
    Some((scheme.to_ascii_lowercase(), rest))
}

/// A Kubernetes object name (DNS-1123 subdomain): at most 253 characters, dot-separated
/// parts of lower-case letters, digits and hyphens that start and end with a letter or digit.
pub fn is_dns_subdomain(name: &str) -> bool {
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

/// A key of a Secret: at most 253 characters of letters, digits, `-`, `_` and `.`.
pub fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Whether `name` is a dotted-quad IPv4 address such as `192.168.5.4`.
pub fn is_ipv4_address(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `text` for a message: at most 64 characters, control characters escaped (the `{:?}` of
/// the result), so that a huge or hostile value cannot flood the user's status.
pub fn shown(text: &str) -> String {
    const SHOWN: usize = 64;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{:?}… ({} bytes)", &text[..end], text.len()),
        None => format!("{text:?}"),
    }
}

/// An object-store location `SCHEME://BUCKET[/PREFIX]`, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectLocation<'a> {
    pub bucket: &'a str,
    /// The prefix without leading or trailing slash; empty for the bucket's root.
    pub prefix: &'a str,
}

impl ObjectLocation<'_> {
    /// `SCHEME://BUCKET[/PREFIX]`, without a trailing slash.
    pub fn normalised(&self, scheme: &str) -> String {
        if self.prefix.is_empty() {
            format!("{scheme}://{}", self.bucket)
        } else {
            format!("{scheme}://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Splits an object-store location of `scheme` (`s3`, `gs`): the scheme in any case, one
/// bucket, an optional prefix of non-empty segments, at most one trailing slash. Adds to
/// `problems`, about `location`, another scheme, a query, a fragment, userinfo, empty, `.` or
/// `..` segments, and characters other than printable ASCII. Returns the split whenever it
/// names a bucket, even with problems, so that the caller can check the bucket's own rules
/// too.
pub fn object_location<'a>(
    scheme: &str,
    location: &'a str,
    problems: &mut Vec<PluginError>,
) -> Option<ObjectLocation<'a>> {
    let mut wrong = |reason: String| problems.push(PluginError::invalid_settings("location", reason));
    let usage = format!("{scheme}://BUCKET[/PREFIX]");
    if location.len() > MAX_LOCATION_BYTES {
        wrong(format!("location is {} bytes long; at most {MAX_LOCATION_BYTES} are allowed", location.len()));
        return None;
    }
    let rest = match split_location(location) {
        Some((found, rest)) if found == scheme => rest,
        _ => {
            wrong(format!("location {} is not a {usage} URL", shown(location)));
            return None;
        }
    };
    if !location.bytes().all(|b| b.is_ascii_graphic()) {
        wrong(format!(
            "location {} may hold only printable ASCII characters, without spaces or control characters",
            shown(location)
        ));
    }
    for (mark, what) in [('?', "a query"), ('#', "a fragment"), ('@', "userinfo")] {
        if rest.contains(mark) {
            wrong(format!("location {} has {what} ({mark:?}); write {usage}", shown(location)));
        }
    }
    let path = rest.strip_suffix('/').unwrap_or(rest);
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if path.split('/').skip(1).any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        wrong(format!("location {} has an empty, `.` or `..` path segment (or a doubled slash)", shown(location)));
    }
    if bucket.is_empty() {
        wrong(format!("location {} names no bucket; write {usage}", shown(location)));
        return None;
    }
    Some(ObjectLocation { bucket, prefix })
}

/// [`object_location`], then the bucket's own rules (`bucket_problems`) and the prefix's
/// length: every problem of an object-store location, in that order, added to `problems`.
pub fn checked_object_location<'a>(
    scheme: &str,
    location: &'a str,
    bucket_problems: impl Fn(&str) -> Vec<PluginError>,
    problems: &mut Vec<PluginError>,
) -> Option<ObjectLocation<'a>> {
    let parsed = object_location(scheme, location, problems)?;
    problems.extend(bucket_problems(parsed.bucket));
    if parsed.prefix.len() > MAX_PREFIX_BYTES {
        problems.push(PluginError::invalid_settings(
            "location",
            format!("the prefix is {} bytes long; at most {MAX_PREFIX_BYTES} are allowed", parsed.prefix.len()),
        ));
    }
    Some(parsed)
}

/// At most `max` bytes of `text`, cut at a character boundary, with `…` when cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let end = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    format!("{}…", &text[..end])
}

/// Options (JSON text) parsed as `T`, or the problem with them, naming the field at fault:
/// text that is not JSON or not an object is a problem of `options`; an unknown or missing
/// field, or a value of the wrong type, is a problem of that field (camelCase, as written).
///
/// serde reports a wrong type without its field, so the field is found by leaving each key
/// out in turn: the first key whose absence changes the error is the one at fault.
pub fn parse_options<T: serde::de::DeserializeOwned>(options: &str) -> Result<T, PluginError> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(options)
        .map_err(|e| PluginError::invalid_settings("options", format!("options are not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return Err(PluginError::invalid_settings("options", format!("options must be a JSON object, not {kind}")));
    };
    let error = match serde_json::from_value::<T>(Value::Object(object.clone())) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error.to_string(),
    };
    // serde quotes the offending value whole: keep messages and fields short.
    let shown_error = truncated(&error, 200);
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| error.strip_prefix(prefix)?.split('`').next().map(str::to_string));
    let field = named.or_else(|| {
        object
            .keys()
            .find(|key| {
                let mut without = object.clone();
                without.remove(*key);
                serde_json::from_value::<T>(Value::Object(without)).map_err(|e| e.to_string()).err().as_ref()
                    != Some(&error)
            })
            .cloned()
    });
    let field = truncated(&field.unwrap_or_else(|| "options".to_string()), 64);
    let message = if field == "options" || shown_error.contains(&format!("`{field}`")) {
        format!("options are not valid: {shown_error}")
    } else {
        format!("option {field} is not valid: {shown_error}")
    };
    Err(PluginError::invalid_settings(&field, message))
}

/// The problem with an optional Secret name at `field`, if any.
pub fn secret_name_problem(field: &str, name: &str) -> Option<PluginError> {
    (!is_dns_subdomain(name)).then(|| {
        PluginError::invalid_settings(
            field,
            format!(
                "{field} {} is not a Secret name (a DNS-1123 subdomain: lower-case letters, digits, '-' and '.')",
                shown(name)
            ),
        )
    })
}

/// The problem with a Secret key at `field`, if any.
pub fn secret_key_problem(field: &str, key: &str) -> Option<PluginError> {
    (!is_secret_key(key)).then(|| {
        PluginError::invalid_settings(
            field,
            format!("{field} {} is not a Secret key (letters, digits, '-', '_' and '.')", shown(key)),
        )
    })
}

/// The first of `problems`, for a plan call (which returns one error) that re-ran the checks
/// of `validate-location`.
pub fn first_problem(problems: Vec<PluginError>) -> PluginError {
    problems
        .into_iter()
        .next()
        .unwrap_or_else(|| PluginError::invalid_settings("location", "the location is not valid"))
}

//! Types and helpers shared by every world: key-values, roles and plugin errors.

pub use crate::bindings::antfly::operator::types::*;

/// A key and a value: a label, an annotation or a node-selector entry.
pub fn kv(key: &str, value: &str) -> Kv {
    Kv { key: key.to_string(), value: value.to_string() }
}

impl PluginError {
    /// An error of `code` about `field` (a path inside the settings, or empty).
    pub fn new(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        PluginError { code, message: message.into(), field: field.to_string() }
    }

    /// The settings hold an invalid value at `field`.
    pub fn invalid_settings(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidSettings, field, message)
    }
}

/// The error for settings (JSON text) that do not parse: `settings_error("spec.eks", e)`.
pub fn settings_error(what: &str, error: impl std::fmt::Display) -> PluginError {
    PluginError::invalid_settings("", format!("{what} is not valid: {error}"))
}

/// `Ok(())` without problems, else every problem.
pub fn all_problems(problems: Vec<PluginError>) -> Result<(), Vec<PluginError>> {
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`,
/// starting and ending with an alphanumeric, or empty. The operator checks again; checking
/// in the plugin gives the user a better message.
pub fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() <= 63
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

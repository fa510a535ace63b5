//! The `backup-destination` world: locations, and the environment backups and restores need.

pub use crate::bindings::exports::antfly::operator::backup::{
    BackupPlan, BackupRequest, Guest, PodEnvironment, SecretEnv,
};

impl PodEnvironment {
    /// No environment at all.
    pub fn empty() -> Self {
        PodEnvironment { env: Vec::new(), secret_env: Vec::new(), env_from_secrets: Vec::new() }
    }
}

/// The scheme of a location URL (`s3` for `s3://bucket/prefix`), lower-cased, and the rest.
pub fn split_location(location: &str) -> Option<(String, &str)> {
    let (scheme, rest) = location.split_once("://")?;
    Some((scheme.to_ascii_lowercase(), rest))
}

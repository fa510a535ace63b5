//! Errors of the test control plane, each with the context needed to act on it.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting or using a [`crate::ControlPlane`].
///
/// `Debug` prints the same text as `Display`, so that `expect` in a test
/// shows a readable message with the quoted log lines.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `kube-apiserver` or `etcd` is not where it was looked for.
    #[error(
        "{binary} not found at {path}: build the control plane with `bash .ci/control-plane.sh` \
         from the repository root, or set {env} to a directory that holds kube-apiserver and etcd"
    )]
    MissingBinary {
        /// Which binary.
        binary: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The environment variable that overrides the directory.
        env: &'static str,
    },

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Generating a key or certificate failed.
    #[error("generating {what}: {source}")]
    Certificate {
        /// Which key or certificate.
        what: String,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },

    /// A setting or request could not be formed.
    #[error("{0}")]
    Invalid(String),

    /// A process exited while it was expected to come up.
    #[error("{process} exited during start-up ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// `etcd` or `kube-apiserver`.
        process: &'static str,
        /// How it exited.
        status: std::process::ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },

    /// A process did not become ready in time.
    #[error(
        "{process} was not ready after {timeout:?} (last check: {last_check}); last lines of {}:\n{tail}",
        log.display()
    )]
    NotReady {
        /// `etcd` or `kube-apiserver`.
        process: &'static str,
        /// How long it was given.
        timeout: Duration,
        /// What the last readiness check saw.
        last_check: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },

    /// Building a Kubernetes client failed.
    #[error("building a kube client for {user}: {source}")]
    Client {
        /// The identity the client was for.
        user: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },

    /// Writing the kubeconfig failed to serialize (not expected to happen).
    #[error("serializing the kubeconfig for {user}: {source}")]
    Kubeconfig {
        /// The identity the kubeconfig was for.
        user: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// A request to the apiserver failed.
    #[error("{context}: {source}")]
    Api {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },

    /// Setting up TLS for a test server failed.
    #[error("configuring TLS for {what}: {source}")]
    Tls {
        /// Which server.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: tokio_rustls::rustls::Error,
    },

    /// An APIService did not report `Available=True`, or its API did not answer through the
    /// apiserver, in time.
    #[error(
        "APIService {name} was not available after {timeout:?} (conditions: {conditions}; last check: \
         {last_check}); last lines of the apiserver log:\n{tail}"
    )]
    ApiServiceNotAvailable {
        /// The APIService.
        name: String,
        /// How long it was given.
        timeout: Duration,
        /// Its status conditions at the end, as JSON.
        conditions: String,
        /// What the last check saw.
        last_check: String,
        /// The last lines of the apiserver log.
        tail: String,
    },

    /// A line of the audit log is not an audit event.
    #[error("parsing line {line} of the audit log {}: {source}", path.display())]
    AuditLog {
        /// The audit log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// [`crate::ControlPlane::wait_for_audit_events`] timed out.
    #[error("the audit log showed no matching events after {timeout:?} ({seen} events in all)")]
    AuditTimeout {
        /// How long it waited.
        timeout: Duration,
        /// How many events the log held at the end.
        seen: usize,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    /// Whether the failure is a port that another process took between the
    /// harness choosing it and the server binding it (then a retry helps).
    pub(crate) fn is_port_conflict(&self) -> bool {
        match self {
            Self::Exited { tail, .. } | Self::NotReady { tail, .. } => tail.contains("address already in use"),
            _ => false,
        }
    }
}

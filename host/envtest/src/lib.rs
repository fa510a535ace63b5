//! Real kube-apiserver and etcd for tests, in the spirit of controller-runtime's envtest.
//!
//! [`ControlPlane::start`] runs an etcd and a kube-apiserver built from source
//! by `bash .ci/control-plane.sh` (Kubernetes [`KUBERNETES_VERSION`], etcd
//! [`ETCD_VERSION`]), each on free loopback ports with its data, certificates
//! and logs in a temporary directory, and waits until the apiserver's
//! `/readyz` is OK. By default there is no controller-manager, scheduler or
//! kubelet: objects are stored and validated, but nothing reconciles them
//! (pods stay pending, namespaces being deleted stay `Terminating`, no
//! `default` ServiceAccount appears).
//!
//! [`ControlPlane::start_with_controller_manager`] also runs a
//! kube-controller-manager, built from the same Kubernetes module, with the
//! controllers in [`CONTROLLERS`]: StatefulSets create pods and PVCs, Jobs
//! create pods, PVCs bind to matching PersistentVolumes, and garbage
//! collection follows owner references (orphan deletion included). There is
//! still no scheduler or kubelet, so a test plays the kubelet: it marks pods
//! Running and Ready, or not.
//!
//! The apiserver serves TLS on `127.0.0.1` only, authenticates client
//! certificates signed by the harness's CA, authorizes with RBAC, and writes
//! every write request (create, update, patch, delete, deletecollection) to
//! an audit log that [`ControlPlane::audit_events`] reads back.
//!
//! The aggregation layer is configured (front-proxy CA and client certificate):
//! [`ControlPlane::start_metrics_server`] runs a [`MetricsServer`] that serves
//! `metrics.k8s.io/v1beta1` pod metrics set by the test, registered as an
//! APIService, so that clients read them through the apiserver.
//!
//! ```no_run
//! # async fn demo() -> Result<(), antfly_envtest::Error> {
//! let cp = antfly_envtest::ControlPlane::start().await?;
//! let admin: kube::Client = cp.client();
//! let alice = cp.client_for_user("alice", &["dev"])?;
//! let kubeconfig = cp.kubeconfig_path(); // for a subprocess, via KUBECONFIG
//! let writes = cp.audit_events()?;
//! # let _ = (admin, alice, kubeconfig, writes);
//! # Ok(()) }
//! ```
//!
//! Environment variables:
//! - [`BIN_DIR_ENV`] (`ANTFLY_CONTROL_PLANE_BIN`): directory with
//!   `kube-apiserver` and `etcd`, instead of [`default_bin_dir`].
//! - [`START_TIMEOUT_ENV`] (`ANTFLY_ENVTEST_START_TIMEOUT_SECS`): how long to
//!   wait for the control plane to become ready (default 60).
//! - [`KEEP_ENV`] (`ANTFLY_ENVTEST_KEEP=1`): keep the temporary directory
//!   (logs, audit log, certificates, kubeconfig) after the test.

mod audit;
mod error;
pub mod kubelet;
pub mod metrics;
mod pki;
mod process;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

pub use audit::{AuditEvent, ObjectRef};
pub use error::Error;
pub use metrics::MetricsServer;

use pki::Pki;
use process::Process;

/// The Kubernetes release that `.ci/control-plane.sh` builds; also the name
/// of its cache directory. Must match `tests/control-plane/kube-apiserver/go.mod`.
pub const KUBERNETES_VERSION: &str = "v1.35.8";

/// The etcd release that `.ci/control-plane.sh` builds. Must match
/// `tests/control-plane/etcd/go.mod`.
pub const ETCD_VERSION: &str = "v3.6.16";

/// Environment variable naming a directory with `kube-apiserver` and `etcd`.
pub const BIN_DIR_ENV: &str = "ANTFLY_CONTROL_PLANE_BIN";

/// Environment variable with the start-up timeout in seconds (default 60).
pub const START_TIMEOUT_ENV: &str = "ANTFLY_ENVTEST_START_TIMEOUT_SECS";

/// Environment variable that, when set to anything but `0` or empty, keeps
/// the control plane's temporary directory after it is dropped.
pub const KEEP_ENV: &str = "ANTFLY_ENVTEST_KEEP";

/// User name of [`ControlPlane::client`] and of the default kubeconfig.
pub const ADMIN_USER: &str = "antfly-envtest-admin";

/// Group of [`ADMIN_USER`]: bound to `cluster-admin`, and exempt from RBAC.
pub const ADMIN_GROUP: &str = "system:masters";

/// `User-Agent` of the harness's clients, as the audit log shows it.
pub const USER_AGENT: &str = "antfly-envtest";

/// The service-account token issuer the apiserver is configured with.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts when a chosen port was taken by someone else before use.
const START_ATTEMPTS: u32 = 3;

const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long [`ControlPlane::register_metrics_server`] waits for the APIService to be available.
pub const METRICS_REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

/// `<repo>/.cache/control-plane/<KUBERNETES_VERSION>/bin`, where
/// `.ci/control-plane.sh` puts the binaries.
pub fn default_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(".cache/control-plane")
        .join(KUBERNETES_VERSION)
        .join("bin")
}

/// [`BIN_DIR_ENV`] if set and not empty, else [`default_bin_dir`].
pub fn bin_dir() -> PathBuf {
    match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => default_bin_dir(),
    }
}

/// The kube-controller-manager controllers [`ControlPlane::start_with_controller_manager`]
/// runs: what a StatefulSet, a Job and owner references need, and PVC binding. Node, cloud,
/// token and certificate controllers stay off: there are no nodes and no cloud.
pub const CONTROLLERS: &str = "statefulset,job,garbagecollector,persistentvolume-binder";

struct Binaries {
    etcd: PathBuf,
    apiserver: PathBuf,
    controller_manager: Option<PathBuf>,
}

impl Binaries {
    fn locate(dir: &Path, controller_manager: bool) -> Result<Self, Error> {
        let find = |binary: &'static str| {
            let path = dir.join(binary);
            if path.is_file() { Ok(path) } else { Err(Error::MissingBinary { binary, path, env: BIN_DIR_ENV }) }
        };
        Ok(Self {
            etcd: find("etcd")?,
            apiserver: find("kube-apiserver")?,
            controller_manager: if controller_manager { Some(find("kube-controller-manager")?) } else { None },
        })
    }
}

/// Paths of a client certificate and its key.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
}

/// A running etcd and kube-apiserver; dropping it kills both and deletes
/// their temporary directory.
pub struct ControlPlane {
    // Declared first so that they are killed before the directory goes.
    controller_manager: Option<Process>,
    apiserver: Process,
    etcd: Process,
    admin: kube::Client,
    server_url: String,
    pki: Pki,
    ca_file: PathBuf,
    kubeconfig: PathBuf,
    audit_log: PathBuf,
    identities: AtomicUsize,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server_url", &self.server_url)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the apiserver is ready.
    ///
    /// Fails with [`Error::MissingBinary`] if the binaries have not been
    /// built (run `bash .ci/control-plane.sh`), and with
    /// [`Error::NotReady`] or [`Error::Exited`], which quote the end of the
    /// process's log, if start-up fails. Must run inside a Tokio runtime.
    pub async fn start() -> Result<Self, Error> {
        Self::start_from(Binaries::locate(&bin_dir(), false)?).await
    }

    /// Like [`Self::start`], plus a kube-controller-manager running [`CONTROLLERS`] as the
    /// admin user. Its log is `kube-controller-manager.log` in [`Self::dir`].
    pub async fn start_with_controller_manager() -> Result<Self, Error> {
        Self::start_from(Binaries::locate(&bin_dir(), true)?).await
    }

    async fn start_from(binaries: Binaries) -> Result<Self, Error> {
        let timeout = start_timeout()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&binaries, timeout).await {
                Err(e) if attempt < START_ATTEMPTS && e.is_port_conflict() => {
                    tracing::warn!(attempt, error = %e, "port taken; retrying on other ports");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(binaries: &Binaries, timeout: Duration) -> Result<Self, Error> {
        let started = Instant::now();
        let deadline = started + timeout;
        let dir = tempfile::Builder::new()
            .prefix("antfly-envtest-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory", e))?;
        let root = dir.path().to_path_buf();

        let pki = Pki::new()?;
        let ca_file = write(root.join("ca.crt"), &pki.ca_pem())?;
        let serving = pki.serving()?;
        let serving_cert = write(root.join("apiserver.crt"), &serving.cert_pem)?;
        let serving_key = write(root.join("apiserver.key"), &serving.key_pem)?;
        let sa = pki::service_account_key()?;
        let sa_public = write(root.join("service-account.pub"), &sa.cert_pem)?;
        let sa_private = write(root.join("service-account.key"), &sa.key_pem)?;
        let policy = write(root.join("audit-policy.yaml"), audit::POLICY)?;
        let audit_log = root.join("audit.log");
        let admin_identity = write_identity(&root, &pki, "admin", ADMIN_USER, &[ADMIN_GROUP])?;
        let front_proxy_ca = write(root.join("front-proxy-ca.crt"), &pki.front_proxy_ca_pem())?;
        let front_proxy = pki.front_proxy_client()?;
        let front_proxy_cert = write(root.join("front-proxy-client.crt"), &front_proxy.cert_pem)?;
        let front_proxy_key = write(root.join("front-proxy-client.key"), &front_proxy.key_pem)?;

        let [etcd_client_port, etcd_peer_port, secure_port] = free_ports()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_client_port}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let etcd_args = vec![
            "--name=envtest".to_owned(),
            arg("--data-dir", root.join("etcd")),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={etcd_peer_url}"),
            format!("--initial-advertise-peer-urls={etcd_peer_url}"),
            format!("--initial-cluster=envtest={etcd_peer_url}"),
            "--initial-cluster-state=new".to_owned(),
            // Test data need not survive a crash; fsync is most of etcd's cost.
            "--unsafe-no-fsync".to_owned(),
            "--log-level=warn".to_owned(),
        ];
        let mut etcd = Process::spawn("etcd", &binaries.etcd, &etcd_args, root.join("etcd.log"))?;
        wait_for_etcd(&mut etcd, etcd_client_port, deadline, timeout).await?;
        tracing::debug!(elapsed = ?started.elapsed(), "etcd ready");

        let apiserver_args = vec![
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            format!("--secure-port={secure_port}"),
            format!("--etcd-servers={etcd_url}"),
            arg("--cert-dir", root.join("apiserver-certs")),
            arg("--tls-cert-file", &serving_cert),
            arg("--tls-private-key-file", &serving_key),
            arg("--client-ca-file", &ca_file),
            format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
            arg("--service-account-key-file", &sa_public),
            arg("--service-account-signing-key-file", &sa_private),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
            "--authorization-mode=RBAC".to_owned(),
            // Without a controller-manager no `default` ServiceAccount is
            // created, and this plugin would reject every pod.
            "--disable-admission-plugins=ServiceAccount".to_owned(),
            "--allow-privileged=true".to_owned(),
            // No Endpoints for the `kubernetes` Service: 127.0.0.1 is not a
            // valid endpoint address and nothing in the tests dials it.
            "--endpoint-reconciler-type=none".to_owned(),
            // API priority and fairness only throttles; tests do not need it.
            "--enable-priority-and-fairness=false".to_owned(),
            arg("--audit-policy-file", &policy),
            arg("--audit-log-path", &audit_log),
            "--audit-log-format=json".to_owned(),
            // Write each event synchronously rather than in batches.
            "--audit-log-mode=blocking".to_owned(),
            // The aggregation layer, for APIServices such as metrics.k8s.io (see `metrics`).
            // The aggregator authenticates the caller, then proxies with the front-proxy client
            // certificate and the caller's identity in these headers.
            arg("--requestheader-client-ca-file", &front_proxy_ca),
            format!("--requestheader-allowed-names={}", pki::FRONT_PROXY_CLIENT),
            "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_owned(),
            "--requestheader-group-headers=X-Remote-Group".to_owned(),
            "--requestheader-username-headers=X-Remote-User".to_owned(),
            arg("--proxy-client-cert-file", &front_proxy_cert),
            arg("--proxy-client-key-file", &front_proxy_key),
            // Cluster routing (the default), deliberately. It resolves an APIService's Service
            // to its ClusterIP, which nothing serves here (no kube-proxy), or, for an
            // ExternalName Service, to `https://<externalName>:<port>`; `127.0.0.1` passes as
            // an externalName (a DNS-1123 subdomain), so the aggregator dials a test server
            // on loopback. `--enable-aggregator-routing=true` would instead accept only
            // ClusterIP/NodePort/LoadBalancer Services ("unsupported service type
            // ExternalName") and dial an address from their EndpointSlices, which validation
            // refuses for loopback ("may not be in the loopback range"): the server would
            // have to listen on the host's non-loopback address, which a sandbox may lack and
            // an HTTPS proxy may intercept. Admission and conversion webhooks use the same
            // resolver, so they can be reached the same way.
            "--enable-aggregator-routing=false".to_owned(),
        ];
        let mut apiserver =
            Process::spawn("kube-apiserver", &binaries.apiserver, &apiserver_args, root.join("kube-apiserver.log"))?;

        let server_url = format!("https://127.0.0.1:{secure_port}");
        let ca_der = pki.ca_der();
        let admin = build_client(&server_url, &ca_der, &admin_identity, ADMIN_USER, true)?;
        let probe = build_client(&server_url, &ca_der, &admin_identity, ADMIN_USER, false)?;
        wait_for_apiserver(&mut apiserver, &mut etcd, &probe, deadline, timeout).await?;
        tracing::info!(
            %server_url,
            dir = %root.display(),
            elapsed = ?started.elapsed(),
            "control plane ready"
        );

        let kubeconfig = root.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server_url, &ca_file, &admin_identity, ADMIN_USER)?;
        let controller_manager = match &binaries.controller_manager {
            Some(binary) => Some(start_controller_manager(binary, &root, &kubeconfig)?),
            None => None,
        };

        Ok(Self {
            controller_manager,
            apiserver,
            etcd,
            admin,
            server_url,
            pki,
            ca_file,
            kubeconfig,
            audit_log,
            identities: AtomicUsize::new(0),
            dir,
        })
    }

    /// A client authenticated as [`ADMIN_USER`] in group [`ADMIN_GROUP`]
    /// (`system:masters`, allowed everything).
    pub fn client(&self) -> kube::Client {
        self.admin.clone()
    }

    /// A client authenticated by a new client certificate as `user` in
    /// `groups` (plus `system:authenticated`, which the apiserver adds).
    ///
    /// Must be called inside a Tokio runtime (the client spawns a task).
    pub fn client_for_user(&self, user: &str, groups: &[&str]) -> Result<kube::Client, Error> {
        let identity = self.new_identity(user, groups)?;
        build_client(&self.server_url, &self.pki.ca_der(), &identity, user, true)
    }

    /// A kubeconfig for [`ADMIN_USER`], for a subprocess (`KUBECONFIG=...`).
    /// Its certificate files live next to it in the temporary directory.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Writes a kubeconfig for `user` in `groups` (as in
    /// [`Self::client_for_user`]) and returns its path.
    pub fn kubeconfig_for_user(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        let identity = self.new_identity(user, groups)?;
        let path = identity.cert.with_extension("kubeconfig");
        write_kubeconfig(&path, &self.server_url, &self.ca_file, &identity, user)?;
        Ok(path)
    }

    /// The apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The PEM file of the CA that signed the serving and client certificates.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The temporary directory: `kube-apiserver.log`, `etcd.log`,
    /// `audit.log`, certificates, kubeconfigs and etcd's data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process ids of kube-apiserver and etcd, for benchmarks that account for their CPU.
    pub fn server_pids(&self) -> [(&'static str, u32); 2] {
        [(self.apiserver.name(), self.apiserver.id()), (self.etcd.name(), self.etcd.id())]
    }

    /// The audit log file.
    pub fn audit_log_path(&self) -> &Path {
        &self.audit_log
    }

    /// Every completed write request so far, oldest first, by anyone
    /// (including the apiserver's own start-up writes as `system:apiserver`).
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, Error> {
        Ok(self.audit_requests()?.into_iter().filter(AuditEvent::is_write).collect())
    }

    /// Every completed request so far, reads included, oldest first, by anyone.
    pub fn audit_requests(&self) -> Result<Vec<AuditEvent>, Error> {
        audit::read(&self.audit_log)
    }

    /// Polls the audit log until `done` returns true for the events so far,
    /// and returns them; fails with [`Error::AuditTimeout`] after `timeout`.
    /// An event can land just after the client has seen its response.
    pub async fn wait_for_audit_events(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[AuditEvent]) -> bool,
    ) -> Result<Vec<AuditEvent>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.audit_events()?;
            if done(&events) {
                return Ok(events);
            }
            if Instant::now() >= deadline {
                return Err(Error::AuditTimeout { timeout, seen: events.len() });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Starts a [`MetricsServer`] and registers it ([`Self::register_metrics_server`]).
    pub async fn start_metrics_server(&self) -> Result<MetricsServer, Error> {
        let server = MetricsServer::start(self).await?;
        self.register_metrics_server(&server).await?;
        Ok(server)
    }

    /// Makes `server` the backend of `metrics.k8s.io/v1beta1`: applies the Service
    /// [`metrics::SERVICE_NAME`] in [`metrics::SERVICE_NAMESPACE`] (of type ExternalName,
    /// `127.0.0.1`, see the routing note in the apiserver's flags) and the APIService
    /// [`metrics::API_SERVICE`] pointing at it on the server's port, then waits until the
    /// APIService is `Available` and the apiserver proxies discovery to the server. Applying
    /// again points the APIService at another server.
    ///
    /// Fails with [`Error::ApiServiceNotAvailable`], quoting the APIService's conditions and
    /// the apiserver's log, after [`METRICS_REGISTER_TIMEOUT`].
    pub async fn register_metrics_server(&self, server: &MetricsServer) -> Result<(), Error> {
        use k8s_openapi::api::core::v1::{Namespace, Service};
        use kube::api::{Api, Patch, PatchParams, PostParams};

        let port = server.address().port();
        let apply = PatchParams::apply(USER_AGENT).force();
        let seen_before = server.request_count();

        // The apiserver creates kube-system shortly after it is ready; do not race it.
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let namespace = Namespace {
            metadata: kube::api::ObjectMeta { name: Some(metrics::SERVICE_NAMESPACE.to_owned()), ..Default::default() },
            ..Namespace::default()
        };
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(source) => {
                return Err(Error::Api {
                    context: format!("creating namespace {}", metrics::SERVICE_NAMESPACE),
                    source,
                });
            }
        }

        let services: Api<Service> = Api::namespaced(self.admin.clone(), metrics::SERVICE_NAMESPACE);
        let service = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": metrics::SERVICE_NAME, "namespace": metrics::SERVICE_NAMESPACE},
            "spec": {
                "type": "ExternalName",
                "externalName": "127.0.0.1",
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            },
        });
        services.patch(metrics::SERVICE_NAME, &apply, &Patch::Apply(&service)).await.map_err(|source| Error::Api {
            context: format!("applying Service {}/{}", metrics::SERVICE_NAMESPACE, metrics::SERVICE_NAME),
            source,
        })?;

        let api_services: Api<APIService> = Api::all(self.admin.clone());
        let ca_bundle = k8s_openapi::ByteString(server.ca_bundle_pem().as_bytes().to_vec());
        let api_service = serde_json::json!({
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": metrics::API_SERVICE},
            "spec": {
                "group": metrics::GROUP,
                "version": metrics::VERSION,
                "service": {"namespace": metrics::SERVICE_NAMESPACE, "name": metrics::SERVICE_NAME, "port": port},
                "caBundle": ca_bundle,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        });
        api_services.patch(metrics::API_SERVICE, &apply, &Patch::Apply(&api_service)).await.map_err(|source| {
            Error::Api { context: format!("applying APIService {}", metrics::API_SERVICE), source }
        })?;

        let discovery_path = format!("/apis/{}/{}", metrics::GROUP, metrics::VERSION);
        // Done when the admin's discovery request reached this server, not merely any: when
        // re-registering, the old status and backend linger for a moment.
        let reached =
            || {
                server.requests().get(seen_before..).unwrap_or_default().iter().any(|r| {
                    r.path == discovery_path && r.remote_user.as_deref() == Some(ADMIN_USER) && r.status == 200
                })
            };
        self.wait_for_api_service(&api_services, metrics::API_SERVICE, &discovery_path, reached).await
    }

    /// Waits until APIService `name` reports `Available=True`, `discovery_path` answers
    /// through the apiserver (whose proxy learns of availability from its own informer, a
    /// moment after the status is written) and `reached` confirms the right backend answered.
    async fn wait_for_api_service(
        &self,
        api_services: &kube::Api<APIService>,
        name: &str,
        discovery_path: &str,
        reached: impl Fn() -> bool,
    ) -> Result<(), Error> {
        let timeout = METRICS_REGISTER_TIMEOUT;
        let deadline = Instant::now() + timeout;
        let mut conditions = String::from("none yet");
        loop {
            let last_check = match api_services.get(name).await {
                Ok(found) => {
                    let list = found.status.and_then(|s| s.conditions).unwrap_or_default();
                    conditions = serde_json::to_string(&list).unwrap_or_else(|e| format!("(unprintable: {e})"));
                    if list.iter().any(|c| c.type_ == "Available" && c.status == "True") {
                        let request = http::Request::get(discovery_path)
                            .body(Vec::new())
                            .map_err(|e| Error::Invalid(format!("building the request for {discovery_path}: {e}")))?;
                        match self.admin.request_text(request).await {
                            Ok(_) if reached() => return Ok(()),
                            Ok(_) => format!("GET {discovery_path} was answered by another backend"),
                            Err(e) => format!("GET {discovery_path}: {e}"),
                        }
                    } else {
                        "not Available".to_owned()
                    }
                }
                Err(e) => format!("getting APIService {name}: {e}"),
            };
            if Instant::now() >= deadline {
                return Err(Error::ApiServiceNotAvailable {
                    name: name.to_owned(),
                    timeout,
                    conditions,
                    last_check,
                    tail: self.apiserver.tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL * 2).await;
        }
    }

    /// The last lines of the apiserver's log, for assertion messages.
    pub fn apiserver_log_tail(&self) -> String {
        self.apiserver.tail()
    }

    /// The last lines of the controller-manager's log, if one runs.
    pub fn controller_manager_log_tail(&self) -> Option<String> {
        self.controller_manager.as_ref().map(Process::tail)
    }

    /// The last lines of etcd's log, for assertion messages.
    pub fn etcd_log_tail(&self) -> String {
        self.etcd.tail()
    }

    fn new_identity(&self, user: &str, groups: &[&str]) -> Result<Identity, Error> {
        let n = self.identities.fetch_add(1, Ordering::Relaxed);
        let safe: String = user.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(40).collect();
        write_identity(self.dir.path(), &self.pki, &format!("user-{n}-{safe}"), user, groups)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let keep = std::env::var_os(KEEP_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        if keep {
            self.dir.disable_cleanup(true);
            eprintln!("antfly-envtest: kept {}", self.dir.path().display());
        }
        // The processes are killed by their own Drop, before `dir` goes.
    }
}

fn start_timeout() -> Result<Duration, Error> {
    match std::env::var(START_TIMEOUT_ENV) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| Error::Invalid(format!("{START_TIMEOUT_ENV}={text:?} is not whole seconds: {e}"))),
        _ => Ok(DEFAULT_START_TIMEOUT),
    }
}

/// Starts kube-controller-manager against the apiserver as the admin user. It serves nothing
/// (`--secure-port=0`) and elects no leader; controllers start within a second or two, which
/// tests absorb by polling for what the controllers make.
fn start_controller_manager(binary: &Path, root: &Path, kubeconfig: &Path) -> Result<Process, Error> {
    let args = vec![
        arg("--kubeconfig", kubeconfig),
        "--secure-port=0".to_owned(),
        "--leader-elect=false".to_owned(),
        format!("--controllers={CONTROLLERS}"),
        // Tests create objects in bursts; the default 20 QPS would make them wait.
        "--kube-api-qps=200".to_owned(),
        "--kube-api-burst=400".to_owned(),
        "--concurrent-statefulset-syncs=10".to_owned(),
        "--v=1".to_owned(),
    ];
    Process::spawn("kube-controller-manager", binary, &args, root.join("kube-controller-manager.log"))
}

fn arg(flag: &str, path: impl AsRef<Path>) -> String {
    format!("{flag}={}", path.as_ref().display())
}

fn write(path: PathBuf, contents: &str) -> Result<PathBuf, Error> {
    std::fs::write(&path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

fn write_identity(dir: &Path, pki: &Pki, stem: &str, user: &str, groups: &[&str]) -> Result<Identity, Error> {
    let pair = pki.client(user, groups)?;
    Ok(Identity {
        cert: write(dir.join(format!("{stem}.crt")), &pair.cert_pem)?,
        key: write(dir.join(format!("{stem}.key")), &pair.key_pem)?,
    })
}

fn build_client(
    server_url: &str,
    ca_der: &[u8],
    identity: &Identity,
    user: &str,
    retry: bool,
) -> Result<kube::Client, Error> {
    let uri: http::Uri = server_url
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::Invalid(format!("parsing the apiserver URL {server_url:?}: {e}")))?;
    let mut config = kube::Config::new(uri);
    config.root_cert = Some(vec![ca_der.to_vec()]);
    config.auth_info.client_certificate = Some(identity.cert.to_string_lossy().into_owned());
    config.auth_info.client_key = Some(identity.key.to_string_lossy().into_owned());
    config.default_retry = retry;
    // kube-rs sends no User-Agent of its own; name the harness in the audit log.
    config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT)));
    if !retry {
        // The readiness probe: fail fast and poll again.
        config.connect_timeout = Some(Duration::from_secs(2));
        config.read_timeout = Some(Duration::from_secs(5));
    }
    kube::Client::try_from(config).map_err(|source| Error::Client { user: user.to_owned(), source })
}

fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    ca_file: &Path,
    identity: &Identity,
    user: &str,
) -> Result<(), Error> {
    // JSON is YAML, and both client-go and kube-rs read it.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "envtest",
            "cluster": {
                "server": server_url,
                "certificate-authority": ca_file,
            },
        }],
        "users": [{
            "name": user,
            "user": {
                "client-certificate": identity.cert,
                "client-key": identity.key,
            },
        }],
        "contexts": [{
            "name": "envtest",
            "context": {"cluster": "envtest", "user": user, "namespace": "default"},
        }],
        "current-context": "envtest",
    });
    let text =
        serde_json::to_string_pretty(&config).map_err(|source| Error::Kubeconfig { user: user.to_owned(), source })?;
    write(path.to_path_buf(), &text)?;
    Ok(())
}

/// `N` distinct free loopback ports, never handed out before by this process.
///
/// A port is free when asked; another process can take it before the
/// server binds it, which [`ControlPlane::start`] survives by retrying.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    let mut found = 0;
    for _ in 0..(N * 50) {
        if found == N {
            break;
        }
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("binding a free loopback port", e))?;
        let port = listener.local_addr().map_err(|e| Error::io("reading a bound port", e))?.port();
        if handed_out.insert(port) {
            ports[found] = port;
            found += 1;
        }
        // Held until all are chosen, so the kernel gives distinct ports.
        listeners.push(listener);
    }
    if found < N {
        return Err(Error::Invalid(format!(
            "found only {found} of {N} loopback ports not used before by this process"
        )));
    }
    Ok(ports)
}

/// Waits for etcd's `/health` to report healthy.
async fn wait_for_etcd(etcd: &mut Process, port: u16, deadline: Instant, timeout: Duration) -> Result<(), Error> {
    loop {
        etcd.check_running()?;
        let last_check = match etcd_health(port).await {
            Ok(body) if body.contains(r#""health":"true""#) => return Ok(()),
            Ok(body) => format!("unhealthy: {}", body.trim()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(not_ready(etcd, timeout, last_check));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The body of etcd's plain-HTTP `GET /health`.
async fn etcd_health(port: u16) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 2s"))?
}

/// Waits for the apiserver's `/readyz` to answer `ok`.
async fn wait_for_apiserver(
    apiserver: &mut Process,
    etcd: &mut Process,
    probe: &kube::Client,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Error> {
    loop {
        etcd.check_running()?;
        apiserver.check_running()?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| Error::Invalid(format!("building the /readyz request: {e}")))?;
        let last_check = match probe.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => format!("/readyz said {:?}", body.trim()),
            Err(e) => format!("/readyz: {e}"),
        };
        if Instant::now() >= deadline {
            return Err(not_ready(apiserver, timeout, last_check));
        }
        tokio::time::sleep(POLL_INTERVAL * 2).await;
    }
}

fn not_ready(process: &Process, timeout: Duration, last_check: String) -> Error {
    Error::NotReady {
        process: process.name(),
        timeout,
        last_check,
        log: process.log().to_path_buf(),
        tail: process.tail(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_mod(module: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/control-plane").join(module).join("go.mod");
        std::fs::read_to_string(&path).expect("read go.mod")
    }

    #[test]
    fn versions_match_the_go_modules() {
        assert!(
            go_mod("kube-apiserver").contains(&format!("k8s.io/kubernetes {KUBERNETES_VERSION}")),
            "KUBERNETES_VERSION differs from tests/control-plane/kube-apiserver/go.mod"
        );
        assert!(
            go_mod("etcd").contains(&format!("go.etcd.io/etcd/server/v3 {ETCD_VERSION}")),
            "ETCD_VERSION differs from tests/control-plane/etcd/go.mod"
        );
    }

    #[test]
    fn missing_binaries_say_how_to_build_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = Binaries::locate(dir.path(), false).err().expect("no binaries in an empty directory");
        let message = err.to_string();
        assert!(message.contains("bash .ci/control-plane.sh"), "{message}");
        assert!(message.contains(BIN_DIR_ENV), "{message}");
    }

    #[test]
    fn free_ports_are_distinct_across_calls() {
        let a: [u16; 3] = free_ports().expect("ports");
        let b: [u16; 3] = free_ports().expect("ports");
        let all: BTreeSet<u16> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(all.len(), 6);
    }
}

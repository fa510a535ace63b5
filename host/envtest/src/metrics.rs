//! A test `metrics.k8s.io/v1beta1` server behind the apiserver's aggregation layer.
//!
//! [`MetricsServer`] plays metrics-server: an HTTPS server on `127.0.0.1` with a serving
//! certificate from the control plane's CA, answering what the aggregator and a metrics
//! client ask of `metrics.k8s.io/v1beta1` with the usage a test set per pod.
//! [`crate::ControlPlane::register_metrics_server`] registers it as the APIService
//! [`API_SERVICE`], after which clients read pod metrics through the apiserver, with its
//! authentication and RBAC, exactly as from a real cluster:
//!
//! ```no_run
//! # async fn demo() -> Result<(), antfly_envtest::Error> {
//! use std::collections::BTreeMap;
//! let cp = antfly_envtest::ControlPlane::start().await?;
//! let metrics = cp.start_metrics_server().await?; // started and registered
//! let labels = BTreeMap::from([("app".to_owned(), "antfly".to_owned())]);
//! metrics.set_pod("ns", "antfly-0", labels, [("antfly", "250m", "512Mi")]);
//! // GET /apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app%3Dantfly
//! # Ok(()) }
//! ```
//!
//! The server authenticates nobody: the aggregator has already authenticated and authorized
//! the caller, whose identity it passes in `X-Remote-User` and `X-Remote-Group`, which the
//! server records ([`MetricsServer::requests`]) so that a test can assert who asked.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{ControlPlane, Error};

/// The API group served.
pub const GROUP: &str = "metrics.k8s.io";

/// The API version served.
pub const VERSION: &str = "v1beta1";

/// Name of the APIService that [`crate::ControlPlane::register_metrics_server`] creates.
pub const API_SERVICE: &str = "v1beta1.metrics.k8s.io";

/// Namespace of the Service the APIService points at (metrics-server's usual home).
pub const SERVICE_NAMESPACE: &str = "kube-system";

/// Name of the Service the APIService points at. The serving certificate is for
/// `<SERVICE_NAME>.<SERVICE_NAMESPACE>.svc`, the name the aggregator verifies.
pub const SERVICE_NAME: &str = "antfly-envtest-metrics";

/// The `window` reported with every sample.
const WINDOW: &str = "15s";

/// How long a client may take over the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Usage of one container, as Kubernetes quantities (`"250m"`, `"512Mi"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container's name.
    pub name: String,
    /// CPU usage, e.g. `"250m"`.
    pub cpu: String,
    /// Memory usage (working set), e.g. `"512Mi"`.
    pub memory: String,
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsRequest {
    /// HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// `X-Remote-User`: the caller as the aggregator authenticated it.
    pub remote_user: Option<String>,
    /// Every `X-Remote-Group` value, in order.
    pub remote_groups: Vec<String>,
    /// The status code answered.
    pub status: u16,
}

impl MetricsRequest {
    /// Whether this asked for pod metrics (a list or a single pod), rather than discovery
    /// or health, which the aggregator asks for on its own.
    pub fn is_pod_metrics(&self) -> bool {
        let prefix = format!("/apis/{GROUP}/{VERSION}/");
        self.path.strip_prefix(&prefix).is_some_and(|rest| {
            let segments: Vec<&str> = rest.split('/').collect();
            matches!(segments.as_slice(), ["pods"] | ["namespaces", _, "pods"] | ["namespaces", _, "pods", _])
        })
    }
}

#[derive(Debug)]
struct PodUsage {
    labels: BTreeMap<String, String>,
    containers: Vec<ContainerUsage>,
}

#[derive(Debug, Default)]
struct State {
    /// By (namespace, name).
    pods: BTreeMap<(String, String), PodUsage>,
    requests: Vec<MetricsRequest>,
}

/// A running test metrics server; dropping it stops it (its APIService then turns
/// unavailable, and metrics requests through the apiserver fail with 503).
pub struct MetricsServer {
    address: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer").field("address", &self.address).finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Starts the server on a free `127.0.0.1` port, with a serving certificate signed by
    /// `control_plane`'s CA for `<SERVICE_NAME>.<SERVICE_NAMESPACE>.svc`, `127.0.0.1` and
    /// `localhost`. It serves no pods until [`Self::set_pod`]. Must run inside a Tokio
    /// runtime; register it with [`ControlPlane::register_metrics_server`].
    pub async fn start(control_plane: &ControlPlane) -> Result<Self, Error> {
        let service_dns = format!("{SERVICE_NAME}.{SERVICE_NAMESPACE}.svc");
        let pair = control_plane.pki.serving_for(
            "the metrics server's serving certificate",
            SERVICE_NAME,
            &[&service_dns, "127.0.0.1", "localhost"],
        )?;
        let acceptor = tls_acceptor(&pair.cert_pem, &pair.key_pem)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| Error::io("binding a loopback port for the metrics server", e))?;
        let address = listener.local_addr().map_err(|e| Error::io("reading the metrics server's address", e))?;
        let state = Arc::new(Mutex::new(State::default()));
        let server = tokio::spawn(serve(listener, acceptor, state.clone()));
        tracing::debug!(%address, "metrics server listening");
        Ok(Self { address, ca_pem: control_plane.pki.ca_pem(), state, server })
    }

    /// Where the server listens (`127.0.0.1:<port>`).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The PEM of the CA that signed the serving certificate: the APIService's `caBundle`.
    pub fn ca_bundle_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Sets (or replaces) the metrics of pod `namespace/name`: its labels, which
    /// `labelSelector` matches against, and per container `(name, cpu, memory)` usage as
    /// Kubernetes quantities, e.g. `("antfly", "250m", "512Mi")`.
    pub fn set_pod<N, C, M>(
        &self,
        namespace: &str,
        name: &str,
        labels: BTreeMap<String, String>,
        containers: impl IntoIterator<Item = (N, C, M)>,
    ) where
        N: Into<String>,
        C: Into<String>,
        M: Into<String>,
    {
        let containers = containers
            .into_iter()
            .map(|(name, cpu, memory)| ContainerUsage { name: name.into(), cpu: cpu.into(), memory: memory.into() })
            .collect();
        self.lock().pods.insert((namespace.to_owned(), name.to_owned()), PodUsage { labels, containers });
    }

    /// Stops serving metrics for pod `namespace/name` (as for a pod not yet scraped);
    /// returns whether it had any.
    pub fn remove_pod(&self, namespace: &str, name: &str) -> bool {
        self.lock().pods.remove(&(namespace.to_owned(), name.to_owned())).is_some()
    }

    /// Every request answered so far, oldest first, the aggregator's own discovery and
    /// availability checks included (see [`MetricsRequest::is_pod_metrics`]).
    pub fn requests(&self) -> Vec<MetricsRequest> {
        self.lock().requests.clone()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// How many pod-metrics requests (lists or single pods) were answered so far.
    pub fn pod_metrics_request_count(&self) -> usize {
        self.lock().requests.iter().filter(|r| r.is_pod_metrics()).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn tls_acceptor(cert_pem: &str, key_pem: &str) -> Result<TlsAcceptor, Error> {
    let what = "the metrics server";
    let pem = |text: &str, kind: &str| {
        pem::parse(text)
            .map(pem::Pem::into_contents)
            .map_err(|e| Error::Invalid(format!("parsing the {kind} PEM of {what}: {e}")))
    };
    let cert = CertificateDer::from(pem(cert_pem, "certificate")?);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pem(key_pem, "key")?));
    // ring explicitly: the process-wide default provider may be unset (or ambiguous).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(vec![cert], key))
        .map_err(|source| Error::Tls { what, source })?;
    // HTTP/1.1 only; the aggregator's Go client uses it when h2 is not offered.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until the task is aborted; aborting it drops the set of connection
/// tasks, which aborts them too.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "metrics server: accept failed");
                    continue;
                }
            },
            // Reap finished connections so the set does not grow with every request.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        connections.spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "metrics server: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("metrics server: TLS handshake timed out");
                    return;
                }
            };
            let service = service_fn(move |request| answer(state.clone(), request));
            // A connection the client dropped ends with an error; nothing to do about it.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let headers = request.headers();
    let header = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned);
    let remote_user = header("x-remote-user").next();
    let remote_groups = header("x-remote-group").collect();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let reply = route(&state, &method, &path, query.as_deref());
    state.requests.push(MetricsRequest { method, path, query, remote_user, remote_groups, status: reply.status });
    drop(state);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(reply.content_type));
    Ok(response)
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply { status, content_type: "application/json", body: body.to_string().into_bytes() }
}

fn text_reply(status: u16, body: &str) -> Reply {
    Reply { status, content_type: "text/plain; charset=utf-8", body: body.as_bytes().to_vec() }
}

/// A `meta.k8s.io/v1` Status for a failed request.
fn status_reply(code: u16, reason: &str, message: String, details: Option<Value>) -> Reply {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let (Some(details), Some(object)) = (details, status.as_object_mut()) {
        object.insert("details".to_owned(), details);
    }
    json_reply(code, &status)
}

fn not_found(kind: &str, name: &str) -> Reply {
    status_reply(
        404,
        "NotFound",
        format!("{kind}.{GROUP} \"{name}\" not found"),
        Some(json!({"name": name, "group": GROUP, "kind": kind})),
    )
}

fn route(state: &State, method: &str, path: &str, query: Option<&str>) -> Reply {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if method != "GET" {
        return status_reply(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported by the test metrics server"),
            None,
        );
    }
    match segments.as_slice() {
        ["healthz" | "readyz" | "livez"] => text_reply(200, "ok"),
        // An empty but valid OpenAPI v2 document: on a 404 the apiserver logs an error
        // about the APIService at every retry. (v3 is optional; a 404 there is quiet.)
        ["openapi", "v2"] => json_reply(
            200,
            &json!({"swagger": "2.0", "info": {"title": "antfly-envtest metrics", "version": VERSION}, "paths": {}}),
        ),
        ["apis"] => json_reply(200, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group()]})),
        ["apis", GROUP] => json_reply(200, &api_group()),
        ["apis", GROUP, VERSION] => json_reply(200, &api_resources()),
        ["apis", GROUP, VERSION, "pods"] => list_pods(state, None, query),
        ["apis", GROUP, VERSION, "namespaces", namespace, "pods"] => list_pods(state, Some(namespace), query),
        ["apis", GROUP, VERSION, "namespaces", namespace, "pods", name] => {
            match state.pods.get(&((*namespace).to_owned(), (*name).to_owned())) {
                Some(usage) => json_reply(200, &pod_metrics(namespace, name, usage)),
                None => not_found("pods", name),
            }
        }
        // No nodes: there are none in the test control plane.
        ["apis", GROUP, VERSION, "nodes"] => json_reply(
            200,
            &json!({"kind": "NodeMetricsList", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": {}, "items": []}),
        ),
        ["apis", GROUP, VERSION, "nodes", name] => not_found("nodes", name),
        _ => status_reply(404, "NotFound", format!("the test metrics server does not serve {path}"), None),
    }
}

fn api_group() -> Value {
    let version = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [version],
        "preferredVersion": version,
    })
}

fn api_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
        ],
    })
}

fn list_pods(state: &State, namespace: Option<&str>, query: Option<&str>) -> Reply {
    let mut selector = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "labelSelector" => match parse_selector(&value) {
                Ok(terms) => selector.extend(terms),
                Err(message) => return status_reply(400, "BadRequest", message, None),
            },
            // metrics-server supports it; silently ignoring it would answer the wrong pods.
            "fieldSelector" if !value.is_empty() => {
                return status_reply(
                    400,
                    "BadRequest",
                    "fieldSelector is not supported by the test metrics server".to_owned(),
                    None,
                );
            }
            _ => {}
        }
    }
    let items: Vec<Value> = state
        .pods
        .iter()
        .filter(|((ns, _), usage)| {
            namespace.is_none_or(|n| n == ns) && selector.iter().all(|t| t.matches(&usage.labels))
        })
        .map(|((ns, name), usage)| pod_metrics(ns, name, usage))
        .collect();
    json_reply(
        200,
        &json!({"kind": "PodMetricsList", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": {}, "items": items}),
    )
}

fn pod_metrics(namespace: &str, name: &str, usage: &PodUsage) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let containers: Vec<Value> =
        usage.containers.iter().map(|c| json!({"name": c.name, "usage": {"cpu": c.cpu, "memory": c.memory}})).collect();
    json!({
        "kind": "PodMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": usage.labels,
            "creationTimestamp": now,
        },
        "timestamp": now,
        "window": WINDOW,
        "containers": containers,
    })
}

/// One term of an equality-based label selector.
#[derive(Debug, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

impl Term {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Equals(k, v) => labels.get(k) == Some(v),
            Self::NotEquals(k, v) => labels.get(k) != Some(v),
            Self::Exists(k) => labels.contains_key(k),
            Self::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// Parses `k=v`, `k==v`, `k!=v`, `k` and `!k` terms separated by commas. Set-based terms
/// (`k in (a,b)`) are refused rather than misread.
fn parse_selector(selector: &str) -> Result<Vec<Term>, String> {
    let refuse = |term: &str, why: &str| Err(format!("label selector term {term:?} {why}"));
    let mut terms = Vec::new();
    for raw in selector.split(',') {
        let term = raw.trim();
        if term.is_empty() {
            if selector.trim().is_empty() {
                continue;
            }
            return refuse(raw, "is empty");
        }
        if term.contains(['(', ')', ' ']) {
            return refuse(term, "is set-based, which the test metrics server does not support");
        }
        let parsed = if let Some((k, v)) = term.split_once("!=") {
            Term::NotEquals(k.to_owned(), v.to_owned())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Term::Equals(k.to_owned(), v.to_owned())
        } else if let Some(k) = term.strip_prefix('!') {
            Term::NotExists(k.to_owned())
        } else {
            Term::Exists(term.to_owned())
        };
        let key = match &parsed {
            Term::Equals(k, _) | Term::NotEquals(k, _) | Term::Exists(k) | Term::NotExists(k) => k,
        };
        if key.is_empty() || key.contains(['=', '!']) {
            return refuse(term, "has no valid key");
        }
        terms.push(parsed);
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn state() -> State {
        let mut state = State::default();
        for (ns, name, app, cpu) in [("a", "x-0", "x", "100m"), ("a", "y-0", "y", "200m"), ("b", "x-0", "x", "300m")] {
            state.pods.insert(
                (ns.to_owned(), name.to_owned()),
                PodUsage {
                    labels: labels(&[("app", app), ("tier", "db")]),
                    containers: vec![ContainerUsage {
                        name: "main".to_owned(),
                        cpu: cpu.to_owned(),
                        memory: "1Gi".to_owned(),
                    }],
                },
            );
        }
        state
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).expect("JSON body")
    }

    fn names(reply: &Reply) -> Vec<String> {
        body(reply)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                let field = |key: &str| i["metadata"][key].as_str().unwrap_or_default().to_owned();
                format!("{}/{}", field("namespace"), field("name"))
            })
            .collect()
    }

    #[test]
    fn selectors_parse_equality_terms_and_refuse_sets() {
        assert_eq!(
            parse_selector("app=x,tier==db,env!=prod,owner,!gone").expect("parses"),
            vec![
                Term::Equals("app".into(), "x".into()),
                Term::Equals("tier".into(), "db".into()),
                Term::NotEquals("env".into(), "prod".into()),
                Term::Exists("owner".into()),
                Term::NotExists("gone".into()),
            ]
        );
        assert_eq!(parse_selector("").expect("empty selects all"), vec![]);
        assert!(parse_selector("app in (x,y)").is_err());
        assert!(parse_selector("app=x,").is_err());
        assert!(parse_selector("=x").is_err());
    }

    #[test]
    fn lists_honour_namespace_and_label_selector() {
        let state = state();
        let reply =
            route(&state, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/a/pods", Some("labelSelector=app%3Dx"));
        assert_eq!(reply.status, 200);
        assert_eq!(names(&reply), vec!["a/x-0"]);
        let all = route(&state, "GET", "/apis/metrics.k8s.io/v1beta1/pods", Some("labelSelector=tier%3Ddb"));
        assert_eq!(names(&all).len(), 3);
        let item = &body(&reply)["items"][0];
        assert_eq!(item["containers"][0]["usage"]["cpu"], "100m");
        assert_eq!(item["kind"], "PodMetrics");
        let bad = route(&state, "GET", "/apis/metrics.k8s.io/v1beta1/pods", Some("labelSelector=app+in+%28x%29"));
        assert_eq!(bad.status, 400);
    }

    #[test]
    fn single_pods_and_unknown_paths() {
        let state = state();
        let found = route(&state, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/b/pods/x-0", None);
        assert_eq!(found.status, 200);
        assert_eq!(body(&found)["containers"][0]["usage"]["cpu"], "300m");
        let missing = route(&state, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/b/pods/nope", None);
        assert_eq!(missing.status, 404);
        assert_eq!(body(&missing)["reason"], "NotFound");
        assert_eq!(route(&state, "GET", "/openapi/v3", None).status, 404);
        assert_eq!(body(&route(&state, "GET", "/openapi/v2", None))["swagger"], "2.0");
        assert_eq!(route(&state, "POST", "/apis/metrics.k8s.io/v1beta1/pods", None).status, 405);
        assert_eq!(route(&state, "GET", "/livez", None).body, b"ok");
        let discovery = body(&route(&state, "GET", "/apis/metrics.k8s.io/v1beta1", None));
        assert_eq!(discovery["resources"][1]["name"], "pods");
        assert_eq!(discovery["resources"][1]["namespaced"], true);
    }

    #[test]
    fn pod_metrics_requests_are_recognised() {
        let request = |path: &str| MetricsRequest {
            method: "GET".into(),
            path: path.into(),
            query: None,
            remote_user: None,
            remote_groups: vec![],
            status: 200,
        };
        assert!(request("/apis/metrics.k8s.io/v1beta1/namespaces/a/pods").is_pod_metrics());
        assert!(request("/apis/metrics.k8s.io/v1beta1/namespaces/a/pods/x").is_pod_metrics());
        assert!(request("/apis/metrics.k8s.io/v1beta1/pods").is_pod_metrics());
        assert!(!request("/apis/metrics.k8s.io/v1beta1").is_pod_metrics());
        assert!(!request("/apis/metrics.k8s.io/v1beta1/nodes").is_pod_metrics());
    }
}

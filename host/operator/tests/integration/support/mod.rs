//! Shared helpers of the controller tests: manifests, an in-process operator, polling.

pub mod deploy;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use antfly_envtest::{AuditEvent, ControlPlane};
use antfly_operator::compose::NoPlugins;
use antfly_operator::controller::leader::LeaderState;
use antfly_operator::controller::metrics::Metrics;
use antfly_operator::controller::{self, OperatorConfig};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const OPERATOR_USER: &str = "system:serviceaccount:antfly-system:antfly-operator";
const OPERATOR_GROUPS: &[&str] =
    &["system:serviceaccounts", "system:serviceaccounts:antfly-system", "system:authenticated"];

pub fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).expect("repository file")
}

/// Server-side apply every document of a multi-document manifest, for real.
pub async fn apply_manifests(client: &Client, yaml: &str) {
    for doc in
        yaml.split("\n---").filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
    {
        let object: DynamicObject = serde_saphyr::from_str(doc).expect("manifest document");
        let types = object.types.clone().expect("apiVersion and kind");
        let gvk = kube::api::GroupVersionKind::try_from(&types).expect("gvk");
        // The plural is derived from the kind; namespaced objects in our manifests name their namespace.
        let resource = ApiResource::from_gvk(&gvk);
        let name = object.metadata.name.clone().expect("name");
        let api: Api<DynamicObject> = match object.metadata.namespace.as_deref() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        api.patch(&name, &PatchParams::apply("antfly-tests").force(), &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("apply {} {name}: {e}", types.kind));
    }
}

/// Install the CRDs and wait until the API server serves them.
pub async fn install_crds(client: &Client) {
    install_crds_from(client, "crds/antfly.io.yaml").await;
}

/// Install the CRDs of the repository file `path` and wait until the API server serves them.
pub async fn install_crds_from(client: &Client, path: &str) {
    apply_manifests(client, &repo_file(path)).await;
    let clusters: Api<antfly_operator::api::AntflyCluster> = Api::all(client.clone());
    eventually("CRDs served", || async { clusters.list(&Default::default()).await.is_ok() }).await;
}

/// Apply the CRDs, then [`install_chart`]: the operator then runs, as [`operator_client`],
/// under exactly the chart's RBAC.
pub async fn install_operator_manifests(client: &Client) {
    install_crds(client).await;
    install_chart(client).await;
}

/// Apply the operator's namespace and the Helm chart rendered with its default values
/// (ServiceAccount, RBAC, metrics Service, Deployment), without the CRDs.
pub async fn install_chart(client: &Client) {
    apply_manifests(client, &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n", deploy::NAMESPACE))
        .await;
    let chart = deploy::chart_manifests();
    let docs = deploy::documents(chart);
    let account = deploy::find(&docs, "ServiceAccount", deploy::RELEASE);
    assert_eq!(
        format!(
            "system:serviceaccount:{}:{}",
            account["metadata"]["namespace"].as_str().unwrap_or_default(),
            account["metadata"]["name"].as_str().unwrap_or_default()
        ),
        OPERATOR_USER,
        "the tests authenticate as the chart's ServiceAccount"
    );
    apply_manifests(client, chart).await;
}

/// A client authenticated as the operator's ServiceAccount, so RBAC is the deployed one.
pub fn operator_client(cp: &ControlPlane) -> Client {
    cp.client_for_user(OPERATOR_USER, OPERATOR_GROUPS).expect("operator client")
}

pub fn client_as(cp: &ControlPlane, user: &str) -> Client {
    cp.client_for_user(user, &["system:authenticated"]).expect("client")
}

/// Where the operator finds the Antfly servers, and how often it reads metrics.
struct Servers {
    health_port: u16,
    antfly_api_url: Option<String>,
    autoscale_interval: Duration,
}

impl Default for Servers {
    fn default() -> Self {
        Self {
            health_port: antfly_operator::base::ports::HEALTH_PORT,
            antfly_api_url: None,
            autoscale_interval: antfly_operator::scaling::autoscale::EVALUATION_INTERVAL,
        }
    }
}

/// An operator running in this process, as it runs in its Deployment.
pub struct RunningOperator {
    pub metrics: Arc<Metrics>,
    pub leader: Arc<LeaderState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), controller::RunError>>,
}

impl RunningOperator {
    pub fn start(client: Client, identity: &str) -> Self {
        Self::start_with(client, identity, Arc::new(Metrics::default()), Arc::new(NoPlugins))
    }

    /// An operator whose pods' servers are the Antfly API double `double`: rollouts check
    /// health on its port (the test's kubelet gives every pod a loopback address), drains call
    /// its API, and the autoscaler reads metrics every second.
    pub fn start_against(client: Client, identity: &str, double: &antfly_double::AntflyDouble) -> Self {
        let clock = Arc::new(antfly_operator::controller::clock::SystemClock);
        let metrics = Arc::new(Metrics::default());
        let servers = Servers {
            health_port: double.address().port(),
            antfly_api_url: Some(double.base_url().to_string()),
            autoscale_interval: Duration::from_secs(1),
        };
        Self::start_configured(client, identity, metrics, Arc::new(NoPlugins), clock, Default::default(), servers)
    }

    /// An operator with real plugins; `metrics` should be their call observer too.
    pub fn start_with(
        client: Client,
        identity: &str,
        metrics: Arc<Metrics>,
        resolver: Arc<dyn antfly_operator::compose::ExtensionResolver>,
    ) -> Self {
        let clock = Arc::new(antfly_operator::controller::clock::SystemClock);
        Self::start_with_clock(client, identity, metrics, resolver, clock, Default::default())
    }

    /// An operator reading `clock`; notifying `reconcile_all` reconciles everything again
    /// (after the test moves the clock).
    pub fn start_with_clock(
        client: Client,
        identity: &str,
        metrics: Arc<Metrics>,
        resolver: Arc<dyn antfly_operator::compose::ExtensionResolver>,
        clock: Arc<dyn antfly_operator::controller::clock::Clock>,
        reconcile_all: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self::start_configured(client, identity, metrics, resolver, clock, reconcile_all, Servers::default())
    }

    fn start_configured(
        client: Client,
        identity: &str,
        metrics: Arc<Metrics>,
        resolver: Arc<dyn antfly_operator::compose::ExtensionResolver>,
        clock: Arc<dyn antfly_operator::controller::clock::Clock>,
        reconcile_all: Arc<tokio::sync::Notify>,
        servers: Servers,
    ) -> Self {
        let leader = Arc::new(LeaderState::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let config = OperatorConfig {
            watch_namespace: None,
            lease_namespace: "antfly-system".into(),
            lease_name: "antfly-operator-leader".into(),
            identity: identity.into(),
            resync: Duration::from_secs(2),
            resolver,
            reconcile_all,
            clock,
            job_image: "localhost/antfly-operator:test".into(),
            pod_health_checks: true,
            pod_health_port: servers.health_port,
            antfly_api_url: servers.antfly_api_url,
            autoscale_interval: servers.autoscale_interval,
            write_limit: (
                antfly_operator::controller::throttle::DEFAULT_WRITES_PER_SECOND,
                antfly_operator::controller::throttle::DEFAULT_WRITE_BURST,
            ),
        };
        let task = tokio::spawn(controller::run(client, config, metrics.clone(), leader.clone(), async move {
            let _ = stopped.await;
        }));
        Self { metrics, leader, stop: Some(stop), task }
    }

    pub fn successful_reconciles(&self) -> u64 {
        use antfly_operator::controller::metrics::ResultLabel;
        self.metrics.reconciles.get_or_create(&ResultLabel { result: "ok" }).get()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.task).await;
    }
}

/// Poll `check` until it holds, for up to 60 s (generous: CI runs many control planes at once).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Writes by `user` to anything but leases and events (the bookkeeping every replica does).
pub fn object_writes(cp: &ControlPlane, user: &str) -> Vec<AuditEvent> {
    cp.audit_events()
        .expect("audit log")
        .into_iter()
        .filter(|e| e.user == user)
        .filter(|e| e.object_ref.as_ref().is_some_and(|o| o.resource != "leases" && o.resource != "events"))
        .collect()
}

/// Every request by `user` (reads included) but lease renewals, events and long-running watches.
pub fn object_requests(cp: &ControlPlane, user: &str) -> Vec<AuditEvent> {
    cp.audit_requests()
        .expect("audit log")
        .into_iter()
        .filter(|e| e.user == user && e.verb != "watch")
        .filter(|e| e.object_ref.as_ref().is_none_or(|o| o.resource != "leases" && o.resource != "events"))
        .collect()
}

pub fn describe(events: &[AuditEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let o = e.object_ref.as_ref();
            format!(
                "{} {}/{} {}",
                e.verb,
                o.map(|o| o.resource.as_str()).unwrap_or_default(),
                o.map(|o| o.name.as_str()).unwrap_or_default(),
                o.map(|o| o.subresource.as_str()).unwrap_or_default()
            )
        })
        .collect()
}

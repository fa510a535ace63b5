//! Smoke tests of the harness against a real kube-apiserver and etcd.
//!
//! Needs the binaries from `bash .ci/control-plane.sh`; fails (does not
//! skip) without them. The tests run in parallel, each with its own
//! control plane.

use std::collections::BTreeMap;
use std::time::Duration;

use antfly_envtest::{ADMIN_USER, ControlPlane};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec, PodTemplateSpec, Secret};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};

const AUDIT_WAIT: Duration = Duration::from_secs(10);

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() }
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace { metadata: meta(name), ..Namespace::default() };
    namespaces.create(&PostParams::default(), &ns).await.expect("create namespace");
}

fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn admin_writes_are_audited_and_rbac_denies_others() {
    let cp = ControlPlane::start().await.expect("start control plane");
    let client = cp.client();
    create_namespace(&client, "smoke").await;

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "smoke");
    let cm = ConfigMap {
        metadata: meta("settings"),
        data: Some(BTreeMap::from([("key".to_owned(), "value".to_owned())])),
        ..ConfigMap::default()
    };
    config_maps.create(&PostParams::default(), &cm).await.expect("create config map");
    let read = config_maps.get("settings").await.expect("get config map");
    assert_eq!(read.data.as_ref().and_then(|d| d.get("key")).map(String::as_str), Some("value"));

    let is_our_create = |e: &antfly_envtest::AuditEvent| {
        e.user == ADMIN_USER && e.verb == "create" && e.resource() == "configmaps" && e.namespace() == "smoke"
    };
    let events = cp
        .wait_for_audit_events(AUDIT_WAIT, |events| events.iter().any(is_our_create))
        .await
        .unwrap_or_else(|e| panic!("{e}\napiserver log:\n{}", cp.apiserver_log_tail()));
    let creates: Vec<_> = events.iter().filter(|e| is_our_create(e)).collect();
    assert_eq!(creates.len(), 1, "{creates:#?}");
    let create = creates[0];
    assert_eq!(create.name(), "settings");
    assert_eq!(create.response_code, Some(201));
    assert_eq!(create.stage, "ResponseComplete");
    assert!(create.groups.iter().any(|g| g == "system:masters"));
    assert_eq!(create.user_agent.as_deref(), Some(antfly_envtest::USER_AGENT));
    assert!(
        events.iter().any(|e| e.user == ADMIN_USER && e.resource() == "namespaces" && e.name() == "smoke"),
        "namespace create not audited: {events:#?}"
    );
    // `audit_events` holds writes only; `audit_requests` has the reads too.
    assert!(events.iter().all(|e| !matches!(e.verb.as_str(), "get" | "list" | "watch")), "{events:#?}");
    let requests = cp.audit_requests().expect("audit log");
    assert!(
        requests.iter().any(|e| e.user == ADMIN_USER && e.verb == "get" && e.resource() == "configmaps"),
        "reads are audited: {requests:#?}"
    );

    let bob = cp.client_for_user("bob", &["developers"]).expect("client for bob");
    let secrets: Api<Secret> = Api::namespaced(bob, "smoke");
    let err = secrets.list(&ListParams::default()).await.expect_err("bob may not list secrets");
    assert_eq!(status_code(&err), Some(403), "{err:?}");
}

#[tokio::test]
async fn certificate_groups_reach_rbac() {
    let cp = ControlPlane::start().await.expect("start control plane");
    let client = cp.client();
    create_namespace(&client, "team").await;

    let roles: Api<Role> = Api::namespaced(client.clone(), "team");
    let role = Role {
        metadata: meta("read-config-maps"),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".to_owned()]),
            verbs: vec!["get".to_owned(), "list".to_owned()],
            ..PolicyRule::default()
        }]),
    };
    roles.create(&PostParams::default(), &role).await.expect("create role");
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "team");
    let binding = RoleBinding {
        metadata: meta("team-c-reads"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: "read-config-maps".to_owned(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Group".to_owned(),
            name: "team-c".to_owned(),
            ..Subject::default()
        }]),
    };
    bindings.create(&PostParams::default(), &binding).await.expect("create role binding");

    let carol = cp.client_for_user("carol", &["team-a", "team-b", "team-c"]).expect("client for carol");

    let reviews: Api<SelfSubjectReview> = Api::all(carol.clone());
    let review =
        reviews.create(&PostParams::default(), &SelfSubjectReview::default()).await.expect("self subject review");
    let info = review.status.and_then(|s| s.user_info).expect("user info in review");
    assert_eq!(info.username.as_deref(), Some("carol"));
    let groups = info.groups.unwrap_or_default();
    for g in ["team-a", "team-b", "team-c", "system:authenticated"] {
        assert!(groups.iter().any(|x| x == g), "{g} missing from {groups:?}");
    }

    let config_maps: Api<ConfigMap> = Api::namespaced(carol.clone(), "team");
    config_maps.list(&ListParams::default()).await.expect("carol may list config maps through group team-c");
    let err = config_maps
        .create(&PostParams::default(), &ConfigMap { metadata: meta("nope"), ..ConfigMap::default() })
        .await
        .expect_err("carol may not create config maps");
    assert_eq!(status_code(&err), Some(403), "{err:?}");

    // The denied write is audited with carol's identity and the 403.
    let events = cp
        .wait_for_audit_events(AUDIT_WAIT, |events| events.iter().any(|e| e.user == "carol"))
        .await
        .expect("carol's denied create in the audit log");
    let carol_writes: Vec<_> = events.iter().filter(|e| e.user == "carol").collect();
    assert_eq!(carol_writes.len(), 2, "{carol_writes:#?}"); // review + denied create
    let denied = carol_writes.iter().find(|e| e.resource() == "configmaps").expect("config map create");
    assert_eq!(denied.response_code, Some(403));
    assert!(!denied.succeeded());
}

#[tokio::test]
async fn pods_and_stateful_sets_need_no_controllers_and_kubeconfig_works() {
    let cp = ControlPlane::start().await.expect("start control plane");

    // The kubeconfig written for subprocesses, read the way kube-rs reads one.
    let kubeconfig = kube::config::Kubeconfig::read_from(cp.kubeconfig_path()).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config from kubeconfig");
    let client = kube::Client::try_from(config).expect("client from kubeconfig");
    create_namespace(&client, "workloads").await;

    let container = Container {
        name: "main".to_owned(),
        image: Some("example.invalid/antfly:test".to_owned()),
        ..Container::default()
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), "workloads");
    pods.create(
        &PostParams::default(),
        &Pod {
            metadata: meta("standalone"),
            spec: Some(PodSpec { containers: vec![container.clone()], ..PodSpec::default() }),
            ..Pod::default()
        },
    )
    .await
    .expect("create pod without a default service account");

    let labels = BTreeMap::from([("app".to_owned(), "antfly".to_owned())]);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "workloads");
    sets.create(
        &PostParams::default(),
        &StatefulSet {
            metadata: meta("antfly"),
            spec: Some(StatefulSetSpec {
                replicas: Some(3),
                selector: LabelSelector { match_labels: Some(labels.clone()), ..LabelSelector::default() },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
                    spec: Some(PodSpec { containers: vec![container], ..PodSpec::default() }),
                },
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        },
    )
    .await
    .expect("create stateful set");

    // Nothing reconciles it: no pods appear for the stateful set.
    let listed = pods.list(&ListParams::default()).await.expect("list pods");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn the_controller_manager_makes_pods_and_claims_and_collects_garbage() {
    use antfly_envtest::kubelet::report_pod;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use kube::api::{DeleteParams, PropagationPolicy};

    let cp = ControlPlane::start_with_controller_manager().await.expect("start control plane");
    let client = cp.client();
    create_namespace(&client, "kcm").await;
    let labels = BTreeMap::from([("app".to_owned(), "antfly".to_owned())]);
    let claim = PersistentVolumeClaim {
        metadata: meta("data"),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity("1Gi".to_owned()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "kcm");
    sets.create(
        &PostParams::default(),
        &StatefulSet {
            metadata: meta("antfly"),
            spec: Some(StatefulSetSpec {
                replicas: Some(2),
                pod_management_policy: Some("Parallel".to_owned()),
                selector: LabelSelector { match_labels: Some(labels.clone()), ..LabelSelector::default() },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "main".to_owned(),
                            image: Some("example.invalid/antfly:test".to_owned()),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                volume_claim_templates: Some(vec![claim]),
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        },
    )
    .await
    .expect("create stateful set");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "kcm");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "kcm");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let made = pods.list(&ListParams::default()).await.expect("list pods").items.len();
        let claimed = claims.list(&ListParams::default()).await.expect("list claims").items.len();
        if made == 2 && claimed == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the StatefulSet made {made} pods and {claimed} claims; controller-manager log:\n{}",
            cp.controller_manager_log_tail().unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in ["antfly-0", "antfly-1"] {
        report_pod(&pods, name, true, "127.0.0.1").await.expect("report pod ready");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sets.get("antfly").await.expect("get").status.and_then(|s| s.ready_replicas) != Some(2) {
        assert!(tokio::time::Instant::now() < deadline, "the StatefulSet never counted 2 ready pods");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Orphan deletion: the garbage collector strips the owner references and keeps the pods.
    sets.delete("antfly", &DeleteParams { propagation_policy: Some(PropagationPolicy::Orphan), ..Default::default() })
        .await
        .expect("delete orphaning");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let gone = sets.get_opt("antfly").await.expect("get").is_none();
        let orphaned = pods.list(&ListParams::default()).await.expect("list pods").items;
        if gone && orphaned.len() == 2 && orphaned.iter().all(|p| p.metadata.owner_references.is_none()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "orphan deletion did not finish: {orphaned:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pod_metrics_come_through_the_aggregation_layer() {
    use antfly_envtest::metrics::{API_SERVICE, MetricsRequest};
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    use serde_json::Value;

    let cp = ControlPlane::start().await.expect("start control plane");
    let client = cp.client();
    let metrics = antfly_envtest::MetricsServer::start(&cp).await.expect("start metrics server");
    cp.register_metrics_server(&metrics).await.expect("register metrics server");

    let labels = |app: &str| BTreeMap::from([("app".to_owned(), app.to_owned()), ("tier".to_owned(), "db".to_owned())]);
    metrics.set_pod("ns", "x-0", labels("x"), [("antfly", "250m", "512Mi"), ("sidecar", "5m", "16Mi")]);
    metrics.set_pod("ns", "x-1", labels("x"), [("antfly", "1500m", "1Gi")]);
    metrics.set_pod("ns", "y-0", labels("y"), [("antfly", "1", "2Gi")]);
    metrics.set_pod("other", "x-0", labels("x"), [("antfly", "2", "3Gi")]);

    let get = |path: &str| http::Request::get(path).body(Vec::new()).expect("request");
    let list: Value = client
        .request(get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app%3Dx"))
        .await
        .unwrap_or_else(|e| panic!("list pod metrics: {e}\napiserver log:\n{}", cp.apiserver_log_tail()));
    assert_eq!(list["kind"], "PodMetricsList", "{list:#}");
    let items = list["items"].as_array().expect("items");
    let usage: BTreeMap<String, Vec<(String, String, String)>> = items
        .iter()
        .map(|pod| {
            let containers = pod["containers"]
                .as_array()
                .expect("containers")
                .iter()
                .map(|c| {
                    let field = |v: &Value| v.as_str().expect("string").to_owned();
                    (field(&c["name"]), field(&c["usage"]["cpu"]), field(&c["usage"]["memory"]))
                })
                .collect();
            (pod["metadata"]["name"].as_str().expect("name").to_owned(), containers)
        })
        .collect();
    let expected = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        rows.iter().map(|(n, c, m)| ((*n).to_owned(), (*c).to_owned(), (*m).to_owned())).collect()
    };
    assert_eq!(
        usage,
        BTreeMap::from([
            ("x-0".to_owned(), expected(&[("antfly", "250m", "512Mi"), ("sidecar", "5m", "16Mi")])),
            ("x-1".to_owned(), expected(&[("antfly", "1500m", "1Gi")])),
        ])
    );

    // One pod, and a missing one: the server's 404 Status comes back as an API error.
    let one: Value =
        client.request(get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/y-0")).await.expect("get pod metrics");
    assert_eq!(one["containers"][0]["usage"]["memory"], "2Gi");
    assert!(metrics.remove_pod("ns", "y-0"));
    let err = client
        .request::<Value>(get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/y-0"))
        .await
        .expect_err("removed pod has no metrics");
    assert_eq!(status_code(&err), Some(404), "{err:?}");

    // The aggregator passed the caller's identity on.
    let asked: Vec<MetricsRequest> = metrics.requests().into_iter().filter(MetricsRequest::is_pod_metrics).collect();
    assert_eq!(asked.len(), 3, "{asked:#?}");
    assert!(asked.iter().all(|r| r.remote_user.as_deref() == Some(ADMIN_USER)), "{asked:#?}");
    assert!(asked[0].remote_groups.iter().any(|g| g == "system:masters"), "{asked:#?}");
    assert_eq!(asked[0].query.as_deref(), Some("labelSelector=app%3Dx"));

    // RBAC applies before the aggregator proxies: no rule for metrics.k8s.io, no metrics.
    let dave = cp.client_for_user("dave", &["developers"]).expect("client for dave");
    let err = dave
        .request::<Value>(get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app%3Dx"))
        .await
        .expect_err("dave may not read pod metrics");
    assert_eq!(status_code(&err), Some(403), "{err:?}");
    assert_eq!(metrics.pod_metrics_request_count(), 3, "a denied request reached the metrics server");

    // Registering another server (say, a restarted one) points the APIService at it.
    let second = cp.start_metrics_server().await.expect("start and register a second metrics server");
    drop(metrics);
    second.set_pod("ns", "x-0", labels("x"), [("antfly", "750m", "768Mi")]);
    let one: Value =
        client.request(get("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/x-0")).await.expect("get from the second");
    assert_eq!(one["containers"][0]["usage"]["cpu"], "750m");
    let api_services: Api<APIService> = Api::all(client.clone());
    let conditions = api_services.get(API_SERVICE).await.expect("get APIService").status.and_then(|s| s.conditions);
    assert!(
        conditions.unwrap_or_default().iter().any(|c| c.type_ == "Available" && c.status == "True"),
        "APIService not Available"
    );
}

//! Whatever `render` accepts, the real API server accepts: every example and 2,000 generated
//! and mutated specs are rendered, and every object of each accepted spec, the AntflyCluster
//! itself included (so the CRD's schema and CEL rules are checked too), is created on a real
//! kube-apiserver with server-side dry run (`dryRun=All`). Any rejection fails the test.

use crate::generated;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;

use antfly_envtest::ControlPlane;
use antfly_operator::extensions::{PluginOptions, PluginResolver};
use antfly_operator::render::{RenderError, desired, parse_cluster};
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Generated cases, on top of the examples.
const GENERATED_CASES: usize = 2_000;
/// Requests in flight at once; the API server on 2 cores keeps up with this many.
const CONCURRENCY: usize = 16;
const NAMESPACE: &str = "agree";

/// One input and what render made of it.
struct Case {
    label: String,
    yaml: String,
    /// The document as kubectl would send it (YAML turned into JSON).
    document: Value,
    /// The built objects as JSON, when render accepted the input.
    objects: Option<Vec<Value>>,
}

fn example_cases() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| (path.display().to_string(), std::fs::read_to_string(&path).expect("example")))
        .filter(|(_, text)| text.contains("kind: AntflyCluster"))
        .collect()
}

fn generated_cases() -> Vec<(String, String)> {
    (0..GENERATED_CASES)
        .map(|i| {
            let mut rng = generated::rng(i as u64);
            let document = generated::cluster(&mut rng, NAMESPACE, i, true);
            (format!("generated case {i} (seed {:#x})", generated::SEED), generated::to_yaml(&document))
        })
        .collect()
}

fn render_case(resolver: &PluginResolver, label: String, yaml: String) -> Case {
    let document: Value = serde_saphyr::from_str(&yaml).unwrap_or(Value::Null);
    let objects = match parse_cluster(&yaml).and_then(|cluster| desired(&cluster, &[], resolver)) {
        Ok(desired) => Some(desired.resources.to_json_objects().expect("objects serialise")),
        Err(RenderError::Invalid(_) | RenderError::WrongKind { .. }) => None,
        Err(other) => panic!("{label}: render failed for a reason other than the input: {other}"),
    };
    Case { label, yaml, document, objects }
}

async fn dry_run_create<K>(client: &Client, namespace: &str, object: &Value) -> Result<(), String>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let typed: K = serde_json::from_value(object.clone()).map_err(|e| format!("not a {}: {e}", K::kind(&())))?;
    let params = PostParams { dry_run: true, field_manager: Some("antfly-operator".into()) };
    Api::<K>::namespaced(client.clone(), namespace).create(&params, &typed).await.map(drop).map_err(|e| e.to_string())
}

/// Submit one object with `dryRun=All`; the error names the object.
async fn submit(client: &Client, object: &Value) -> Result<(), String> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default");
    let result = match kind {
        "ConfigMap" => dry_run_create::<ConfigMap>(client, namespace, object).await,
        "ServiceAccount" => dry_run_create::<ServiceAccount>(client, namespace, object).await,
        "Service" => dry_run_create::<Service>(client, namespace, object).await,
        "StatefulSet" => dry_run_create::<StatefulSet>(client, namespace, object).await,
        "PodDisruptionBudget" => dry_run_create::<PodDisruptionBudget>(client, namespace, object).await,
        "AntflyCluster" => {
            let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("antfly.io", "v1", "AntflyCluster"));
            let dynamic: DynamicObject = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
            let params = PostParams { dry_run: true, field_manager: Some("kubectl".into()) };
            Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
                .create(&params, &dynamic)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unexpected kind {other}")),
    };
    result.map_err(|e| format!("{kind} {namespace}/{name}: {e}"))
}

async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    match Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("create namespace {name}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_render_accepts_is_accepted_by_the_api_server() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agreement-plugin-cache");
    let cases = tokio::task::spawn_blocking(move || {
        let resolver = PluginResolver::load(&PluginOptions { cache_dir: Some(cache), ..PluginOptions::default() })
            .expect("bundled plugins load");
        example_cases()
            .into_iter()
            .chain(generated_cases())
            .map(|(label, yaml)| render_case(&resolver, label, yaml))
            .collect::<Vec<Case>>()
    })
    .await
    .expect("rendering finishes");

    let examples = cases.iter().filter(|c| !c.label.starts_with("generated")).count();
    let accepted: Vec<&Case> = cases.iter().filter(|c| c.objects.is_some()).collect();
    assert!(examples >= 15, "every cluster example is a case, found {examples}");
    assert!(
        cases.iter().filter(|c| !c.label.starts_with("generated")).all(|c| c.objects.is_some()),
        "every example renders"
    );
    assert!(accepted.len() >= 300, "the generator must produce many valid specs, got {}", accepted.len());
    assert!(cases.len() - accepted.len() >= 300, "and many invalid ones, got {}", cases.len() - accepted.len());

    let cp = ControlPlane::start().await.expect("control plane");
    let client = cp.client();
    crate::support::install_crds(&client).await;
    let namespaces: BTreeSet<String> = accepted
        .iter()
        .flat_map(|c| c.objects.iter().flatten())
        .filter_map(|o| o["metadata"]["namespace"].as_str().map(str::to_string))
        .collect();
    for namespace in &namespaces {
        create_namespace(&client, namespace).await;
    }

    let submissions: Vec<(&Case, Value)> = accepted
        .iter()
        .flat_map(|case| {
            let mut cluster = case.document.clone();
            if cluster["metadata"]["namespace"].is_null() {
                cluster["metadata"]["namespace"] = json!("default");
            }
            std::iter::once((*case, cluster)).chain(case.objects.iter().flatten().map(move |o| (*case, o.clone())))
        })
        .collect();
    let total = submissions.len();
    let rejections: Vec<String> = futures::stream::iter(submissions)
        .map(|(case, object)| {
            let client = client.clone();
            async move {
                submit(&client, &object).await.err().map(|error| {
                    let input: String = case.yaml.chars().take(3_000).collect();
                    format!("{}: {error}\n--- input ---\n{input}", case.label)
                })
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|r| async move { r })
        .collect()
        .await;
    eprintln!(
        "agreement: {} cases ({examples} examples), {} accepted by render, {total} objects submitted, {} rejected",
        cases.len(),
        accepted.len(),
        rejections.len()
    );
    assert!(
        rejections.is_empty(),
        "the API server rejected {} objects that render accepted; the first ones:\n{}",
        rejections.len(),
        rejections.iter().take(8).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// The CRD carries the rules that OpenAPI and CEL can express, so `kubectl apply` refuses
/// these specs at admission, as `render` does.
#[tokio::test]
async fn the_crd_refuses_at_admission_what_render_refuses() {
    let cp = ControlPlane::start().await.expect("control plane");
    let client = cp.client();
    crate::support::install_crds(&client).await;
    create_namespace(&client, NAMESPACE).await;
    let refused = [
        ("1c", json!({}), "metadata.name must be a DNS-1035 label"),
        (&"n".repeat(44), json!({}), "metadata.name must be a DNS-1035 label"),
        ("q1", json!({"dataNodes": {"resources": {"cpu": "0"}}}), "must be a quantity greater than zero"),
        ("q2", json!({"storage": {"dataStorage": "-1Gi"}}), "must be a quantity greater than zero"),
        ("q4", json!({"metadataNodes": {"resources": {"cpu": 0}}}), "must be a quantity greater than zero"),
        (
            "q3",
            json!({"dataNodes": {"resources": {"memory": "2Gi", "limits": {"memory": "1Gi"}}}}),
            "must be less than or equal to the memory limit",
        ),
        (
            "t1",
            json!({"dataNodes": {"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}]}}),
            "tolerationSeconds must have effect NoExecute",
        ),
        (
            "t2",
            json!({"metadataNodes": {"tolerations": [{"operator": "Equal", "value": "x"}]}}),
            "empty key must have operator Exists",
        ),
        (
            "s1",
            json!({"dataNodes": {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}]}}),
            "minDomains",
        ),
        (
            "s2",
            json!({"dataNodes": {"topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"},
                {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]}}),
            "Duplicate value",
        ),
    ];
    for (name, spec, expected) in refused {
        let document = json!({"apiVersion": "antfly.io/v1", "kind": "AntflyCluster",
                              "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec});
        let yaml = generated::to_yaml(&document);
        assert!(
            parse_cluster(&yaml).and_then(|c| desired(&c, &[], &antfly_operator::compose::NoPlugins)).is_err(),
            "render refuses {name}"
        );
        let error = submit(&client, &document).await.expect_err(name);
        assert!(error.contains(expected), "{name}: {error}");
    }
}

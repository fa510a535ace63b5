//! Operator cost against a real API server: time from creating an AntflyCluster until all its
//! children exist, and the operator's memory while it manages 100 clusters: the process's
//! RSS, its live heap (a counting allocator), and where that heap goes, kind by kind (each
//! kind's objects decoded and trimmed as the caches hold them).
//!
//! Needs the control plane binaries (`bash .ci/control-plane.sh`). Run:
//! `cargo bench -p antfly-operator --bench controller_scale`
//!
//! With `--features heap-profile` (and symbols: `CARGO_PROFILE_BENCH_STRIP=false`), dhat is the
//! allocator instead and writes `dhat-heap.json`: every allocation site's live bytes at the
//! moment the 100 clusters are measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use antfly_envtest::ControlPlane;
use antfly_operator::api::AntflyCluster;
use antfly_operator::compose::NoPlugins;
use antfly_operator::controller::leader::LeaderState;
use antfly_operator::controller::metrics::Metrics;
use antfly_operator::controller::{self, OperatorConfig};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const CLUSTERS: usize = 100;

/// The system allocator, counting the bytes live on the heap.
#[cfg_attr(feature = "heap-profile", expect(dead_code, reason = "dhat is the allocator"))]
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(not(feature = "heap-profile"))]
#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[cfg(feature = "heap-profile")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn live_kib() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed) / 1024
}

/// The heap bytes per object of one kind, decoded and trimmed as the operator's cache holds it.
async fn bytes_per_object<K>(client: &kube::Client, trim: fn(&mut K)) -> (usize, isize)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), "bench");
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut objects = api.list(&ListParams::default()).await.expect("list").items;
    objects.iter_mut().for_each(trim);
    objects.shrink_to_fit();
    let held = LIVE_BYTES.load(Ordering::Relaxed) - before;
    let count = objects.len();
    drop(objects);
    (count, held / count.max(1) as isize)
}

/// The average compressed and JSON text sizes of the cached objects of kind `K`.
async fn compression<K>(client: &kube::Client) -> (usize, usize)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    use antfly_operator::controller::compact::Compact;
    let api: Api<Compact<K>> = Api::namespaced(client.clone(), "bench");
    let objects = api.list(&ListParams::default()).await.expect("list").items;
    let count = objects.len().max(1);
    let compressed: usize = objects.iter().map(Compact::compressed_bytes).sum();
    let text: usize = objects.iter().map(|o| o.to_value().expect("decodes").to_string().len()).sum();
    (compressed / count, text / count)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn cluster(name: &str) -> AntflyCluster {
    serde_json::from_value(
        json!({"apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "metadata": {"name": name}, "spec": {}}),
    )
    .expect("cluster")
}

async fn install_crds(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in antfly_operator::api::crds() {
        crds.create(&PostParams::default(), &crd).await.expect("install CRD");
    }
    let clusters: Api<AntflyCluster> = Api::all(client.clone());
    while clusters.list(&ListParams::default()).await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    #[cfg(feature = "heap-profile")]
    let profiler = dhat::Profiler::new_heap();
    let cp = ControlPlane::start().await.expect("control plane (run bash .ci/control-plane.sh)");
    let client = cp.client();
    install_crds(&client).await;
    for ns in ["antfly-system", "bench"] {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.expect("namespace");
    }
    let rss_before = rss_kib();
    let heap_before = live_kib();
    let config = OperatorConfig {
        watch_namespace: None,
        lease_namespace: "antfly-system".into(),
        lease_name: "antfly-operator-leader".into(),
        identity: "bench".into(),
        resync: Duration::from_secs(300),
        resolver: Arc::new(NoPlugins),
        reconcile_all: Default::default(),
        clock: Arc::new(controller::clock::SystemClock),
        job_image: controller::default_job_image(),
        pod_health_checks: true,
        pod_health_port: antfly_operator::base::ports::HEALTH_PORT,
        antfly_api_url: None,
        autoscale_interval: antfly_operator::scaling::autoscale::EVALUATION_INTERVAL,
        write_limit: (
            antfly_operator::controller::throttle::DEFAULT_WRITES_PER_SECOND,
            antfly_operator::controller::throttle::DEFAULT_WRITE_BURST,
        ),
    };
    let leader = Arc::new(LeaderState::default());
    tokio::spawn(controller::run(
        client.clone(),
        config,
        Arc::new(Metrics::default()),
        leader.clone(),
        std::future::pending(),
    ));
    while !leader.is_leader() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let clusters: Api<AntflyCluster> = Api::namespaced(client.clone(), "bench");
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), "bench");
    let mut latencies = Vec::new();
    for i in 0..CLUSTERS {
        let name = format!("c{i}");
        let started = Instant::now();
        clusters.create(&PostParams::default(), &cluster(&name)).await.expect("create cluster");
        // The data StatefulSet is applied last but for PDBs (disabled here): all children exist.
        while statefulsets.get_opt(&format!("{name}-data")).await.ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_after = rss_kib();
    let heap_after = live_kib();
    #[cfg(feature = "heap-profile")]
    drop(profiler);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "create-to-children latency over {CLUSTERS} clusters: p50 {:?}, p90 {:?}, max {:?}",
        pct(0.5),
        pct(0.9),
        pct(1.0)
    );
    println!(
        "operator process RSS: {} MiB before the operator started, {} MiB managing {CLUSTERS} clusters",
        rss_before / 1024,
        rss_after / 1024
    );
    println!(
        "live heap: {heap_before} KiB before the operator started, {heap_after} KiB managing {CLUSTERS} clusters, \
         {} KiB per cluster",
        (heap_after - heap_before) / CLUSTERS as isize
    );
    use antfly_operator::controller::cache::trim;
    use antfly_operator::controller::compact::Compact;
    use k8s_openapi::api::core::v1::{ConfigMap, Service};
    let kinds = [
        ("AntflyCluster", bytes_per_object::<Compact<AntflyCluster>>(&client, trim).await),
        ("ConfigMap", bytes_per_object::<Compact<ConfigMap>>(&client, trim).await),
        ("Service", bytes_per_object::<Compact<Service>>(&client, trim).await),
        ("StatefulSet", bytes_per_object::<Compact<StatefulSet>>(&client, trim).await),
        ("StatefulSet (decoded, for comparison)", bytes_per_object::<StatefulSet>(&client, trim).await),
    ];
    for (kind, (count, bytes)) in kinds {
        println!(
            "cached {kind}: {count} objects, about {bytes} bytes each on the heap (the running operator allocates meanwhile)"
        );
    }
    let texts = [
        ("AntflyCluster", compression::<AntflyCluster>(&client).await),
        ("ConfigMap", compression::<ConfigMap>(&client).await),
        ("Service", compression::<Service>(&client).await),
        ("StatefulSet", compression::<StatefulSet>(&client).await),
    ];
    for (kind, (compressed, text)) in texts {
        println!("  {kind}: {compressed} bytes compressed of {text} bytes of JSON text");
    }
}

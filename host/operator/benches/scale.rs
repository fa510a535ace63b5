//! Operator cost at scale, measured from outside: the release operator runs as a separate
//! process against the test control plane, N minimal AntflyClusters (3+3) are created at once,
//! and the benchmark reports
//! - the time until every child exists, and until every cluster has a status;
//! - the time for a spec change (a new image) to reach every StatefulSet;
//! - the operator process's peak RSS (VmHWM) and CPU seconds;
//! - the operator's API requests by verb and resource, from the API server's audit log, while
//!   converging, while updating and in a steady-state window, against the floor of one write
//!   per child plus one status write per cluster.
//!
//! Needs the control plane (`bash .ci/control-plane.sh`) and the release binary the image
//! ships (static, musl). Run:
//!
//! ```sh
//! cargo build --release --target x86_64-unknown-linux-musl -p antfly-operator
//! cargo bench -p antfly-operator --bench scale                                 # 100 clusters
//! ANTFLY_SCALE_CLUSTERS=1000 cargo bench -p antfly-operator --bench scale
//! ```
//!
//! `ANTFLY_SCALE_STEADY_SECONDS` sets the steady-state window (default 60);
//! `ANTFLY_SCALE_PLUGINS` the number of third-party plugins in `--plugin-dir` (default 20):
//! the operator starts once with a cold compile cache (reported), then again, warm, for the
//! run; `ANTFLY_OPERATOR_BIN` another operator binary; `ANTFLY_SCALE_APISERVER_PROFILE` a file
//! for the API server's CPU profile over the first 15 s of convergence (`go tool pprof -top`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use antfly_envtest::{AuditEvent, ControlPlane};
use antfly_operator::api::AntflyCluster;
use antfly_operator::compose::NoPlugins;
use antfly_operator::pipeline::desired_state;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, ListParams, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::json;

const NAMESPACE: &str = "bench";
const OPERATOR_USER: &str = "antfly-operator-bench";
const UPDATED_IMAGE: &str = "ghcr.io/antflydb/antfly:scale-bench";
/// How long the audit log is given to catch up with a phase's last request.
const AUDIT_SETTLE: Duration = Duration::from_secs(3);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn operator_binary() -> PathBuf {
    std::env::var_os("ANTFLY_OPERATOR_BIN").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/x86_64-unknown-linux-musl/release/antfly-operator")
    })
}

fn minimal_cluster(name: &str) -> AntflyCluster {
    serde_json::from_value(json!({
        "apiVersion": "antfly.io/v1", "kind": "AntflyCluster",
        "metadata": {"name": name, "namespace": NAMESPACE}, "spec": {}
    }))
    .expect("cluster")
}

/// The children of one minimal cluster, by (apiVersion, kind), from the operator's own pipeline.
fn children_per_cluster() -> BTreeMap<(String, String), usize> {
    let desired = desired_state(&minimal_cluster("probe"), &[], &NoPlugins).expect("the minimal cluster is valid");
    let mut kinds = BTreeMap::new();
    for object in desired.resources.to_json_objects().expect("objects serialise") {
        let key =
            (object["apiVersion"].as_str().unwrap_or("").to_owned(), object["kind"].as_str().unwrap_or("").to_owned());
        *kinds.entry(key).or_insert(0) += 1;
    }
    kinds
}

/// VmHWM and VmRSS in KiB, and user plus system CPU seconds, of a process.
fn process_usage(pid: u32) -> (u64, u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux for every architecture this runs on.
    let cpu = (ticks(11) + ticks(12)) as f64 / 100.0;
    (kib("VmHWM:"), kib("VmRSS:"), cpu)
}

/// Where a process's resident memory is: anonymous (heap, stacks, plugin memories) against
/// file-backed (the binary's touched pages, mapped plugin artifacts), and the largest mappings.
fn memory_breakdown(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map_or("?", str::trim).to_owned();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut mappings: Vec<(u64, String)> = Vec::new();
    let mut current = String::new();
    for line in smaps.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            let kib = rss.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            mappings.push((kib, current.clone()));
        } else if line.split_whitespace().next().is_some_and(|first| first.contains('-') && !first.ends_with(':')) {
            // "start-end perms offset dev inode [path]"
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields.get(5).map_or("[anon]", |p| p.rsplit('/').next().unwrap_or(p));
            current = format!("{} {path}", fields.get(1).unwrap_or(&""));
        }
    }
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (kib, name) in mappings {
        *by_name.entry(name).or_default() += kib;
    }
    let mut largest: Vec<_> = by_name.into_iter().filter(|(_, kib)| *kib >= 512).collect();
    largest.sort_by_key(|(_, kib)| std::cmp::Reverse(*kib));
    let largest: Vec<String> = largest.iter().map(|(name, kib)| format!("{name} {kib} KiB")).collect();
    format!(
        "RssAnon {}, RssFile {}; mappings of 512 KiB or more: {}",
        field("RssAnon:"),
        field("RssFile:"),
        largest.join(", ")
    )
}

/// Seconds every core of the machine has spent idle since boot, from `/proc/stat`.
fn machine_idle_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().find(|l| l.starts_with("cpu ")).unwrap_or_default();
    // user nice system idle iowait ...: idle is the fourth number.
    cpu.split_whitespace().nth(4).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) as f64 / 100.0
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, usize::from) as f64
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn http_status(port: u16, path: &str) -> Option<u16> {
    http_get(port, path)?.split_whitespace().nth(1)?.parse().ok()
}

/// Reconciles the operator has run so far, from its `/metrics`: those beyond one per cluster
/// and phase were set off by something other than the bench's change (mostly the echo of the
/// operator's own write, delivered before its answer was read).
fn reconciles(port: u16) -> u64 {
    let metrics = http_get(port, "/metrics").unwrap_or_default();
    let counts = metrics.lines().filter(|line| line.starts_with("antfly_operator_reconciles_total"));
    counts.filter_map(|line| line.split_whitespace().last()?.parse::<f64>().ok()).sum::<f64>() as u64
}

/// A `--plugin-dir` of `count` distinct plugins: the first-party components, each made unique
/// by a custom section (which no runtime reads), so that each compiles on its own.
fn plugin_dir(dir: &std::path::Path, count: usize) -> PathBuf {
    use sha2::Digest;
    std::fs::create_dir_all(dir).expect("plugin dir");
    let sources: Vec<_> =
        antfly_bundled_plugins::first_party().iter().filter(|p| p.world != "backup-destination").collect();
    let mut entries = Vec::new();
    for i in 0..count {
        let source = sources[i % sources.len()];
        let name = format!("vendor-{i}");
        let mut wasm = source.wasm.to_vec();
        let section_name = b"antfly-bench";
        let payload = format!("plugin {i}");
        let mut body = vec![section_name.len() as u8];
        body.extend_from_slice(section_name);
        body.extend_from_slice(payload.as_bytes());
        wasm.push(0); // custom section
        wasm.push(body.len() as u8); // short enough for one LEB128 byte
        wasm.extend_from_slice(&body);
        std::fs::write(dir.join(format!("{name}.wasm")), &wasm).expect("write plugin");
        entries.push(json!({
            "name": name, "world": source.world, "wit": format!("{}@{}", antfly_plugin_host::WIT_PACKAGE, antfly_plugin_host::WIT_VERSION),
            "file": format!("{name}.wasm"), "version": "1.0.0", "sha256": hex::encode(sha2::Sha256::digest(&wasm)),
        }));
    }
    let manifest = json!({"manifestVersion": 1, "plugins": entries});
    std::fs::write(dir.join("plugins.json"), manifest.to_string()).expect("write manifest");
    dir.to_path_buf()
}

struct Operator {
    child: Child,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests of the operator in `events`, by "verb resource[/subresource]".
fn by_verb_and_resource(events: &[AuditEvent]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in events.iter().filter(|e| e.user == OPERATOR_USER) {
        let resource = match event.subresource() {
            "" => event.resource().to_owned(),
            sub => format!("{}/{sub}", event.resource()),
        };
        *counts.entry(format!("{} {resource}", event.verb)).or_insert(0) += 1;
    }
    counts
}

fn print_window(name: &str, events: &[AuditEvent], floor: Option<usize>) {
    let counts = by_verb_and_resource(events);
    let total: usize = counts.values().sum();
    let ratio = floor.map(|f| format!(", {:.2}x the floor of {f}", total as f64 / f as f64)).unwrap_or_default();
    println!("{name}: {total} requests{ratio}");
    for (key, count) in &counts {
        println!("  {count:>7}  {key}");
    }
}

/// What the benchmark reads of a watched object (its name and resourceVersion,
/// `status.observedGeneration` and the pod template's images), the rest skipped unparsed. Decoding whole objects, managed
/// fields included, cost the measurement most of a core-second at 1,000 clusters, on the
/// cores it measures; the API server sends the same text either way.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "ObservedText")]
struct Observed {
    metadata: ObjectMeta,
    observed_generation: Option<i64>,
    images: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ObservedText {
    metadata: NameText,
    status: Option<StatusText>,
    spec: Option<SpecText>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct NameText {
    name: Option<String>,
    /// The watcher resumes from it.
    resource_version: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct StatusText {
    observed_generation: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SpecText {
    template: Option<TemplateText>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct TemplateText {
    spec: Option<PodSpecText>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PodSpecText {
    containers: Vec<ContainerText>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ContainerText {
    image: Option<String>,
}

impl From<ObservedText> for Observed {
    fn from(text: ObservedText) -> Self {
        let containers = text.spec.and_then(|s| s.template).and_then(|t| t.spec).map(|p| p.containers);
        Observed {
            metadata: ObjectMeta {
                name: text.metadata.name,
                resource_version: text.metadata.resource_version,
                ..ObjectMeta::default()
            },
            observed_generation: text.status.and_then(|s| s.observed_generation),
            images: containers.into_iter().flatten().filter_map(|c| c.image).collect(),
        }
    }
}

impl kube::Resource for Observed {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(resource: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&resource.kind)
    }
    fn group(resource: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&resource.group)
    }
    fn version(resource: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&resource.version)
    }
    fn plural(resource: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&resource.plural)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn observed(admin: &kube::Client, resource: &ApiResource) -> Api<Observed> {
    Api::namespaced_with(admin.clone(), NAMESPACE, resource)
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Waits until `expected` objects of `api` pass `done`, by watching: polling with lists would
/// load the API server whose throughput this measures (a list of 2,000 StatefulSets every
/// 100 ms costs it more CPU than the operator's whole write load).
async fn watch_until<K>(what: &str, api: Api<K>, expected: usize, done: impl Fn(&K) -> bool) -> Instant
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    use kube::runtime::{WatchStreamExt, watcher};
    let mut passed = std::collections::BTreeSet::new();
    let events = watcher(api, watcher::Config::default()).applied_objects();
    let mut events = std::pin::pin!(events);
    let timeout = Duration::from_secs(600);
    let started = Instant::now();
    while passed.len() < expected {
        let left = timeout.checked_sub(started.elapsed()).unwrap_or_default();
        let object = match tokio::time::timeout(left, events.next()).await {
            Ok(Some(Ok(object))) => object,
            Ok(Some(Err(error))) => panic!("watching for {what}: {error}"),
            Ok(None) | Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
        };
        let name = object.meta().name.clone().unwrap_or_default();
        if done(&object) {
            passed.insert(name);
        } else {
            passed.remove(&name);
        }
    }
    Instant::now()
}

#[tokio::main]
async fn main() {
    let clusters = env_number("ANTFLY_SCALE_CLUSTERS", 100) as usize;
    let steady = Duration::from_secs(env_number("ANTFLY_SCALE_STEADY_SECONDS", 60));
    let binary = operator_binary();
    assert!(
        binary.is_file(),
        "{} is missing: cargo build --release --target x86_64-unknown-linux-musl -p antfly-operator",
        binary.display()
    );

    let cp = ControlPlane::start().await.expect("control plane (run bash .ci/control-plane.sh)");
    let admin = cp.client();
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for crd in antfly_operator::api::crds() {
        crds.create(&PostParams::default(), &crd).await.expect("install CRD");
    }
    for ns in ["antfly-system", NAMESPACE] {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
        Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &namespace).await.expect("namespace");
    }
    let cluster_api: Api<AntflyCluster> = Api::namespaced(admin.clone(), NAMESPACE);
    while cluster_api.list(&ListParams::default().limit(1)).await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A copy runs, as an image would extract it: the file the linker has just written can sit in
    // the page cache in large folios, which the kernel maps whole around each fault. The same
    // binary showed 24 MiB of resident text run from cargo's target and 14 MiB as a copy.
    let binary = {
        let copy = cp.dir().join("antfly-operator");
        std::fs::copy(&binary, &copy).expect("copy the operator binary");
        copy
    };
    let kubeconfig = cp.kubeconfig_for_user(OPERATOR_USER, &["system:masters"]).expect("kubeconfig");
    let plugins = env_number("ANTFLY_SCALE_PLUGINS", 20) as usize;
    let plugin_dir = plugin_dir(&cp.dir().join("plugins"), plugins);
    let start = |identity: &str| {
        let port = free_port();
        let child = Command::new(&binary)
            .args(["run", "--lease-namespace", "antfly-system", "--identity", identity])
            .arg(format!("--http-addr=127.0.0.1:{port}"))
            .arg("--plugin-dir")
            .arg(&plugin_dir)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .env("ANTFLY_PLUGIN_CACHE_DIR", cp.dir().join("plugin-cache"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the operator");
        (Operator { child }, port)
    };
    // Cold: every plugin compiles into the cache; then the run starts warm. One identity, so
    // that the second process takes over the Lease at once instead of waiting for it to expire.
    let (cold, cold_port) = start("scale-bench");
    let cold_ready = wait_until("/readyz (cold)", Duration::from_secs(600), || async {
        http_status(cold_port, "/readyz") == Some(200)
    })
    .await;
    drop(cold);
    println!("operator ready after {cold_ready:?} with {plugins} plugins in --plugin-dir and a cold compile cache");
    let (operator, port) = start("scale-bench");
    let pid = operator.child.id();
    let _operator = operator;
    let ready =
        wait_until("/readyz", Duration::from_secs(30), || async { http_status(port, "/readyz") == Some(200) }).await;
    let (baseline_hwm, baseline_rss, _) = process_usage(pid);
    println!(
        "operator {} ready after {:?} with {plugins} cached plugins (pid {pid}); RSS {} KiB, peak {} KiB before any \
         cluster",
        binary.display(),
        ready,
        baseline_rss,
        baseline_hwm
    );

    println!("  memory before any cluster: {}", memory_breakdown(pid));

    let per_cluster = children_per_cluster();
    let children: usize = per_cluster.values().sum();
    let floor = clusters * (children + 1);
    tokio::time::sleep(AUDIT_SETTLE).await;
    let mark_start = cp.audit_requests().expect("audit log").len();
    let cpu_of_servers = || cp.server_pids().map(|(name, pid)| (name, process_usage(pid).2));
    let (servers_before, bench_before) = (cpu_of_servers(), process_usage(std::process::id()).2);
    let idle_before = machine_idle_seconds();

    let apiserver_profile = std::env::var_os("ANTFLY_SCALE_APISERVER_PROFILE").map(|path| {
        let admin_config = cp.kubeconfig_for_user("scale-bench-admin", &["system:masters"]).expect("kubeconfig");
        let output = std::fs::File::create(&path).expect("profile file");
        Command::new("kubectl")
            .args(["get", "--raw", "/debug/pprof/profile?seconds=15", "--kubeconfig"])
            .arg(admin_config)
            .stdout(output)
            .spawn()
            .expect("kubectl")
    });

    // Create every cluster at once (as fast as 32 concurrent clients can).
    let created = Instant::now();
    futures::stream::iter(0..clusters)
        .map(|i| {
            let api = cluster_api.clone();
            async move { api.create(&PostParams::default(), &minimal_cluster(&format!("c{i}"))).await.map(drop) }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .expect("create clusters");
    let created_in = created.elapsed();
    let child_watches = per_cluster.iter().map(|((api_version, kind), count)| {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(group, version, kind));
        watch_until(kind, observed(&admin, &resource), count * clusters, |_| true)
    });
    let clusters_observed = observed(&admin, &ApiResource::erase::<AntflyCluster>(&()));
    let statuses =
        watch_until("every status", clusters_observed, clusters, |c: &Observed| c.observed_generation.is_some());
    let (children_done, converged_at) = futures::join!(futures::future::join_all(child_watches), statuses);
    let servers_converged = cpu_of_servers();
    let bench_converged = process_usage(std::process::id()).2;
    let idle_converged = machine_idle_seconds() - idle_before;
    let children_exist = children_done.into_iter().max().expect("a minimal cluster has children") - created;
    let converged = converged_at - created;
    if let Some(mut profile) = apiserver_profile {
        let _ = profile.wait();
    }
    tokio::time::sleep(AUDIT_SETTLE).await;
    let (hwm_converged, rss_converged, cpu_converged) = process_usage(pid);
    let reconciles_converged = reconciles(port);
    let memory_converged = memory_breakdown(pid);
    let mark_converged = cp.audit_requests().expect("audit log").len();

    // A spec change for every cluster: a new image, which reaches both StatefulSets.
    let updated = Instant::now();
    futures::stream::iter(0..clusters)
        .map(|i| {
            let api = cluster_api.clone();
            async move {
                let patch = json!({"spec": {"image": UPDATED_IMAGE}});
                api.patch(&format!("c{i}"), &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop)
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .expect("patch clusters");
    let statefulsets = observed(&admin, &ApiResource::erase::<StatefulSet>(&()));
    let updated_at = watch_until("every StatefulSet updated", statefulsets, 2 * clusters, |s: &Observed| {
        s.images.iter().any(|image| image == UPDATED_IMAGE)
    })
    .await;
    let update_time = updated_at - updated;
    tokio::time::sleep(AUDIT_SETTLE).await;
    let mark_updated = cp.audit_requests().expect("audit log").len();

    tokio::time::sleep(steady).await;
    let (hwm, rss, cpu) = process_usage(pid);
    let reconciles_updated = reconciles(port);
    let events = cp.audit_requests().expect("audit log");

    println!();
    println!("clusters: {clusters} (3+3), {children} children each; created in {created_in:?}");
    println!("create -> every child exists: {children_exist:?}");
    println!("create -> every status written: {converged:?}");
    println!("spec change -> every StatefulSet updated: {update_time:?}");
    println!(
        "operator RSS: baseline {} KiB; {} KiB converged; peak (VmHWM) {} KiB at convergence, {} KiB at the end; now {} KiB",
        baseline_rss, rss_converged, hwm_converged, hwm, rss
    );
    println!("  memory at convergence: {memory_converged}");
    println!(
        "per cluster: {:.1} KiB of RSS above the baseline",
        (rss_converged.saturating_sub(baseline_rss)) as f64 / clusters as f64
    );
    println!("operator CPU: {cpu_converged:.2} s to convergence, {cpu:.2} s to the end of the steady state");
    let others: Vec<String> = servers_before
        .iter()
        .zip(&servers_converged)
        .map(|((name, before), (_, after))| format!("{name} {:.2} s", after - before))
        .chain([
            format!("this benchmark {:.2} s", bench_converged - bench_before),
            format!("idle {idle_converged:.2} s of {} cores", cores()),
        ])
        .collect();
    println!("CPU from the first create to convergence, besides the operator: {}", others.join(", "));
    println!(
        "reconciles: {reconciles_converged} to convergence, {} more to the end of the steady state",
        reconciles_updated.saturating_sub(reconciles_converged)
    );
    print_window("converge requests", &events[mark_start..mark_converged], Some(floor));
    // Floor of an image change: both StatefulSets and the status (a new observedGeneration).
    print_window("update requests", &events[mark_converged..mark_updated], Some(clusters * 3));
    print_window(&format!("steady-state requests ({steady:?})"), &events[mark_updated..], None);
    let child_gets = events[mark_start..]
        .iter()
        .filter(|e| e.user == OPERATOR_USER && e.verb == "get" && e.resource() != "leases")
        .count();
    println!("GETs of anything but the Lease: {child_gets}");
}

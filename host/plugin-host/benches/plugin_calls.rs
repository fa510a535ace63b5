//! Criterion benchmarks of the plugin host: one call to each first-party plugin on a fresh
//! instance (a backup plan of the `s3` destination among them), loading a precompiled
//! component from the disk cache, and a first compile; the same for the JavaScript `aks`
//! provider next to the Rust `eks` one.
//!
//! Run: `bash .ci/js-plugins.sh && cargo bench -p antfly-plugin-host --bench plugin_calls`

use std::hint::black_box;

use antfly_plugin_host::wit::{
    BackupRequest, ClusterView, ContainerView, MeshClusterView, PodView, PortKind, Role, RoleScheduling, RoleView,
    ServicePort, ServiceView,
};
use antfly_plugin_host::{HostConfig, LoadedFrom, Plugin, PluginHost, PluginSource, WasmBytes, World};
use criterion::{Criterion, criterion_group, criterion_main};

fn source(name: &str) -> PluginSource {
    let bundled = antfly_bundled_plugins::first_party()
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is a first-party plugin"));
    PluginSource {
        name: bundled.name.to_string(),
        world: World::parse(bundled.world).expect("bundled worlds are valid"),
        version: bundled.version.to_string(),
        wasm: WasmBytes::Static(bundled.wasm),
        sha256: Some(bundled.sha256.to_string()),
    }
}

fn load(host: &PluginHost, name: &str) -> Plugin {
    host.load(source(name)).unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

/// The JavaScript `aks` provider, built by `.ci/js-plugins.sh`.
fn js_source() -> PluginSource {
    let path = antfly_bundled_plugins::fixtures::js_component("aks").unwrap_or_else(|message| panic!("{message}"));
    PluginSource {
        name: "aks".to_string(),
        world: World::SchedulingProvider,
        version: "0.1.0".to_string(),
        wasm: WasmBytes::File(path),
        sha256: None,
    }
}

fn load_js(host: &PluginHost) -> Plugin {
    host.load(js_source()).unwrap_or_else(|e| panic!("aks loads: {e}"))
}

/// Settings of the same weight as the eks benchmark's: Spot, a pool, VM sizes, an identity.
const AKS_SETTINGS: &str = r#"{"spotDataNodes":true,"nodePool":"dbpool","vmSizes":["Standard_D8ds_v5"],"workloadIdentityClientId":"6f1c2a4e-1b2c-4d5e-8f90-123456789abc"}"#;

fn role(role: Role, replicas: u32) -> RoleView {
    RoleView {
        role,
        replicas,
        scheduling: RoleScheduling {
            node_selector: Vec::new(),
            tolerations: Vec::new(),
            has_affinity: false,
            has_topology_spread: false,
        },
    }
}

fn cluster(settings: &str) -> ClusterView {
    ClusterView {
        name: "my-cluster".to_string(),
        namespace: "production".to_string(),
        settings: settings.to_string(),
        roles: vec![role(Role::Metadata, 3), role(Role::Data, 6)],
    }
}

fn mesh() -> MeshClusterView {
    let service = |role: Role, suffix: &str, api: u16, raft: u16| ServiceView {
        name: format!("my-cluster-{suffix}"),
        role: Some(role),
        ports: vec![
            ServicePort { name: "api".to_string(), port: api, kind: PortKind::Api },
            ServicePort { name: "raft".to_string(), port: raft, kind: PortKind::Raft },
            ServicePort { name: "health".to_string(), port: 4200, kind: PortKind::Health },
        ],
    };
    MeshClusterView {
        cluster: cluster("{}"),
        services: vec![service(Role::Metadata, "metadata", 12377, 9017), service(Role::Data, "data", 12380, 9021)],
    }
}

fn calls(c: &mut Criterion) {
    let host = PluginHost::new(HostConfig::default()).expect("host starts");
    let mut group = c.benchmark_group("fresh_instance_call");

    let eks = load(&host, "eks");
    let eks_view = cluster(r#"{"enabled":true,"spot":{"dataNodes":true},"instanceTypes":["m6i.2xlarge"]}"#);
    group.bench_function("eks_contribute_data", |b| {
        b.iter(|| eks.contribute(black_box(&eks_view), Role::Data).expect("call").expect("contribution"))
    });
    group.bench_function("eks_validate_settings", |b| {
        b.iter(|| eks.validate_settings(black_box(&eks_view)).expect("call").expect("valid"))
    });

    let aks = load_js(&host);
    let aks_view = cluster(AKS_SETTINGS);
    group.bench_function("aks_js_contribute_data", |b| {
        b.iter(|| aks.contribute(black_box(&aks_view), Role::Data).expect("call").expect("contribution"))
    });
    group.bench_function("aks_js_validate_settings", |b| {
        b.iter(|| aks.validate_settings(black_box(&aks_view)).expect("call").expect("valid"))
    });

    let gke = load(&host, "gke");
    let gke_view = cluster(r#"{"autopilot":true}"#);
    group.bench_function("gke_contribute_data", |b| {
        b.iter(|| gke.contribute(black_box(&gke_view), Role::Data).expect("call").expect("contribution"))
    });

    let mesh_view = mesh();
    for name in ["istio", "linkerd", "consul"] {
        let plugin = load(&host, name);
        group.bench_function(format!("{name}_pod_annotations"), |b| {
            b.iter(|| plugin.pod_annotations(black_box(&mesh_view), Role::Data).expect("call").expect("annotations"))
        });
    }

    let istio = load(&host, "istio");
    let pod = PodView {
        name: "my-cluster-data-0".to_string(),
        annotations: Vec::new(),
        containers: vec![
            ContainerView { name: "antfly".to_string(), image: "ghcr.io/antflydb/antfly:latest".to_string() },
            ContainerView { name: "istio-proxy".to_string(), image: "istio/proxyv2:1.24".to_string() },
        ],
        init_containers: Vec::new(),
    };
    group.bench_function("istio_has_sidecar", |b| b.iter(|| istio.has_sidecar(black_box(&pod)).expect("call")));

    let s3 = load(&host, "s3");
    let request = BackupRequest {
        cluster: "my-cluster".to_string(),
        namespace: "production".to_string(),
        backup_id: "my-cluster-20260101000000".to_string(),
        location: "s3://antfly-backups/production/my-cluster".to_string(),
        options: r#"{"region":"eu-west-1","credentialsSecret":"s3-backup"}"#.to_string(),
        tables: Vec::new(),
    };
    group.bench_function("s3_plan_backup", |b| {
        b.iter(|| s3.plan_backup(black_box(&request)).expect("call").expect("plan"))
    });
    group.finish();
}

fn loading(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temporary directory");
    let config = HostConfig { cache_dir: Some(cache.path().join("plugins")), ..HostConfig::default() };
    let host = PluginHost::new(config).expect("host starts");
    // Warm the cache once.
    assert_eq!(load(&host, "eks").loaded_from(), LoadedFrom::Compiled);

    let mut group = c.benchmark_group("load");
    group.bench_function("eks_from_disk_cache", |b| {
        b.iter(|| {
            let plugin = load(&host, "eks");
            debug_assert_eq!(plugin.loaded_from(), LoadedFrom::Cache);
            plugin
        })
    });

    assert_eq!(load_js(&host).loaded_from(), LoadedFrom::Compiled);
    group.bench_function("aks_js_from_disk_cache", |b| {
        b.iter(|| {
            let plugin = load_js(&host);
            debug_assert_eq!(plugin.loaded_from(), LoadedFrom::Cache);
            plugin
        })
    });

    let uncached = PluginHost::new(HostConfig::default()).expect("host starts");
    group.sample_size(10);
    group.bench_function("eks_first_compile", |b| b.iter(|| load(&uncached, "eks")));
    group.bench_function("aks_js_first_compile", |b| b.iter(|| load_js(&uncached)));
    group.finish();
}

criterion_group!(benches, calls, loading);
criterion_main!(benches);

//! Criterion benchmarks of the pure per-reconcile work: a full render of a 3+3 cluster
//! (parse, validate, build, serialise), and the drift comparison of every built object with
//! its live copy, which each reconcile makes when the applied hashes match, and the rollout
//! decision each reconcile makes from the observed pods.
//!
//! Run: `cargo bench -p antfly-operator --bench render`

use antfly_operator::build::drift::first_drift;
use antfly_operator::compose::NoPlugins;
use antfly_operator::render::{desired, parse_cluster, render};
use criterion::{Criterion, criterion_group, criterion_main};

const CLUSTER: &str = include_str!("../../../examples/architecture-cluster.yaml");

fn full_render(c: &mut Criterion) {
    c.bench_function("render_3_plus_3_cluster", |b| {
        b.iter(|| render(std::hint::black_box(CLUSTER), &NoPlugins).expect("renders"))
    });
}

/// What a reconcile adds when the applied hashes match: each built object and its cached
/// live copy serialised to JSON, and the walk of every desired field. The live copies here
/// are the built objects themselves, so the walk visits every field and finds no drift.
fn drift_check(c: &mut Criterion) {
    let cluster = parse_cluster(CLUSTER).expect("parses");
    let resources = desired(&cluster, &[], &NoPlugins).expect("builds").resources;
    c.bench_function("drift_check_every_object_of_a_3_plus_3_cluster", |b| {
        b.iter(|| {
            let desired = resources.to_json_objects().expect("json");
            let live = std::hint::black_box(&resources).to_json_objects().expect("json");
            for (desired, live) in desired.iter().zip(&live) {
                assert!(first_drift(desired, live).is_none());
            }
        })
    });
}

/// The rollout decision of a reconcile midway through an update of a 5+9 cluster: both roles
/// observed, the plan made and described.
fn rollout_plan(c: &mut Criterion) {
    use antfly_operator::base::Role;
    use antfly_operator::rollout::{PodView, RoleView, describe, plan};
    use k8s_openapi::jiff::Timestamp;
    let now = Timestamp::now();
    let role = |role: Role, replicas: i32, updated: i32| RoleView {
        role,
        replicas,
        update_revision: Some("new".into()),
        pods: (0..replicas)
            .map(|ordinal| PodView {
                name: format!("c-{}-{ordinal}", role.as_str()),
                uid: format!("uid-{ordinal}"),
                ordinal,
                revision: Some(if ordinal >= replicas - updated { "new" } else { "old" }.into()),
                ready: true,
                healthy: None,
                since: Some(now),
                terminating: false,
                ip: Some("10.0.0.1".into()),
            })
            .collect(),
    };
    let (data, metadata) = (role(Role::Data, 9, 4), role(Role::Metadata, 5, 0));
    c.bench_function("rollout_plan_of_a_5_plus_9_cluster_midway", |b| {
        b.iter(|| {
            let step = plan(std::hint::black_box(&data), &metadata, std::time::Duration::from_secs(600), now);
            describe(&step, &data, &metadata)
        })
    });
}

criterion_group!(benches, full_render, drift_check, rollout_plan);
criterion_main!(benches);

//! Criterion benchmarks of the pure per-reconcile work: a full render of a 3+3 cluster
//! (parse, validate, build, serialise), and the drift comparison of every built object with
//! its live copy, which each reconcile makes when the applied hashes match.
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

criterion_group!(benches, full_render, drift_check);
criterion_main!(benches);

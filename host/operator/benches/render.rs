//! Criterion benchmark of a full render of a 3+3 cluster: parse, validate, build, serialise.
//!
//! Run: `cargo bench -p antfly-operator --bench render`

use antfly_operator::compose::NoPlugins;
use antfly_operator::render::render;
use criterion::{Criterion, criterion_group, criterion_main};

const CLUSTER: &str = include_str!("../../../examples/architecture-cluster.yaml");

fn full_render(c: &mut Criterion) {
    c.bench_function("render_3_plus_3_cluster", |b| {
        b.iter(|| render(std::hint::black_box(CLUSTER), &NoPlugins).expect("renders"))
    });
}

criterion_group!(benches, full_render);
criterion_main!(benches);

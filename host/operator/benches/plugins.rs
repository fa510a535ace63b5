//! Criterion benchmarks of plugin cost inside the operator: resolving a cluster's plugins
//! through the extensions layer, and a full render with and without plugins.
//!
//! Run: `cargo bench -p antfly-operator --bench plugins`

use antfly_operator::compose::{Contributions, ExtensionError, ExtensionResolver, NoPlugins};
use antfly_operator::extensions::{PluginOptions, PluginResolver};
use antfly_operator::render::{parse_cluster, render};
use antfly_operator::validate::{ValidatedCluster, validate};
use criterion::{Criterion, criterion_group, criterion_main};

const EKS_SPOT_EXAMPLE: &str = include_str!("../../../examples/eks-spot-scheduling-cluster.yaml");

/// Contributions decided in advance: the plugin-free side of the plugin-overhead ratio.
struct Fixed(Contributions);

impl ExtensionResolver for Fixed {
    fn resolve(&self, _: &ValidatedCluster) -> Result<Contributions, ExtensionError> {
        Ok(self.0.clone())
    }
}

/// The seed's 3+3 cluster, without plugins.
const PLAIN: &str = include_str!("../../../examples/architecture-cluster.yaml");

/// The same cluster with EKS Spot (one scheduling provider) and the Istio profile.
fn with_plugins() -> String {
    let mut yaml = PLAIN.trim_end().to_string();
    yaml.push_str(
        "\n  eks:\n    enabled: true\n    spot:\n      dataNodes: true\n    instanceTypes: [m6i.2xlarge, m7i.2xlarge]\n  \
         serviceMesh:\n    enabled: true\n    profile: istio\n",
    );
    yaml
}

fn benches(c: &mut Criterion) {
    let resolver = PluginResolver::load(&PluginOptions::default()).expect("first-party plugins load");
    let plugged = with_plugins();
    let cluster = validate(&parse_cluster(&plugged).expect("parses")).expect("valid");
    // Five plugin calls: eks validate + 2 contributions, istio 2 annotation calls.
    c.bench_function("resolve_eks_spot_and_istio", |b| {
        b.iter(|| resolver.resolve(std::hint::black_box(&cluster)).expect("resolves"))
    });
    c.bench_function("render_3_plus_3_without_plugins", |b| {
        b.iter(|| render(std::hint::black_box(PLAIN), &NoPlugins).expect("renders"))
    });
    c.bench_function("render_3_plus_3_with_eks_and_istio_plugins", |b| {
        b.iter(|| render(std::hint::black_box(&plugged), &resolver).expect("renders"))
    });

    // The scheduling seed's EKS Spot example, rendered through the eks plugin and through
    // fixed contributions (the same values, decided in advance): the ratio is the plugin path's cost.
    let eks_spot = EKS_SPOT_EXAMPLE;
    let fixed = Fixed(
        resolver.resolve(&validate(&parse_cluster(eks_spot).expect("parses")).expect("valid")).expect("resolves"),
    );
    c.bench_function("render_eks_spot_example_with_plugins", |b| {
        b.iter(|| render(std::hint::black_box(eks_spot), &resolver).expect("renders"))
    });
    c.bench_function("render_eks_spot_example_with_fixed_contributions", |b| {
        b.iter(|| render(std::hint::black_box(eks_spot), &fixed).expect("renders"))
    });
}

criterion_group!(plugin_benches, benches);
criterion_main!(plugin_benches);

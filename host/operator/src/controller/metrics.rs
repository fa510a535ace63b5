//! Prometheus metrics of the controller and the plugin calls it makes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabel {
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabel {
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

/// Every metric the operator exports, registered once.
pub struct Metrics {
    pub registry: Registry,
    /// Reconciles by result (ok, error).
    pub reconciles: Family<ResultLabel, Counter>,
    /// Reconcile errors by category (invalid_spec, plugin, apply, observe, status, ...).
    pub errors: Family<CategoryLabel, Counter>,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// Plugin calls and failures by plugin name.
    pub plugin_calls: Family<PluginLabel, Counter>,
    pub plugin_failures: Family<PluginLabel, Counter>,
    /// Server-side applies that were actually sent, by kind.
    pub writes: Family<KindLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("antfly_operator");
        let reconciles = Family::default();
        let errors = Family::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let plugin_calls = Family::default();
        let plugin_failures = Family::default();
        let writes = Family::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register("reconcile_errors", "Reconcile errors by category", errors.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration", duration.clone());
        registry.register("plugin_calls", "Plugin resolutions by plugin", plugin_calls.clone());
        registry.register("plugin_failures", "Failed plugin resolutions by plugin", plugin_failures.clone());
        registry.register("applies", "Server-side applies sent, by kind", writes.clone());
        Self { registry, reconciles, errors, duration, plugin_calls, plugin_failures, writes }
    }
}

impl Metrics {
    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

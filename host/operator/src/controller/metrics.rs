//! Prometheus metrics of the controller and the plugin calls it makes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::extensions::{PluginCall, PluginCallObserver};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabel {
    pub category: &'static str,
}

/// One plugin function.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginCallLabel {
    pub world: &'static str,
    pub plugin: String,
    pub function: &'static str,
}

/// A failed plugin call, by the limit or fault behind it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginFailureLabel {
    pub world: &'static str,
    pub plugin: String,
    pub function: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabel {
    pub result: &'static str,
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
    /// Plugin calls by world, plugin and function.
    pub plugin_calls: Family<PluginCallLabel, Counter>,
    /// Failed plugin calls, attributed to the plugin that failed, by reason.
    pub plugin_failures: Family<PluginFailureLabel, Counter>,
    /// Plugin call latency by world, plugin and function.
    pub plugin_call_duration: Family<PluginCallLabel, Histogram>,
    /// Reloads of the plugin directory by result (reloaded, failed).
    pub plugin_reloads: Family<ReloadLabel, Counter>,
    /// 1 while the plugin directory holds a set that failed to load (the previous set serves).
    pub plugin_reload_failing: Gauge,
    /// Server-side applies that were actually sent, by kind.
    pub writes: Family<KindLabel, Counter>,
    /// Applies that repaired an out-of-band change (drift), by kind.
    pub drift_repairs: Family<KindLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("antfly_operator");
        let reconciles = Family::default();
        let errors = Family::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let plugin_calls = Family::default();
        let plugin_failures = Family::default();
        let plugin_call_duration = Family::<PluginCallLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
        });
        let plugin_reloads = Family::default();
        let plugin_reload_failing = Gauge::default();
        let writes = Family::default();
        let drift_repairs = Family::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register("reconcile_errors", "Reconcile errors by category", errors.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration", duration.clone());
        registry.register("plugin_calls", "Plugin calls by world, plugin and function", plugin_calls.clone());
        registry.register(
            "plugin_failures",
            "Failed plugin calls by world, plugin, function and reason",
            plugin_failures.clone(),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Plugin call latency by world, plugin and function",
            plugin_call_duration.clone(),
        );
        registry.register("plugin_reloads", "Reloads of the plugin directory by result", plugin_reloads.clone());
        registry.register(
            "plugin_reload_failing",
            "1 while the plugin directory holds a set that failed to load",
            plugin_reload_failing.clone(),
        );
        registry.register("applies", "Server-side applies sent, by kind", writes.clone());
        registry.register(
            "drift_repairs",
            "Applies that repaired an out-of-band change, by kind",
            drift_repairs.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            plugin_calls,
            plugin_failures,
            plugin_call_duration,
            plugin_reloads,
            plugin_reload_failing,
            writes,
            drift_repairs,
        }
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

impl PluginCallObserver for Metrics {
    fn observe(&self, call: &PluginCall<'_>) {
        let label = PluginCallLabel { world: call.world, plugin: call.plugin.to_string(), function: call.function };
        self.plugin_calls.get_or_create(&label).inc();
        self.plugin_call_duration.get_or_create(&label).observe(call.duration.as_secs_f64());
        if let Some(reason) = call.failure {
            let failure =
                PluginFailureLabel { world: label.world, plugin: label.plugin, function: label.function, reason };
            self.plugin_failures.get_or_create(&failure).inc();
        }
    }
}

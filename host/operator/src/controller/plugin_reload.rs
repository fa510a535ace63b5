//! Watches `--plugin-dir` and swaps in a changed plugin set without a restart. A set that
//! fails to load leaves the previous one serving, and shows in a metric, a log line and
//! `/readyz`. After a reload every cluster is reconciled with the new plugins.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{info, warn};

use super::http::Health;
use super::metrics::{Metrics, ReloadLabel};
use crate::extensions::reload::{ReloadOutcome, ReloadingResolver};

/// Check the plugin directory every `every`, forever.
pub async fn watch(
    resolver: Arc<ReloadingResolver>,
    every: Duration,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    reconcile_all: Arc<Notify>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let checked = resolver.clone();
        // Loading compiles plugins: keep it off the async workers.
        let Ok(outcome) = tokio::task::spawn_blocking(move || checked.reload_if_changed()).await else { continue };
        record(&outcome, &metrics, &health);
        if matches!(outcome, ReloadOutcome::Reloaded { .. }) {
            reconcile_all.notify_one();
        }
    }
}

fn record(outcome: &ReloadOutcome, metrics: &Metrics, health: &Health) {
    let mut reload_error = health.plugin_reload_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match outcome {
        ReloadOutcome::Unchanged => {}
        ReloadOutcome::Reloaded { plugins } => {
            info!(plugins, "reloaded the plugin directory");
            metrics.plugin_reloads.get_or_create(&ReloadLabel { result: "reloaded" }).inc();
            metrics.plugin_reload_failing.set(0);
            *reload_error = None;
        }
        ReloadOutcome::Failed { error } => {
            warn!(%error, "the changed plugin directory failed to load; the previous plugins stay in use");
            metrics.plugin_reloads.get_or_create(&ReloadLabel { result: "failed" }).inc();
            metrics.plugin_reload_failing.set(1);
            *reload_error = Some(error.clone());
        }
    }
}

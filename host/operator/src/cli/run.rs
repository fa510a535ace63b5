//! `run`: the controller against the cluster in KUBECONFIG or the in-cluster config.

use super::plugins::PluginArgs;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "antfly-system")]
    lease_namespace: String,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    http_addr: String,
    /// Periodic resync of every cluster, in seconds.
    #[arg(long, default_value_t = 300)]
    resync_seconds: u64,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
    /// How often to check --plugin-dir for changes, in seconds.
    #[arg(long, default_value_t = 5)]
    plugin_reload_seconds: u64,
    /// Image of backup and restore Jobs; the deploy manifests set the operator's own.
    #[arg(long, env = "ANTFLY_JOB_IMAGE")]
    job_image: Option<String>,
    /// Whether a rollout asks each updated pod's server for /readyz on its pod IP before it
    /// restarts the next pod. Turn off where a NetworkPolicy keeps the operator from pod IPs.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pod_health_checks: bool,
    /// Client-side limit on the operator's writes to the API server, per second.
    #[arg(long, default_value_t = antfly_operator::controller::throttle::DEFAULT_WRITES_PER_SECOND)]
    writes_per_second: u32,
    /// Writes allowed at once after a quiet spell.
    #[arg(long, default_value_t = antfly_operator::controller::throttle::DEFAULT_WRITE_BURST)]
    write_burst: u32,
    /// Threads of the async runtime, which decodes watch events and runs reconciles (plugin
    /// calls have threads of their own). One is enough for thousands of clusters, and more
    /// only contend for the allocator's lock where cores are scarce.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub worker_threads: u16,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

pub async fn run_operator(args: RunArgs) -> Result<String, String> {
    use antfly_operator::controller::http::Health;
    use antfly_operator::controller::{self, OperatorConfig, leader::LeaderState, metrics::Metrics};
    use std::sync::Arc;
    use std::time::Duration;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if args.log_json {
        builder.json().init()
    } else {
        builder.init()
    }

    let client = kube::Client::try_default().await.map_err(|e| format!("failed to create a Kubernetes client: {e}"))?;
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .map_err(|e| format!("failed to listen on {}: {e}", args.http_addr))?;
    let health = Arc::new(Health::default());
    tokio::spawn(controller::http::serve(listener, metrics.clone(), health.clone()));
    // Compiling plugins (when the cache is cold) is CPU-bound: keep it off the async workers.
    let resolver = Arc::new(tokio::task::block_in_place(|| args.plugins.load_reloading(metrics.clone()))?);
    health.set_plugins_loaded();
    let reconcile_all = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(controller::plugin_reload::watch(
        resolver.clone(),
        Duration::from_secs(args.plugin_reload_seconds.max(1)),
        metrics.clone(),
        health,
        reconcile_all.clone(),
    ));
    let identity = args.identity.unwrap_or_else(|| format!("antfly-operator-{}", std::process::id()));
    let config = OperatorConfig {
        watch_namespace: args.watch_namespace,
        lease_namespace: args.lease_namespace,
        lease_name: "antfly-operator-leader".into(),
        identity,
        resync: Duration::from_secs(args.resync_seconds),
        resolver,
        reconcile_all,
        clock: Arc::new(controller::clock::SystemClock),
        job_image: args.job_image.unwrap_or_else(controller::default_job_image),
        pod_health_checks: args.pod_health_checks,
        pod_health_port: antfly_operator::base::ports::HEALTH_PORT,
        antfly_api_url: None,
        autoscale_interval: antfly_operator::scaling::autoscale::EVALUATION_INTERVAL,
        write_limit: (args.writes_per_second, args.write_burst),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    controller::run(client, config, metrics, Arc::new(LeaderState::default()), shutdown)
        .await
        .map(|()| String::new())
        .map_err(|e| e.to_string())
}

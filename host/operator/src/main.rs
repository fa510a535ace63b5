//! The `antfly-operator` command line: `render`, `crd`, and (with the controller) `run`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use antfly_operator::compose::NoPlugins;
use antfly_operator::{api, render};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "antfly-operator", version, about = "Kubernetes operator for the Antfly database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every object the operator would apply for an AntflyCluster, with no cluster needed.
    Render {
        /// AntflyCluster YAML file, or `-` for stdin. Without it, renders the embedded
        /// development cluster (examples/dev-cluster.yaml).
        #[arg(short = 'f', long = "filename")]
        file: Option<PathBuf>,
    },
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Run the controller against the cluster in KUBECONFIG or the in-cluster config.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
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
}

async fn run_operator(args: RunArgs) -> Result<String, String> {
    use antfly_operator::controller::{self, OperatorConfig, leader::LeaderState, metrics::Metrics};
    use std::sync::Arc;

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
    tokio::spawn(controller::http::serve(listener, metrics.clone()));
    let identity = args.identity.unwrap_or_else(|| format!("antfly-operator-{}", std::process::id()));
    let config = OperatorConfig {
        watch_namespace: args.watch_namespace,
        lease_namespace: args.lease_namespace,
        lease_name: "antfly-operator-leader".into(),
        identity,
        resync: std::time::Duration::from_secs(args.resync_seconds),
        resolver: Arc::new(NoPlugins),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    controller::run(client, config, metrics, Arc::new(LeaderState::default()), shutdown)
        .await
        .map(|()| String::new())
        .map_err(|e| e.to_string())
}

fn read_input(file: Option<&PathBuf>) -> Result<String, String> {
    match file {
        None => Ok(render::EMBEDDED_DEFAULT.to_string()),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("failed to read stdin: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("failed to read {}: {e}", path.display())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { file } => {
            read_input(file.as_ref()).and_then(|yaml| render::render(&yaml, &NoPlugins).map_err(|e| e.to_string()))
        }
        Command::Crd => api::crds_yaml().map_err(|e| format!("failed to serialise CRDs: {e}")),
        Command::Run(args) => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(run_operator(args)),
            Err(e) => Err(format!("failed to start the async runtime: {e}")),
        },
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

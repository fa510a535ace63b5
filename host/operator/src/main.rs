//! The `antfly-operator` command line: `render`, `crd`, `plugins`, and (with the controller) `run`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use antfly_operator::extensions::{self, PluginResolver};
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
        /// Drop unknown fields with a warning instead of refusing them
        /// (like `kubectl --validate=warn`; the default is `--validate=strict`'s refusal).
        #[arg(long)]
        lenient: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Run the controller against the cluster in KUBECONFIG or the in-cluster config.
    Run(RunArgs),
    /// Inspect and try plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List the loaded plugins with their world, version and sha256.
    List {
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Run one plugin against a sample AntflyCluster, offline, and print what it contributes.
    Try {
        /// Name of the plugin.
        #[arg(long)]
        plugin: String,
        /// AntflyCluster YAML file, or `-` for stdin. Without it, uses the embedded
        /// development cluster.
        #[arg(short = 'f', long = "filename")]
        file: Option<PathBuf>,
        #[command(flatten)]
        plugins: PluginArgs,
    },
}

/// Where plugins come from, besides the first-party ones embedded in the binary.
#[derive(clap::Args)]
struct PluginArgs {
    /// Directory of third-party plugins, with a plugins.json manifest.
    #[arg(long, env = "ANTFLY_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Cache of compiled plugins (default: $XDG_CACHE_HOME/antfly-operator/plugins).
    #[arg(long, env = "ANTFLY_PLUGIN_CACHE_DIR")]
    plugin_cache_dir: Option<PathBuf>,
}

impl PluginArgs {
    fn load(&self) -> Result<PluginResolver, String> {
        extensions::load_for_cli(self.plugin_dir.as_deref(), self.plugin_cache_dir.as_deref())
            .map_err(|e| extensions::error_chain(&e))
    }
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
    #[command(flatten)]
    plugins: PluginArgs,
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
        // Compiling plugins (when the cache is cold) is CPU-bound: keep it off the async workers.
        resolver: Arc::new(tokio::task::block_in_place(|| args.plugins.load())?),
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
            let limit = antfly_operator::parse::MAX_INPUT_BYTES;
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("failed to read stdin: {e}"))?;
            if bytes.len() > limit {
                return Err(format!("stdin is larger than {limit} bytes, the most the API server accepts"));
            }
            String::from_utf8(bytes).map_err(|e| format!("stdin is not UTF-8: {e}"))
        }
        Some(path) => read_file(path),
    }
}

/// Reads a regular file no larger than the parser accepts, so that a huge or endless file
/// (`/dev/zero`) fails with a clear message instead of filling memory.
fn read_file(path: &std::path::Path) -> Result<String, String> {
    let limit = antfly_operator::parse::MAX_INPUT_BYTES;
    let file = std::fs::File::open(path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!("{} is larger than {limit} bytes, the most the API server accepts", path.display()));
    }
    String::from_utf8(bytes).map_err(|e| format!("{} is not UTF-8: {e}", path.display()))
}

fn render_command(file: Option<&PathBuf>, lenient: bool, plugins: &PluginArgs) -> Result<String, String> {
    let yaml = read_input(file)?;
    let parse = antfly_operator::parse::ParseOptions {
        unknown_fields: if lenient {
            antfly_operator::parse::UnknownFields::Warn
        } else {
            antfly_operator::parse::UnknownFields::Reject
        },
    };
    let rendered =
        render::render_with(&yaml, &plugins.load()?, render::RenderOptions { parse }).map_err(|e| e.to_string())?;
    for warning in &rendered.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(rendered.yaml)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { file, lenient, plugins } => render_command(file.as_ref(), lenient, &plugins),
        Command::Plugins { command: PluginsCommand::List { plugins } } => {
            plugins.load().map(|resolver| extensions::list(&resolver))
        }
        Command::Plugins { command: PluginsCommand::Try { plugin, file, plugins } } => {
            read_input(file.as_ref()).and_then(|yaml| extensions::try_plugin_yaml(&plugins.load()?, &yaml, &plugin))
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

//! The `antfly-operator` command line: `render`, `crd`, `plugins`, and (with the controller) `run`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use antfly_operator::api;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use cli::input::{read_input, render_command};
use cli::plugins::PluginArgs;
use cli::run::{RunArgs, run_operator};

/// The static (musl) build's allocator. musl's own took about a quarter of the operator's
/// CPU, much of it waiting on its one lock. mimalloc's version 2 returns freed memory after
/// 10 ms (version 3 waits a second), and with transparent huge pages off (`no_thp`) and one
/// async worker thread its resident memory stays within about a MiB of musl's
/// (docs/benchmarks.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--version`: the release, the commit it was built from (see build.rs) and the plugin
/// contract it serves.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}\ngit commit: {}\nplugin WIT: {}@{}",
        env!("CARGO_PKG_VERSION"),
        env!("ANTFLY_OPERATOR_GIT_COMMIT"),
        antfly_plugin_host::WIT_PACKAGE,
        antfly_plugin_host::WIT_VERSION
    )
});

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
    /// Run one backup (what a backup Job runs): ask the cluster's metadata API for it and
    /// write the result to the termination message.
    BackupRun(cli::run_job::RunJobArgs),
    /// Run one restore (what a restore Job runs), then wait until every restored table
    /// serves reads.
    RestoreRun(cli::run_job::RestoreJobArgs),
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
    /// Write a new plugin project for one world: buildable, with a README and fixtures.
    New {
        /// Name of the plugin (and of its crate): lower-case letters, digits and hyphens.
        name: String,
        /// The world the plugin implements.
        #[arg(long, value_parser = ["scheduling-provider", "mesh-profile", "backup-destination"])]
        world: String,
        /// Directory to create the project in (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Run a plugin offline against its fixtures and every example, and print what differs.
    /// Exits non-zero on any difference.
    Test {
        /// A project from `plugins new` (with antfly-plugin.json), or a component file.
        path: PathBuf,
        /// The world of a component file.
        #[arg(long)]
        world: Option<String>,
        /// The plugin's name (default: the project's, or the file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Directory of fixtures (default: the project's fixtures/).
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// Cache of compiled plugins.
        #[arg(long, env = "ANTFLY_PLUGIN_CACHE_DIR")]
        plugin_cache_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command().version(VERSION.as_str()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Render { file, lenient, plugins } => render_command(file.as_ref(), lenient, &plugins),
        Command::BackupRun(args) => run_async(cli::run_job::backup_run(args)),
        Command::RestoreRun(args) => run_async(cli::run_job::restore_run(args)),
        Command::Plugins { command: PluginsCommand::List { plugins } } => {
            plugins.load().map(|resolver| cli::plugins::list(&resolver))
        }
        Command::Plugins { command: PluginsCommand::Try { plugin, file, plugins } } => {
            read_input(file.as_ref()).and_then(|yaml| cli::plugins::try_plugin_yaml(&plugins.load()?, &yaml, &plugin))
        }
        Command::Plugins { command: PluginsCommand::New { name, world, dir } } => {
            antfly_plugin_host::World::parse(&world).ok_or_else(|| format!("unknown world {world:?}")).and_then(
                |world| {
                    cli::scaffold::new_project(&name, world, &dir)
                        .map(|root| format!("wrote {}; see its README.md\n", root.display()))
                        .map_err(|e| e.to_string())
                },
            )
        }
        Command::Plugins { command: PluginsCommand::Test { path, world, name, fixtures, plugin_cache_dir } } => {
            let tested =
                cli::plugins::TestTarget::locate(&path, world.as_deref(), name.as_deref()).and_then(|mut target| {
                    target.fixtures = fixtures.or(target.fixtures);
                    cli::plugins::test_plugin(&target, plugin_cache_dir.as_deref())
                });
            return match tested {
                Ok((report, passed)) => {
                    print!("{report}");
                    if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Crd => api::crds_yaml().map_err(|e| format!("failed to serialise CRDs: {e}")),
        Command::Run(args) => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(args.worker_threads))
            .enable_all()
            .build()
        {
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

/// Runs a one-shot async command on a small runtime.
fn run_async(command: impl std::future::Future<Output = Result<String, String>>) -> Result<String, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the async runtime: {e}"))?
        .block_on(command)
}

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

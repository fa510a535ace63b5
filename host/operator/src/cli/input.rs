//! Reading an input document: a file, stdin (`-`), or the embedded development cluster.

use std::io::Read;
use std::path::PathBuf;

use antfly_operator::parse::{MAX_INPUT_BYTES, ParseOptions, UnknownFields};
use antfly_operator::render::{self, RenderOptions};

use super::plugins::PluginArgs;

pub fn read_input(file: Option<&PathBuf>) -> Result<String, String> {
    match file {
        None => Ok(render::EMBEDDED_DEFAULT.to_string()),
        Some(path) if path.as_os_str() == "-" => read_bounded(std::io::stdin(), "stdin"),
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| format!("failed to read {name}: {e}"))?;
            read_bounded(file, &name)
        }
    }
}

/// Reads at most the parser's input limit, so that a huge or endless input (`/dev/zero`)
/// fails with a clear message instead of filling memory.
fn read_bounded(source: impl Read, name: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    source
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("failed to read {name}: {e}"))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(format!("{name} is larger than {MAX_INPUT_BYTES} bytes, the most the API server accepts"));
    }
    String::from_utf8(bytes).map_err(|e| format!("{name} is not UTF-8: {e}"))
}

/// `render`: print the objects, and the warnings (`--lenient`'s dropped fields) on stderr.
pub fn render_command(file: Option<&PathBuf>, lenient: bool, plugins: &PluginArgs) -> Result<String, String> {
    let yaml = read_input(file)?;
    let unknown_fields = if lenient { UnknownFields::Warn } else { UnknownFields::Reject };
    let options = RenderOptions { parse: ParseOptions { unknown_fields } };
    let rendered = render::render_with(&yaml, &plugins.load()?, options).map_err(|e| e.to_string())?;
    for warning in &rendered.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(rendered.yaml)
}

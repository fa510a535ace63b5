//! Reading an input document: a file, stdin (`-`), or the embedded development cluster.

use std::io::Read;
use std::path::PathBuf;

pub fn read_input(file: Option<&PathBuf>) -> Result<String, String> {
    match file {
        None => Ok(antfly_operator::render::EMBEDDED_DEFAULT.to_string()),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("failed to read stdin: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("failed to read {}: {e}", path.display())),
    }
}

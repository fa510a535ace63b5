//! `plugins new`: writes a buildable plugin project for one world. It starts from the
//! first-party template of that world, vendors the guest SDK and the WIT it was built with
//! (so the project builds anywhere, with no access to this repository), and comes with a
//! README and fixtures that `plugins test` runs.

use std::fs;
use std::path::{Path, PathBuf};

use antfly_plugin_host::{WIT_PACKAGE, WIT_VERSION, World};

/// The plugin metadata file of a project, read by `plugins test`.
pub const PROJECT_FILE: &str = "antfly-plugin.json";

const SDK_DIR: &str = "antfly-plugin-sdk";

/// The vendored SDK: its sources and the WIT, as built into this binary.
const SDK_FILES: [(&str, &str); 11] = [
    ("src/lib.rs", include_str!("../../../../plugins/sdk/src/lib.rs")),
    ("src/common.rs", include_str!("../../../../plugins/sdk/src/common.rs")),
    ("src/scheduling.rs", include_str!("../../../../plugins/sdk/src/scheduling.rs")),
    ("src/mesh.rs", include_str!("../../../../plugins/sdk/src/mesh.rs")),
    ("src/backup.rs", include_str!("../../../../plugins/sdk/src/backup.rs")),
    ("src/panic_hook.rs", include_str!("../../../../plugins/sdk/src/panic_hook.rs")),
    ("wit/types.wit", include_str!("../../../../wit/types.wit")),
    ("wit/scheduling.wit", include_str!("../../../../wit/scheduling.wit")),
    ("wit/mesh.wit", include_str!("../../../../wit/mesh.wit")),
    ("wit/backup.wit", include_str!("../../../../wit/backup.wit")),
    ("wit/worlds.wit", include_str!("../../../../wit/worlds.wit")),
];

/// The template of one world: its name in this repository, its source and its fixtures.
struct Template {
    name: &'static str,
    source: &'static str,
    fixtures: &'static [(&'static str, &'static str)],
    /// Whether the source parses JSON settings or options with serde.
    uses_serde: bool,
}

fn template(world: World) -> Template {
    match world {
        World::SchedulingProvider => Template {
            name: "template",
            source: include_str!("../../../../plugins/template/src/lib.rs"),
            fixtures: &[
                ("pins-both-roles.yaml", include_str!("../../../../plugins/template/fixtures/pins-both-roles.yaml")),
                (
                    "rejects-a-bad-pool.yaml",
                    include_str!("../../../../plugins/template/fixtures/rejects-a-bad-pool.yaml"),
                ),
            ],
            uses_serde: true,
        },
        World::MeshProfile => Template {
            name: "template-mesh",
            source: include_str!("../../../../plugins/template-mesh/src/lib.rs"),
            fixtures: &[
                ("annotations.yaml", include_str!("../../../../plugins/template-mesh/fixtures/annotations.yaml")),
                ("native-sidecar.yaml", include_str!("../../../../plugins/template-mesh/fixtures/native-sidecar.yaml")),
                ("no-sidecar.yaml", include_str!("../../../../plugins/template-mesh/fixtures/no-sidecar.yaml")),
            ],
            uses_serde: false,
        },
        World::BackupDestination => Template {
            name: "template-backup",
            source: include_str!("../../../../plugins/template-backup/src/lib.rs"),
            fixtures: &[
                (
                    "secret-credentials.yaml",
                    include_str!("../../../../plugins/template-backup/fixtures/secret-credentials.yaml"),
                ),
                ("bad-container.yaml", include_str!("../../../../plugins/template-backup/fixtures/bad-container.yaml")),
            ],
            uses_serde: true,
        },
    }
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name {0:?} is not valid: use 1-63 lower-case letters, digits and hyphens, \
         starting with a letter and not ending with a hyphen"
    )]
    InvalidName(String),
    #[error("{} already exists; choose another name or --dir", .0.display())]
    Exists(PathBuf),
    #[error("failed to write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Plugin names select plugins in specs and name the crate: a DNS label.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The component cargo builds for the crate `name`.
pub fn component_path(name: &str) -> String {
    format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"))
}

/// Writes the project `dir/name` and returns its path.
pub fn new_project(name: &str, world: World, dir: &Path) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::InvalidName(name.to_string()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    let template = template(world);
    let mut files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from("Cargo.toml"), cargo_toml(name, world, template.uses_serde)),
        (PathBuf::from(".gitignore"), "/target\n".to_string()),
        (PathBuf::from("README.md"), readme(name, world)),
        (PathBuf::from(PROJECT_FILE), project_file(name, world)),
        (PathBuf::from("src/lib.rs"), template.source.to_string()),
        (Path::new(SDK_DIR).join("Cargo.toml"), sdk_cargo_toml()),
    ];
    for (path, text) in SDK_FILES {
        files.push((Path::new(SDK_DIR).join(path), text.to_string()));
    }
    for (file, text) in template.fixtures {
        files.push((Path::new("fixtures").join(file), rename_plugin(text, template.name, name)));
    }
    for (path, text) in files {
        let path = root.join(path);
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(path, &text)
        };
        write(&path).map_err(|source| ScaffoldError::Write { path: path.clone(), source })?;
    }
    Ok(root)
}

/// Fixtures select the template by name (`plugin: template`, `profile: template-mesh`).
fn rename_plugin(fixture: &str, template: &str, name: &str) -> String {
    fixture
        .lines()
        .map(|line| match line.trim_start().split_once(": ") {
            Some(("plugin" | "profile", value)) if value.trim() == template => line.replace(template, name),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn cargo_toml(name: &str, world: World, uses_serde: bool) -> String {
    let serde =
        if uses_serde { "serde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\n" } else { "" };
    format!(
        r#"[package]
name = "{name}"
description = "antfly-operator {world} plugin"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
antfly-plugin-sdk = {{ path = "{SDK_DIR}", features = ["{world}"] }}
{serde}
# Small components compile and load faster in the operator.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A project of its own, even inside another workspace.
[workspace]
"#
    )
}

fn sdk_cargo_toml() -> String {
    format!(
        r#"# The antfly-operator guest SDK, vendored by `antfly-operator plugins new` for {WIT_PACKAGE}@{WIT_VERSION}.
[package]
name = "antfly-plugin-sdk"
version = "{WIT_VERSION}"
edition = "2024"
publish = false

[features]
scheduling-provider = []
mesh-profile = []
backup-destination = ["dep:serde", "dep:serde_json"]

[dependencies]
wit-bindgen = {{ version = "0.61.1", default-features = false, features = ["macros", "realloc"] }}
serde = {{ version = "1", features = ["derive"], optional = true }}
serde_json = {{ version = "1", optional = true }}
"#
    )
}

fn project_file(name: &str, world: World) -> String {
    let project = serde_json::json!({
        "name": name,
        "world": world.as_str(),
        "version": "0.1.0",
        "component": component_path(name),
    });
    format!("{project:#}\n")
}

fn readme(name: &str, world: World) -> String {
    let component = component_path(name);
    format!(
        r#"# {name}

An antfly-operator `{world}` plugin: a WebAssembly component built against the
`{WIT_PACKAGE}@{WIT_VERSION}` WIT, which `{SDK_DIR}/wit/` holds. The guest SDK in
`{SDK_DIR}/` owns the generated bindings and the helpers; `src/lib.rs` is yours.

## Build

```sh
rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
```

The component is `{component}`.

## Test offline

```sh
antfly-operator plugins test .
```

runs every fixture in `fixtures/` (an input and the answer the plugin must give, or the
error it must fail with) and every example cluster the operator ships, through the same
sandbox and checks as the operator. It prints what differs and exits non-zero on any
failure, so it fits a CI job. `antfly-operator plugins try --plugin-dir DIR --plugin {name}`
prints what the plugin contributes to one cluster.

A fixture gives one input and `expect`:

```yaml
cluster: {{...}}        # an AntflyCluster (scheduling providers and mesh profiles)
pod: {{...}}            # a Pod (mesh profiles: has-sidecar)
backup: {{location: ..., options: {{...}}}}   # backup destinations
expect:
  metadata: {{...}}     # the contribution per role, as `plugins try` prints it
  data: {{...}}
  hasSidecar: true
  plan: {{...}}
  error: substring     # or: the call must fail with this
```

## Deploy

Put the component in the operator's plugin directory with a `plugins.json` entry that pins
its sha256 (`sha256sum {component}`):

```json
{{"plugins": [{{"name": "{name}", "world": "{world}", "version": "0.1.0",
  "file": "{name}.wasm", "sha256": "<sha256>"}}]}}
```

The operator picks up a changed plugin directory without a restart.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_dns_labels() {
        assert!(valid_name("acme-spot"));
        for bad in ["", "Acme", "1acme", "acme-", "acme_spot", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn fixtures_select_the_new_plugin_by_its_name() {
        let fixture = "spec:\n  schedulingProvider:\n    plugin: template\n  other: template\n";
        assert_eq!(
            rename_plugin(fixture, "template", "acme"),
            "spec:\n  schedulingProvider:\n    plugin: acme\n  other: template\n"
        );
    }

    #[test]
    fn a_project_is_written_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = new_project("acme", World::MeshProfile, dir.path()).expect("written");
        for file in [
            "Cargo.toml",
            "README.md",
            PROJECT_FILE,
            "src/lib.rs",
            "antfly-plugin-sdk/wit/worlds.wit",
            "antfly-plugin-sdk/src/panic_hook.rs",
        ] {
            assert!(root.join(file).is_file(), "{file}");
        }
        assert!(matches!(new_project("acme", World::MeshProfile, dir.path()), Err(ScaffoldError::Exists(_))));
    }
}

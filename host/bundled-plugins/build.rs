//! Builds the `plugins/` workspace for wasm32-wasip2 and embeds the first-party plugins.
//!
//! The nested build runs `cargo build --release --target wasm32-wasip2 -p PLUGIN` once per
//! plugin (each plugin enables one world feature of the SDK, and building them together would
//! unify those features), with its own
//! target directory (`<root>/target/plugins-wasm`, or `ANTFLY_PLUGINS_TARGET_DIR`) and an
//! environment cleared of what cargo and clippy set for build scripts, so that the outer
//! build's flags, wrappers and target never leak into the guest build.

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const TARGET: &str = "wasm32-wasip2";

/// First-party plugins: name, crate (as cargo names its artifact), world.
const FIRST_PARTY: [(&str, &str, &str); 8] = [
    ("eks", "antfly_plugin_eks", "scheduling-provider"),
    ("gke", "antfly_plugin_gke", "scheduling-provider"),
    ("istio", "antfly_plugin_istio", "mesh-profile"),
    ("linkerd", "antfly_plugin_linkerd", "mesh-profile"),
    ("consul", "antfly_plugin_consul", "mesh-profile"),
    ("s3", "antfly_plugin_s3", "backup-destination"),
    ("gcs", "antfly_plugin_gcs", "backup-destination"),
    ("file", "antfly_plugin_file", "backup-destination"),
];

/// Test fixtures, exposed by path only: name, crate.
const FIXTURES: [(&str, &str); 6] = [
    ("hostile", "antfly_plugin_hostile"),
    ("future-wit", "antfly_plugin_future_wit"),
    ("wrong-signature", "antfly_plugin_wrong_signature"),
    ("template", "antfly_plugin_template"),
    ("template-mesh", "antfly_plugin_template_mesh"),
    ("template-backup", "antfly_plugin_template_backup"),
];

/// Directories and files of `plugins/` whose changes require a rebuild.
const WATCHED: [&str; 15] = [
    "Cargo.toml",
    "Cargo.lock",
    "sdk",
    "eks",
    "gke",
    "istio",
    "linkerd",
    "consul",
    "s3",
    "gcs",
    "file",
    "template",
    "template-mesh",
    "template-backup",
    "testing",
];

/// Variables that cargo, clippy or the user set for the outer build and that must not
/// reach the nested one.
const CLEARED: [&str; 16] = [
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
];

/// `CARGO_*` variables that stay: the user's cargo home, registry and network settings,
/// and the jobserver that lets the nested build share the outer build's job slots.
const KEPT_CARGO_PREFIXES: [&str; 6] =
    ["CARGO_HOME", "CARGO_NET_", "CARGO_HTTP_", "CARGO_REGISTRIES_", "CARGO_REGISTRY_", "CARGO_MAKEFLAGS"];

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/bundled-plugins sits two levels below the repository root")
        .to_path_buf();
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env_var("OUT_DIR"));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for entry in WATCHED {
        println!("cargo:rerun-if-changed={}", plugins.join(entry).display());
    }
    println!("cargo:rerun-if-env-changed=ANTFLY_PLUGINS_TARGET_DIR");

    let target_dir = env::var_os("ANTFLY_PLUGINS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("plugins-wasm"));

    ensure_target_installed();
    build_plugins(&cargo, &plugins, &target_dir);

    let artifacts = target_dir.join(TARGET).join("release");
    let version = workspace_version(&plugins.join("Cargo.toml"));
    let mut code = String::from(
        "/// The first-party plugins, in a fixed order.\n\
         pub static FIRST_PARTY: &[BundledPlugin] = &[\n",
    );
    for (name, krate, world) in FIRST_PARTY {
        let embedded = out_dir.join(format!("{name}.wasm"));
        let digest = copy_artifact(&artifacts.join(format!("{krate}.wasm")), &embedded);
        writeln!(
            code,
            "    BundledPlugin {{ name: {name:?}, world: {world:?}, version: {version:?}, \
             sha256: {digest:?}, wasm: include_bytes!({embedded:?}) }},"
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    fs::write(out_dir.join("bundled.rs"), code).expect("failed to write bundled.rs");

    let fixtures = out_dir.join("fixtures");
    fs::create_dir_all(&fixtures).expect("failed to create the fixtures directory");
    for (name, krate) in FIXTURES {
        copy_artifact(&artifacts.join(format!("{krate}.wasm")), &fixtures.join(format!("{name}.wasm")));
    }
    println!("cargo:rustc-env=ANTFLY_FIXTURE_DIR={}", fixtures.display());
    println!("cargo:rustc-env=ANTFLY_WIT_DIR={}", root.join("wit").display());
}

fn env_var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// A command with the outer build's variables removed.
fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_set = (key.starts_with("CARGO_") || key.starts_with("__CARGO"))
            && !KEPT_CARGO_PREFIXES.iter().any(|p| key.starts_with(p));
        if cargo_set || CLEARED.contains(&key) {
            command.env_remove(key);
        }
    }
    command
}

/// Fails with instructions when the Rust standard library for wasm32-wasip2 is missing.
fn ensure_target_installed() {
    let output =
        clean_command("rustc").args(["--print", "sysroot"]).output().expect("failed to run `rustc --print sysroot`");
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let lib = Path::new(&sysroot).join("lib").join("rustlib").join(TARGET);
    if !output.status.success() || !lib.is_dir() {
        panic!(
            "\n\nThe antfly-operator plugins are built for the {TARGET} target, which is not \
             installed for this toolchain ({sysroot}).\nInstall it with:\n\n    \
             rustup target add {TARGET}\n\n"
        );
    }
}

/// Builds every plugin crate, one cargo invocation each.
fn build_plugins(cargo: &OsString, plugins: &Path, target_dir: &Path) {
    let crates = FIRST_PARTY.iter().map(|(_, krate, _)| *krate).chain(FIXTURES.iter().map(|(_, krate)| *krate));
    for krate in crates {
        let package = krate.replace('_', "-");
        let output = clean_command(cargo)
            .arg("build")
            .arg("--release")
            .arg("--locked")
            .args(["--target", TARGET])
            .args(["-p", &package])
            .arg("--manifest-path")
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .output()
            .expect("failed to run cargo for the plugins workspace");
        if !output.status.success() {
            panic!(
                "\n\nbuilding the plugin {package} (plugins/) for {TARGET} failed:\n{}\n",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Copies a built component and returns its sha256, in hex.
fn copy_artifact(from: &Path, to: &Path) -> String {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("failed to read {}: {e}", from.display()));
    fs::write(to, &bytes).unwrap_or_else(|e| panic!("failed to write {}: {e}", to.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// `[workspace.package] version` of the plugins workspace.
fn workspace_version(manifest: &Path) -> String {
    let text = fs::read_to_string(manifest).unwrap_or_else(|e| panic!("failed to read {}: {e}", manifest.display()));
    text.lines()
        .skip_while(|line| line.trim() != "[workspace.package]")
        .find_map(|line| {
            let value = line.trim().strip_prefix("version")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no [workspace.package] version in {}", manifest.display()))
}

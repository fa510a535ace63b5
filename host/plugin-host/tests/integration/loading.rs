//! Loading plugins: manifests and pins, WIT versions, worlds, and the compiled-artifact
//! cache.

use std::fs;
use std::path::Path;

use antfly_bundled_plugins::fixtures;
use antfly_plugin_host::{
    CallErrorKind, HostConfig, LoadError, LoadedFrom, MANIFEST_FILE, Manifest, ManifestEntry, PluginHost, PluginSource,
    WasmBytes, World,
};
use sha2::{Digest, Sha256};

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

/// A plugin directory holding the template plugin under `file`, with `entry` edited.
fn plugin_dir(edit: impl FnOnce(&mut ManifestEntry)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = fixtures::path("template");
    fs::copy(&source, dir.path().join("template.wasm")).unwrap();
    let mut entry = ManifestEntry {
        name: "template".to_string(),
        world: "scheduling-provider".to_string(),
        wit: "antfly:operator@0.2.0".to_string(),
        file: "template.wasm".to_string(),
        version: "0.1.0".to_string(),
        sha256: sha256(&source),
    };
    edit(&mut entry);
    let manifest = Manifest { manifest_version: 1, plugins: vec![entry] };
    fs::write(dir.path().join(MANIFEST_FILE), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    dir
}

#[test]
fn a_pinned_plugin_directory_loads() {
    let dir = plugin_dir(|_| {});
    let plugins = crate::common::host().load_dir(dir.path()).unwrap();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].name(), "template");
    assert_eq!(plugins[0].world(), World::SchedulingProvider);
    assert_eq!(plugins[0].sha256(), sha256(&fixtures::path("template")));
}

#[test]
fn a_wrong_sha256_is_refused() {
    let dir = plugin_dir(|e| e.sha256 = "0".repeat(64));
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, LoadError::HashMismatch { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("sha256 mismatch"), "{message}");
    assert!(message.contains(&"0".repeat(64)), "{message}");
}

#[test]
fn an_incompatible_wit_major_in_the_manifest_is_refused() {
    let dir = plugin_dir(|e| e.wit = "antfly:operator@1.0.0".to_string());
    let error = chain(&crate::common::host().load_dir(dir.path()).unwrap_err());
    assert!(error.contains("plugin \"template\": invalid manifest entry"), "{error}");
    assert!(error.contains("antfly:operator@1.0.0"), "{error}");
    assert!(error.contains("supports antfly:operator@0.2.0"), "{error}");
}

#[test]
fn a_component_built_against_an_incompatible_wit_major_is_refused() {
    let error = crate::common::host()
        .load(PluginSource {
            name: "future".to_string(),
            world: World::SchedulingProvider,
            version: "9.0.0".to_string(),
            wasm: WasmBytes::File(fixtures::path("future-wit")),
            sha256: None,
        })
        .unwrap_err();
    let LoadError::WitVersionMismatch { found, supported, .. } = &error else {
        panic!("expected a WIT version mismatch, got {error}");
    };
    assert_eq!(found, "antfly:operator@1.0.0");
    assert_eq!(*supported, "0.2.0");
    assert!(error.to_string().contains("rebuild the plugin"), "{error}");
}

#[test]
fn a_plugin_declared_for_the_wrong_world_is_refused() {
    let dir = plugin_dir(|e| e.world = "mesh-profile".to_string());
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, LoadError::WorldMismatch { .. }), "{error}");
    assert!(error.to_string().contains("antfly:operator/scheduling@0.2.0"), "{error}");
}

#[test]
fn files_outside_the_plugin_directory_are_refused() {
    let dir = plugin_dir(|e| e.file = "../template.wasm".to_string());
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, LoadError::Manifest { .. }), "{error}");
}

#[test]
fn the_second_load_deserialises_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let config = HostConfig { cache_dir: Some(cache.path().join("plugins")), ..HostConfig::default() };
    let source = PluginSource {
        name: "template".to_string(),
        world: World::SchedulingProvider,
        version: "0.1.0".to_string(),
        wasm: WasmBytes::File(fixtures::path("template")),
        sha256: None,
    };
    let first = PluginHost::new(config.clone()).unwrap().load(source.clone()).unwrap();
    assert_eq!(first.loaded_from(), LoadedFrom::Compiled);
    // A new host, as after a restart, finds the artifact.
    let host = PluginHost::new(config.clone()).unwrap();
    let second = host.load(source.clone()).unwrap();
    assert_eq!(second.loaded_from(), LoadedFrom::Cache);
    let view = crate::common::cluster(r#"{"nodePool":"pool"}"#);
    assert!(second.validate_settings(&view).unwrap().is_ok());

    // A tampered artifact is not trusted: its sidecar digest no longer matches.
    let artifacts: Vec<_> =
        walk(cache.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect();
    assert_eq!(artifacts.len(), 1);
    let mut bytes = fs::read(&artifacts[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    // Replaced, not rewritten in place: the loaded plugins map the artifact, and truncating a
    // mapped file makes the next touch of its pages a SIGBUS.
    let tampered = artifacts[0].with_extension("tampered");
    fs::write(&tampered, bytes).unwrap();
    fs::rename(&tampered, &artifacts[0]).unwrap();
    let third = PluginHost::new(config).unwrap().load(source).unwrap();
    assert_eq!(third.loaded_from(), LoadedFrom::Compiled);
}

/// A host with a compile cache, and the template plugin loaded into it from a copy of its
/// file in `dir`.
fn cached_template(cache: &Path, dir: &Path) -> antfly_plugin_host::Plugin {
    let file = dir.join("template.wasm");
    fs::copy(fixtures::path("template"), &file).unwrap();
    let host = PluginHost::new(HostConfig { cache_dir: Some(cache.join("plugins")), ..HostConfig::default() }).unwrap();
    host.load(PluginSource {
        name: "template".to_string(),
        world: World::SchedulingProvider,
        version: "0.1.0".to_string(),
        wasm: WasmBytes::File(file),
        sha256: None,
    })
    .unwrap()
}

#[test]
fn a_cached_plugin_is_parked_after_its_checks_and_mapped_at_its_first_call() {
    let (cache, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plugin = cached_template(cache.path(), dir.path());
    assert!(!plugin.is_resident(), "a loaded plugin holds no compiled code until it is called");
    let view = crate::common::cluster(r#"{"nodePool":"pool"}"#);
    assert!(plugin.validate_settings(&view).unwrap().is_ok());
    assert!(plugin.is_resident());
    // Clones share the mapping.
    assert!(plugin.clone().validate_settings(&view).unwrap().is_ok());

    // Without a cache, mapping again would mean compiling again: the plugin stays mapped.
    let uncached = crate::common::fixture(&crate::common::host(), "template", World::SchedulingProvider);
    assert!(uncached.is_resident());
}

#[test]
fn a_parked_plugin_whose_artifact_is_gone_compiles_again_at_its_first_call() {
    let (cache, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plugin = cached_template(cache.path(), dir.path());
    for artifact in walk(cache.path()) {
        fs::remove_file(artifact).unwrap();
    }
    let view = crate::common::cluster(r#"{"nodePool":"pool"}"#);
    assert!(plugin.validate_settings(&view).unwrap().is_ok());
    assert!(walk(cache.path()).iter().any(|p| p.extension().is_some_and(|e| e == "cwasm")), "stored again");
}

#[test]
fn a_parked_plugin_whose_file_changed_is_not_run_and_says_why() {
    let (cache, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plugin = cached_template(cache.path(), dir.path());
    // Another component under the loaded plugin's name: its checks never ran.
    fs::copy(fixtures::path("hostile"), dir.path().join("template.wasm")).unwrap();
    let view = crate::common::cluster(r#"{"nodePool":"pool"}"#);
    let error = plugin.validate_settings(&view).unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Unavailable { .. }), "{error}");
    assert!(error.to_string().contains("changed since it was loaded"), "{error}");
    assert!(error.kind.is_transient(), "a reload of the plugins resolves it");
    assert!(!plugin.is_resident());

    // A missing file says which file.
    fs::remove_file(dir.path().join("template.wasm")).unwrap();
    let error = plugin.validate_settings(&view).unwrap_err().to_string();
    assert!(error.contains("template.wasm"), "{error}");
}

#[cfg(unix)]
#[test]
fn a_cache_directory_writable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let cache = tempfile::tempdir().unwrap();
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let error = PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..HostConfig::default() })
        .err()
        .unwrap();
    assert!(error.to_string().contains("writable by other users"), "{error}");
}

/// An error and its causes, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn an_export_with_the_wrong_signature_is_refused_at_load_naming_the_export() {
    let error = crate::common::host()
        .load(PluginSource {
            name: "wrong-signature".to_string(),
            world: World::SchedulingProvider,
            version: "0.0.0".to_string(),
            wasm: WasmBytes::File(fixtures::path("wrong-signature")),
            sha256: None,
        })
        .unwrap_err();
    let LoadError::ExportSignature { export, problem, .. } = &error else { panic!("{error}") };
    assert_eq!(export, "antfly:operator/scheduling@0.2.0#validate-settings");
    assert!(problem.contains("expected func(view: cluster-view) -> result<_, list<plugin-error>>"), "{problem}");
    assert!(problem.contains("found func(settings: string) -> bool"), "{problem}");
    let message = error.to_string();
    assert!(message.contains("plugin \"wrong-signature\""), "{message}");
    assert!(message.contains("does not match the scheduling-provider world"), "{message}");
}

#[test]
fn every_first_party_plugin_passes_the_signature_check() {
    let host = crate::common::host();
    for bundled in antfly_bundled_plugins::first_party() {
        crate::common::bundled(&host, bundled.name);
    }
    for (name, world) in [("template-mesh", World::MeshProfile), ("template-backup", World::BackupDestination)] {
        crate::common::fixture(&host, name, world);
    }
}

#[test]
fn a_component_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let dir = plugin_dir(|_| {});
    let component = dir.path().join("template.wasm");
    fs::remove_file(&component).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&component).status().unwrap();
    assert!(made.success());
    // Opening a FIFO for reading would block until a writer comes: this must return.
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }), "{error}");
    assert!(chain(&error).contains("it is a FIFO, not a regular file"), "{}", chain(&error));
}

#[test]
fn a_component_over_the_size_cap_is_refused_before_it_is_read() {
    let dir = plugin_dir(|_| {});
    let component = dir.path().join("template.wasm");
    fs::File::create(&component).unwrap().set_len(antfly_plugin_host::MAX_COMPONENT_BYTES + 1).unwrap();
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(chain(&error).contains("more than the limit of 67108864 bytes"), "{}", chain(&error));
}

#[test]
fn a_manifest_that_is_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(MANIFEST_FILE)).unwrap();
    let error = crate::common::host().load_dir(dir.path()).unwrap_err();
    assert!(chain(&error).contains("it is a directory, not a regular file"), "{}", chain(&error));
}

//! The vendor kit end to end: `plugins new` writes a project for each world, cargo builds it
//! for wasm32-wasip2, and `plugins test` loads the component through the real host and runs
//! its fixtures and the examples. Also: the in-repository templates pass their own fixtures,
//! and a wrong expectation fails with the differing field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OPERATOR: &str = env!("CARGO_BIN_EXE_antfly-operator");

fn operator(args: &[&str]) -> Output {
    Command::new(OPERATOR).args(args).output().expect("antfly-operator runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `plugins test COMPONENT --world WORLD --name NAME --fixtures FIXTURES`.
fn plugins_test(component: &Path, world: &str, name: &str, fixtures: &Path) -> Output {
    operator(&[
        "plugins",
        "test",
        &component.to_string_lossy(),
        "--world",
        world,
        "--name",
        name,
        "--fixtures",
        &fixtures.to_string_lossy(),
    ])
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// One target directory for every scaffolded project, kept between runs, so that their
/// shared dependencies build once.
fn kit_target_dir() -> PathBuf {
    repo("target/plugin-kit")
}

#[test]
fn a_new_plugin_of_each_world_builds_and_passes_its_fixtures() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for world in ["scheduling-provider", "mesh-profile", "backup-destination"] {
        let name = format!("acme-{world}");
        let created = operator(&["plugins", "new", &name, "--world", world, "--dir", &dir.path().to_string_lossy()]);
        assert!(created.status.success(), "{}", text(&created));
        let project = dir.path().join(&name);
        // The project's own target/ is the shared one.
        std::fs::create_dir_all(kit_target_dir()).expect("kit target dir");
        std::os::unix::fs::symlink(kit_target_dir(), project.join("target")).expect("symlink target/");

        let build = Command::new(env!("CARGO"))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&project)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(build.status.success(), "{world}: the scaffold does not build:\n{}", text(&build));

        let tested = operator(&["plugins", "test", &project.to_string_lossy()]);
        let report = text(&tested);
        assert!(tested.status.success(), "{world}:\n{report}");
        assert!(report.contains(" failed; examples:") && !report.contains("FAIL"), "{report}");
        let fixtures = std::fs::read_dir(project.join("fixtures")).expect("fixtures").count();
        assert!(report.contains(&format!("fixtures: {fixtures} passed, 0 failed")), "{report}");
    }
}

#[test]
fn the_templates_pass_their_own_fixtures() {
    for (fixture, world) in [
        ("template", "scheduling-provider"),
        ("template-mesh", "mesh-profile"),
        ("template-backup", "backup-destination"),
    ] {
        let component = antfly_bundled_plugins::fixtures::path(fixture);
        let fixtures = repo(&format!("plugins/{fixture}/fixtures"));
        let tested = plugins_test(&component, world, fixture, &fixtures);
        assert!(tested.status.success(), "{fixture}:\n{}", text(&tested));
    }
}

/// The first-party plugins that carry fixtures pass them, run from the bytes the operator
/// embeds (under another name: the embedded plugin holds its own).
#[test]
fn the_first_party_plugins_pass_their_fixtures() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut tested_any = 0;
    for bundled in antfly_bundled_plugins::first_party() {
        let fixtures = repo(&format!("plugins/{}/fixtures", bundled.name));
        if !fixtures.is_dir() {
            continue;
        }
        let component = dir.path().join(format!("{}.wasm", bundled.name));
        std::fs::write(&component, bundled.wasm).expect("write the component");
        let name = format!("{}-under-test", bundled.name);
        let tested = plugins_test(&component, bundled.world, &name, &fixtures);
        assert!(tested.status.success(), "{}:\n{}", bundled.name, text(&tested));
        tested_any += 1;
    }
    assert!(tested_any >= 3, "the s3, gcs and file destinations carry fixtures");
}

#[test]
fn a_wrong_expectation_fails_and_names_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fixture = std::fs::read_to_string(repo("plugins/template/fixtures/pins-both-roles.yaml")).expect("fixture");
    let wrong = fixture.replacen("example.com/node-pool: antfly", "example.com/node-pool: green", 1);
    std::fs::write(dir.path().join("wrong.yaml"), wrong).expect("write");
    let component = antfly_bundled_plugins::fixtures::path("template");
    let tested = plugins_test(&component, "scheduling-provider", "template", dir.path());
    let report = text(&tested);
    assert!(!tested.status.success(), "{report}");
    assert!(
        report.contains("metadata.nodeSelector.example.com/node-pool: expected \"green\", got \"antfly\""),
        "{report}"
    );
    assert!(report.contains("fixtures: 0 passed, 1 failed"), "{report}");
}

#[test]
fn a_plugin_that_fails_in_the_sandbox_fails_its_fixture() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fixture = "cluster:\n  apiVersion: antfly.io/v1\n  kind: AntflyCluster\n  metadata:\n    name: demo\n  spec:\n    \
                   schedulingProvider:\n      plugin: hostile\n      settings:\n        attack: loop\nexpect:\n  data: {}\n";
    std::fs::write(dir.path().join("loop.yaml"), fixture).expect("write");
    let component = antfly_bundled_plugins::fixtures::path("hostile");
    let tested = operator(&[
        "plugins",
        "test",
        &component.to_string_lossy(),
        "--world",
        "scheduling-provider",
        "--fixtures",
        &dir.path().to_string_lossy(),
    ]);
    let report = text(&tested);
    assert!(!tested.status.success(), "{report}");
    assert!(report.contains("FAIL  loop.yaml") && report.contains("exceeded its deadline"), "{report}");
}

/// The JavaScript `aks` provider (`plugins/js/aks`, built by `.ci/js-plugins.sh`) passes its
/// own fixtures through `plugins test`, exactly as a vendor's CI would run it. Fails, rather
/// than skips, when the component is missing.
#[test]
fn the_javascript_aks_plugin_passes_its_fixtures() {
    let component = antfly_bundled_plugins::fixtures::js_component("aks").unwrap_or_else(|message| panic!("{message}"));
    let fixtures = repo("plugins/js/aks/fixtures");
    let tested = Command::new(OPERATOR)
        .args(["plugins", "test", &component.to_string_lossy(), "--world", "scheduling-provider", "--name", "aks"])
        .args(["--fixtures", &fixtures.to_string_lossy()])
        // Shared with the plugin host's tests: the 12 MB component compiles once per change.
        .env("ANTFLY_PLUGIN_CACHE_DIR", repo("target/plugin-cache/tests"))
        .output()
        .expect("antfly-operator runs");
    let report = text(&tested);
    assert!(tested.status.success(), "{report}");
    let count = std::fs::read_dir(&fixtures).expect("fixtures").count();
    assert!(report.contains(&format!("fixtures: {count} passed, 0 failed")), "{report}");
}

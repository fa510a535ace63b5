//! `antfly-operator --version`: the release, the commit it was built from, the WIT it serves.

use std::process::Command;

#[test]
fn version_names_the_release_the_git_commit_and_the_plugin_wit() {
    let out = Command::new(env!("CARGO_BIN_EXE_antfly-operator")).arg("--version").output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let commit = std::env::var("ANTFLY_OPERATOR_GIT_COMMIT").ok().filter(|c| !c.is_empty()).unwrap_or(commit);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            format!("antfly-operator {}", env!("CARGO_PKG_VERSION")),
            format!("git commit: {commit}"),
            format!("plugin WIT: {}@{}", antfly_plugin_host::WIT_PACKAGE, antfly_plugin_host::WIT_VERSION),
        ]
    );
}

#[test]
fn the_short_flag_prints_the_same() {
    let long = Command::new(env!("CARGO_BIN_EXE_antfly-operator")).arg("--version").output().expect("runs");
    let short = Command::new(env!("CARGO_BIN_EXE_antfly-operator")).arg("-V").output().expect("runs");
    assert_eq!(long.stdout, short.stdout);
}

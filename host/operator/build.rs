//! Records the git commit the binary is built from, for `antfly-operator --version`.
//!
//! `ANTFLY_OPERATOR_GIT_COMMIT` wins when set (a build from a source archive, or inside a
//! container without `.git`); otherwise `git rev-parse HEAD`; otherwise `unknown`. The
//! build script reruns when HEAD moves, not on every source change.

use std::path::{Path, PathBuf};
use std::process::Command;

const OVERRIDE: &str = "ANTFLY_OPERATOR_GIT_COMMIT";

fn main() {
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    // Without it, a build with no git would rerun this script on every change in the package.
    println!("cargo:rerun-if-changed=build.rs");
    let commit = match std::env::var(OVERRIDE) {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=ANTFLY_OPERATOR_GIT_COMMIT={commit}");
}

/// The commit of HEAD, and the files whose change moves it (for rerun-if-changed).
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "HEAD"])?;
    // HEAD itself (a branch switch), the branch's ref (a commit) and packed-refs (a gc).
    // `--git-path` resolves each inside a worktree's or the common git directory.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = absolute(PathBuf::from(path));
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(commit)
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(manifest_dir()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()))
}

/// `git rev-parse --git-path` answers relative to the working directory.
fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() { path } else { Path::new(&manifest_dir()).join(path) }
}

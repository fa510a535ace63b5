//! The deployment files as tests use them: the Helm chart rendered by the real `helm`
//! (built by `.ci/helm.sh`), `kubectl` against a test control plane, and YAML documents.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use antfly_envtest::ControlPlane;

/// Where the chart lives, relative to the repository root.
pub const CHART: &str = "deploy/helm/antfly-operator";
/// The release name and namespace the tests (and the kustomize base) render the chart with.
pub const RELEASE: &str = "antfly-operator";
pub const NAMESPACE: &str = "antfly-system";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `ANTFLY_HELM`, else the binary `.ci/helm.sh` caches for the version in `tests/helm/go.mod`.
pub fn helm_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ANTFLY_HELM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let go_mod = std::fs::read_to_string(repo_root().join("tests/helm/go.mod")).expect("tests/helm/go.mod");
    let version = go_mod
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("helm.sh/helm/v3")).then(|| words.next()).flatten()
        })
        .expect("tests/helm/go.mod requires helm.sh/helm/v3");
    let path = repo_root().join(".cache/helm").join(version).join("bin/helm");
    assert!(path.is_file(), "{} is missing: build it with `bash .ci/helm.sh` (or set ANTFLY_HELM)", path.display());
    path
}

/// `kubectl` from `ANTFLY_KUBECTL` or the PATH.
pub fn kubectl_binary() -> PathBuf {
    std::env::var_os("ANTFLY_KUBECTL").filter(|p| !p.is_empty()).map_or_else(|| PathBuf::from("kubectl"), PathBuf::from)
}

/// Runs `program args` in the repository root with `stdin`; the output, whatever the status.
pub fn run(program: &Path, args: &[&str], envs: &[(&str, &Path)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(repo_root()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().unwrap_or_else(|e| panic!("failed to run {}: {e}", program.display()));
    if let Some(input) = stdin {
        child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for the child")
}

/// Stdout of a run that must succeed; the stderr in the panic otherwise.
pub fn success(what: &str, output: Output) -> String {
    assert!(output.status.success(), "{what} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// `helm template` of the chart with extra arguments, as it comes.
pub fn helm_template_output(args: &[&str]) -> Output {
    let mut all = vec!["template", RELEASE, CHART, "--namespace", NAMESPACE];
    all.extend_from_slice(args);
    run(&helm_binary(), &all, &[], None)
}

/// `helm template` with `values` (YAML) on top of the chart's defaults.
pub fn helm_template_with(values: &str, args: &[&str]) -> String {
    let mut file = tempfile::NamedTempFile::new().expect("values file");
    file.write_all(values.as_bytes()).expect("write values");
    let path = file.path().to_str().expect("utf-8 temp path").to_owned();
    let mut all = vec!["--values", path.as_str()];
    all.extend_from_slice(args);
    success("helm template", helm_template_output(&all))
}

/// The chart rendered with its default values, once per test binary.
pub fn chart_manifests() -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| success("helm template", helm_template_output(&[])))
}

/// `kubectl` as the control plane's administrator.
pub fn kubectl(cp: &ControlPlane, args: &[&str], stdin: Option<&str>) -> Output {
    run(&kubectl_binary(), args, &[("KUBECONFIG", cp.kubeconfig_path())], stdin)
}

/// `kubectl apply --server-side` of `yaml`, which must succeed.
pub fn kubectl_apply(cp: &ControlPlane, yaml: &str) -> String {
    success(
        "kubectl apply --server-side",
        kubectl(cp, &["apply", "--server-side", "--field-manager=antfly-tests", "-f", "-"], Some(yaml)),
    )
}

/// The documents of a multi-document YAML stream, without empty ones.
pub fn documents(yaml: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_str_multiple::<serde_json::Value, Vec<_>>(yaml)
        .expect("YAML documents")
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The one document of `kind` named `name`.
pub fn find<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} among the documents"))
}

//! The Helm chart and the kustomize base: in sync with their sources, refusing bad values with
//! the path of the value, accepted by a real kube-apiserver, and delivering plugins the
//! operator loads with their sha256 pins.

use std::path::{Path, PathBuf};

use crate::support::deploy::*;
use crate::support::repo_file;
use antfly_envtest::ControlPlane;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::Api;
use sha2::{Digest, Sha256};

fn repo_path(path: &str) -> PathBuf {
    repo_root().join(path)
}

#[test]
fn the_chart_carries_the_current_crds_and_the_kustomize_base_is_the_rendered_chart() {
    assert!(
        repo_file("deploy/helm/antfly-operator/crds/antfly.io.yaml") == repo_file("crds/antfly.io.yaml"),
        "the chart's CRDs are stale; run `bash .ci/sync-deploy.sh`"
    );
    let helm = helm_binary();
    let rendered = success(
        "bash .ci/sync-deploy.sh --print",
        run(Path::new("bash"), &[".ci/sync-deploy.sh", "--print"], &[("ANTFLY_HELM", &helm)], None),
    );
    assert!(
        rendered == repo_file("deploy/kustomize/base/operator.yaml"),
        "deploy/kustomize/base/operator.yaml is stale; run `bash .ci/sync-deploy.sh`"
    );
}

#[test]
fn the_chart_and_the_image_follow_the_operator_version() {
    let chart: serde_json::Value =
        serde_saphyr::from_str(&repo_file("deploy/helm/antfly-operator/Chart.yaml")).expect("chart");
    assert_eq!(chart["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(chart["appVersion"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    let docs = documents(chart_manifests());
    let deployment = find(&docs, "Deployment", RELEASE);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
        Some(format!("localhost/antfly-operator:{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let pinned = helm_template_with(&format!("image:\n  digest: sha256:{}\n", "a".repeat(64)), &[]);
    assert!(pinned.contains(&format!("image: localhost/antfly-operator@sha256:{}", "a".repeat(64))), "{pinned}");
}

/// Every file a user deploys the operator with, and what the chart and kustomize make of it.
fn deployment_texts() -> Vec<(String, String)> {
    let mut texts = vec![
        ("Containerfile".to_owned(), repo_file("Containerfile")),
        ("helm template".to_owned(), chart_manifests().to_owned()),
        (
            "kubectl kustomize overlays/example".to_owned(),
            success(
                "kubectl kustomize",
                run(&kubectl_binary(), &["kustomize", "deploy/kustomize/overlays/example"], &[], None),
            ),
        ),
    ];
    let mut dirs = vec![repo_path("deploy")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let text = std::fs::read_to_string(&path).expect("deploy file");
                texts.push((path.display().to_string(), text));
            }
        }
    }
    texts
}

#[test]
fn no_deployment_file_uses_latest_or_another_projects_operator_image() {
    for (name, text) in deployment_texts() {
        for line in text.lines().filter(|l| l.trim_start().starts_with("image:") || l.contains("FROM ")) {
            assert!(!line.trim_end().ends_with(":latest"), "{name}: {line}");
        }
        assert!(!text.contains("antflydb/antfly-operator"), "{name} names the Go operator's image");
    }
}

#[test]
fn bad_values_are_refused_with_the_path_of_the_value() {
    let refused = |args: &[&str]| {
        let output = helm_template_output(args);
        assert!(!output.status.success(), "helm template {args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let message = refused(&["--set", "image.tag=latest"]);
    assert!(message.contains("/image/tag"), "{message}");
    let message = refused(&["--set", "logFormat=xml"]);
    assert!(message.contains("/logFormat"), "{message}");
    let message = refused(&["--set", "metrics.serviceMonitor.labels.release=1", "--set", "replicaCount=-1"]);
    assert!(message.contains("/replicaCount"), "{message}");

    let values = |sha256: &str, file: &str| {
        let mut file_ = tempfile::NamedTempFile::new().expect("values");
        std::io::Write::write_all(
            &mut file_,
            plugin_values("initContainer", "localhost/acme-plugins:1.0.0", sha256, file).as_bytes(),
        )
        .expect("write");
        file_
    };
    let short_pin = values("abc", "acme/acme-pools.wasm");
    let message = refused(&["--values", short_pin.path().to_str().expect("path")]);
    assert!(message.contains("/plugins/manifest/0/sha256"), "{message}");
    let outside = values(&"0".repeat(64), "acme-pools.wasm");
    let message = refused(&["--values", outside.path().to_str().expect("path")]);
    assert!(message.contains("plugins.manifest[0].file: \"acme-pools.wasm\" is not under a directory"), "{message}");
    let latest_plugin = tempfile::NamedTempFile::new().expect("values");
    std::fs::write(
        latest_plugin.path(),
        plugin_values("initContainer", "localhost/acme-plugins:latest", &"0".repeat(64), "acme/acme-pools.wasm"),
    )
    .expect("write");
    let message = refused(&["--values", latest_plugin.path().to_str().expect("path")]);
    assert!(message.contains("/plugins/sources/0/image"), "{message}");
}

#[test]
fn the_service_monitor_scrapes_the_metrics_service() {
    let rendered =
        helm_template_with("metrics:\n  serviceMonitor:\n    enabled: true\n    labels: {release: prometheus}\n", &[]);
    let docs = documents(&rendered);
    let monitor = find(&docs, "ServiceMonitor", RELEASE);
    let service = find(&docs, "Service", &format!("{RELEASE}-metrics"));
    let selector = monitor["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels");
    for (key, value) in selector {
        assert_eq!(&service["metadata"]["labels"][key], value, "the Service lacks the label {key:?}");
    }
    assert_eq!(monitor["metadata"]["labels"]["release"].as_str(), Some("prometheus"));
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    let message = String::from_utf8_lossy(
        &helm_template_output(&[
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.service.enabled=false",
        ])
        .stderr,
    )
    .into_owned();
    assert!(message.contains("metrics.serviceMonitor.enabled"), "{message}");
}

/// Chart values delivering the template plugin from one source image.
fn plugin_values(delivery: &str, image: &str, sha256: &str, file: &str) -> String {
    format!(
        "plugins:
  delivery: {delivery}
  sources:
    - name: acme
      image: {image}
      path: /plugins
  manifest:
    - name: acme-pools
      world: scheduling-provider
      wit: antfly:operator@0.2.0
      file: {file}
      version: 1.0.0
      sha256: \"{sha256}\"
"
    )
}

fn template_plugin() -> (Vec<u8>, String) {
    let wasm = std::fs::read(antfly_bundled_plugins::fixtures::path("template")).expect("template plugin");
    let pin = hex::encode(Sha256::digest(&wasm));
    (wasm, pin)
}

#[tokio::test]
async fn the_chart_installs_on_a_real_api_server_with_each_plugin_delivery() {
    let cp = ControlPlane::start().await.expect("control plane");
    success("create namespace", kubectl(&cp, &["create", "namespace", NAMESPACE], None));
    // As `helm install` does: the CRDs from the chart's crds/ first, then the templates.
    let applied = kubectl_apply(&cp, &success("helm template", helm_template_output(&["--include-crds"])));
    assert!(
        applied.contains("customresourcedefinition.apiextensions.k8s.io/antflyclusters.antfly.io serverside-applied")
    );
    assert!(applied.contains("deployment.apps/antfly-operator serverside-applied"), "{applied}");

    let deployments: Api<Deployment> = Api::namespaced(cp.client(), NAMESPACE);
    let deployment = deployments.get(RELEASE).await.expect("deployment");
    let pod = deployment.spec.expect("spec").template.spec.expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(RELEASE));
    let container = &pod.containers[0];
    assert!(container.args.iter().flatten().any(|a| a == "--plugin-cache-dir=/var/cache/antfly-operator/plugins"));
    assert_eq!(container.security_context.as_ref().and_then(|s| s.read_only_root_filesystem), Some(true));

    // Both deliveries of a third-party plugin are valid pod specs for the real API server.
    let (_, pin) = template_plugin();
    for delivery in ["initContainer", "imageVolume"] {
        let values = plugin_values(delivery, "localhost/acme-plugins:1.0.0", &pin, "acme/acme-pools.wasm");
        kubectl_apply(&cp, &helm_template_with(&values, &[]));
        let pod = deployments.get(RELEASE).await.expect("deployment").spec.expect("spec").template.spec.expect("pod");
        let volumes: Vec<String> = pod.volumes.iter().flatten().map(|v| v.name.clone()).collect();
        assert!(
            volumes.contains(&"plugins".to_owned()) && volumes.contains(&"plugin-manifest".to_owned()),
            "{volumes:?}"
        );
        match delivery {
            "initContainer" => {
                let init = &pod.init_containers.as_ref().expect("init containers")[0];
                assert_eq!(init.image.as_deref(), Some("localhost/acme-plugins:1.0.0"));
            }
            _ => {
                // The API server keeps the image volume (it would drop the field were the
                // ImageVolume feature off).
                let source =
                    pod.volumes.iter().flatten().find(|v| v.name == "plugin-source-acme").expect("image volume");
                assert_eq!(
                    source.image.as_ref().and_then(|i| i.reference.as_deref()),
                    Some("localhost/acme-plugins:1.0.0"),
                    "the image volume was dropped by the API server"
                );
                assert!(pod.init_containers.unwrap_or_default().is_empty());
            }
        }
    }
}

#[tokio::test]
async fn the_kustomize_base_and_the_example_overlay_install_on_a_real_api_server() {
    let cp = ControlPlane::start().await.expect("control plane");
    let base = success("kubectl kustomize", kubectl(&cp, &["kustomize", "deploy/kustomize/base"], None));
    let applied = kubectl_apply(&cp, &base);
    for object in [
        "namespace/antfly-system",
        "customresourcedefinition.apiextensions.k8s.io/antflyclusters.antfly.io",
        "clusterrole.rbac.authorization.k8s.io/antfly-operator",
        "role.rbac.authorization.k8s.io/antfly-operator-leader-election",
        "deployment.apps/antfly-operator",
    ] {
        assert!(applied.contains(&format!("{object} serverside-applied")), "{object} not applied:\n{applied}");
    }

    let overlay = success("kubectl kustomize", kubectl(&cp, &["kustomize", "deploy/kustomize/overlays/example"], None));
    kubectl_apply(&cp, &overlay);
    let client = cp.client();
    let deployment =
        Api::<Deployment>::namespaced(client.clone(), "databases-system").get(RELEASE).await.expect("deployment");
    let spec = deployment.spec.expect("spec");
    assert_eq!(spec.replicas, Some(3));
    let container = &spec.template.spec.expect("pod").containers[0];
    assert_eq!(container.image.as_deref(), Some("localhost:5000/platform/antfly-operator:0.1.0"));
    assert_eq!(
        container.resources.as_ref().and_then(|r| r.limits.as_ref()).map(|l| l["memory"].0.clone()),
        Some("1Gi".into())
    );
    // The overlay's RBAC binds the ServiceAccount of its own namespace.
    let binding = Api::<ClusterRoleBinding>::all(client.clone()).get(RELEASE).await.expect("cluster role binding");
    assert_eq!(binding.subjects.expect("subjects")[0].namespace.as_deref(), Some("databases-system"));
    let leader = Api::<RoleBinding>::namespaced(client, "databases-system")
        .get("antfly-operator-leader-election")
        .await
        .expect("leader-election binding");
    assert_eq!(leader.subjects.expect("subjects")[0].namespace.as_deref(), Some("databases-system"));
}

/// The files a container sees under `path`, composed from its volume mounts as the kubelet
/// composes them: each mount's volume content (an emptyDir's directory, a ConfigMap's keys,
/// an image's files), the shorter mount paths first.
struct PodFilesystem {
    root: tempfile::TempDir,
    /// Host directory backing each volume by name: emptyDirs and images.
    volumes: std::collections::BTreeMap<String, PathBuf>,
}

impl PodFilesystem {
    fn new() -> Self {
        Self { root: tempfile::tempdir().expect("temp dir"), volumes: Default::default() }
    }

    /// The host directory of volume `name` at `sub_path`, created if needed.
    fn volume_dir(&mut self, name: &str, sub_path: Option<&str>) -> PathBuf {
        let base =
            self.volumes.entry(name.to_owned()).or_insert_with(|| self.root.path().join("volumes").join(name)).clone();
        let dir = match sub_path {
            Some(sub) => base.join(sub),
            None => base,
        };
        std::fs::create_dir_all(&dir).expect("volume dir");
        dir
    }

    /// Runs an init container's command with its paths mapped to the volumes it mounts,
    /// and `image_root` as its own root filesystem.
    fn run_init_container(&mut self, container: &serde_json::Value, image_root: &Path) {
        let mounts: Vec<(String, PathBuf)> = container["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .map(|m| {
                let dir = self.volume_dir(m["name"].as_str().expect("name"), m["subPath"].as_str());
                (m["mountPath"].as_str().expect("mountPath").to_owned(), dir)
            })
            .collect();
        let map = |arg: &str| -> String {
            for (mount_path, dir) in &mounts {
                if let Some(rest) = arg.strip_prefix(mount_path.as_str()) {
                    return format!("{}{rest}", dir.display());
                }
            }
            if arg.starts_with('/') { format!("{}{arg}", image_root.display()) } else { arg.to_owned() }
        };
        let command: Vec<String> =
            container["command"].as_array().expect("command").iter().map(|a| map(a.as_str().expect("arg"))).collect();
        let status = std::process::Command::new(&command[0]).args(&command[1..]).status().expect("init command runs");
        assert!(status.success(), "init container command {command:?} failed");
    }

    /// Composes the operator container's view of `dir` into a fresh directory.
    fn container_view(
        &mut self,
        container: &serde_json::Value,
        volumes: &[serde_json::Value],
        config_maps: &[&serde_json::Value],
        images: &std::collections::BTreeMap<String, PathBuf>,
        dir: &str,
    ) -> PathBuf {
        let view = self.root.path().join("view");
        let mut mounts: Vec<&serde_json::Value> = container["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter(|m| m["mountPath"].as_str().is_some_and(|p| p.starts_with(dir)))
            .collect();
        mounts.sort_by_key(|m| m["mountPath"].as_str().map(str::len));
        for mount in mounts {
            let name = mount["name"].as_str().expect("volume name");
            let target = view.join(mount["mountPath"].as_str().expect("path").trim_start_matches('/'));
            let volume = volumes.iter().find(|v| v["name"].as_str() == Some(name)).expect("mounted volume exists");
            let sub_path = mount["subPath"].as_str();
            let source = if volume["emptyDir"].is_object() {
                self.volume_dir(name, sub_path)
            } else if let Some(map_name) = volume["configMap"]["name"].as_str() {
                let config_map = config_maps
                    .iter()
                    .find(|c| c["metadata"]["name"].as_str() == Some(map_name))
                    .expect("mounted ConfigMap is rendered");
                let files = self.volume_dir(name, None);
                for (key, value) in config_map["data"].as_object().expect("data") {
                    std::fs::write(files.join(key), value.as_str().expect("value")).expect("write");
                }
                sub_path.map_or(files.clone(), |s| files.join(s))
            } else {
                let reference = volume["image"]["reference"].as_str().expect("an emptyDir, ConfigMap or image volume");
                let root = images.get(reference).expect("the image exists");
                sub_path.map_or(root.clone(), |s| root.join(s))
            };
            copy_into(&source, &target);
        }
        view.join(dir.trim_start_matches('/'))
    }
}

fn copy_into(source: &Path, target: &Path) {
    if source.is_dir() {
        std::fs::create_dir_all(target).expect("mkdir");
        for entry in std::fs::read_dir(source).expect("read dir") {
            let entry = entry.expect("entry");
            copy_into(&entry.path(), &target.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(source, target).expect("copy");
    }
}

/// Renders the chart with the template plugin delivered by `delivery`, lays out the pod's
/// files as the kubelet would (running the init container's real command), and returns the
/// output of `antfly-operator plugins list` run on the operator container's plugin directory.
fn plugins_list_in_the_pod(delivery: &str, pin: &str) -> std::process::Output {
    let (wasm, _) = template_plugin();
    let image = "localhost/acme-plugins:1.0.0";
    let image_root = tempfile::tempdir().expect("image root");
    std::fs::create_dir_all(image_root.path().join("plugins")).expect("mkdir");
    std::fs::write(image_root.path().join("plugins/acme-pools.wasm"), &wasm).expect("write wasm");

    let rendered = helm_template_with(&plugin_values(delivery, image, pin, "acme/acme-pools.wasm"), &[]);
    let docs = documents(&rendered);
    let pod = &find(&docs, "Deployment", RELEASE)["spec"]["template"]["spec"];
    let operator = &pod["containers"][0];
    let plugin_dir = operator["args"]
        .as_array()
        .expect("args")
        .iter()
        .find_map(|a| a.as_str().and_then(|a| a.strip_prefix("--plugin-dir=")))
        .expect("--plugin-dir is passed")
        .to_owned();
    let volumes = pod["volumes"].as_array().expect("volumes").clone();
    let config_maps: Vec<&serde_json::Value> =
        docs.iter().filter(|d| d["kind"].as_str() == Some("ConfigMap")).collect();

    let mut fs = PodFilesystem::new();
    for init in pod["initContainers"].as_array().into_iter().flatten() {
        assert_eq!(init["image"].as_str(), Some(image));
        fs.run_init_container(init, image_root.path());
    }
    let images = std::collections::BTreeMap::from([(image.to_owned(), image_root.path().to_path_buf())]);
    let view = fs.container_view(operator, &volumes, &config_maps, &images, &plugin_dir);
    std::process::Command::new(env!("CARGO_BIN_EXE_antfly-operator"))
        .args(["plugins", "list", "--plugin-dir"])
        .arg(&view)
        .env_remove("ANTFLY_PLUGIN_CACHE_DIR")
        .env("XDG_CACHE_HOME", fs.root.path().join("cache"))
        .output()
        .expect("antfly-operator runs")
}

#[test]
fn a_plugin_delivered_by_the_chart_loads_with_its_pin_and_a_wrong_pin_is_refused() {
    let (_, pin) = template_plugin();
    for delivery in ["initContainer", "imageVolume"] {
        let output = plugins_list_in_the_pod(delivery, &pin);
        let listed = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{delivery}: {}", String::from_utf8_lossy(&output.stderr));
        let line =
            listed.lines().find(|l| l.starts_with("acme-pools ")).unwrap_or_else(|| panic!("{delivery}: {listed}"));
        assert!(line.contains("scheduling-provider") && line.contains(&pin[..12]), "{delivery}: {line}");

        let wrong = "0".repeat(64);
        let output = plugins_list_in_the_pod(delivery, &wrong);
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{delivery}: a wrong pin was accepted");
        assert!(message.contains("acme-pools") && message.contains("sha256"), "{delivery}: {message}");
    }
}

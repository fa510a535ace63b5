//! The `antfly-operator render` command, run as a user runs it.

use std::io::Write;
use std::process::{Command, Stdio};

fn operator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_antfly-operator"))
}

#[test]
fn render_without_a_file_prints_the_embedded_dev_cluster() {
    let out = operator().arg("render").output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&yaml).expect("yaml documents");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["ConfigMap", "Service", "Service", "StatefulSet", "StatefulSet"]);
    assert_eq!(docs[3]["metadata"]["name"], "dev-metadata");
}

#[test]
fn render_reads_stdin_and_reports_every_field_error() {
    let input = "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: bad\nspec:\n  metadataNodes:\n    replicas: 4\n  config: 'nope'\n";
    let out = render_stdin(input);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing is rendered for invalid input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.metadataNodes.replicas (line 7): must be odd (3 or 5; 1 for development), got 4\n"),
        "{stderr}"
    );
    assert!(stderr.contains("spec.config (line 8): must be valid JSON"), "{stderr}");
}

#[test]
fn render_rejects_a_file_of_another_kind() {
    let out = operator()
        .args(["render", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/daily-backup.yaml")])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected kind AntflyCluster"));
}

/// A cluster with its backups in one file: `render` shows what the backups put on the
/// server pods (Secret references, mounts), so that the rollout they cause can be previewed.
#[test]
fn render_previews_the_environment_a_cluster_s_backups_put_on_its_pods() {
    let input = r#"
apiVersion: antfly.io/v1
kind: AntflyCluster
metadata: {name: my-cluster}
spec: {}
---
apiVersion: antfly.io/v1
kind: AntflyBackup
metadata: {name: hourly-minio}
spec:
  clusterRef: {name: my-cluster}
  schedule: "0 * * * *"
  destination:
    location: s3://antfly-backups/my-cluster
    credentialsSecret: {name: minio-backup}
    options: {endpoint: "http://minio.minio.svc:9000", forcePathStyle: true}
---
apiVersion: antfly.io/v1
kind: AntflyBackup
metadata: {name: to-volume}
spec:
  clusterRef: {name: my-cluster}
  destination: {location: "file:///backups", options: {claimName: antfly-backups}}
"#;
    let out = render_stdin(input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "name: minio-backup",
        "key: AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL_S3",
        "claimName: antfly-backups",
        "mountPath: /backups",
    ] {
        assert!(yaml.contains(expected), "{expected} missing from:\n{yaml}");
    }

    // A backup the destination refuses is an error with its line, not a silent omission.
    let refused = input.replace("claimName: antfly-backups", "claimName: Not_A_Claim");
    let out = render_stdin(&refused);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AntflyBackup/to-volume") && stderr.contains("claimName"), "{stderr}");
}

/// `plugins try` of a backup destination plans a backup file's destination, checked as a
/// reconcile checks it.
#[test]
fn plugins_try_plans_a_backup_destination() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/backup-minio-secret.yaml");
    let out = operator().args(["plugins", "try", "--plugin", "s3", "-f", example]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "world: backup-destination",
        "location: s3://antfly-backups/my-cluster",
        "secretName: minio-backup",
        "AWS_ENDPOINT_URL_S3",
    ] {
        assert!(report.contains(expected), "{expected} missing from:\n{report}");
    }
    let wrong = operator().args(["plugins", "try", "--plugin", "gcs", "-f", example]).output().expect("runs");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("served by \"s3\""),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let list = operator().args(["plugins", "list"]).output().expect("runs");
    let listed = String::from_utf8_lossy(&list.stdout);
    for name in ["s3", "gcs", "file"] {
        assert!(listed.lines().any(|l| l.starts_with(name) && l.contains("backup-destination")), "{listed}");
    }
}

fn render_stdin(input: &str) -> std::process::Output {
    run_with_stdin(&["render", "-f", "-"], input)
}

/// Runs the operator with `args`, `input` on its stdin, and collects its output.
fn run_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = operator()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("writes");
    child.wait_with_output().expect("finishes")
}

#[test]
fn render_never_panics_on_malformed_yaml() {
    let inputs = [
        "",
        "[",
        ": :",
        "kind: AntflyCluster\napiVersion: antfly.io/v1\nspec: 7\n",
        "apiVersion: antfly.io/v1\nkind: AntflyCluster\nspec:\n  metadataNodes:\n    replicas: many\n",
    ];
    for input in inputs {
        let out = render_stdin(input);
        assert_eq!(out.status.code(), Some(1), "{input:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    }
}

/// The scheduling seed's "Combining with EKS Spot Instances" example, end to end through the
/// bundled eks plugin: its "Resulting pod template" for data nodes, and no Spot for metadata.
#[test]
fn render_produces_the_seeds_resulting_pod_template_for_eks_spot() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/eks-spot-scheduling-cluster.yaml");
    let out = operator().args(["render", "-f", example]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&yaml).expect("yaml documents");
    let pod = |name: &str| {
        docs.iter()
            .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == name)
            .map(|d| d["spec"]["template"]["spec"].clone())
            .expect("statefulset")
    };
    let expected: serde_json::Value = serde_saphyr::from_str(
        r#"
nodeSelector:
  workload: antfly
  eks.amazonaws.com/capacityType: "SPOT"
tolerations:
  - {key: dedicated, operator: Equal, value: antfly, effect: NoSchedule}
  - {key: eks.amazonaws.com/spot, operator: Exists, effect: NoSchedule}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {app.kubernetes.io/name: antfly, app.kubernetes.io/component: data}
terminationGracePeriodSeconds: 25
"#,
    )
    .expect("expected template");
    let data = pod("my-cluster-data");
    for field in ["nodeSelector", "tolerations", "topologySpreadConstraints", "terminationGracePeriodSeconds"] {
        assert_eq!(data[field], expected[field], "data pods: {field}");
    }
    let metadata = pod("my-cluster-metadata");
    assert!(metadata["nodeSelector"].is_null() && metadata["tolerations"].is_null(), "metadata pods never go to Spot");
    assert!(metadata["terminationGracePeriodSeconds"].is_null());
}

#[test]
fn lenient_render_warns_about_unknown_fields_and_strict_render_refuses_them() {
    let input = "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: typo\nspec:\n  metadataNodes:\n    replica: 5\n";
    let run = |args: &[&str]| run_with_stdin(args, input);
    let strict = run(&["render", "-f", "-"]);
    assert!(!strict.status.success());
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stderr.contains("spec.metadataNodes.replica (line 7): unknown field \"replica\" (did you mean \"replicas\"?)"),
        "{stderr}"
    );
    let lenient = run(&["render", "--lenient", "-f", "-"]);
    assert!(lenient.status.success(), "{}", String::from_utf8_lossy(&lenient.stderr));
    assert!(String::from_utf8_lossy(&lenient.stderr).starts_with("warning: spec.metadataNodes.replica (line 7)"));
    assert!(String::from_utf8_lossy(&lenient.stdout).contains("kind: StatefulSet"));
}

#[test]
fn render_refuses_files_over_the_api_servers_limit_without_reading_them_whole() {
    let out = operator().args(["render", "-f", "/dev/zero"]).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is larger than 3145728 bytes"));
}

#[test]
fn core_errors_and_plugin_errors_are_reported_in_one_list() {
    let input = "apiVersion: antfly.io/v1\nkind: AntflyCluster\nmetadata:\n  name: both\nspec:\n  metadataNodes:\n    replicas: 4\n  eks:\n    enabled: true\n    irsaRoleARN: nope\n";
    let out = render_stdin(input);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("spec.metadataNodes.replicas (line 7): must be odd"), "{stderr}");
    assert!(stderr.contains("spec.eks.irsaRoleARN (line 10): plugin \"eks\" rejected its settings"), "{stderr}");
}

#[test]
fn an_empty_input_says_so() {
    let out = render_stdin("# nothing\n---\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input holds no AntflyCluster"));
}

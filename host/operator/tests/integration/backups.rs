//! Backups and restores against a real kube-apiserver, with the real destination plugins and
//! the real `backup-run` / `restore-run` commands talking to a test double of the Antfly
//! HTTP API (no real Antfly server can be built here).
//!
//! With no kubelet or Job controller, the test plays both: it runs each Job's command itself
//! (against the double: in-cluster DNS does not resolve here), then reports the Job's pod
//! terminated with the command's termination message and the Job Complete or Failed. The
//! operator's clock is a [`ManualClock`] the test moves, so no test sleeps through a schedule.

use std::sync::Arc;

use antfly_double::AntflyDouble;
use antfly_envtest::ControlPlane;
use antfly_operator::api::{AntflyBackup, AntflyBackupStatus, AntflyCluster, AntflyRestore, AntflyRestoreStatus};
use antfly_operator::controller::clock::ManualClock;
use antfly_operator::controller::metrics::Metrics;
use antfly_operator::extensions::{PluginOptions, PluginResolver};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::support::*;

/// 2030-01-01T01:00:00Z: an hour before the nightly backups' 02:00.
fn start_time() -> Timestamp {
    "2030-01-01T01:00:00Z".parse().expect("timestamp")
}

struct Harness {
    cp: ControlPlane,
    admin: Client,
    clock: Arc<ManualClock>,
    reconcile_all: Arc<tokio::sync::Notify>,
    double: AntflyDouble,
    _operator: RunningOperator,
}

impl Harness {
    async fn start(namespace: &str) -> Harness {
        let cp = ControlPlane::start().await.expect("control plane");
        let admin = cp.client();
        install_operator_manifests(&admin).await;
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("namespace");
        Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns).await.expect("namespace");
        let clock = Arc::new(ManualClock::new(start_time()));
        let reconcile_all = Arc::new(tokio::sync::Notify::new());
        let resolver = Arc::new(PluginResolver::load(&PluginOptions::default()).expect("first-party plugins load"));
        let operator = RunningOperator::start_with_clock(
            operator_client(&cp),
            "backup-test",
            Arc::new(Metrics::default()),
            resolver,
            clock.clone(),
            reconcile_all.clone(),
        );
        let double = AntflyDouble::start().await;
        double.restore_ready_after(std::time::Duration::from_millis(300));
        Harness { cp, admin, clock, reconcile_all, double, _operator: operator }
    }

    /// Moves the operator's clock and has it look again.
    fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
        self.reconcile_all.notify_one();
    }

    async fn create<K>(&self, ns: &str, object: Value) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let object: K = serde_json::from_value(object).expect("object");
        Api::<K>::namespaced(self.admin.clone(), ns).create(&PostParams::default(), &object).await.expect("create")
    }

    /// A cluster with the public API off, Running: the test plays the StatefulSet controller.
    async fn running_cluster(&self, ns: &str, name: &str) {
        let spec = json!({"publicAPI": {"enabled": false}});
        let _: AntflyCluster = self
            .create(ns, json!({"apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "metadata": {"name": name}, "spec": spec}))
            .await;
        let clusters = Api::<AntflyCluster>::namespaced(self.admin.clone(), ns);
        eventually("the cluster is Running", || async {
            self.roll_out(ns, name).await;
            clusters.get(name).await.ok().and_then(|c| c.status).and_then(|s| s.phase)
                == Some(antfly_operator::api::ClusterPhase::Running)
        })
        .await;
    }

    /// Plays the StatefulSet controller and kubelet: every pod of both StatefulSets runs the
    /// current template and is ready.
    async fn roll_out(&self, ns: &str, cluster: &str) {
        let statefulsets = Api::<StatefulSet>::namespaced(self.admin.clone(), ns);
        for role in ["metadata", "data"] {
            let name = format!("{cluster}-{role}");
            let Ok(Some(sts)) = statefulsets.get_opt(&name).await else { continue };
            let replicas = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let revision = format!("{name}-{}", sts.metadata.generation.unwrap_or(0));
            let status = json!({"status": {
                "observedGeneration": sts.metadata.generation, "replicas": replicas, "readyReplicas": replicas,
                "availableReplicas": replicas, "updatedReplicas": replicas, "currentReplicas": replicas,
                "currentRevision": revision, "updateRevision": revision,
            }});
            let _ = statefulsets.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await;
        }
    }

    /// Plays the Job controller and kubelet for the Job `name`: runs its command against the
    /// double, then reports its pod terminated and the Job finished. Returns the result.
    async fn run_job(&self, ns: &str, name: &str) -> Value {
        let jobs = Api::<Job>::namespaced(self.admin.clone(), ns);
        let job = jobs.get(name).await.expect("the Job exists");
        let template = job.spec.as_ref().expect("spec").template.clone();
        let container = &template.spec.as_ref().expect("pod").containers[0];
        let mut args = container.args.clone().expect("args");
        let url = args.iter().position(|a| a == "--url").expect("--url") + 1;
        assert_eq!(args[url], format!("http://{}-metadata.{ns}.svc:12377", job.labels()["app.kubernetes.io/instance"]));
        args[url] = self.double.base_url().to_string();
        let result_file = tempfile::NamedTempFile::new().expect("temporary file");
        args.extend(["--result-file".to_string(), result_file.path().display().to_string()]);
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_antfly-operator")).args(&args).output().expect("runs")
        })
        .await
        .expect("joins");
        let message = std::fs::read_to_string(result_file.path()).expect("a result was written");
        let succeeded = output.status.success();

        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        let pods = Api::<Pod>::namespaced(self.admin.clone(), ns);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-pod"), "labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": container.name, "image": container.image}]},
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod).await.expect("create the Job's pod");
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let terminated = json!({"status": {"phase": if succeeded { "Succeeded" } else { "Failed" }, "containerStatuses": [{
            "name": container.name, "image": container.image, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": if succeeded { 0 } else { 1 }, "message": message, "startedAt": now, "finishedAt": now}},
        }]}});
        pods.patch_status(&format!("{name}-pod"), &PatchParams::default(), &Patch::Merge(terminated))
            .await
            .expect("pod status");
        let conditions = if succeeded {
            json!([{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}])
        } else {
            json!([{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                   {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}])
        };
        let mut status = json!({"startTime": now, "conditions": conditions});
        if succeeded {
            status["succeeded"] = json!(1);
            status["completionTime"] = json!(now);
        } else {
            status["failed"] = json!(1);
        }
        jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .expect("job status");
        serde_json::from_str(&message).expect("the result is JSON")
    }

    async fn backup_status(&self, ns: &str, name: &str) -> AntflyBackupStatus {
        Api::<AntflyBackup>::namespaced(self.admin.clone(), ns)
            .get(name)
            .await
            .ok()
            .and_then(|b| b.status)
            .unwrap_or_default()
    }

    async fn restore_status(&self, ns: &str, name: &str) -> AntflyRestoreStatus {
        Api::<AntflyRestore>::namespaced(self.admin.clone(), ns)
            .get(name)
            .await
            .ok()
            .and_then(|r| r.status)
            .unwrap_or_default()
    }

    async fn job_names(&self, ns: &str) -> Vec<String> {
        let jobs = Api::<Job>::namespaced(self.admin.clone(), ns).list(&ListParams::default()).await.expect("jobs");
        let mut names: Vec<String> = jobs.items.iter().map(ResourceExt::name_any).collect();
        names.sort();
        names
    }

    async fn event_reasons(&self, ns: &str, object: &str) -> Vec<String> {
        let events =
            Api::<Event>::namespaced(self.admin.clone(), ns).list(&ListParams::default()).await.expect("events");
        events
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
            .filter_map(|e| e.reason)
            .collect()
    }
}

fn condition(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<(String, String)> {
    conditions.iter().find(|c| c.type_ == type_).map(|c| (c.status.clone(), c.message.clone()))
}

fn nightly(schedule: Option<&str>, history_limit: i32) -> Value {
    let mut spec = json!({
        "clusterRef": {"name": "db"},
        "destination": {"location": "s3://backups/db", "credentialsSecret": {"name": "s3-creds"}, "options": {"region": "eu-west-1"}},
        "tables": ["orders"],
        "historyLimit": history_limit,
    });
    if let Some(schedule) = schedule {
        spec["schedule"] = json!(schedule);
    }
    json!({"apiVersion": "antfly.io/v1", "kind": "AntflyBackup", "metadata": {"name": "nightly"}, "spec": spec})
}

#[tokio::test]
async fn scheduled_backups_run_at_their_instants_with_real_ids_and_secret_references_only() {
    let ns = "backups";
    let h = Harness::start(ns).await;
    h.double.create_table("orders", [("k1", json!({"total": 1}))]);
    h.running_cluster(ns, "db").await;
    let _: AntflyBackup = h.create(ns, nightly(Some("0 2 * * *"), 2)).await;

    // The destination's environment reaches both StatefulSets as Secret references; the
    // backup waits until the pods carry it.
    let statefulsets = Api::<StatefulSet>::namespaced(h.admin.clone(), ns);
    eventually("the server pods carry the s3 environment", || async {
        let Ok(sts) = statefulsets.get("db-data").await else { return false };
        let env =
            serde_json::to_value(&sts.spec.expect("spec").template.spec.expect("pod").containers[0].env).expect("env");
        env.as_array().is_some_and(|env| {
            env.iter().any(|e| e["name"] == "AWS_ACCESS_KEY_ID" && e["valueFrom"]["secretKeyRef"]["name"] == "s3-creds")
                && env.iter().any(|e| e["name"] == "AWS_REGION" && e["value"] == "eu-west-1")
        })
    })
    .await;
    eventually("DestinationReady=False while the pods still run the old template", || async {
        let status = h.backup_status(ns, "nightly").await;
        condition(&status.conditions, "DestinationReady").is_some_and(|(s, m)| s == "False" && m.contains("carry"))
            && status.phase.as_deref() == Some("Waiting")
    })
    .await;
    eventually("DestinationReady once the pods rolled", || async {
        h.roll_out(ns, "db").await;
        let status = h.backup_status(ns, "nightly").await;
        condition(&status.conditions, "DestinationReady").is_some_and(|(s, _)| s == "True")
            && status.phase.as_deref() == Some("Scheduled")
    })
    .await;
    let status = h.backup_status(ns, "nightly").await;
    assert_eq!(status.next_scheduled_backup.map(|t| t.0.to_string()).as_deref(), Some("2030-01-01T02:00:00Z"));
    assert!(h.job_names(ns).await.is_empty(), "nothing runs before 02:00");

    // 02:00:05: the run starts, with a real Antfly backup id.
    h.advance(SignedDuration::from_secs(3605));
    let id = "nightly-20300101020005";
    eventually("the 02:00 run's Job", || async { h.job_names(ns).await == [id] }).await;
    let result = h.run_job(ns, id).await;
    assert_eq!(result["outcome"], "Completed", "{result}");
    eventually("the run is recorded", || async {
        let status = h.backup_status(ns, "nightly").await;
        status.recent_backups.first().is_some_and(|r| r.backup_id == id && r.phase == "Completed")
            && status.active.is_none()
    })
    .await;
    let status = h.backup_status(ns, "nightly").await;
    assert_eq!(status.last_backup_id.as_deref(), Some(id));
    assert!(status.last_successful_backup_time.is_some());
    assert_eq!(condition(&status.conditions, "LastBackupSucceeded").map(|(s, _)| s).as_deref(), Some("True"));
    let record = &status.recent_backups[0];
    assert_eq!(record.location.as_deref(), Some("s3://backups/db"));
    assert_eq!(
        record.tables.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect::<Vec<_>>(),
        [("orders", "completed")]
    );
    assert_eq!(h.double.backup_ids("s3://backups/db"), [id]);
    assert!(
        h.double.requests().iter().all(|r| r.path.starts_with("/db/v1/")),
        "every call goes to the metadata API: {:?}",
        h.double.requests()
    );
    assert_eq!(status.next_scheduled_backup.map(|t| t.0.to_string()).as_deref(), Some("2030-01-02T02:00:00Z"));

    // On demand, at once, even though the next run is a day away; then a failing run.
    let backups = Api::<AntflyBackup>::namespaced(h.admin.clone(), ns);
    let annotate = |value: &str| json!({"metadata": {"annotations": {"antfly.io/backup-now": value}}});
    h.advance(SignedDuration::from_secs(60));
    backups.patch("nightly", &PatchParams::default(), &Patch::Merge(annotate("1"))).await.expect("annotate");
    let on_demand = "nightly-20300101020105";
    eventually("the on-demand Job", || async { h.job_names(ns).await.contains(&on_demand.to_string()) }).await;
    h.double.fail_next_backup("disk full");
    let failed = h.run_job(ns, on_demand).await;
    assert_eq!(failed["outcome"], "Failed", "{failed}");
    eventually("the failure is recorded", || async {
        let status = h.backup_status(ns, "nightly").await;
        status.recent_backups.first().is_some_and(|r| r.backup_id == on_demand && r.phase == "Failed")
    })
    .await;
    let status = h.backup_status(ns, "nightly").await;
    assert_eq!(condition(&status.conditions, "LastBackupSucceeded").map(|(s, _)| s).as_deref(), Some("False"));
    assert!(
        status.recent_backups[0].message.as_deref().unwrap_or_default().contains("disk full"),
        "{:?}",
        status.recent_backups[0]
    );

    // A third run: the history keeps the newest two.
    h.advance(SignedDuration::from_secs(60));
    backups.patch("nightly", &PatchParams::default(), &Patch::Merge(annotate("2"))).await.expect("annotate");
    let third = "nightly-20300101020205";
    eventually("the third Job", || async { h.job_names(ns).await.contains(&third.to_string()) }).await;
    h.run_job(ns, third).await;
    eventually("history trimmed to historyLimit", || async {
        let ids: Vec<String> =
            h.backup_status(ns, "nightly").await.recent_backups.into_iter().map(|r| r.backup_id).collect();
        ids == [third, on_demand]
    })
    .await;

    // Suspended: 02:00 the next day passes without a run.
    backups
        .patch("nightly", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": true}})))
        .await
        .expect("suspend");
    eventually("Suspended", || async { h.backup_status(ns, "nightly").await.phase.as_deref() == Some("Suspended") })
        .await;
    h.advance(SignedDuration::from_hours(24));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(h.job_names(ns).await.len(), 3, "a suspended backup starts no scheduled run");

    // Resumed after the operator "was down" for three days: one catch-up for the last
    // missed run within the starting deadline, not a burst.
    h.clock.advance(SignedDuration::from_hours(72));
    backups
        .patch(
            "nightly",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false, "startingDeadlineSeconds": 86400}})),
        )
        .await
        .expect("resume");
    eventually("one catch-up run", || async { h.job_names(ns).await.len() == 4 }).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(h.job_names(ns).await.len(), 4, "exactly one catch-up run");
    assert!(h.event_reasons(ns, "nightly").await.iter().any(|r| r == "BackupStarted"));

    // The operator never read a Secret.
    let secret_reads: Vec<_> =
        h.cp.audit_requests()
            .expect("audit log")
            .into_iter()
            .filter(|e| e.user == OPERATOR_USER && e.object_ref.as_ref().is_some_and(|o| o.resource == "secrets"))
            .collect();
    assert!(secret_reads.is_empty(), "the operator touched Secrets: {:?}", describe(&secret_reads));
}

#[tokio::test]
async fn a_restore_waits_for_its_cluster_then_completes_when_its_tables_serve_reads() {
    let ns = "restores";
    let h = Harness::start(ns).await;
    h.double.create_table("orders", [("k1", json!({"total": 1}))]);
    // A backup in the double to restore from, then the table is gone.
    let backup = antfly_api::Client::new(h.double.base_url()).expect("client");
    let request =
        antfly_api::BackupRequest { backup_id: "b1".into(), location: "s3://backups/db".into(), table_names: vec![] };
    assert!(backup.backup(&request).await.expect("backup").succeeded());
    h.double.delete_table("orders");

    let restore = |name: &str, mode: &str| {
        json!({"apiVersion": "antfly.io/v1", "kind": "AntflyRestore", "metadata": {"name": name}, "spec": {
            "clusterRef": {"name": "db"}, "restoreMode": mode, "readyTimeoutSeconds": 60,
            "source": {"backupId": "b1", "location": "s3://backups/db", "options": {"region": "eu-west-1"}},
        }})
    };
    let _: AntflyRestore = h.create(ns, restore("first", "fail_if_exists")).await;
    eventually("Pending while the cluster does not exist", || async {
        let status = h.restore_status(ns, "first").await;
        status.phase.as_deref() == Some("Pending")
            && condition(&status.conditions, "ClusterReady").is_some_and(|(s, _)| s == "False")
    })
    .await;

    h.running_cluster(ns, "db").await;
    eventually("the restore Job", || async {
        h.roll_out(ns, "db").await;
        h.job_names(ns).await == ["first-restore"]
    })
    .await;
    let result = h.run_job(ns, "first-restore").await;
    assert_eq!(result["outcome"], "Completed", "{result}");
    eventually("Completed", || async { h.restore_status(ns, "first").await.phase.as_deref() == Some("Completed") })
        .await;
    let status = h.restore_status(ns, "first").await;
    assert_eq!(
        status.tables.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect::<Vec<_>>(),
        [("orders", "ready")]
    );
    assert!(h.double.table("orders").is_some_and(|docs| !docs.is_empty()), "the double holds the restored rows");

    // The table exists now: fail_if_exists is refused by the server (400) and fails.
    let _: AntflyRestore = h.create(ns, restore("second", "fail_if_exists")).await;
    eventually("the second Job", || async {
        h.roll_out(ns, "db").await;
        h.job_names(ns).await.contains(&"second-restore".to_string())
    })
    .await;
    // One run per cluster: a backup due while the restore runs waits for it.
    let adhoc = json!({"apiVersion": "antfly.io/v1", "kind": "AntflyBackup", "metadata": {"name": "adhoc"}, "spec": {
        "clusterRef": {"name": "db"}, "destination": {"location": "s3://backups/db", "options": {"region": "eu-west-1"}},
    }});
    let _: AntflyBackup = h.create(ns, adhoc).await;
    eventually("the backup waits for the restore", || async {
        let status = h.backup_status(ns, "adhoc").await;
        status.phase.as_deref() == Some("Waiting")
            && condition(&status.conditions, "Ready").is_some_and(|(_, m)| m.contains("second-restore is running"))
    })
    .await;
    assert!(h.job_names(ns).await.iter().all(|j| !j.starts_with("adhoc")), "no second run on the cluster");
    let refused = h.run_job(ns, "second-restore").await;
    assert_eq!(refused["outcome"], "Failed");
    eventually("Failed with the server's message", || async {
        let status = h.restore_status(ns, "second").await;
        status.phase.as_deref() == Some("Failed")
            && status.message.as_deref().unwrap_or_default().contains("already exists")
    })
    .await;
    assert!(h.event_reasons(ns, "second").await.iter().any(|r| r == "RestoreFailed"));
    eventually("the backup runs once the restore ended", || async {
        h.job_names(ns).await.iter().any(|j| j.starts_with("adhoc-"))
    })
    .await;
}

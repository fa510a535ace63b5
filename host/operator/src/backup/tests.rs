//! Unit tests of the pure backup code: cron, the schedule's decisions, run ids, plan checks,
//! the server environment, the Job, and results.

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::cron::Schedule;
use super::destination::{
    DestinationPlan, DestinationRequest, Operation, PodEnvironment, ServerEnvironment, check_mount_path, check_plan,
};
use super::job::{RunJob, build_job, metadata_api_url};
use super::result::{MAX_RESULT_BYTES, Outcome, RunResult};
use super::schedule::{BackupTimetable, RunReason, run_id};
use crate::api::{
    ActiveRun, AntflyBackupSpec, AntflyBackupStatus, BackupLocation, ClusterRef, RestoreMode, SecretRef, TableRecord,
};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn next(schedule: &str, after: &str, zone: &str) -> String {
    let zone = TimeZone::get(zone).expect("zone");
    Schedule::parse(schedule).expect("parses").next_after(at(after), &zone).expect("a next run").to_string()
}

#[test]
fn cron_fields_steps_ranges_lists_and_names() {
    assert_eq!(next("0 2 * * *", "2026-03-01T02:00:00Z", "UTC"), "2026-03-02T02:00:00Z");
    assert_eq!(next("*/15 * * * *", "2026-03-01T10:07:00Z", "UTC"), "2026-03-01T10:15:00Z");
    assert_eq!(next("5-10/5 1,3 * * *", "2026-03-01T01:06:00Z", "UTC"), "2026-03-01T01:10:00Z");
    assert_eq!(next("0 0 * JAN,jul *", "2026-03-01T00:00:00Z", "UTC"), "2026-07-01T00:00:00Z");
    // 2026-03-01 is a Sunday; 7 is Sunday too.
    assert_eq!(next("0 9 * * MON-FRI", "2026-02-28T12:00:00Z", "UTC"), "2026-03-02T09:00:00Z");
    assert_eq!(next("0 9 * * 7", "2026-02-28T12:00:00Z", "UTC"), "2026-03-01T09:00:00Z");
    assert_eq!(next("@weekly", "2026-03-01T00:00:00Z", "UTC"), "2026-03-08T00:00:00Z");
    assert_eq!(next("30 * * * *", "2026-03-01T10:30:00Z", "UTC"), "2026-03-01T11:30:00Z", "strictly after");
}

#[test]
fn cron_day_of_month_or_day_of_week_when_both_are_restricted() {
    // The 13th, or any Friday: 2026-03-06 is a Friday, before the 13th.
    assert_eq!(next("0 0 13 * FRI", "2026-03-01T00:00:00Z", "UTC"), "2026-03-06T00:00:00Z");
    assert_eq!(next("0 0 29 2 *", "2026-03-01T00:00:00Z", "UTC"), "2028-02-29T00:00:00Z");
}

#[test]
fn cron_in_a_time_zone_across_daylight_saving_changes() {
    // Paris: 02:30 does not exist on 2026-03-29 (02:00 jumps to 03:00): it runs at 03:30.
    assert_eq!(next("30 2 * * *", "2026-03-28T12:00:00Z", "Europe/Paris"), "2026-03-29T01:30:00Z");
    // 02:30 happens twice on 2026-10-25: once, the first time (CEST, +02:00).
    let zone = TimeZone::get("Europe/Paris").expect("zone");
    let schedule = Schedule::parse("30 2 * * *").expect("parses");
    let first = schedule.next_after(at("2026-10-24T12:00:00Z"), &zone).expect("runs");
    assert_eq!(first.to_string(), "2026-10-25T00:30:00Z");
    assert_eq!(schedule.next_after(first, &zone).expect("runs").to_string(), "2026-10-26T01:30:00Z");
    assert_eq!(next("0 2 * * *", "2026-01-10T00:00:00Z", "America/New_York"), "2026-01-10T07:00:00Z");
}

#[test]
fn bad_cron_schedules_name_the_field_and_the_reason() {
    let error = |text: &str| Schedule::parse(text).expect_err(text).to_string();
    assert!(error("0 2 * *").contains("expected 5 fields"), "{}", error("0 2 * *"));
    assert!(error("61 * * * *").contains("minute field"), "{}", error("61 * * * *"));
    assert!(error("0 24 * * *").contains("hour field"));
    assert!(error("0 0 0 * *").contains("day of month"));
    assert!(error("0 0 * 13 *").contains("month"));
    assert!(error("0 0 * * 8").contains("day of week"));
    assert!(error("*/0 * * * *").contains("step 0"));
    assert!(error("5-1 * * * *").contains("backwards"));
    assert!(error("0 0 30 2 *").contains("never runs"));
    assert!(error("@every 5m").contains("unknown macro"));
    assert!(error("TZ=UTC 0 0 * * *").contains("spec.timeZone"));
    assert!(error("a b c d e").contains("not a number"));
    assert!(error("0,,1 * * * *").contains("missing"));
}

fn spec(schedule: Option<&str>) -> AntflyBackupSpec {
    AntflyBackupSpec {
        cluster_ref: ClusterRef { name: "c".into() },
        schedule: schedule.map(str::to_string),
        time_zone: None,
        starting_deadline_seconds: 3600,
        destination: BackupLocation { location: "s3://b/p".into(), ..Default::default() },
        tables: Vec::new(),
        suspend: false,
        history_limit: 10,
        timeout_seconds: 3600,
    }
}

fn decide(
    spec: &AntflyBackupSpec,
    status: &AntflyBackupStatus,
    trigger: Option<&str>,
    now: &str,
) -> super::schedule::Decision {
    let timetable = BackupTimetable::from_spec(spec).expect("valid");
    timetable.decide(spec, status, trigger, at("2026-03-01T00:00:00Z"), at(now))
}

#[test]
fn a_scheduled_backup_runs_at_its_instants_and_not_before() {
    let spec = spec(Some("0 2 * * *"));
    let status = AntflyBackupStatus::default();
    let before = decide(&spec, &status, None, "2026-03-01T01:59:59Z");
    assert_eq!(before.start, None);
    assert_eq!(before.next, Some(at("2026-03-01T02:00:00Z")));
    let due = decide(&spec, &status, None, "2026-03-01T02:00:10Z");
    assert_eq!(due.start, Some(RunReason::Scheduled));
    assert_eq!(due.consumes, Some(at("2026-03-01T02:00:00Z")));
    assert_eq!(due.next, Some(at("2026-03-02T02:00:00Z")));
    // Once recorded, the same instant never runs again.
    let ran = AntflyBackupStatus { last_schedule_time: Some(Time(at("2026-03-01T02:00:00Z"))), ..Default::default() };
    assert_eq!(decide(&spec, &ran, None, "2026-03-01T02:00:30Z").start, None);
}

#[test]
fn missed_runs_give_at_most_one_catch_up_within_the_deadline() {
    let spec = spec(Some("*/10 * * * *"));
    // Down from 00:05 to 00:47: four runs missed, one catch-up for the latest (00:40).
    let status =
        AntflyBackupStatus { last_schedule_time: Some(Time(at("2026-03-01T00:00:00Z"))), ..Default::default() };
    let decision = decide(&spec, &status, None, "2026-03-01T00:47:00Z");
    assert_eq!(decision.start, Some(RunReason::CatchUp));
    assert_eq!(decision.consumes, Some(at("2026-03-01T00:40:00Z")));
    // Down for two days with a one-hour deadline: the last run in the hour still catches up.
    let long = decide(&spec, &status, None, "2026-03-03T00:05:00Z");
    assert_eq!(long.consumes, Some(at("2026-03-03T00:00:00Z")));
    // With a daily schedule and a one-hour deadline, a run 5 hours late is skipped.
    let daily = self::spec(Some("0 2 * * *"));
    let skipped = decide(&daily, &AntflyBackupStatus::default(), None, "2026-03-01T07:00:00Z");
    assert_eq!(skipped.start, None);
    assert_eq!(skipped.skipped, Some(at("2026-03-01T02:00:00Z")));
    assert_eq!(skipped.consumes, Some(at("2026-03-01T02:00:00Z")));
}

#[test]
fn suspend_stops_scheduled_runs_but_not_the_trigger() {
    let mut spec = spec(Some("0 2 * * *"));
    spec.suspend = true;
    let status = AntflyBackupStatus::default();
    assert_eq!(decide(&spec, &status, None, "2026-03-01T02:00:10Z").start, None);
    let triggered = decide(&spec, &status, Some("now-1"), "2026-03-01T02:00:10Z");
    assert_eq!(triggered.start, Some(RunReason::OnDemand));
    assert_eq!(triggered.trigger.as_deref(), Some("now-1"));
    let handled = AntflyBackupStatus { last_trigger: Some("now-1".into()), ..Default::default() };
    assert_eq!(decide(&spec, &handled, Some("now-1"), "2026-03-01T02:00:10Z").start, None);
}

#[test]
fn an_unscheduled_backup_runs_once_then_on_demand() {
    let spec = spec(None);
    assert_eq!(
        decide(&spec, &AntflyBackupStatus::default(), None, "2026-03-01T00:00:01Z").start,
        Some(RunReason::Initial)
    );
    let ran = AntflyBackupStatus { last_backup_id: Some("b-1".into()), ..Default::default() };
    assert_eq!(decide(&spec, &ran, None, "2026-03-05T00:00:00Z").start, None);
    let running = AntflyBackupStatus {
        active: Some(ActiveRun {
            backup_id: "b".into(),
            job_name: "b".into(),
            start_time: Time(at("2026-03-01T00:00:00Z")),
            reason: "Initial".into(),
            location: "s3://b".into(),
        }),
        ..Default::default()
    };
    assert_eq!(decide(&spec, &running, None, "2026-03-01T00:00:02Z").start, None);
    assert_eq!(decide(&spec, &ran, Some("x"), "2026-03-05T00:00:00Z").start, Some(RunReason::OnDemand));
}

#[test]
fn bad_time_zones_are_refused_and_never_read_from_disk() {
    for zone in ["Mars/Olympus", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "", "Europe/Paris\n"] {
        let mut spec = spec(Some("0 2 * * *"));
        spec.time_zone = Some(zone.into());
        let errors = BackupTimetable::from_spec(&spec).expect_err(zone);
        assert!(errors[0].to_string().starts_with("spec.timeZone"), "{zone:?}: {errors:?}");
    }
    let mut paris = spec(Some("0 2 * * *"));
    paris.time_zone = Some("Europe/Paris".into());
    assert!(BackupTimetable::from_spec(&paris).is_ok());
}

#[test]
fn run_ids_are_utc_seconds_and_unique_within_a_second() {
    let now = at("2026-03-01T02:00:07.5Z");
    assert_eq!(run_id("nightly", now, &[]), "nightly-20260301020007");
    assert_eq!(run_id("nightly", now, &["nightly-20260301020007"]), "nightly-20260301020007-2");
    assert_eq!(
        run_id("nightly", now, &["nightly-20260301020007", "nightly-20260301020007-2"]),
        "nightly-20260301020007-3"
    );
    let longest = "a".repeat(crate::api::MAX_BACKUP_NAME_LEN);
    assert!(run_id(&longest, now, &[&format!("{longest}-20260301020007")]).len() <= 63);
}

fn request(
    options: Option<serde_json::Value>,
    secret: Option<&str>,
) -> Result<DestinationRequest, super::destination::RequestError> {
    let location = BackupLocation {
        location: "S3://bucket/prefix".into(),
        credentials_secret: secret.map(|name| SecretRef { name: name.into() }),
        options,
    };
    DestinationRequest::for_backup("nightly", "ns", "c", &location, &[])
}

#[test]
fn the_credentials_secret_reaches_the_plugin_as_an_option() {
    let with_secret = request(Some(serde_json::json!({"region": "eu-west-1"})), Some("s3-creds")).expect("valid");
    let options: serde_json::Value = serde_json::from_str(&with_secret.options).expect("json");
    assert_eq!(options, serde_json::json!({"region": "eu-west-1", "credentialsSecret": "s3-creds"}));
    assert_eq!(with_secret.scheme().expect("scheme"), "s3");
    let conflict =
        request(Some(serde_json::json!({"credentialsSecret": "other"})), Some("s3-creds")).expect_err("conflict");
    assert_eq!(conflict.field, "spec.destination.options.credentialsSecret");
    let not_object = request(Some(serde_json::json!([1])), None).expect_err("array");
    assert_eq!(not_object.field, "spec.destination.options");
    let mut bad = request(None, None).expect("valid");
    for location in ["bucket/prefix", "://x", "1s3://b", "s 3://b"] {
        bad.location = location.into();
        assert_eq!(bad.scheme().expect_err(location).field, "spec.destination.location");
    }
}

fn environment() -> PodEnvironment {
    PodEnvironment {
        env: vec![("AWS_REGION".into(), "eu-west-1".into())],
        secret_env: vec![("AWS_ACCESS_KEY_ID".into(), "s3-creds".into(), "AWS_ACCESS_KEY_ID".into())],
        env_from_secrets: vec![],
        secret_files: vec![("GOOGLE_APPLICATION_CREDENTIALS".into(), "gcs-key".into(), "key.json".into())],
        claim_mounts: vec![("backups".into(), "/backups".into())],
    }
}

#[test]
fn a_hostile_plan_is_refused_with_every_problem() {
    let hostile = PodEnvironment {
        env: vec![("POD_IP".into(), "1.2.3.4".into()), ("1BAD".into(), "x".into()), ("BIG".into(), "x".repeat(5000))],
        secret_env: vec![("K".into(), "Not_A_Secret".into(), "../key".into()), ("K".into(), "s".into(), "k".into())],
        env_from_secrets: vec!["UPPER".into()],
        secret_files: vec![],
        claim_mounts: vec![
            ("pvc".into(), "/antflydb".into()),
            ("pvc".into(), "/backups/../etc".into()),
            ("pvc".into(), "relative".into()),
            ("pvc".into(), "/".into()),
            ("pvc".into(), "/var/run/secrets/kubernetes.io".into()),
        ],
    };
    let plan = DestinationPlan { location: "s3://b\u{1b}[2J".into(), job: PodEnvironment::default(), server: hostile };
    let problems = check_plan(&plan);
    for expected in [
        "location",
        "POD_IP is set by the operator",
        "\"1BAD\" is not an environment variable name",
        "value of BIG",
        "\"Not_A_Secret\" is not a Secret name",
        "\"../key\" is not a Secret key",
        "K is set twice",
        "\"UPPER\" is not a Secret name",
        "\"/antflydb\" is a directory of the server",
        "\"/backups/../etc\" must be normalised",
        "\"relative\" must be an absolute path",
        "\"/\" must be an absolute path",
        "\"/var/run/secrets/kubernetes.io\" is a directory",
    ] {
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected:?} not in {problems:#?}");
    }
    let flood =
        PodEnvironment { env: (0..100).map(|i| (format!("V{i}"), String::new())).collect(), ..Default::default() };
    assert!(
        check_plan(&DestinationPlan { location: "s3://b".into(), job: flood, server: PodEnvironment::default() })[0]
            .contains("more than")
    );
    assert!(
        check_plan(&DestinationPlan { location: "s3://b".into(), job: environment(), server: environment() })
            .is_empty()
    );
    assert!(check_mount_path("/mnt/backups").is_ok());
    assert!(check_mount_path("/mnt//backups").is_err());
    assert!(check_mount_path("/mnt/backups/").is_err());
}

fn antfly_pod() -> PodSpec {
    PodSpec { containers: vec![Container { name: "antfly".into(), ..Default::default() }], ..Default::default() }
}

#[test]
fn the_server_environment_goes_on_the_server_container_as_references_only() {
    let environment = environment();
    let merged = ServerEnvironment::merge([("AntflyBackup/a", &environment)]).expect("merges");
    let mut pod = antfly_pod();
    assert!(!merged.carried_by(&pod, "antfly"));
    merged.apply_to(&mut pod, "antfly");
    assert!(merged.carried_by(&pod, "antfly"));
    let json = serde_json::to_value(&pod).expect("json");
    let env = &json["containers"][0]["env"];
    assert_eq!(env[0], serde_json::json!({"name": "AWS_REGION", "value": "eu-west-1"}));
    assert_eq!(
        env[1]["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID", "optional": false})
    );
    assert_eq!(
        env[2],
        serde_json::json!({"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/run/antfly/secrets/gcs-key/key.json"})
    );
    let volumes = json["volumes"].as_array().expect("volumes");
    assert!(volumes.iter().any(|v| v["secret"]["secretName"] == "gcs-key"));
    assert!(volumes.iter().any(|v| v["persistentVolumeClaim"]["claimName"] == "backups"));
    let mounts = json["containers"][0]["volumeMounts"].as_array().expect("mounts");
    assert!(mounts.iter().any(|m| m["mountPath"] == "/backups"));
    assert!(mounts.iter().any(|m| m["mountPath"] == "/var/run/antfly/secrets/gcs-key" && m["readOnly"] == true));
}

#[test]
fn destinations_merge_shared_entries_once_and_refuse_conflicts() {
    let a = environment();
    let same = ServerEnvironment::merge([("AntflyBackup/a", &a), ("AntflyRestore/r", &a)]).expect("same entries merge");
    assert_eq!(same, ServerEnvironment::merge([("AntflyBackup/a", &a)]).expect("merges"));
    let mut other = environment();
    other.env[0].1 = "us-east-1".into();
    other.claim_mounts[0].0 = "elsewhere".into();
    let conflicts =
        ServerEnvironment::merge([("AntflyBackup/a", &a), ("AntflyBackup/b", &other)]).expect_err("conflicts");
    assert!(
        conflicts[0].contains("AWS_REGION of AntflyBackup/b conflicts with the one of AntflyBackup/a"),
        "{conflicts:?}"
    );
    assert!(conflicts.iter().any(|c| c.contains("mounts claim elsewhere at /backups")), "{conflicts:?}");
}

#[test]
fn the_run_job_calls_the_metadata_service_and_never_retries() {
    let plan = DestinationPlan { location: "s3://b/p".into(), job: environment(), server: environment() };
    let owner = OwnerReference {
        api_version: "antfly.io/v1".into(),
        kind: "AntflyBackup".into(),
        name: "nightly".into(),
        uid: "u".into(),
        controller: Some(true),
        ..Default::default()
    };
    let tables = vec!["orders".to_string()];
    let job = build_job(&RunJob {
        operation: Operation::Restore,
        job_name: "r-restore",
        namespace: "ns",
        cluster: "c",
        owner,
        backup_id: "nightly-20260301020007",
        plan: &plan,
        tables: &tables,
        restore_mode: RestoreMode::SkipIfExists,
        timeout_seconds: 1500,
        ready_timeout_seconds: 900,
        image: "registry.example/antfly-operator:1",
        service_account: Some("c"),
        pod_annotations: [("sidecar.istio.io/inject".to_string(), "true".to_string())].into(),
    });
    let json = serde_json::to_value(&job).expect("json");
    let spec = &json["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 1500);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], "c");
    let args: Vec<&str> =
        pod["containers"][0]["args"].as_array().expect("args").iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(
        args,
        [
            "restore-run",
            "--url",
            "http://c-metadata.ns.svc:12377",
            "--backup-id",
            "nightly-20260301020007",
            "--location",
            "s3://b/p",
            "--table",
            "orders",
            "--mode",
            "skip_if_exists",
            "--ready-timeout",
            "900s"
        ]
    );
    assert_eq!(metadata_api_url("c", "ns"), "http://c-metadata.ns.svc:12377");
    assert_eq!(spec["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"], "true");
    assert_eq!(json["metadata"]["ownerReferences"][0]["name"], "nightly");
    assert!(!args.iter().any(|a| a.contains("public-api")));
}

#[test]
fn results_fit_the_termination_message_and_hostile_ones_are_cleaned() {
    let tables: Vec<TableRecord> = (0..500)
        .map(|i| TableRecord {
            name: format!("table-{i}"),
            status: "completed".into(),
            message: Some("\u{1b}[31mred\u{7}".repeat(50)),
        })
        .collect();
    let result = RunResult {
        backup_id: "b".into(),
        outcome: Outcome::Completed,
        message: Some("x".repeat(100_000)),
        tables,
        omitted_tables: 0,
    };
    let encoded = result.encode();
    assert!(encoded.len() <= MAX_RESULT_BYTES, "{}", encoded.len());
    let decoded = RunResult::decode(&encoded).expect("decodes");
    assert!(decoded.omitted_tables > 0 && decoded.omitted_tables + decoded.tables.len() == 500);
    assert!(!encoded.contains('\u{1b}') && !encoded.contains('\u{7}'));
    assert!(RunResult::decode("not json").expect_err("garbage").contains("not readable"));
    assert!(RunResult::decode("{\"backupId\":\"b\",\"outcome\":\"Maybe\"}").is_err());
}

#[test]
fn a_moved_clock_is_read_by_the_timetable() {
    let spec = spec(Some("0 * * * *"));
    let clock = crate::controller::clock::ManualClock::new(at("2026-03-01T00:30:00Z"));
    use crate::controller::clock::Clock;
    let timetable = BackupTimetable::from_spec(&spec).expect("valid");
    let status = AntflyBackupStatus::default();
    assert_eq!(timetable.decide(&spec, &status, None, at("2026-03-01T00:00:00Z"), clock.now()).start, None);
    clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        timetable.decide(&spec, &status, None, at("2026-03-01T00:00:00Z"), clock.now()).start,
        Some(RunReason::Scheduled)
    );
}

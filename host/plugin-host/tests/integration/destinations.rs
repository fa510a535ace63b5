//! The first-party backup destinations `s3`, `gcs` and `file`, built for wasm32-wasip2 and
//! run through the real host: their schemes, the plans of each option combination, every
//! problem reported at once with its field, and careless or hostile input.

use antfly_plugin_host::Plugin;
use antfly_plugin_host::wit::{BackupPlan, BackupRequest, ClaimMount, ErrorCode, PluginError, SecretEnv, SecretFile};

use crate::common::{bundled, host, kv};

fn request(location: &str, options: &str) -> BackupRequest {
    BackupRequest {
        cluster: "my-cluster".to_string(),
        namespace: "production".to_string(),
        backup_id: "my-cluster-20260101000000".to_string(),
        location: location.to_string(),
        options: options.to_string(),
        tables: Vec::new(),
    }
}

/// Validates, then plans a backup and a restore, which must agree.
fn plan(plugin: &Plugin, location: &str, options: &str) -> BackupPlan {
    plugin.validate_location(location, options).unwrap().unwrap_or_else(|p| panic!("{location} {options}: {p:?}"));
    let backup = plugin.plan_backup(&request(location, options)).unwrap().unwrap();
    let restore = plugin.plan_restore(&request(location, options)).unwrap().unwrap();
    assert_eq!(backup, restore, "a restore needs what a backup needs");
    backup
}

/// Every problem `validate-location` reports; the plans fail with the first of them.
fn problems(plugin: &Plugin, location: &str, options: &str) -> Vec<PluginError> {
    let problems = plugin
        .validate_location(location, options)
        .unwrap()
        .expect_err(&format!("{location:.80} {options:.80} must be refused"));
    assert!(problems.iter().all(|p| p.code == ErrorCode::InvalidSettings), "{problems:?}");
    let first = plugin.plan_backup(&request(location, options)).unwrap().unwrap_err();
    assert_eq!(first, problems[0], "plan-backup fails with the first problem");
    let first = plugin.plan_restore(&request(location, options)).unwrap().unwrap_err();
    assert_eq!(first, problems[0], "plan-restore fails with the first problem");
    problems
}

fn fields(problems: &[PluginError]) -> Vec<&str> {
    problems.iter().map(|p| p.field.as_str()).collect()
}

/// The one problem of `location`/`options`: at `field`, its message containing `reason`.
#[track_caller]
fn refused(plugin: &Plugin, location: &str, options: &str, field: &str, reason: &str) {
    let problems = problems(plugin, location, options);
    assert!(
        problems.iter().any(|p| p.field == field && p.message.contains(reason)),
        "{location:.80} {options:.80}: expected a problem at {field} with {reason:?}, got {problems:?}"
    );
}

fn secret_env(name: &str, secret: &str, key: &str) -> SecretEnv {
    SecretEnv { name: name.to_string(), secret_name: secret.to_string(), secret_key: key.to_string() }
}

#[test]
fn each_destination_handles_its_own_scheme() {
    let host = host();
    for (name, scheme) in [("s3", "s3"), ("gcs", "gs"), ("file", "file")] {
        assert_eq!(bundled(&host, name).schemes().unwrap(), vec![scheme.to_string()], "{name}");
    }
    let s3 = bundled(&host, "s3");
    refused(&s3, "gs://bucket", "{}", "location", "is not a s3://BUCKET[/PREFIX] URL");
    refused(&s3, "bucket/prefix", "{}", "location", "is not a s3://BUCKET[/PREFIX] URL");
}

#[test]
fn s3_without_a_secret_is_irsa_and_gets_no_credentials() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let plan = plan(&s3, "S3://antfly-backups/prod/", r#"{"region":"eu-west-1"}"#);
    assert_eq!(plan.location, "s3://antfly-backups/prod");
    assert_eq!(plan.job.env, vec![kv("AWS_REGION", "eu-west-1")]);
    assert!(plan.job.secret_env.is_empty() && plan.job.env_from_secrets.is_empty());
    assert!(plan.job.secret_files.is_empty() && plan.job.claim_mounts.is_empty());
    assert_eq!(plan.server, plan.job);

    let bare = self::plan(&s3, "s3://antfly-backups", "{}");
    assert_eq!(bare.location, "s3://antfly-backups");
    assert!(bare.job.env.is_empty() && bare.job.secret_env.is_empty());
}

#[test]
fn s3_with_a_secret_reads_both_keys_from_it_in_the_job_and_the_server() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let plan = plan(&s3, "s3://antfly-backups/prod", r#"{"region":"us-east-1","credentialsSecret":"s3-backup"}"#);
    let expected = vec![
        secret_env("AWS_ACCESS_KEY_ID", "s3-backup", "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", "s3-backup", "AWS_SECRET_ACCESS_KEY"),
    ];
    assert_eq!(plan.job.secret_env, expected);
    assert_eq!(plan.job.env, vec![kv("AWS_REGION", "us-east-1")]);
    assert_eq!(plan.server, plan.job);

    let custom = self::plan(
        &s3,
        "s3://antfly-backups",
        r#"{"credentialsSecret":"s3-backup","accessKeyIdKey":"id","secretAccessKeyKey":"secret.key"}"#,
    );
    assert_eq!(
        custom.server.secret_env,
        vec![
            secret_env("AWS_ACCESS_KEY_ID", "s3-backup", "id"),
            secret_env("AWS_SECRET_ACCESS_KEY", "s3-backup", "secret.key"),
        ]
    );
}

#[test]
fn s3_on_minio_sets_the_endpoint_and_path_style() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let plan = plan(
        &s3,
        "s3://backups/antfly/nightly",
        r#"{"endpoint":"http://minio.minio.svc:9000/","forcePathStyle":true,"credentialsSecret":"minio","region":"minio"}"#,
    );
    assert_eq!(
        plan.job.env,
        vec![
            kv("AWS_REGION", "minio"),
            kv("AWS_ENDPOINT_URL_S3", "http://minio.minio.svc:9000"),
            kv("AWS_S3_FORCE_PATH_STYLE", "true"),
        ]
    );
    assert_eq!(plan.job.secret_env.len(), 2);
    assert_eq!(plan.server, plan.job);
    for endpoint in ["https://s3.example.com", "http://10.0.0.5:9000", "http://[fd00::1]:9000", "HTTPS://Minio.Local"] {
        self::plan(&s3, "s3://backups", &format!(r#"{{"endpoint":"{endpoint}"}}"#));
    }
    let off = self::plan(&s3, "s3://backups", r#"{"endpoint":"https://s3.example.com","forcePathStyle":false}"#);
    assert_eq!(off.job.env, vec![kv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")]);
}

#[test]
fn s3_server_environment_does_not_depend_on_the_run() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let options = r#"{"credentialsSecret":"s3-backup","region":"eu-west-1"}"#;
    let mut other = request("s3://antfly-backups/prod", options);
    other.backup_id = "another-id".to_string();
    other.tables = vec!["users".to_string()];
    let first = s3.plan_backup(&request("s3://antfly-backups/prod", options)).unwrap().unwrap();
    let second = s3.plan_backup(&other).unwrap().unwrap();
    assert_eq!(first.server, second.server);
}

#[test]
fn s3_bucket_names_follow_the_general_purpose_rules() {
    let host = host();
    let s3 = bundled(&host, "s3");
    for bucket in ["abc", "my.bucket-1", "0antfly9", &"a".repeat(63)] {
        plan(&s3, &format!("s3://{bucket}/p"), "{}");
    }
    for (bucket, reason) in [
        ("ab", "not 3-63"),
        (&"a".repeat(64), "not 3-63"),
        ("Antfly", "only lower-case letters"),
        ("my_bucket", "only lower-case letters"),
        ("-antfly", "start and end"),
        ("antfly.", "start and end"),
        ("my..bucket", "two adjacent dots"),
        ("192.168.5.4", "IPv4 address"),
        ("xn--antfly", "reserved prefix \"xn--\""),
        ("sthree-antfly", "reserved prefix \"sthree-\""),
        ("antfly-s3alias", "reserved suffix \"-s3alias\""),
        ("antfly--ol-s3", "reserved suffix \"--ol-s3\""),
    ] {
        refused(&s3, &format!("s3://{bucket}/prefix"), "{}", "location", reason);
    }
}

#[test]
fn s3_locations_with_query_fragment_userinfo_or_empty_segments_are_refused() {
    let host = host();
    let s3 = bundled(&host, "s3");
    for (location, reason) in [
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/a?versionId=1", "has a query"),
        ("s3://bucket/a#part", "has a fragment"),
        ("s3://key:secret@bucket/a", "has userinfo"),
        ("s3://bucket//a", "empty, `.` or `..` path segment"),
        ("s3://bucket/a//", "empty, `.` or `..` path segment"),
        ("s3://bucket/./a", "empty, `.` or `..` path segment"),
        ("s3://bucket/a/../b", "empty, `.` or `..` path segment"),
    ] {
        refused(&s3, location, "{}", "location", reason);
    }
}

#[test]
fn s3_reports_every_problem_at_once_with_its_field() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let problems = problems(
        &s3,
        "s3://My_Bucket/a?b",
        r#"{"region":"EU West","endpoint":"ftp://minio","credentialsSecret":"Not A Secret","accessKeyIdKey":"bad key"}"#,
    );
    assert_eq!(
        fields(&problems),
        ["location", "location", "location", "region", "endpoint", "credentialsSecret", "accessKeyIdKey"],
        "{problems:?}"
    );
    assert!(problems[0].message.contains("has a query"), "{problems:?}");
    assert!(problems[1].message.contains("only lower-case letters"), "{problems:?}");
    assert!(problems[2].message.contains("start and end"), "{problems:?}");
    assert!(problems[3].message.contains("is not a region name"), "{problems:?}");
    assert!(problems[4].message.contains("is not an http:// or https:// URL"), "{problems:?}");
    assert!(problems[5].message.contains("is not a Secret name"), "{problems:?}");
    assert!(problems[6].message.contains("is not a Secret key"), "{problems:?}");
}

#[test]
fn s3_refuses_malformed_endpoints_and_keys_without_a_secret() {
    let host = host();
    let s3 = bundled(&host, "s3");
    for (endpoint, reason) in [
        ("minio:9000", "is not an http:// or https:// URL"),
        ("http://", "no valid host name"),
        ("http://minio:9000/bucket", "no path, query or fragment"),
        ("http://minio?x=1", "no path, query or fragment"),
        ("http://user:pass@minio", "must not carry credentials"),
        ("http://minio:0", "invalid port"),
        ("http://minio:65536", "invalid port"),
        ("http://minio:90a0", "invalid port"),
        ("http://[fd00::1", "unclosed IPv6 bracket"),
        ("http://mi nio", "no valid host name"),
    ] {
        refused(&s3, "s3://backups", &format!(r#"{{"endpoint":"{endpoint}"}}"#), "endpoint", reason);
    }
    let problems = problems(&s3, "s3://backups", r#"{"accessKeyIdKey":"id","secretAccessKeyKey":"secret"}"#);
    assert_eq!(fields(&problems), ["accessKeyIdKey", "secretAccessKeyKey"]);
    assert!(problems.iter().all(|p| p.message.contains("credentialsSecret, which is not given")));
}

#[test]
fn gcs_with_a_secret_mounts_the_key_file_and_names_it() {
    let host = host();
    let gcs = bundled(&host, "gcs");
    let plan = plan(&gcs, "GS://antfly-backups/prod/", r#"{"credentialsSecret":"gcs-backup"}"#);
    assert_eq!(plan.location, "gs://antfly-backups/prod");
    let file = SecretFile {
        env_name: "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
        secret_name: "gcs-backup".to_string(),
        secret_key: "key.json".to_string(),
    };
    assert_eq!(plan.job.secret_files, vec![file.clone()]);
    assert!(plan.job.env.is_empty() && plan.job.secret_env.is_empty() && plan.job.claim_mounts.is_empty());
    assert_eq!(plan.server, plan.job);

    let custom =
        self::plan(&gcs, "gs://antfly-backups", r#"{"credentialsSecret":"gcs-backup","keyFileKey":"sa.json"}"#);
    assert_eq!(custom.server.secret_files, vec![SecretFile { secret_key: "sa.json".to_string(), ..file }]);
}

#[test]
fn gcs_without_a_secret_is_workload_identity_and_gets_nothing() {
    let host = host();
    let gcs = bundled(&host, "gcs");
    let plan = plan(&gcs, "gs://antfly-backups", "{}");
    assert_eq!(plan.location, "gs://antfly-backups");
    assert_eq!(
        plan.job,
        antfly_plugin_host::wit::PodEnvironment {
            env: Vec::new(),
            secret_env: Vec::new(),
            env_from_secrets: Vec::new(),
            secret_files: Vec::new(),
            claim_mounts: Vec::new(),
        }
    );
    assert_eq!(plan.server, plan.job);
    refused(&gcs, "gs://antfly-backups", r#"{"keyFileKey":"key.json"}"#, "keyFileKey", "which is not given");
}

#[test]
fn gcs_bucket_names_follow_the_cloud_storage_rules() {
    let host = host();
    let gcs = bundled(&host, "gcs");
    let dotted = [&"a".repeat(63) as &str, &"b".repeat(63), &"c".repeat(63), &"d".repeat(30)].join(".");
    assert_eq!(dotted.len(), 222);
    for bucket in ["abc", "my_bucket-1", "backups.example.com", &"a".repeat(63), &dotted] {
        plan(&gcs, &format!("gs://{bucket}/p"), "{}");
    }
    for (bucket, reason) in [
        ("ab", "not 3-63"),
        (&"a".repeat(64), "not 3-63"),
        (&format!("{dotted}e"), "not 3-63"),
        (&format!("{}.com", "a".repeat(64)), "part longer than 63"),
        ("a..b", "empty dot-separated part"),
        ("Antfly", "only lower-case letters"),
        ("_antfly", "start and end"),
        ("antfly-", "start and end"),
        ("googbackups", "must not start with \"goog\""),
        ("my-google-backups", "\"google\" or a close misspelling"),
        ("my-g00gle-backups", "\"google\" or a close misspelling"),
        ("goog1e", "\"google\" or a close misspelling"),
        ("10.0.0.1", "IPv4 address"),
    ] {
        refused(&gcs, &format!("gs://{bucket}"), "{}", "location", reason);
    }
}

#[test]
fn gcs_reports_every_problem_at_once_with_its_field() {
    let host = host();
    let gcs = bundled(&host, "gcs");
    let problems = problems(&gcs, "gs://Goog//x", r#"{"credentialsSecret":"-bad-","keyFileKey":"a/b"}"#);
    assert_eq!(
        fields(&problems),
        ["location", "location", "location", "credentialsSecret", "keyFileKey"],
        "{problems:?}"
    );
}

#[test]
fn file_mounts_the_claim_at_the_path_in_the_job_and_the_server() {
    let host = host();
    let file = bundled(&host, "file");
    let plan = plan(&file, "FILE:///backups/antfly", r#"{"claimName":"antfly-backups"}"#);
    assert_eq!(plan.location, "file:///backups/antfly");
    let mount = ClaimMount { claim_name: "antfly-backups".to_string(), mount_path: "/backups/antfly".to_string() };
    assert_eq!(plan.job.claim_mounts, vec![mount]);
    assert!(plan.job.env.is_empty() && plan.job.secret_env.is_empty() && plan.job.secret_files.is_empty());
    assert_eq!(plan.server, plan.job);
    // Near a reserved directory, but not under it.
    for path in ["/antflydb2", "/configs/x", "/var/run/antfly-backups", "/mnt/a b", "/library"] {
        plan_ok(&file, path);
    }
}

fn plan_ok(file: &Plugin, path: &str) {
    let plan = plan(file, &format!("file://{path}"), r#"{"claimName":"backups"}"#);
    assert_eq!(plan.server.claim_mounts[0].mount_path, path);
}

#[test]
fn file_refuses_paths_that_are_not_absolute_normalised_or_are_reserved() {
    let host = host();
    let file = bundled(&host, "file");
    let options = r#"{"claimName":"backups"}"#;
    for (location, reason) in [
        ("file://relative", "is not absolute"),
        ("file://host/backups", "is not absolute"),
        ("file://", "is not absolute"),
        ("file:///", "is the root directory"),
        ("file:///backups/", "not a normalised path"),
        ("file:///backups//x", "not a normalised path"),
        ("file:///backups/./x", "not a normalised path"),
        ("file:///a/../antflydb", "not a normalised path"),
        ("file:///backups?x", "query or a fragment"),
        ("file:///backups#x", "query or a fragment"),
        ("/backups", "is not a file:///ABSOLUTE/PATH URL"),
    ] {
        refused(&file, location, options, "location", reason);
    }
    for reserved in [
        "/antflydb",
        "/config",
        "/proc",
        "/sys",
        "/dev",
        "/etc",
        "/bin",
        "/usr",
        "/lib",
        "/var/run/secrets",
        "/var/run/antfly",
    ] {
        refused(&file, &format!("file://{reserved}"), options, "location", &format!("is at or under {reserved}"));
        refused(
            &file,
            &format!("file://{reserved}/backups"),
            options,
            "location",
            &format!("is at or under {reserved}"),
        );
    }
}

#[test]
fn file_requires_a_valid_claim_name_and_reports_every_problem() {
    let host = host();
    let file = bundled(&host, "file");
    refused(&file, "file:///backups", "{}", "claimName", "missing field `claimName`");
    refused(&file, "file:///backups", r#"{"claimName":"Backups_1"}"#, "claimName", "not a PersistentVolumeClaim name");
    refused(&file, "file:///backups", r#"{"claimName":""}"#, "claimName", "not a PersistentVolumeClaim name");
    // The host adds credentialsSecret when the user names one: a file destination has none.
    refused(
        &file,
        "file:///backups",
        r#"{"claimName":"b","credentialsSecret":"s"}"#,
        "credentialsSecret",
        "unknown field",
    );
    let problems = problems(&file, "file:///etc/../x/", r#"{"claimName":"-"}"#);
    assert_eq!(fields(&problems), ["location", "claimName"], "{problems:?}");
}

#[test]
fn options_that_are_not_a_json_object_of_the_right_types_name_the_field() {
    let host = host();
    let cases = [
        ("s3", "s3://backups", "not json", "options", "not valid JSON"),
        ("s3", "s3://backups", "", "options", "not valid JSON"),
        ("s3", "s3://backups", "[]", "options", "must be a JSON object, not an array"),
        ("s3", "s3://backups", "null", "options", "must be a JSON object, not null"),
        ("s3", "s3://backups", r#""region""#, "options", "must be a JSON object, not a string"),
        ("s3", "s3://backups", r#"{"forcePathStyle":"yes"}"#, "forcePathStyle", "expected a boolean"),
        ("s3", "s3://backups", r#"{"region":"eu-west-1","endpoint":5}"#, "endpoint", "expected a string"),
        ("s3", "s3://backups", r#"{"regoin":"eu-west-1"}"#, "regoin", "unknown field `regoin`"),
        ("s3", "s3://backups", r#"{"region":null,"credentials_secret":"x"}"#, "credentials_secret", "unknown field"),
        ("gcs", "gs://backups", r#"{"credentialsSecret":["a"]}"#, "credentialsSecret", "expected a string"),
        ("gcs", "gs://backups", r#"{"keyfile":"k"}"#, "keyfile", "unknown field `keyfile`"),
        ("gcs", "gs://backups", "42", "options", "not a number"),
        ("file", "file:///backups", r#"{"claimName":7}"#, "claimName", "expected a string"),
        ("file", "file:///backups", r#"{"claimName":"b","readOnly":true}"#, "readOnly", "unknown field"),
        ("file", "file:///backups", "true", "options", "not a boolean"),
    ];
    for (name, location, options, field, reason) in cases {
        refused(&bundled(&host, name), location, options, field, reason);
    }
    // A broken location is still reported beside broken options.
    let problems = problems(&bundled(&host, "s3"), "s3://", "{");
    assert_eq!(fields(&problems), ["location", "options"]);
}

#[test]
fn huge_values_are_refused_with_short_messages() {
    let host = host();
    let huge = "a".repeat(1 << 20);
    for (name, location, options) in [
        ("s3", format!("s3://{huge}"), "{}".to_string()),
        ("s3", "s3://backups".to_string(), format!(r#"{{"region":"{huge}"}}"#)),
        ("s3", "s3://backups".to_string(), format!(r#"{{"credentialsSecret":"{huge}"}}"#)),
        ("s3", format!("s3://backups/{}", "p/".repeat(600)), "{}".to_string()),
        ("gcs", format!("gs://{huge}"), "{}".to_string()),
        ("gcs", "gs://backups".to_string(), format!(r#"{{"credentialsSecret":"s","keyFileKey":"{huge}"}}"#)),
        ("file", format!("file:///{huge}"), r#"{"claimName":"b"}"#.to_string()),
        ("file", "file:///backups".to_string(), format!(r#"{{"claimName":"{huge}"}}"#)),
        ("s3", "s3://backups".to_string(), format!(r#"{{"forcePathStyle":"{huge}"}}"#)),
        ("s3", "s3://backups".to_string(), format!(r#"{{"{huge}":true}}"#)),
        ("file", "file:///backups".to_string(), format!(r#"{{"claimName":["{huge}"]}}"#)),
    ] {
        let problems = problems(&bundled(&host, name), &location, &options);
        for problem in &problems {
            assert!(problem.message.len() < 400, "{name}: a message of {} bytes", problem.message.len());
            assert!(problem.field.len() < 80, "{name}: a field of {} bytes", problem.field.len());
        }
    }
}

#[test]
fn control_characters_and_unicode_look_alikes_are_refused() {
    let host = host();
    let s3 = bundled(&host, "s3");
    let gcs = bundled(&host, "gcs");
    let file = bundled(&host, "file");
    // Cyrillic a, fullwidth colon, a zero-width space, a right-to-left override.
    refused(&s3, "s3://b\u{0430}ckups/prod", "{}", "location", "only lower-case letters");
    refused(&s3, "s3\u{ff1a}//backups", "{}", "location", "is not a s3://BUCKET[/PREFIX] URL");
    refused(&s3, "s3://backups/pro\u{200b}d", "{}", "location", "printable ASCII");
    refused(&s3, "s3://backups/a\nb", "{}", "location", "printable ASCII");
    refused(&s3, "s3://backups\u{0}", "{}", "location", "printable ASCII");
    refused(&s3, "s3://backups", "{\"region\":\"eu-west-1\u{202e}\"}", "region", "not a region name");
    refused(&gcs, "gs://b\u{0441}ckups", "{}", "location", "only lower-case letters");
    refused(&gcs, "gs://backups/x\ty", "{}", "location", "printable ASCII");
    refused(&file, "file:///back\u{0443}ps", r#"{"claimName":"b"}"#, "location", "printable ASCII");
    refused(&file, "file:///backups\u{7}", r#"{"claimName":"b"}"#, "location", "printable ASCII");
    refused(
        &file,
        "file:///backups",
        r#"{"claimName":"b\u0430ckups"}"#,
        "claimName",
        "not a PersistentVolumeClaim name",
    );
    // Messages escape what they show.
    let problem = &problems(&s3, "s3://a\u{1b}[31m", "{}")[0];
    assert!(!problem.message.contains('\u{1b}'), "{problem:?}");
}

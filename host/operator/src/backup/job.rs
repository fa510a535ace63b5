//! The Job that runs one backup or restore: the operator's own binary (`backup-run` or
//! `restore-run`) in the cluster's namespace, calling the cluster's metadata Service on the
//! metadata API port (never the public API, which may be off), with the mesh profile's pod
//! annotations so that it can talk to a strict-mTLS mesh. It writes its result to its
//! termination message.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::destination::{DestinationPlan, Operation, ServerEnvironment};
use crate::api::RestoreMode;
use crate::base::labels::{LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGER};
use crate::base::{Role, names, ports};

/// Labels of run Jobs and their pods.
pub const LABEL_OPERATION: &str = "antfly.io/operation";
pub const LABEL_RUN_OWNER: &str = "antfly.io/run-owner";
pub const JOB_APP_NAME: &str = "antfly-operator-run";
/// The name of the run container, whose termination message holds the result.
pub const RUN_CONTAINER: &str = "run";
/// Finished Jobs are removed a day later (their result is in the owner's status by then).
const FINISHED_TTL_SECONDS: i32 = 86_400;

/// Everything one run's Job is built from.
#[derive(Clone, Debug)]
pub struct RunJob<'a> {
    pub operation: Operation,
    pub job_name: &'a str,
    pub namespace: &'a str,
    pub cluster: &'a str,
    /// The AntflyBackup or AntflyRestore that owns the Job.
    pub owner: OwnerReference,
    pub backup_id: &'a str,
    pub plan: &'a DestinationPlan,
    pub tables: &'a [String],
    pub restore_mode: RestoreMode,
    /// The Job's active deadline.
    pub timeout_seconds: i64,
    /// Restores: how long the restored tables may take to serve reads.
    pub ready_timeout_seconds: i64,
    pub image: &'a str,
    pub service_account: Option<&'a str>,
    /// The mesh profile's annotations for the cluster's pods.
    pub pod_annotations: BTreeMap<String, String>,
}

/// The metadata Service's API address, which the run calls.
pub fn metadata_api_url(cluster: &str, namespace: &str) -> String {
    format!("http://{}.{namespace}.svc:{}", names::role(cluster, Role::Metadata), ports::METADATA_API)
}

pub fn build_job(run: &RunJob<'_>) -> Job {
    let operation = match run.operation {
        Operation::Backup => "backup",
        Operation::Restore => "restore",
    };
    let labels = BTreeMap::from([
        (LABEL_NAME.to_string(), JOB_APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), run.cluster.to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
        (LABEL_OPERATION.to_string(), operation.to_string()),
        (LABEL_RUN_OWNER.to_string(), run.owner.name.clone()),
    ]);
    let mut args = vec![
        format!("{operation}-run"),
        "--url".to_string(),
        metadata_api_url(run.cluster, run.namespace),
        "--backup-id".to_string(),
        run.backup_id.to_string(),
        "--location".to_string(),
        run.plan.location.clone(),
    ];
    for table in run.tables {
        args.extend(["--table".to_string(), table.clone()]);
    }
    if run.operation == Operation::Restore {
        let mode = match run.restore_mode {
            RestoreMode::FailIfExists => "fail_if_exists",
            RestoreMode::SkipIfExists => "skip_if_exists",
            RestoreMode::Overwrite => "overwrite",
        };
        args.extend(["--mode".to_string(), mode.to_string()]);
        args.extend(["--ready-timeout".to_string(), format!("{}s", run.ready_timeout_seconds)]);
    }
    let small =
        BTreeMap::from([("cpu".to_string(), Quantity("50m".into())), ("memory".to_string(), Quantity("64Mi".into()))]);
    let container = Container {
        name: RUN_CONTAINER.to_string(),
        image: Some(run.image.to_string()),
        command: Some(vec!["/antfly-operator".to_string()]),
        args: Some(args),
        resources: Some(ResourceRequirements {
            requests: Some(small),
            limits: Some(BTreeMap::from([("memory".to_string(), Quantity("128Mi".into()))])),
            ..ResourceRequirements::default()
        }),
        termination_message_policy: Some("File".to_string()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), add: None }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let mut pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_string()),
        service_account_name: run.service_account.map(str::to_string),
        automount_service_account_token: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(65_532),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), localhost_profile: None }),
            ..PodSecurityContext::default()
        }),
        ..PodSpec::default()
    };
    // The plan's job environment: the run itself reads nothing from the store, but a
    // destination may need it (and a vendor's tooling image may).
    if let Ok(job_environment) = ServerEnvironment::merge([(run.owner.name.as_str(), &run.plan.job)]) {
        job_environment.apply_to(&mut pod, RUN_CONTAINER);
    }
    Job {
        metadata: ObjectMeta {
            name: Some(run.job_name.to_string()),
            namespace: Some(run.namespace.to_string()),
            labels: Some(labels.clone()),
            owner_references: Some(vec![run.owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // A retry would repeat a backup under the same id, which the server overwrites
            // silently, or trigger a second restore: the owner decides, not the Job.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(run.timeout_seconds),
            ttl_seconds_after_finished: Some(FINISHED_TTL_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!run.pod_annotations.is_empty()).then(|| run.pod_annotations.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

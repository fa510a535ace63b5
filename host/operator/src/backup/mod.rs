//! Backups and restores as data: schedules and run ids, destination plans and the server
//! environment they need, the Jobs that run them and the results those report. Pure: the
//! controller does the I/O.

pub mod cron;
pub mod destination;
pub mod job;
pub mod result;
pub mod schedule;

#[cfg(test)]
mod tests;

use kube::ResourceExt;

use crate::api::{AntflyBackup, AntflyCluster, AntflyRestore};
use crate::parse::Object;
use crate::validate::FieldError;
use destination::{DestinationRequest, RequestError};
use schedule::{BackupTimetable, TimetableError};

/// Every problem of an AntflyBackup or AntflyRestore that the operator checks beyond the
/// CRD schema: schedule, time zone, table names. (A cluster gives none.)
pub fn validate(object: &Object) -> Vec<FieldError> {
    match object {
        Object::Cluster(_) => Vec::new(),
        Object::Backup(backup) => validate_backup(backup),
        Object::Restore(restore) => validate_tables(&restore.spec.tables),
    }
}

pub fn validate_backup(backup: &AntflyBackup) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = match BackupTimetable::from_spec(&backup.spec) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|problem| {
                let path = match problem {
                    TimetableError::Schedule(_) => "spec.schedule",
                    TimetableError::TimeZone { .. } => "spec.timeZone",
                };
                let message = problem.to_string();
                let message = message.strip_prefix(&format!("{path}: ")).unwrap_or(&message).to_string();
                FieldError { path: path.to_string(), message }
            })
            .collect(),
    };
    errors.extend(validate_tables(&backup.spec.tables));
    errors
}

/// Table names are path segments of the server's API: printable, no `/`, at most 255 bytes.
pub fn validate_tables(tables: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let valid = !table.is_empty()
            && table.len() <= 255
            && !table.contains('/')
            && table != "."
            && table != ".."
            && !table.chars().any(|c| c.is_control() || c.is_whitespace());
        if !valid {
            errors.push(FieldError {
                path: format!("spec.tables[{i}]"),
                message: format!("{table:?} is not a table name (1-255 printable characters, no spaces or '/')"),
            });
        }
        if tables[..i].contains(table) {
            errors
                .push(FieldError { path: format!("spec.tables[{i}]"), message: format!("{table:?} is listed twice") });
        }
    }
    errors
}

/// The destination of a backup or restore of `cluster`; `None` when the object belongs to
/// another cluster (name or namespace).
pub fn destination_of(object: &Object, cluster: &AntflyCluster) -> Option<Result<DestinationRequest, RequestError>> {
    let namespace = cluster.namespace().unwrap_or_default();
    let same_namespace = |ns: Option<String>| ns.unwrap_or_default() == namespace;
    match object {
        Object::Cluster(_) => None,
        Object::Backup(b) if b.spec.cluster_ref.name == cluster.name_any() && same_namespace(b.namespace()) => {
            Some(backup_destination(b))
        }
        Object::Restore(r) if r.spec.cluster_ref.name == cluster.name_any() && same_namespace(r.namespace()) => {
            Some(restore_destination(r))
        }
        _ => None,
    }
}

pub fn backup_destination(backup: &AntflyBackup) -> Result<DestinationRequest, RequestError> {
    DestinationRequest::for_backup(
        &backup.name_any(),
        &backup.namespace().unwrap_or_default(),
        &backup.spec.cluster_ref.name,
        &backup.spec.destination,
        &backup.spec.tables,
    )
}

pub fn restore_destination(restore: &AntflyRestore) -> Result<DestinationRequest, RequestError> {
    DestinationRequest::for_restore(
        &restore.name_any(),
        &restore.namespace().unwrap_or_default(),
        &restore.spec.cluster_ref.name,
        &restore.spec.source,
        &restore.spec.tables,
    )
}

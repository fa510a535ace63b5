//! When a backup runs: its schedule, the missed-run policy, the one-off run of an
//! unscheduled backup, the `antfly.io/backup-now` trigger, and the run's id.

use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::cron::Schedule;
use crate::api::{AntflyBackupSpec, AntflyBackupStatus};

/// The annotation that starts a run whenever its value changes.
pub const BACKUP_NOW_ANNOTATION: &str = "antfly.io/backup-now";

/// A scheduled run started within this long of its time counts as on time, not a catch-up.
const ON_TIME: SignedDuration = SignedDuration::from_secs(60);

/// Why a run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunReason {
    /// The first run of a backup without a schedule.
    Initial,
    Scheduled,
    /// A scheduled run missed while the operator was down, within the starting deadline.
    CatchUp,
    /// The `antfly.io/backup-now` annotation changed.
    OnDemand,
}

impl RunReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RunReason::Initial => "Initial",
            RunReason::Scheduled => "Scheduled",
            RunReason::CatchUp => "CatchUp",
            RunReason::OnDemand => "OnDemand",
        }
    }
}

/// What the schedule says now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Start a run, for this reason.
    pub start: Option<RunReason>,
    /// The scheduled time this decision consumes: started, or skipped as too late. Recorded
    /// as `lastScheduleTime` so that it never runs again.
    pub consumes: Option<Timestamp>,
    /// A scheduled time more than the starting deadline in the past, skipped.
    pub skipped: Option<Timestamp>,
    /// The trigger value to record (`lastTrigger`) when the run starts.
    pub trigger: Option<String>,
    /// The next scheduled time after now.
    pub next: Option<Timestamp>,
}

/// A backup's schedule in its time zone, read from the spec.
#[derive(Clone, Debug)]
pub struct BackupTimetable {
    pub schedule: Option<Schedule>,
    pub zone: TimeZone,
}

/// Errors name the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimetableError {
    #[error("spec.schedule: {0}")]
    Schedule(String),
    #[error("spec.timeZone: {zone:?} is not a known IANA time zone (for example Europe/Paris or UTC)")]
    TimeZone { zone: String },
}

impl BackupTimetable {
    pub fn from_spec(spec: &AntflyBackupSpec) -> Result<BackupTimetable, Vec<TimetableError>> {
        let mut errors = Vec::new();
        let schedule = match spec.schedule.as_deref() {
            None => None,
            Some(text) => Schedule::parse(text).map_err(|e| errors.push(TimetableError::Schedule(e.to_string()))).ok(),
        };
        let zone = match spec.time_zone.as_deref() {
            None => TimeZone::UTC,
            // Only names from the bundled database: never a path on the operator's disk.
            Some(name) if is_zone_name(name) => TimeZone::get(name).unwrap_or_else(|_| {
                errors.push(TimetableError::TimeZone { zone: name.to_string() });
                TimeZone::UTC
            }),
            Some(name) => {
                errors.push(TimetableError::TimeZone { zone: name.to_string() });
                TimeZone::UTC
            }
        };
        if errors.is_empty() { Ok(BackupTimetable { schedule, zone }) } else { Err(errors) }
    }

    /// Decide at `now`. `created` is the backup's creation time, the start of its schedule.
    pub fn decide(
        &self,
        spec: &AntflyBackupSpec,
        status: &AntflyBackupStatus,
        trigger: Option<&str>,
        created: Timestamp,
        now: Timestamp,
    ) -> Decision {
        let mut decision = Decision::default();
        if let Some(value) = trigger
            && status.last_trigger.as_deref() != Some(value)
        {
            decision.start = Some(RunReason::OnDemand);
            decision.trigger = Some(value.to_string());
        }
        let Some(schedule) = &self.schedule else {
            let never_ran = status.last_backup_id.is_none() && status.active.is_none();
            if decision.start.is_none() && never_ran {
                decision.start = Some(RunReason::Initial);
            }
            return decision;
        };
        let last = status.last_schedule_time.as_ref().map_or(created, |t| t.0).max(created);
        decision.next = schedule.next_after(now.max(last), &self.zone);
        if spec.suspend {
            return decision;
        }
        let deadline = SignedDuration::from_secs(spec.starting_deadline_seconds.max(0));
        let window_start = now.checked_sub(deadline).unwrap_or(now).max(last);
        match schedule.last_in(window_start, now, &self.zone) {
            Some(due) => {
                decision.consumes = Some(due);
                if decision.start.is_none() {
                    let late = now.duration_since(due) > ON_TIME;
                    decision.start = Some(if late { RunReason::CatchUp } else { RunReason::Scheduled });
                }
            }
            None if window_start > last => {
                // Everything due between `last` and the window was missed by more than the deadline.
                if let Some(missed) = schedule.last_in(last, window_start, &self.zone) {
                    decision.skipped = Some(missed);
                    decision.consumes = Some(missed);
                }
            }
            None => {}
        }
        decision
    }
}

/// An IANA zone name: letters, digits and `/_+-`, no `..`, not absolute.
fn is_zone_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('/')
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
}

/// The id of a run started at `now`: `{backup}-{YYYYMMDDHHMMSS}` in UTC, with `-2`, `-3`, …
/// when `taken` already holds that id (two runs in the same second).
pub fn run_id(backup: &str, now: Timestamp, taken: &[&str]) -> String {
    let base = format!("{backup}-{}", now.strftime("%Y%m%d%H%M%S"));
    if !taken.contains(&base.as_str()) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken.contains(&id.as_str())).unwrap_or(base)
}

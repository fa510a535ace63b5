//! Five-field cron schedules (minute, hour, day of month, month, day of week), as Kubernetes
//! CronJobs read them, evaluated in an IANA time zone.
//!
//! - Fields take `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n`, and lists of
//!   those; months and days of the week also take `JAN`..`DEC` and `SUN`..`SAT`; Sunday is
//!   0 or 7. `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
//!   `@hourly` stand for their usual schedules.
//! - When both day of month and day of week are restricted, a day matching either runs
//!   (as in Vixie cron and Kubernetes).
//! - Daylight-saving time: a local time that does not exist (skipped by a forward jump)
//!   runs at the same offset after the jump; a local time that happens twice runs once, the
//!   first time.

use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::{AmbiguousOffset, TimeZone};
use k8s_openapi::jiff::{Timestamp, ToSpan};

/// How far ahead to look for the next run: long enough for a 29 February in any year
/// (leap years can be 8 years apart around 2100).
const SEARCH_DAYS: i32 = 366 * 9;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: Field,
    hours: Field,
    days_of_month: Field,
    months: Field,
    days_of_week: Field,
    /// Whether day of month or day of week was written as `*` (then only the other counts).
    dom_any: bool,
    dow_any: bool,
}

/// The values a field allows, as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field(u64);

impl Field {
    fn contains(self, value: u32) -> bool {
        value < 64 && self.0 & (1 << value) != 0
    }

    fn values(self) -> impl Iterator<Item = u32> {
        (0..64u32).filter(move |v| self.contains(*v))
    }
}

/// A schedule that cannot be read; the message says which field and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: FieldSpec = FieldSpec { name: "hour", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldSpec = FieldSpec { name: "day of month", min: 1, max: 31, names: &[] };
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
};
const DAY_OF_WEEK: FieldSpec =
    FieldSpec { name: "day of week", min: 0, max: 7, names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] };

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, CronError> {
        let text = text.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if text.starts_with('@') => {
                return Err(CronError(format!(
                    "unknown macro {text:?}: expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or \
                     @hourly"
                )));
            }
            _ if text.starts_with("TZ=") || text.starts_with("CRON_TZ=") => {
                return Err(CronError("a time zone in the schedule is not supported: set spec.timeZone".into()));
            }
            _ => text,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(CronError(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        };
        let mut days_of_week = parse_field(dow, &DAY_OF_WEEK)?;
        if days_of_week.contains(7) {
            days_of_week = Field((days_of_week.0 | 1) & !(1 << 7));
        }
        let schedule = Schedule {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days_of_month: parse_field(dom, &DAY_OF_MONTH)?,
            months: parse_field(month, &MONTH)?,
            days_of_week,
            dom_any: dom.starts_with('*'),
            dow_any: dow.starts_with('*'),
        };
        if !schedule.has_a_day() {
            return Err(CronError(format!("{text:?} never runs: no month has the day of month it names")));
        }
        Ok(schedule)
    }

    /// Whether some month has a day this schedule allows (`0 0 30 2 *` never runs).
    fn has_a_day(&self) -> bool {
        if !self.dow_any || self.dom_any {
            return true;
        }
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        self.months.values().any(|m| self.days_of_month.values().any(|d| d >= 1 && d <= LONGEST[m as usize - 1]))
    }

    fn day_matches(&self, day: Date) -> bool {
        if !self.months.contains(day.month() as u32) {
            return false;
        }
        let dom = self.days_of_month.contains(day.day() as u32);
        let dow = self.days_of_week.contains(u32::from(day.weekday().to_sunday_zero_offset() as u8));
        match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first run strictly after `after`, in `zone`; `None` only when none falls within
    /// the next nine years.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(zone.clone()).date();
        (0..SEARCH_DAYS).filter_map(|offset| start.checked_add(offset.days()).ok()).find_map(|day| {
            if !self.day_matches(day) {
                return None;
            }
            self.hours.values().find_map(|hour| {
                self.minutes.values().find_map(|minute| {
                    let local = DateTime::from(day).with().hour(hour as i8).minute(minute as i8).build().ok()?;
                    let instant = instant_of(local, zone)?;
                    (instant > after).then_some(instant)
                })
            })
        })
    }

    /// The last run in `(after, until]`, if any, without walking every run of a long gap
    /// one by one more than needed: callers bound the window (the missed-run deadline).
    pub fn last_in(&self, after: Timestamp, until: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let mut last = None;
        let mut cursor = after;
        while let Some(next) = self.next_after(cursor, zone) {
            if next > until {
                break;
            }
            last = Some(next);
            cursor = next;
        }
        last
    }
}

/// The instant of a local time: after a forward jump, the same offset past the jump; in a
/// repeated hour, the first occurrence.
fn instant_of(local: DateTime, zone: &TimeZone) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(local).ok()
        }
        AmbiguousOffset::Gap { before, .. } => before.to_timestamp(local).ok(),
    }
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<Field, CronError> {
    let error = |why: String| CronError(format!("{} field {text:?}: {why}", spec.name));
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| error(format!("step {step:?} is not a number")))?;
                if step == 0 || step > spec.max {
                    return Err(error(format!("step {step} must be between 1 and {}", spec.max)));
                }
                (range, Some(step))
            }
            None => (part, None),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (value(low, spec).map_err(&error)?, value(high, spec).map_err(&error)?)
        } else {
            let start = value(range, spec).map_err(&error)?;
            // `a/n` runs from a to the end of the range.
            (start, if step.is_some() { spec.max } else { start })
        };
        if low > high {
            return Err(error(format!("range {low}-{high} runs backwards")));
        }
        for v in (low..=high).step_by(step.unwrap_or(1) as usize) {
            bits |= 1 << v;
        }
    }
    Ok(Field(bits))
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(index) = spec.names.iter().position(|name| *name == upper) {
        // JAN is 1 (months start at 1), SUN is 0.
        return Ok(index as u32 + spec.min);
    }
    let number: u32 = text.parse().map_err(|_| {
        if text.is_empty() { "a value is missing".to_string() } else { format!("{text:?} is not a number or name") }
    })?;
    if number < spec.min || number > spec.max {
        return Err(format!("{number} is outside {}-{}", spec.min, spec.max));
    }
    Ok(number)
}

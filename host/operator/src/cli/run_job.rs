//! `backup-run` and `restore-run`: what a backup or restore Job runs. One call to the
//! cluster's metadata API (through the typed client), then, for a restore, polling until
//! every restored table serves reads. The result goes to the termination message (and
//! stdout), for the controller to read; the exit code says whether it completed.

use std::path::PathBuf;
use std::time::Duration;

use antfly_api::{BackupRequest, Client, RestoreMode, RestoreRequest};
use antfly_operator::api::TableRecord;
use antfly_operator::backup::result::{Outcome, RunResult};

/// How often a restore probes its tables.
const READY_POLL: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub struct RunJobArgs {
    /// The cluster's metadata API, e.g. http://c-metadata.ns.svc:12377.
    #[arg(long)]
    url: String,
    #[arg(long)]
    backup_id: String,
    /// The location, as the destination plugin normalised it.
    #[arg(long)]
    location: String,
    /// A table to include (repeat); none means every table.
    #[arg(long = "table")]
    tables: Vec<String>,
    /// Where the result goes: the container's termination message by default.
    #[arg(long, default_value = "/dev/termination-log")]
    result_file: PathBuf,
    /// Bound on the backup or restore call itself.
    #[arg(long, value_parser = parse_seconds, default_value = "3600s")]
    call_timeout: Duration,
}

#[derive(clap::Args)]
pub struct RestoreJobArgs {
    #[command(flatten)]
    common: RunJobArgs,
    /// fail_if_exists, skip_if_exists or overwrite.
    #[arg(long, default_value = "fail_if_exists")]
    mode: String,
    /// How long the restored tables may take to serve reads.
    #[arg(long, value_parser = parse_seconds, default_value = "900s")]
    ready_timeout: Duration,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.trim_end_matches('s')
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{text:?} is not a number of seconds like 900s"))
}

pub async fn backup_run(args: RunJobArgs) -> Result<String, String> {
    let client = Client::new(&args.url).map_err(|e| e.to_string())?.with_timeout(args.call_timeout);
    let request = BackupRequest {
        backup_id: args.backup_id.clone(),
        location: args.location.clone(),
        table_names: args.tables.clone(),
    };
    let result = match client.backup(&request).await {
        // A failed backup also answers 200: the body says.
        Ok(response) => RunResult {
            backup_id: args.backup_id.clone(),
            outcome: if response.succeeded() { Outcome::Completed } else { Outcome::Failed },
            message: (!response.succeeded()).then(|| {
                let errors = response.table_errors();
                if errors.is_empty() {
                    format!("the server reported status {:?}", response.status)
                } else {
                    errors.join("; ")
                }
            }),
            tables: response
                .tables
                .into_iter()
                .map(|t| TableRecord { name: t.name, status: t.status, message: t.error })
                .collect(),
            omitted_tables: 0,
        },
        Err(error) => RunResult::failed(&args.backup_id, error.to_string()),
    };
    report(&args.result_file, &result)
}

pub async fn restore_run(args: RestoreJobArgs) -> Result<String, String> {
    let common = &args.common;
    let mode = match args.mode.as_str() {
        "fail_if_exists" => RestoreMode::FailIfExists,
        "skip_if_exists" => RestoreMode::SkipIfExists,
        "overwrite" => RestoreMode::Overwrite,
        other => return Err(format!("--mode {other:?}: expected fail_if_exists, skip_if_exists or overwrite")),
    };
    let client = Client::new(&common.url).map_err(|e| e.to_string())?.with_timeout(common.call_timeout);
    let request = RestoreRequest {
        backup_id: common.backup_id.clone(),
        location: common.location.clone(),
        table_names: common.tables.clone(),
        restore_mode: mode,
    };
    let accepted = match client.restore(&request).await {
        Ok(accepted) => accepted,
        // 400 (a table exists) or 500 (an unknown backup id): the server's message.
        Err(error) => return report(&common.result_file, &RunResult::failed(&common.backup_id, error.to_string())),
    };
    // The server answers before it restores; completion is every triggered table serving reads.
    let skipped: Vec<String> = accepted.skipped().map(str::to_string).collect();
    let triggered: Vec<String> =
        accepted.tables.iter().filter(|t| !skipped.contains(&t.name)).map(|t| t.name.clone()).collect();
    let waits = client.wait_until_tables_serve_reads(&triggered, args.ready_timeout, READY_POLL).await;
    let mut tables: Vec<TableRecord> = skipped
        .iter()
        .map(|name| TableRecord { name: name.clone(), status: "skipped".into(), message: None })
        .collect();
    tables.extend(waits.iter().map(|w| TableRecord {
        name: w.table.clone(),
        status: if w.ready { "ready".into() } else { "not ready".into() },
        message: w.message.clone(),
    }));
    let not_ready: Vec<&str> = waits.iter().filter(|w| !w.ready).map(|w| w.table.as_str()).collect();
    let result = RunResult {
        backup_id: common.backup_id.clone(),
        outcome: if not_ready.is_empty() { Outcome::Completed } else { Outcome::Failed },
        message: (!not_ready.is_empty())
            .then(|| format!("{} did not serve reads within {} s", not_ready.join(", "), args.ready_timeout.as_secs())),
        tables,
        omitted_tables: 0,
    };
    report(&common.result_file, &result)
}

/// Writes the bounded result; an incomplete run is an error exit, after the result is out.
fn report(file: &PathBuf, result: &RunResult) -> Result<String, String> {
    let encoded = result.encode();
    if let Err(error) = std::fs::write(file, &encoded) {
        eprintln!("failed to write the result to {}: {error}", file.display());
    }
    match result.outcome {
        Outcome::Completed => Ok(encoded),
        Outcome::Failed => Err(encoded),
    }
}

//! `emconform record --out DIR [--target URL ...] [FILTER]`: runs the selected trials (every
//! level, without libtest) and stores the normalised response of every step, stamped with the
//! server's API versions and the date (see [`crate::recording`]). Without `--target` it records
//! the embedded fixture, which is what a real server's recording is compared with.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::RunArgs;
use super::run::{
    DEFAULT_TEST_THREADS_FIXTURE, DEFAULT_TEST_THREADS_REMOTE, case_errors, dir_or_default,
    prepare_target, runtime, settings, usage_error,
};
use super::skips::needed_roles;
use crate::case::load_cases;
use crate::progress::Progress;
use crate::recording::Recording;
use crate::report::target_info;
use crate::runner::select::selection;
use crate::runner::{self, Policy, TrialSpec};
use crate::secret::Redactor;
use crate::snapshot::{SnapshotMode, Snapshots};
use crate::target_server::TargetKind;

/// Options of `emconform record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Directory to write the recording to (created; an earlier recording in it is replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The target, trial selection (FILTER, --exact, --skip) and concurrency (--test-threads)
    #[command(flatten)]
    pub run: RunArgs,
}

/// Records the selected trials.
pub fn record(args: RecordArgs) -> ExitCode {
    let run = &args.run;
    if !run.reports.is_empty()
        || run.expect.is_some()
        || run.update_expect.is_some()
        || run.libtest.list
    {
        return usage_error(
            "record stores responses and judges nothing: --report, --expect, --update-expect and \
             --list belong to a suite run",
        );
    }
    let cases = match load_cases(&dir_or_default(&run.cases, "cases")) {
        Ok(cases) => cases,
        Err(errors) => return case_errors(&errors, "recorded"),
    };
    // A recording keeps every level: which trials libtest would ignore does not matter here
    // (`--level` only decides what `--ignored` selects).
    let chosen: Vec<TrialSpec> = selection(&runner::plan(&cases), &run.libtest, run.level)
        .into_iter()
        .map(|s| s.spec)
        .collect();
    if chosen.is_empty() {
        return usage_error("no trial was selected: nothing to record (see `emconform --list`)");
    }
    let remote = run.target.is_some();
    let snapshots = Snapshots::new(
        dir_or_default(&run.snapshots, "snapshots"),
        SnapshotMode::Record,
    );
    let (http_config, run_settings) = settings(run, remote, snapshots);
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    let redactor = Redactor::new();
    let policy = Policy {
        allow_side_effects: run.allow_side_effects,
    };
    let kind = if remote {
        TargetKind::Remote
    } else {
        TargetKind::Fixture
    };
    let needed = needed_roles(&chosen.iter().collect::<Vec<_>>(), kind, policy);
    let target = match prepare_target(
        run,
        &runtime,
        http_config,
        &redactor,
        &needed,
        Progress::disabled(),
    ) {
        Ok(target) => target,
        Err(status) => return status,
    };
    let info = runtime.block_on(target_info(&target, run.fault.as_deref()));
    let threads = run.libtest.test_threads.unwrap_or(if remote {
        DEFAULT_TEST_THREADS_REMOTE
    } else {
        DEFAULT_TEST_THREADS_FIXTURE
    });
    let outcomes = runtime.block_on(runner::run_all(
        &chosen,
        target.clone(),
        Arc::new(run_settings),
        policy,
        threads,
    ));
    if let Err(problem) = runtime.block_on(target.logout()) {
        eprintln!("emconform: warning: {}", redactor.redact(&problem));
    }
    let results: Vec<_> = chosen.into_iter().zip(outcomes).collect();
    match Recording::write(&args.out, info, &results, &redactor) {
        Ok(recording) => {
            let exchanges: usize = recording
                .trials
                .iter()
                .map(|t| t.steps.iter().filter(|s| s.file.is_some()).count())
                .sum();
            let versions = if recording.target.supported_versions.is_empty() {
                "no API versions listed".to_string()
            } else {
                format!(
                    "API versions {}",
                    recording.target.supported_versions.join(", ")
                )
            };
            eprintln!(
                "emconform: recorded {} trial(s), {exchanges} exchange(s), from {} ({versions}) into {}",
                recording.trials.len(),
                recording.target.base_url,
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => usage_error(e),
    }
}

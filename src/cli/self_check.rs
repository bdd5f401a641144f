//! `emconform self-check`: the suite against the clean fixture, every allowed variant and every
//! fault ([`crate::selfcheck`]); prints the kill matrix and the score on stdout, and exits 0 only
//! when every fault is detected and nothing raises a false alarm.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::run::{case_errors, dir_or_default, runtime};
use super::{EXIT_FAILED, parse_duration};
use crate::case::load_cases;
use crate::runner::plan;
use crate::selfcheck::{self, Bounds, Options, report};

/// Options of `emconform self-check`.
#[derive(Debug, Args)]
pub struct SelfCheckArgs {
    /// Directory of case files
    #[arg(long, env = "EMCONFORM_CASES", value_name = "DIR")]
    pub cases: Option<PathBuf>,
    /// Time allowed for one request under the availability faults: a server that never answers
    /// is detected after it [default: 1s]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
    /// How long an await may take under the availability faults: a task that never finishes is
    /// detected after it [default: 1s]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub await_deadline: Option<Duration>,
}

/// Runs the self-check and prints its report.
pub fn self_check(args: &SelfCheckArgs) -> ExitCode {
    let cases = match load_cases(&dir_or_default(&args.cases, "cases")) {
        Ok(cases) => cases,
        Err(errors) => return case_errors(&errors, "checked"),
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    let defaults = Options::default();
    let options = Options {
        hanging: Bounds {
            request_timeout: args
                .request_timeout
                .unwrap_or(defaults.hanging.request_timeout),
            await_deadline: args
                .await_deadline
                .unwrap_or(defaults.hanging.await_deadline),
        },
        ..defaults
    };
    let check = runtime.block_on(selfcheck::run(plan(&cases), options));
    print!("{}", report::render(&check));
    if check.score().perfect() && check.problems().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

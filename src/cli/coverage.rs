//! `emconform coverage`: the coverage table of the case files, on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_USAGE, PROJECT_ROOT};
use crate::case::load_cases;

/// Options of `emconform coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Directory of case files
    #[arg(long, env = "EMCONFORM_CASES", value_name = "DIR")]
    pub cases: Option<PathBuf>,
}

/// Prints the Markdown table (`cases/COVERAGE.md` is this output for the project's cases).
pub fn print_coverage(args: &CoverageArgs) -> ExitCode {
    let dir = args
        .cases
        .clone()
        .unwrap_or_else(|| PathBuf::from(PROJECT_ROOT).join("cases"));
    match load_cases(&dir) {
        Ok(cases) => {
            print!("{}", crate::coverage::markdown(&cases));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}

//! The end of a suite run: what the trials add up to, and the exit status.
//!
//! libtest prints its own verdict (`test result: FAILED` as soon as one trial failed); the run's
//! exit status is decided here instead, from every selected trial's outcome:
//!
//! - judged against the expectation file (`--expect`): the run passes when its failures are
//!   exactly the expected ones, and fails (101) on a new failure, a listed trial that passes, an
//!   entry past its date, or an entry naming no trial;
//! - a run that checked nothing — no trial selected, or every selected trial ignored — exits 2
//!   unless `--allow-empty` (or `cargo test`'s own conventions, see [`empty_run_allowed`]);
//! - the reports are written, and `--update-expect` rewrites the expectation file.
//!
//! Everything is said on stderr, so libtest's `--format json` on stdout stays parseable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{EXIT_FAILED, EXIT_USAGE, RunArgs};
use crate::case::Level;
use crate::expect::{Expectations, Judgement, Standing, today};
use crate::report::{ReportSpec, RunFacts, RunReport, RunResult, target_info};
use crate::runner::select::{Selected, one_nextest_trial};
use crate::runner::{TrialOutcome, TrialSpec, Verdict};
use crate::target_server::Target;

/// What decides a run's verdict besides its trials, read before anything runs.
pub struct Gate {
    expectations: Expectations,
    update: Option<PathBuf>,
    reports: Vec<ReportSpec>,
    allow_empty: bool,
    /// The weakest level that runs (`--level`).
    weakest: Level,
    /// This process is one trial of a nextest run.
    nextest: bool,
    fault: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    started: Instant,
}

/// Whether a run that checked nothing may still exit 0.
///
/// Under `cargo test` the FILTER, `--skip` and `--ignored` are shared by every test binary of the
/// package, so an empty selection there is the usual `cargo test some_unit_test`, not a mistake.
pub fn empty_run_allowed(args: &RunArgs) -> bool {
    let narrowed =
        args.libtest.filter.is_some() || !args.libtest.skip.is_empty() || args.libtest.ignored;
    args.allow_empty || (args.under_cargo_test && narrowed)
}

/// The run's facts once libtest is done.
pub struct Finished<'a> {
    /// Every planned trial (the whole suite unless only an exact filter's case was read).
    pub specs: &'a [TrialSpec],
    pub whole_suite: bool,
    pub selection: Vec<Selected>,
    /// The outcomes the trials recorded.
    pub outcomes: Vec<(TrialSpec, TrialOutcome)>,
    pub target: &'a Target,
    pub runtime: &'a tokio::runtime::Runtime,
}

impl Gate {
    /// Reads the expectation file and checks the options that decide the verdict.
    pub fn prepare(args: &RunArgs) -> Result<Gate, String> {
        let loaded = match (&args.expect, &args.update_expect) {
            (Some(file), _) => Some(Expectations::load(file)),
            (None, Some(file)) => Some(Expectations::load_or_empty(file)),
            (None, None) => None,
        };
        let expectations = match loaded {
            None => Expectations::default(),
            Some(Ok(e)) => e,
            Some(Err(errors)) => {
                let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "the expectation file cannot be used:\n{}",
                    shown.join("\n")
                ));
            }
        };
        let nextest = one_nextest_trial(&args.libtest);
        if nextest && (!args.reports.is_empty() || args.update_expect.is_some()) {
            return Err(
                "--report and --update-expect describe a whole run, but nextest runs every trial in \
                 a process of its own: use nextest's JUnit output (`[profile.NAME.junit]`), or run \
                 emconform itself"
                    .into(),
            );
        }
        Ok(Gate {
            expectations,
            update: args.update_expect.clone(),
            reports: args.reports.clone(),
            allow_empty: empty_run_allowed(args),
            weakest: args.level,
            nextest,
            fault: args.fault.clone(),
            started_at: chrono::Utc::now(),
            started: Instant::now(),
        })
    }

    /// Judges the run, says so on stderr, writes the reports and the updated expectation file,
    /// and returns the exit status.
    pub fn conclude(self, run: Finished) -> ExitCode {
        let results = results(run.selection, run.outcomes, self.weakest);
        let verdicts: Vec<(&str, &Verdict)> = results
            .iter()
            .map(|(s, o)| (s.id.as_str(), &o.verdict))
            .collect();
        let suite: Option<BTreeSet<String>> = run
            .whole_suite
            .then(|| run.specs.iter().map(|s| s.id.clone()).collect());
        let today = today();

        // Configuration problems (exit 2) outrank failures (exit 101).
        let mut problems = Vec::new();
        let mut unusable = false;
        let mut expectations = self.expectations.clone();
        if let Some(path) = &self.update {
            expectations = expectations.updated(&verdicts, suite.as_ref(), today);
            expectations.file = Some(path.clone());
            match expectations.write(path) {
                Ok(()) => eprintln!(
                    "emconform: wrote {} ({} expected failure(s))",
                    path.display(),
                    expectations.entries.len()
                ),
                Err(e) => {
                    problems.push(e);
                    unusable = true;
                }
            }
        }
        let judgement = expectations.judge(&verdicts, suite.as_ref(), today);
        problems.extend(judgement.problems());
        if let Some(problem) = self.nothing_checked(&results) {
            problems.push(problem);
            unusable = true;
        }
        let mut status = match (unusable, judgement.passed()) {
            (true, _) => EXIT_USAGE,
            (false, false) => EXIT_FAILED,
            (false, true) => 0,
        };
        say(&judgement, &problems, status);

        if !self.reports.is_empty() {
            let target = run
                .runtime
                .block_on(target_info(run.target, self.fault.as_deref()));
            let report = RunReport::new(RunFacts {
                started_at: self.started_at,
                duration: self.started.elapsed(),
                target,
                results: &results,
                judgement: &judgement,
                result: RunResult {
                    passed: status == 0,
                    exit_status: status,
                    problems,
                },
                redactor: &run.target.redactor,
            });
            for spec in &self.reports {
                if let Err(e) = report.write(spec) {
                    eprintln!("emconform: {e}");
                    status = EXIT_USAGE;
                }
            }
        }
        ExitCode::from(status)
    }

    /// Why the run checked nothing, when it did not and that is not allowed.
    fn nothing_checked(&self, results: &[(TrialSpec, TrialOutcome)]) -> Option<String> {
        if self.nextest {
            // nextest runs one trial per process, named exactly; it may be ignored at run time
            // (nextest has no such status: it shows as passed, with the reason in its output).
            return (results.len() != 1).then(|| {
                format!(
                    "nextest asked for one trial with --exact, but {} matched: is the list stale?",
                    results.len()
                )
            });
        }
        if self.allow_empty {
            return None;
        }
        if results.is_empty() {
            return Some(
                "no trial was selected, so nothing was checked: see `emconform --list` for the \
                 trials, or pass --allow-empty to accept an empty run"
                    .into(),
            );
        }
        if results
            .iter()
            .all(|(_, o)| matches!(o.verdict, Verdict::Ignored(_)))
        {
            let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, o) in results {
                if let Verdict::Ignored(r) = &o.verdict {
                    *reasons.entry(r.as_str()).or_default() += 1;
                }
            }
            let reasons: Vec<String> = reasons
                .into_iter()
                .map(|(r, n)| format!("{n} × {r}"))
                .collect();
            return Some(format!(
                "every selected trial was ignored, so nothing was checked ({}); pass --allow-empty \
                 to accept that",
                reasons.join("; ")
            ));
        }
        None
    }
}

/// Every selected trial with its outcome, in trial order. Trials libtest ignored without calling
/// them get their reason; a selected trial without an outcome (it panicked) failed.
fn results(
    selection: Vec<Selected>,
    outcomes: Vec<(TrialSpec, TrialOutcome)>,
    weakest: Level,
) -> Vec<(TrialSpec, TrialOutcome)> {
    let mut by_id: BTreeMap<String, TrialOutcome> = outcomes
        .into_iter()
        .map(|(s, o)| (s.id.clone(), o))
        .collect();
    selection
        .into_iter()
        .map(|selected| {
            let id = selected.spec.id.clone();
            let outcome = by_id.remove(&id).unwrap_or_else(|| {
                let verdict = if selected.ignored {
                    let level = selected.spec.case.def.level;
                    Verdict::Ignored(format!(
                        "weaker than --level {weakest}: run it with --level {level} or \
                         --include-ignored"
                    ))
                } else {
                    Verdict::Failed(
                        "the trial ended without an outcome (it panicked: see the output above)"
                            .into(),
                    )
                };
                TrialOutcome::not_run(&id, verdict)
            });
            (selected.spec, outcome)
        })
        .collect()
}

/// The verdict on stderr: how the failures stand against the expectation file, then why the run
/// fails, if it does.
fn say(judgement: &Judgement, problems: &[String], status: u8) {
    if let Some(file) = &judgement.file {
        let mut parts = vec![format!(
            "{} expected failure(s)",
            judgement.count(Standing::ExpectedFailure)
        )];
        for (standing, label) in [
            (Standing::NewFailure, "new failure(s)"),
            (Standing::NowPasses, "listed trial(s) now passing"),
            (Standing::Expired, "expired entry(ies)"),
        ] {
            let n = judgement.count(standing);
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        if !judgement.orphans.is_empty() {
            parts.push(format!(
                "{} entry(ies) naming no trial",
                judgement.orphans.len()
            ));
        }
        eprintln!(
            "emconform: expectations {}: {}",
            file.display(),
            parts.join(", ")
        );
    }
    if status == 0 {
        let expected = judgement.count(Standing::ExpectedFailure);
        if expected > 0 {
            eprintln!(
                "emconform: PASSED: the {expected} failure(s) above are all expected (libtest's own \
                 `test result` line counts them as failures; the exit status is 0)"
            );
        }
        return;
    }
    eprintln!("emconform: FAILED (exit status {status}):");
    for p in problems {
        eprintln!("  - {p}");
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli::parse;

    fn args(list: &[&str], under_cargo_test: bool) -> RunArgs {
        let all = std::iter::once("emconform").chain(list.iter().copied());
        let mut cli = parse(all.map(OsString::from)).unwrap();
        cli.run.under_cargo_test = under_cargo_test;
        cli.run
    }

    #[test]
    fn only_cargo_test_s_shared_filters_or_allow_empty_accept_an_empty_run() {
        assert!(!empty_run_allowed(&args(&[], false)));
        assert!(!empty_run_allowed(&args(&["retry"], false)));
        assert!(!empty_run_allowed(&args(&["--ignored"], false)));
        // `cargo test` with no filter: the guard applies there too.
        assert!(!empty_run_allowed(&args(&[], true)));
        // `cargo test some_unit_test`, `cargo test -- --ignored`: shared by every test binary.
        assert!(empty_run_allowed(&args(&["some_unit_test"], true)));
        assert!(empty_run_allowed(&args(&["--ignored"], true)));
        assert!(empty_run_allowed(&args(&["--skip", "x"], true)));
        assert!(empty_run_allowed(&args(&["--allow-empty"], false)));
    }

    #[test]
    fn trials_libtest_ignored_or_lost_get_a_verdict() {
        use crate::runner::select::Selected;
        let specs = crate::runner::tests::specs();
        let selection: Vec<Selected> = specs
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, spec)| Selected {
                spec: spec.clone(),
                ignored: i == 0,
            })
            .collect();
        let merged = results(selection, Vec::new(), Level::Should);
        assert!(
            matches!(&merged[0].1.verdict, Verdict::Ignored(r) if r.contains("--include-ignored"))
        );
        assert!(matches!(&merged[1].1.verdict, Verdict::Failed(m) if m.contains("panicked")));
    }
}

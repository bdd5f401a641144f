//! Which trials a run selects, and reading no more case files than that needs.
//!
//! libtest decides the selection (FILTER, `--exact`, `--skip`, `--ignored`); [`selection`] asks it
//! the same questions before the run, so that reports and the empty-run guard see every selected
//! trial, including those libtest ignores without calling them. nextest runs every trial in a
//! process of its own as `--exact NAME`: [`load_for`] then reads only that trial's case file
//! (datatest-stable's exact-filter fast path), so each process costs one file, not the suite.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Completion};

use super::{TrialSpec, trial};
use crate::body::Format;
use crate::case::load::display_path;
use crate::case::{Case, Level, LoadError, case_id, load_case, load_cases};

/// A trial the run's filters select.
#[derive(Debug, Clone)]
pub struct Selected {
    pub spec: TrialSpec,
    /// libtest will not run it: it is weaker than the run's level and neither `--ignored` nor
    /// `--include-ignored` was given.
    pub ignored: bool,
}

/// The trials of `specs` that `args` select, in trial order; trials weaker than `weakest` carry
/// libtest's ignored flag (as [`super::libtest_trials`] builds them).
pub fn selection(specs: &[TrialSpec], args: &Arguments, weakest: Level) -> Vec<Selected> {
    specs
        .iter()
        .filter_map(|spec| {
            let shell = trial(spec, weakest, || Ok(Completion::Completed));
            (!args.is_filtered_out(&shell)).then(|| Selected {
                spec: spec.clone(),
                ignored: args.is_ignored(&shell),
            })
        })
        .collect()
}

/// The cases a run needs.
#[derive(Debug)]
pub struct Loaded {
    pub cases: Vec<Case>,
    /// Every case file was read (false when an exact filter named one trial and only its file
    /// was read): only then can an expectation entry be known to name no trial.
    pub whole: bool,
}

/// Reads the cases under `root`: only the one an `--exact` filter names when that file exists,
/// else all of them.
pub fn load_for(root: &Path, args: &Arguments) -> Result<Loaded, Vec<LoadError>> {
    if let Some(name) = exact_name(args)
        && let Some(file) = case_file(root, name)
    {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            vec![LoadError::whole(
                &display_path(&file),
                format!("cannot read: {e}"),
            )]
        })?;
        let id = case_id(root, &file).map_err(|e| vec![LoadError::whole(&file, e)])?;
        let case = load_case(id, &display_path(&file), &text).map_err(|e| vec![e])?;
        return Ok(Loaded {
            cases: vec![case],
            whole: false,
        });
    }
    load_cases(root).map(|cases| Loaded { cases, whole: true })
}

/// The trial an `--exact` filter names (without the `[level] ` that `--list` shows before it),
/// when the filter alone decides: `--exact NAME` and no `--skip`.
pub fn exact_name(args: &Arguments) -> Option<&str> {
    if !args.exact || !args.skip.is_empty() {
        return None;
    }
    let filter = args.filter.as_deref()?;
    Some(
        filter
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("] "))
            .map_or(filter, |(_, name)| name),
    )
}

/// The case file behind a trial id (`jobs::retry::answer::xml` →
/// `ROOT/jobs/retry/answer.toml`), if the id is well-formed and the file exists.
fn case_file(root: &Path, trial: &str) -> Option<PathBuf> {
    let (case, format) = trial.rsplit_once("::")?;
    Format::ALL.iter().find(|f| f.name() == format)?;
    let mut file: PathBuf = root.to_path_buf();
    file.extend(case.split("::"));
    file.set_extension("toml");
    let round_trip = case_id(root, &file).ok()?;
    (round_trip == case && file.is_file()).then_some(file)
}

/// Whether this process is one test of a nextest run: nextest runs every test in a process of its
/// own, as `--exact NAME` with `NEXTEST_EXECUTION_MODE=process-per-test` set. (The variable alone
/// is not enough: programs that tests start inherit it.)
pub fn one_nextest_trial(args: &Arguments) -> bool {
    exact_name(args).is_some()
        && std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|m| m == "process-per-test")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::PROJECT_ROOT;
    use crate::runner::plan;

    fn args(list: &[&str]) -> Arguments {
        use clap::Parser;
        Arguments::parse_from(std::iter::once("emconform").chain(list.iter().copied()))
    }

    fn cases_dir() -> PathBuf {
        Path::new(PROJECT_ROOT).join("cases")
    }

    #[test]
    fn an_exact_filter_reads_only_its_case_file() {
        for name in [
            "jobs::retry::answer::xml",
            "[must] jobs::retry::answer::xml",
        ] {
            let loaded = load_for(&cases_dir(), &args(&["--exact", name])).unwrap();
            assert!(!loaded.whole);
            assert_eq!(loaded.cases.len(), 1);
            assert_eq!(loaded.cases[0].id, "jobs::retry::answer");
            let chosen = selection(
                &plan(&loaded.cases),
                &args(&["--exact", name]),
                Level::Should,
            );
            let ids: Vec<&str> = chosen.iter().map(|s| s.spec.id.as_str()).collect();
            assert_eq!(ids, ["jobs::retry::answer::xml"]);
        }
    }

    #[test]
    fn other_filters_read_the_whole_suite() {
        for list in [
            &["retry"][..],
            &["--exact", "jobs::retry::answer"],
            &["--exact", "jobs::retry::answer::yaml"],
            &["--exact", "jobs::retry::answer::xml", "--skip", "x"],
            &["--exact", "../cases/jobs/retry/answer::xml"],
            &[],
        ] {
            let loaded = load_for(&cases_dir(), &args(list)).unwrap();
            assert!(loaded.whole, "{list:?}");
        }
    }

    #[test]
    fn selection_follows_libtest_filters_and_ignored_flags() {
        let loaded = load_for(&cases_dir(), &args(&[])).unwrap();
        let specs = plan(&loaded.cases);
        assert_eq!(selection(&specs, &args(&[]), Level::May).len(), specs.len());
        let chosen = selection(
            &specs,
            &args(&["without_session", "--skip", "json"]),
            Level::Should,
        );
        let ids: Vec<&str> = chosen.iter().map(|s| s.spec.id.as_str()).collect();
        assert_eq!(ids, ["jobs::retry::without_session::xml"]);
        assert!(selection(&specs, &args(&["no-such-trial"]), Level::Should).is_empty());
    }
}

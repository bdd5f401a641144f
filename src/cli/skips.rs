//! Which trials will not run, and why: the annotation `--list` adds, the job roles a run needs, and
//! the summary of what a run left out.
//!
//! Safe mode (spec'd in issue 5): against anything but the embedded fixture, trials that start,
//! stop or retry jobs are left out unless `--allow-side-effects` is given; trials whose job role
//! has no job are ignored. An administrator must be able to see both before and after a run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use libtest_mimic::{Arguments, FormatSetting, Trial};

use crate::case::Level;
use crate::runner::{Policy, TrialOutcome, TrialSpec, Verdict, skip_reason};
use crate::target_server::TargetKind;

/// The job roles that the selected trials which will run need.
pub fn needed_roles(selected: &[&TrialSpec], kind: TargetKind, policy: Policy) -> BTreeSet<String> {
    selected
        .iter()
        .filter(|s| skip_reason(s, kind, policy).is_none())
        .flat_map(|s| s.case.job_roles().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Whether `--list` output may carry the annotation: not with `--format terse` (nextest parses
/// that) or json.
pub fn annotates_list(args: &Arguments) -> bool {
    matches!(args.format, None | Some(FormatSetting::Pretty))
}

/// What `--list` adds after libtest's lines: per listed trial, whether it would run on this target
/// and why not. No line ends in `: test`, so tools that pick those lines still find only trials.
pub fn list_annotation(
    specs: &[TrialSpec],
    trials: &[Trial],
    args: &Arguments,
    target: Option<&str>,
    policy: Policy,
    given_roles: &BTreeSet<String>,
) -> String {
    let kind = if target.is_some() {
        TargetKind::Remote
    } else {
        TargetKind::Fixture
    };
    let mut out = String::new();
    let _ = match target {
        Some(url) if !policy.allow_side_effects => writeln!(
            out,
            "\nWhat would run against {url} (safe mode: trials that start, stop or retry jobs are left out):"
        ),
        Some(url) => writeln!(
            out,
            "\nWhat would run against {url} (side effects allowed):"
        ),
        None => writeln!(out, "\nWhat would run on the embedded fixture:"),
    };
    let (mut runs, mut not) = (0, 0);
    for (spec, trial) in specs.iter().zip(trials) {
        if args.is_filtered_out(trial) || (args.ignored && !trial.has_ignored_flag()) {
            continue;
        }
        let name = format!("[{}] {}", spec.case.def.level, spec.id);
        let reason = if args.is_ignored(trial) {
            Some(format!(
                "level `{}` ({}) runs only with --level {} or --include-ignored",
                spec.case.def.level,
                level_meaning(spec.case.def.level),
                spec.case.def.level
            ))
        } else {
            skip_reason(spec, kind, policy)
        };
        match reason {
            Some(reason) => {
                not += 1;
                let _ = writeln!(out, "  left out  {name} — {reason}");
            }
            None => {
                runs += 1;
                let jobs = job_notes(spec, kind, given_roles);
                let _ = writeln!(out, "  runs      {name}{jobs}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{} trials: {runs} would run, {not} would not",
        runs + not
    );
    out
}

fn level_meaning(level: Level) -> &'static str {
    match level {
        Level::Must => "documented",
        Level::Should => "seen on real servers",
        Level::May => "inferred",
    }
}

/// ` (needs a `failed` job for itself: given with --job)` and the like, for a remote target.
fn job_notes(spec: &TrialSpec, kind: TargetKind, given: &BTreeSet<String>) -> String {
    if kind == TargetKind::Fixture {
        return String::new();
    }
    let own = if spec.case.has_side_effects() {
        " for itself"
    } else {
        ""
    };
    let notes: Vec<String> = spec
        .case
        .job_roles()
        .map(|role| {
            let from = if given.contains(role) {
                "given with --job"
            } else {
                "found by discovery when the run starts"
            };
            format!("a `{role}` job{own}: {from}")
        })
        .collect();
    if notes.is_empty() {
        String::new()
    } else {
        format!(" (needs {})", notes.join("; "))
    }
}

/// After a run: how many trials were left out, grouped by why. `None` when none was.
pub fn left_out_summary(outcomes: &[(TrialSpec, TrialOutcome)]) -> Option<String> {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, outcome) in outcomes {
        if let Verdict::Ignored(reason) = &outcome.verdict {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
    }
    if reasons.is_empty() {
        return None;
    }
    let total: usize = reasons.values().sum();
    let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut out = format!(
        "emconform: {total} trial{} left out:",
        if total == 1 { "" } else { "s" }
    );
    for (reason, count) in by_count {
        let _ = write!(out, "\n  {count} × {reason}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load_cases;
    use crate::cli::PROJECT_ROOT;
    use crate::runner::plan;

    fn specs() -> Vec<TrialSpec> {
        let cases = load_cases(&std::path::Path::new(PROJECT_ROOT).join("cases")).unwrap();
        plan(&cases)
    }

    fn trials(specs: &[TrialSpec]) -> Vec<Trial> {
        specs
            .iter()
            .map(|s| {
                Trial::test(s.id.clone(), || Ok(()))
                    .with_kind(s.case.def.level.name())
                    .with_ignored_flag(s.case.def.level == Level::May)
            })
            .collect()
    }

    #[test]
    fn the_list_says_what_safe_mode_leaves_out_and_where_jobs_come_from() {
        let specs = specs();
        let trials = trials(&specs);
        let given: BTreeSet<String> = ["failed".to_string()].into();
        let text = list_annotation(
            &specs,
            &trials,
            &Arguments::default(),
            Some("https://em:9398/api/"),
            Policy {
                allow_side_effects: false,
            },
            &given,
        );
        assert!(text.contains("safe mode: trials that start, stop or retry jobs are left out"));
        assert!(
            text.contains("  left out  [must] jobs::retry::answer::xml — safe mode:"),
            "{text}"
        );
        assert!(
            text.contains("  runs      [must] jobs::retry::portal_user::xml (needs a `succeeded` job: found by discovery when the run starts)"),
            "{text}"
        );
        assert!(!text.lines().any(|l| l.ends_with(": test")), "{text}");

        let allowed = list_annotation(
            &specs,
            &trials,
            &Arguments::default(),
            Some("https://em:9398/api/"),
            Policy {
                allow_side_effects: true,
            },
            &given,
        );
        assert!(
            allowed.contains("  runs      [must] jobs::retry::answer::xml (needs a `failed` job for itself: given with --job)"),
            "{allowed}"
        );
    }

    #[test]
    fn needed_roles_leave_out_what_safe_mode_skips() {
        let specs = specs();
        let selected: Vec<&TrialSpec> = specs.iter().collect();
        let safe = needed_roles(
            &selected,
            TargetKind::Remote,
            Policy {
                allow_side_effects: false,
            },
        );
        assert!(
            safe.contains("succeeded") && !safe.contains("failed"),
            "{safe:?}"
        );
        let all = needed_roles(
            &selected,
            TargetKind::Remote,
            Policy {
                allow_side_effects: true,
            },
        );
        assert!(all.contains("failed"), "{all:?}");
    }

    #[test]
    fn the_summary_groups_reasons() {
        let specs = specs();
        let outcome = |id: &str, verdict| TrialOutcome {
            id: id.into(),
            verdict,
            duration: std::time::Duration::ZERO,
            steps: Vec::new(),
        };
        let outcomes = vec![
            (
                specs[0].clone(),
                outcome("a", Verdict::Ignored("safe mode: x".into())),
            ),
            (
                specs[1].clone(),
                outcome("b", Verdict::Ignored("safe mode: x".into())),
            ),
            (
                specs[2].clone(),
                outcome("c", Verdict::Ignored("no job".into())),
            ),
            (specs[2].clone(), outcome("d", Verdict::Passed)),
        ];
        assert_eq!(
            left_out_summary(&outcomes).unwrap(),
            "emconform: 3 trials left out:\n  2 × safe mode: x\n  1 × no job"
        );
        assert_eq!(left_out_summary(&outcomes[3..]), None);
    }
}

//! The run's closing line on stderr: results per level, so a reader sees at once whether only
//! inferred (`may`) behaviour differs or documented (`must`) behaviour does.

use std::collections::BTreeMap;

use super::{TrialOutcome, TrialSpec, Verdict};
use crate::case::Level;

/// Results of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

/// Results per level: `outcomes` of the trials that ran (or were ignored while running), plus the
/// trials libtest ignored without running them (`not_run`, by trial id: weaker than the run's
/// level).
pub fn tally(
    specs: &[TrialSpec],
    outcomes: &[(TrialSpec, TrialOutcome)],
    not_run: &[String],
) -> BTreeMap<Level, Tally> {
    let mut out: BTreeMap<Level, Tally> = BTreeMap::new();
    for (spec, outcome) in outcomes {
        let t = out.entry(spec.case.def.level).or_default();
        match outcome.verdict {
            Verdict::Passed => t.passed += 1,
            Verdict::Failed(_) => t.failed += 1,
            Verdict::Ignored(_) => t.ignored += 1,
        }
    }
    for spec in specs.iter().filter(|s| not_run.contains(&s.id)) {
        out.entry(spec.case.def.level).or_default().ignored += 1;
    }
    out
}

/// `must: 40 passed, 0 failed, 0 ignored; may: 0 passed, 0 failed, 6 ignored (…)`, or `None`
/// when nothing was selected.
pub fn level_summary(tallies: &BTreeMap<Level, Tally>, weakest: Level) -> Option<String> {
    let parts: Vec<String> = tallies
        .iter()
        .map(|(level, t)| {
            let hint = if *level > weakest && t.ignored > 0 {
                format!(" (weaker than --level {weakest}: run them with --level {level} or --include-ignored)")
            } else {
                String::new()
            };
            format!(
                "{level}: {} passed, {} failed, {} ignored{hint}",
                t.passed, t.failed, t.ignored
            )
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weaker_levels_say_how_to_run_them() {
        let mut tallies = BTreeMap::new();
        tallies.insert(
            Level::Must,
            Tally {
                passed: 3,
                failed: 1,
                ignored: 0,
            },
        );
        tallies.insert(
            Level::May,
            Tally {
                passed: 0,
                failed: 0,
                ignored: 2,
            },
        );
        assert_eq!(
            level_summary(&tallies, Level::Should).as_deref(),
            Some(
                "must: 3 passed, 1 failed, 0 ignored; may: 0 passed, 0 failed, 2 ignored \
                 (weaker than --level should: run them with --level may or --include-ignored)"
            )
        );
        assert_eq!(level_summary(&BTreeMap::new(), Level::Should), None);
    }
}

//! The coverage table: which cases check which section of the reference, how many cases and
//! trials there are per level and per section, and what is deliberately left out and why.
//!
//! `emconform coverage` prints it; `cases/COVERAGE.md` is its committed output, kept true by a
//! test that regenerates it and compares (`EMCONFORM_BLESS=1 cargo test coverage` rewrites it).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::case::{Case, Level};
use crate::spec::{SECTIONS, Section};

/// Cases and trials of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub cases: usize,
    pub trials: usize,
}

impl Count {
    fn add(&mut self, case: &Case) {
        self.cases += 1;
        self.trials += case.def.formats.len();
    }

    fn cell(self) -> String {
        if self.cases == 0 {
            "–".to_string()
        } else {
            format!("{} / {}", self.cases, self.trials)
        }
    }
}

/// Counts per level (strongest first).
pub type LevelCounts = BTreeMap<Level, Count>;

/// Cases and trials per level over all `cases`.
pub fn totals(cases: &[Case]) -> LevelCounts {
    let mut out = LevelCounts::new();
    for case in cases {
        out.entry(case.def.level).or_default().add(case);
    }
    out
}

/// The cases citing `section` (its `spec`), and those that also check it (`covers`).
fn cases_of<'c>(cases: &'c [Case], section: &Section) -> (Vec<&'c Case>, Vec<&'c Case>) {
    let cites = cases
        .iter()
        .filter(|c| c.def.spec.get_ref() == section.id)
        .collect();
    let also = cases
        .iter()
        .filter(|c| c.def.covers.iter().any(|s| s.get_ref() == section.id))
        .collect();
    (cites, also)
}

/// Sections that no case cites or covers and that give no reason for it.
pub fn unexplained_gaps(cases: &[Case]) -> Vec<&'static str> {
    SECTIONS
        .iter()
        .filter(|s| {
            let (cites, also) = cases_of(cases, s);
            cites.is_empty() && also.is_empty() && s.left_out.is_none()
        })
        .map(|s| s.id)
        .collect()
}

fn ids(cases: &[&Case]) -> String {
    cases
        .iter()
        .map(|c| format!("`{}`", c.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The whole table, as Markdown.
pub fn markdown(cases: &[Case]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Coverage of the API reference\n\n\
         <!-- Generated from the case files and src/spec.rs by `emconform coverage`; do not edit.\n     \
         `cargo test` fails when it is stale. Regenerate with\n     \
         `cargo run -- coverage > cases/COVERAGE.md` or `EMCONFORM_BLESS=1 cargo test coverage`. -->\n\n\
         Each case cites one section of `em-rest-api.md` (`spec`), or `seed` for the one-page\n\
         retry reference, and may list other sections its assertions also check (`covers`).\n\
         Every case runs once per format it lists, as one trial. Cells read *cases / trials*.\n"
    );
    let _ = writeln!(
        out,
        "## Totals\n\n| level | cases | trials |\n|---|---:|---:|"
    );
    let totals = totals(cases);
    for level in Level::ALL {
        let c = totals.get(&level).copied().unwrap_or_default();
        let _ = writeln!(out, "| {level} | {} | {} |", c.cases, c.trials);
    }
    let all = totals.values().fold(Count::default(), |a, c| Count {
        cases: a.cases + c.cases,
        trials: a.trials + c.trials,
    });
    let _ = writeln!(out, "| all | {} | {} |\n", all.cases, all.trials);

    let _ = writeln!(
        out,
        "## By section\n\n\
         | § | section | must | should | may | cases citing it | also checked by |\n\
         |---|---|---|---|---|---|---|"
    );
    for section in SECTIONS {
        let (cites, also) = cases_of(cases, section);
        let mut per_level = LevelCounts::new();
        for case in &cites {
            per_level.entry(case.def.level).or_default().add(case);
        }
        let cell = |level| per_level.get(&level).copied().unwrap_or_default().cell();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            section.id,
            section.title,
            cell(Level::Must),
            cell(Level::Should),
            cell(Level::May),
            ids(&cites),
            ids(&also)
        );
    }

    let _ = writeln!(
        out,
        "\n## Deliberately not covered\n\n| § | section | what, and why |\n|---|---|---|"
    );
    for section in SECTIONS {
        if let Some(why) = section.left_out {
            let _ = writeln!(out, "| {} | {} | {why} |", section.id, section.title);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::case::load_cases;
    use crate::cli::PROJECT_ROOT;

    fn project_cases() -> Vec<Case> {
        load_cases(&Path::new(PROJECT_ROOT).join("cases")).expect("the project's cases load")
    }

    /// `cases/COVERAGE.md` is what `emconform coverage` prints. With `EMCONFORM_BLESS=1` the test
    /// rewrites the file instead of failing.
    #[test]
    fn coverage_table_is_up_to_date() {
        let file = Path::new(PROJECT_ROOT).join("cases/COVERAGE.md");
        let generated = markdown(&project_cases());
        if std::env::var_os("EMCONFORM_BLESS").is_some() {
            std::fs::write(&file, &generated).expect("write cases/COVERAGE.md");
            return;
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == generated,
            "cases/COVERAGE.md is stale: regenerate it with `cargo run -- coverage > \
             cases/COVERAGE.md` or `EMCONFORM_BLESS=1 cargo test coverage`\n{}",
            similar::TextDiff::from_lines(&committed, &generated)
                .unified_diff()
                .header("cases/COVERAGE.md", "generated")
        );
    }

    #[test]
    fn every_section_has_a_case_or_a_reason() {
        assert_eq!(unexplained_gaps(&project_cases()), Vec::<&str>::new());
    }

    #[test]
    fn counts_add_up() {
        let cases = project_cases();
        let totals = totals(&cases);
        let trials: usize = totals.values().map(|c| c.trials).sum();
        let planned = crate::runner::plan(&cases).len();
        assert_eq!(trials, planned);
        assert_eq!(totals.values().map(|c| c.cases).sum::<usize>(), cases.len());
    }
}

//! Expectation files: the trials expected to fail on one implementation, each with its reason.
//!
//! A pipeline gating another implementation keeps such a file next to its configuration and runs
//! `emconform --expect FILE`. The run passes when its failures are exactly the listed ones. It
//! fails on a new failure; on a listed trial that now passes (so the list only ever shrinks: a
//! ratchet); on an entry that names no trial; and on an entry past its `expires` date.
//! `--update-expect FILE` rewrites the file from a run, keeping the reasons already written.
//!
//! ```toml
//! [[expected]]
//! trial = "jobs::retry::failed_job::xml"
//! reason = "answers 200 instead of 202"
//! link = "https://tracker.example/EM-12"   # optional
//! expires = 2027-03-31                     # optional: valid through this day (UTC)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::value::{Date, Datetime};

use crate::case::LoadError;
use crate::case::load::line_column;
use crate::check::clip;
use crate::runner::Verdict;
use crate::runner::message::headline;

/// One trial expected to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The trial id, as `emconform --list` shows it without the `[level] `.
    pub trial: String,
    pub reason: String,
    pub link: Option<String>,
    /// The last day (UTC) on which the entry holds.
    pub expires: Option<NaiveDate>,
    /// `file:line:column` of the entry, for messages; `None` for an entry not read from a file.
    pub at: Option<String>,
}

impl Entry {
    /// Where the entry is, for messages: `expect.toml:3:9`, or `new entry`.
    pub fn place(&self) -> &str {
        self.at.as_deref().unwrap_or("new entry")
    }
}

/// The entries of an expectation file; empty when none was given (every failure is then new).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Where the entries were read from.
    pub file: Option<PathBuf>,
    /// Sorted by trial id when written.
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    expected: Vec<EntryModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryModel {
    trial: Spanned<String>,
    reason: Spanned<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    expires: Option<Spanned<Datetime>>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    expected: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    trial: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<Datetime>,
}

/// What the rewritten file starts with (comments of the old file are not kept).
const HEADER: &str = "\
# Trials expected to fail on this implementation (emconform --expect FILE).
# Each entry needs a reason; `link` and `expires = YYYY-MM-DD` (valid through that day, UTC) are
# optional. The run fails on a new failure, on a listed trial that now passes, on an entry that
# names no trial, and on an entry past its date. `emconform --update-expect FILE` rewrites this
# file from a run, keeping the reasons.
";

/// A TOML date without time or offset.
fn date_of(value: &Datetime) -> Option<NaiveDate> {
    match value {
        Datetime {
            date: Some(d),
            time: None,
            offset: None,
        } => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
        _ => None,
    }
}

fn toml_date(date: NaiveDate) -> Datetime {
    Datetime {
        date: Some(Date {
            year: u16::try_from(date.year()).unwrap_or(0),
            month: u8::try_from(date.month()).unwrap_or(1),
            day: u8::try_from(date.day()).unwrap_or(1),
        }),
        time: None,
        offset: None,
    }
}

/// Today in UTC: the day `expires` dates are compared with.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

impl Expectations {
    /// Reads and checks an expectation file; every problem names its line and column.
    pub fn load(file: &Path) -> Result<Expectations, Vec<LoadError>> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            vec![LoadError::whole(
                file,
                format!("cannot read the expectation file: {e}"),
            )]
        })?;
        Expectations::parse(file, &text)
    }

    /// Reads an expectation file that may not exist yet (the target of `--update-expect`).
    pub fn load_or_empty(file: &Path) -> Result<Expectations, Vec<LoadError>> {
        if file.exists() {
            Expectations::load(file)
        } else {
            Ok(Expectations {
                file: Some(file.to_path_buf()),
                entries: Vec::new(),
            })
        }
    }

    /// Parses the text of an expectation file.
    pub fn parse(file: &Path, text: &str) -> Result<Expectations, Vec<LoadError>> {
        let model: FileModel = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            vec![LoadError::at(file, text, &span, e.message().trim_end())]
        })?;
        let mut errors = Vec::new();
        let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
        let mut entries = Vec::new();
        for m in model.expected {
            let span = m.trial.span();
            let trial = m.trial.get_ref().trim().to_string();
            let (line, column) = line_column(text, span.start);
            if trial.is_empty() || trial.starts_with('[') {
                errors.push(LoadError::at(
                    file,
                    text,
                    &span,
                    "`trial` must be a trial id as `emconform --list` shows it, without the \
                     `[level] ` before it, e.g. \"jobs::retry::failed_job::xml\"",
                ));
                continue;
            }
            if m.reason.get_ref().trim().is_empty() {
                errors.push(LoadError::at(
                    file,
                    text,
                    &m.reason.span(),
                    "`reason` is empty: say why this trial is expected to fail",
                ));
            }
            let expires = match &m.expires {
                None => None,
                Some(value) => match date_of(value.get_ref()) {
                    Some(date) => Some(date),
                    None => {
                        errors.push(LoadError::at(
                            file,
                            text,
                            &value.span(),
                            "`expires` must be a date without a time, e.g. 2027-03-31",
                        ));
                        None
                    }
                },
            };
            if let Some(previous) = first_line.insert(trial.clone(), line) {
                errors.push(LoadError::at(
                    file,
                    text,
                    &span,
                    format!("{trial} is already listed at line {previous}"),
                ));
            }
            entries.push(Entry {
                trial,
                reason: m.reason.into_inner().trim().to_string(),
                link: m.link.filter(|l| !l.trim().is_empty()),
                expires,
                at: Some(format!("{}:{line}:{column}", file.display())),
            });
        }
        if errors.is_empty() {
            Ok(Expectations {
                file: Some(file.to_path_buf()),
                entries,
            })
        } else {
            Err(errors)
        }
    }

    /// The file's name for messages.
    pub fn name(&self) -> String {
        self.file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "(no expectation file)".into())
    }

    /// Judges a run: `results` are the selected trials and their verdicts; `all_trials` is every
    /// trial of the suite when it was loaded whole (entries naming none of them are orphans).
    pub fn judge(
        &self,
        results: &[(&str, &Verdict)],
        all_trials: Option<&BTreeSet<String>>,
        today: NaiveDate,
    ) -> Judgement {
        let entries: BTreeMap<&str, &Entry> =
            self.entries.iter().map(|e| (e.trial.as_str(), e)).collect();
        let mut trials = BTreeMap::new();
        for (id, verdict) in results {
            let entry = entries.get(id).copied();
            let expired = entry.and_then(|e| e.expires).is_some_and(|d| d < today);
            let standing = match (verdict, entry) {
                (Verdict::Passed, Some(_)) => Standing::NowPasses,
                (_, Some(_)) if expired => Standing::Expired,
                (Verdict::Failed(_), Some(_)) => Standing::ExpectedFailure,
                (Verdict::Failed(_), None) => Standing::NewFailure,
                _ => continue,
            };
            trials.insert(id.to_string(), (standing, entry.cloned()));
        }
        let orphans = match all_trials {
            Some(all) => self
                .entries
                .iter()
                .filter(|e| !all.contains(&e.trial))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        Judgement {
            file: self.file.clone(),
            trials,
            orphans,
            orphans_checked: all_trials.is_some(),
        }
    }

    /// The entries after a run: failed trials are listed (keeping the reason, link and date an
    /// entry already had), trials that passed are dropped, orphans are dropped (when the whole
    /// suite was loaded), and entries for trials the run did not decide about stay as they are.
    pub fn updated(
        &self,
        results: &[(&str, &Verdict)],
        all_trials: Option<&BTreeSet<String>>,
        today: NaiveDate,
    ) -> Expectations {
        let verdicts: BTreeMap<&str, &Verdict> = results.iter().copied().collect();
        let mut kept: BTreeMap<String, Entry> = BTreeMap::new();
        for entry in &self.entries {
            let orphan = all_trials.is_some_and(|all| !all.contains(&entry.trial));
            let passed = matches!(verdicts.get(entry.trial.as_str()), Some(Verdict::Passed));
            if !orphan && !passed {
                kept.insert(entry.trial.clone(), entry.clone());
            }
        }
        for (id, verdict) in results {
            if let Verdict::Failed(message) = verdict
                && !kept.contains_key(*id)
            {
                kept.insert(
                    id.to_string(),
                    Entry {
                        trial: id.to_string(),
                        reason: new_reason(message, today),
                        link: None,
                        expires: None,
                        at: None,
                    },
                );
            }
        }
        Expectations {
            file: self.file.clone(),
            entries: kept.into_values().collect(),
        }
    }

    /// The file's text: a header comment, then one `[[expected]]` table per entry, by trial id.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.trial.cmp(&b.trial));
        let out = FileOut {
            expected: entries
                .into_iter()
                .map(|e| EntryOut {
                    trial: &e.trial,
                    reason: &e.reason,
                    link: e.link.as_deref(),
                    expires: e.expires.map(toml_date),
                })
                .collect(),
        };
        Ok(format!("{HEADER}\n{}", toml::to_string(&out)?))
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = self
            .to_toml()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The reason written for a new entry: what failed, and that a person should say why.
fn new_reason(message: &str, today: NaiveDate) -> String {
    format!(
        "{} (added by --update-expect on {today}: replace with the known cause)",
        clip(headline(message), 160)
    )
}

/// Where a trial stands against the expectation file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Failed, as its entry says: does not fail the run.
    ExpectedFailure,
    /// Failed without an entry.
    NewFailure,
    /// Has an entry but passed: the entry must go (the list only shrinks).
    NowPasses,
    /// Has an entry whose date has passed.
    Expired,
}

impl Standing {
    /// Whether this standing fails the run.
    pub fn fails_the_run(self) -> bool {
        self != Standing::ExpectedFailure
    }

    /// How the standing is named in summaries and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Standing::ExpectedFailure => "expected failure",
            Standing::NewFailure => "new failure",
            Standing::NowPasses => "passes, but is listed as expected to fail",
            Standing::Expired => "expected failure past its date",
        }
    }
}

/// A run judged against an expectation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub file: Option<PathBuf>,
    /// Every selected trial that failed or has an entry, with its entry.
    pub trials: BTreeMap<String, (Standing, Option<Entry>)>,
    /// Entries naming no trial of the suite.
    pub orphans: Vec<Entry>,
    /// Whether orphans were looked for (only when the whole suite was loaded).
    pub orphans_checked: bool,
}

impl Judgement {
    /// The run passes its gate: failures are exactly the expected ones, and the file is sound.
    pub fn passed(&self) -> bool {
        self.orphans.is_empty() && self.trials.values().all(|(s, _)| !s.fails_the_run())
    }

    /// How many trials stand so.
    pub fn count(&self, standing: Standing) -> usize {
        self.trials.values().filter(|(s, _)| *s == standing).count()
    }

    /// The standing of one trial, if it has one.
    pub fn standing(&self, trial: &str) -> Option<(Standing, Option<&Entry>)> {
        self.trials.get(trial).map(|(s, e)| (*s, e.as_ref()))
    }

    /// One line per reason the run fails its gate, saying what to do about it.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, (standing, entry)) in &self.trials {
            let line = match (standing, entry) {
                (Standing::NewFailure, _) => format!("new failure: {id}"),
                (Standing::NowPasses, Some(e)) => format!(
                    "now passes: {id} (listed at {}: remove the entry, or run --update-expect)",
                    e.place()
                ),
                (Standing::Expired, Some(e)) => format!(
                    "expired: {id} (listed at {} until {}: fix it, or give the entry a new date; reason: {})",
                    e.place(),
                    e.expires.map(|d| d.to_string()).unwrap_or_default(),
                    e.reason
                ),
                _ => continue,
            };
            out.push(line);
        }
        for e in &self.orphans {
            out.push(format!(
                "names no trial: {} (listed at {}: a renamed or removed case? see `emconform --list`)",
                e.trial,
                e.place()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const FILE: &str = r#"
[[expected]]
trial = "a::xml"
reason = "answers 200"
link = "https://tracker.example/1"

[[expected]]
trial = "b::xml"
reason = "no namespace"
expires = 2026-06-30

[[expected]]
trial = "gone::xml"
reason = "case was renamed"
"#;

    fn expectations() -> Expectations {
        Expectations::parse(Path::new("expect.toml"), FILE).unwrap()
    }

    fn all(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_entries_with_their_places() {
        let e = expectations();
        assert_eq!(e.entries.len(), 3);
        assert_eq!(e.entries[0].at.as_deref(), Some("expect.toml:3:9"));
        assert_eq!(e.entries[1].expires, Some(day("2026-06-30")));
        assert_eq!(
            e.entries[0].link.as_deref(),
            Some("https://tracker.example/1")
        );
    }

    #[test]
    fn bad_entries_name_line_column_and_field() {
        let cases = [
            (
                "[[expected]]\ntrial = \"a::xml\"\nreason = \"\"\n",
                "expect.toml:3:10: `reason` is empty",
            ),
            (
                "[[expected]]\ntrial = \"a::xml\"\nreason = \"x\"\nexpires = 2026-06-30T10:00:00\n",
                "expect.toml:4:11: `expires` must be a date",
            ),
            (
                "[[expected]]\ntrial = \"[must] a::xml\"\nreason = \"x\"\n",
                "expect.toml:2:9: `trial` must be a trial id",
            ),
            (
                "[[expected]]\ntrial = \"a::xml\"\nreason = \"x\"\n[[expected]]\ntrial = \"a::xml\"\nreason = \"y\"\n",
                "expect.toml:5:9: a::xml is already listed at line 2",
            ),
            (
                "[[expected]]\ntrial = \"a::xml\"\nreson = \"x\"\n",
                "expect.toml:3:1: unknown field `reson`",
            ),
        ];
        for (text, wanted) in cases {
            let errors = Expectations::parse(Path::new("expect.toml"), text).unwrap_err();
            let shown = errors[0].to_string();
            assert!(shown.starts_with(wanted), "{shown}");
        }
    }

    #[test]
    fn exactly_the_expected_failures_pass_the_gate() {
        let failed = Verdict::Failed("✗ status: expected 202, got 200".into());
        let results = [("a::xml", &failed), ("b::xml", &failed)];
        let j = expectations().judge(&results, None, day("2026-06-30"));
        assert!(j.passed(), "{:?}", j.problems());
        assert_eq!(j.count(Standing::ExpectedFailure), 2);
        assert!(!j.orphans_checked);
    }

    #[test]
    fn new_failures_passes_expiry_and_orphans_fail_the_gate_and_say_which() {
        let failed = Verdict::Failed("x".into());
        let passed = Verdict::Passed;
        let results = [
            ("a::xml", &passed),
            ("b::xml", &failed),
            ("c::xml", &failed),
        ];
        let suite = all(&["a::xml", "b::xml", "c::xml"]);
        let j = expectations().judge(&results, Some(&suite), day("2026-07-01"));
        assert!(!j.passed());
        assert_eq!(j.standing("a::xml").unwrap().0, Standing::NowPasses);
        assert_eq!(j.standing("b::xml").unwrap().0, Standing::Expired);
        assert_eq!(j.standing("c::xml").unwrap().0, Standing::NewFailure);
        let problems = j.problems().join("\n");
        assert!(
            problems.contains("now passes: a::xml (listed at expect.toml:3:9"),
            "{problems}"
        );
        assert!(
            problems.contains("expired: b::xml (listed at expect.toml:8:9 until 2026-06-30"),
            "{problems}"
        );
        assert!(problems.contains("new failure: c::xml"), "{problems}");
        assert!(
            problems.contains("names no trial: gone::xml (listed at expect.toml:13:9"),
            "{problems}"
        );
    }

    #[test]
    fn ignored_and_unselected_trials_are_not_judged() {
        let ignored = Verdict::Ignored("safe mode".into());
        let results = [("a::xml", &ignored)];
        let j = expectations().judge(&results, None, day("2026-01-01"));
        assert!(j.passed());
        assert!(j.trials.is_empty());
    }

    #[test]
    fn update_keeps_reasons_drops_passes_and_orphans_and_adds_new_failures() {
        let failed =
            Verdict::Failed("step 1/3 \"retry\"\n  ✗ status: expected 202, got 200\n".into());
        let passed = Verdict::Passed;
        let results = [
            ("a::xml", &failed),
            ("b::xml", &passed),
            ("c::xml", &failed),
        ];
        let suite = all(&["a::xml", "b::xml", "c::xml", "d::xml"]);
        let updated = expectations().updated(&results, Some(&suite), day("2026-11-28"));
        let ids: Vec<&str> = updated.entries.iter().map(|e| e.trial.as_str()).collect();
        assert_eq!(ids, ["a::xml", "c::xml"]);
        assert_eq!(updated.entries[0].reason, "answers 200");
        assert_eq!(
            updated.entries[1].reason,
            "status: expected 202, got 200 (added by --update-expect on 2026-11-28: replace with the known cause)"
        );
        // The written file reads back the same.
        let text = updated.to_toml().unwrap();
        assert!(text.starts_with("# Trials expected to fail"), "{text}");
        let back = Expectations::parse(Path::new("expect.toml"), &text).unwrap();
        assert_eq!(back.entries.len(), 2);
        assert_eq!(back.entries[0].link, updated.entries[0].link);
        assert_eq!(back.entries[1].reason, updated.entries[1].reason);
    }

    #[test]
    fn update_keeps_dates_and_entries_the_run_did_not_decide() {
        let ignored = Verdict::Ignored("not run".into());
        let results = [("b::xml", &ignored)];
        let updated = expectations().updated(&results, None, day("2026-11-28"));
        assert_eq!(updated.entries.len(), 3, "nothing decided, nothing dropped");
        let text = updated.to_toml().unwrap();
        assert!(text.contains("expires = 2026-06-30"), "{text}");
    }
}

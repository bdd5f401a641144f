//! The suite proves itself: it runs against the clean fixture, every allowed variant
//! ([`crate::fixture::VARIANTS`]) and every fault ([`crate::fixture::FAULTS`]), all at once, and
//! the results say whether each case can fail and whether any case fails where it must not.
//!
//! - the clean fixture and each variant must pass every trial: a failure is a false alarm, a
//!   case that would block a good server;
//! - each fault must fail at least one trial whose message shows the deviation (the fault's
//!   `shows` text): a fault no trial detects is a hole in the suite, and a trial that fails for
//!   another reason proves nothing about it;
//! - the kill matrix (fault × the trials that detect it) shows every trial that detects no fault;
//!   each needs a fault, or a reason in [`crate::fixture::faults::WITHOUT_FAULT`].
//!
//! `emconform self-check` prints the result ([`report`]); a test runs it on every `cargo test`.
//! Hangs are bounded: the availability faults run with short timeouts ([`Options::hanging`]), so
//! a server that never answers, or a task that never finishes, gets its verdict within one request
//! timeout or await deadline; a run that still takes longer than [`Options::run_limit`] is
//! reported as stuck instead of stopping the check.

pub mod report;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::clip;
use crate::fixture::faults::WITHOUT_FAULT;
use crate::fixture::{FAULTS, Fault, FaultInfo, FixtureOptions, Profile, VARIANTS, Variant};
use crate::http::{HttpClient, HttpConfig};
use crate::runner::{Policy, RunSettings, TrialOutcome, TrialSpec, Verdict, run_all};
use crate::secret::Redactor;
use crate::snapshot::{SnapshotMode, Snapshots};
use crate::target_server::{SetupError, Target, start_fixture_with};

/// What one run of the suite is against.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    /// The fixture as it is: the reference server.
    Clean,
    /// A fixture that differs only in ways the spec allows.
    Variant(&'static Variant),
    /// A fixture with one deviation from the spec.
    Fault(&'static FaultInfo),
}

impl Subject {
    /// The clean fixture, every variant, every fault.
    pub fn all() -> Vec<Subject> {
        std::iter::once(Subject::Clean)
            .chain(VARIANTS.iter().map(Subject::Variant))
            .chain(FAULTS.iter().map(Subject::Fault))
            .collect()
    }

    /// `clean`, or the variant's or fault's name.
    pub fn name(&self) -> &'static str {
        match self {
            Subject::Clean => "clean",
            Subject::Variant(v) => v.name,
            Subject::Fault(f) => f.name,
        }
    }

    /// Whether its trials wait out their bounds (a fault of the `availability` category).
    pub fn waits(&self) -> bool {
        matches!(self, Subject::Fault(f) if f.category == "availability")
    }

    /// The time bounds its run gets. An availability fault gets the short bound only for what
    /// it makes the trials wait out; its other requests and awaits get a faulted run's bounds, so
    /// that a busy machine does not end them first.
    pub fn bounds(&self, options: &Options) -> Bounds {
        match self {
            Subject::Fault(f) if f.fault == Fault::NoAnswer => Bounds {
                request_timeout: options.hanging.request_timeout,
                ..options.faulted
            },
            Subject::Fault(f) if f.fault == Fault::TaskNeverFinishes => Bounds {
                await_deadline: options.hanging.await_deadline,
                ..options.faulted
            },
            _ if self.waits() => options.hanging,
            Subject::Fault(_) => options.faulted,
            Subject::Clean | Subject::Variant(_) => options.passing,
        }
    }

    /// Whether every trial must pass against it.
    pub fn must_pass(&self) -> bool {
        !matches!(self, Subject::Fault(_))
    }
}

/// How long a run's requests and awaits may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub request_timeout: Duration,
    pub await_deadline: Duration,
}

/// How the self-check runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// For the clean fixture and the variants: the fixture's usual bounds, so that a busy machine
    /// does not turn into a false alarm.
    pub passing: Bounds,
    /// For the other faults: requests as usual, so that a busy machine does not hide a fault
    /// behind a timeout; awaits shorter, because a fault may keep a task from ever looking
    /// finished (camelCase keys, a lower-case state), and such trials wait the deadline out.
    pub faulted: Bounds,
    /// For the availability faults (a request never answered, a task never finished): short,
    /// because their verdict is due at exactly these bounds.
    pub hanging: Bounds,
    /// Trials in flight per run (a run whose trials wait out a bound has up to 256 in flight).
    pub trials_at_once: usize,
    /// Runs in flight at once.
    pub runs_at_once: usize,
    /// A run still going after this long is reported as stuck (and the check goes on).
    pub run_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            passing: Bounds {
                request_timeout: Duration::from_secs(10),
                await_deadline: Duration::from_secs(10),
            },
            faulted: Bounds {
                request_timeout: Duration::from_secs(10),
                await_deadline: Duration::from_secs(1),
            },
            hanging: Bounds {
                request_timeout: Duration::from_secs(1),
                await_deadline: Duration::from_secs(1),
            },
            trials_at_once: 32,
            runs_at_once: 16,
            run_limit: Duration::from_secs(60),
        }
    }
}

/// The suite's results against one subject.
#[derive(Debug, Clone)]
pub struct SubjectRun {
    pub subject: Subject,
    /// One per trial, in the order of [`SelfCheck::trials`]; empty when the run did not happen.
    pub outcomes: Vec<TrialOutcome>,
    /// From starting the fixture to the last verdict.
    pub elapsed: Duration,
    /// Why the run has no verdicts (the fixture did not start, the run got stuck).
    pub problem: Option<String>,
}

/// Everything the self-check ran.
#[derive(Debug, Clone)]
pub struct SelfCheck {
    pub trials: Vec<TrialSpec>,
    pub options: Options,
    /// Why a case or trial detects no fault, as (case or trial id, reason): [`WITHOUT_FAULT`].
    pub reasons: Vec<(String, String)>,
    /// In the order of [`Subject::all`].
    pub runs: Vec<SubjectRun>,
}

/// Runs `trials` against every subject, [`Options::runs_at_once`] runs at a time.
pub async fn run(trials: Vec<TrialSpec>, options: Options) -> SelfCheck {
    let subjects = Subject::all();
    let shared = Arc::new(trials);
    let limit = Arc::new(tokio::sync::Semaphore::new(options.runs_at_once.max(1)));
    // One client per request timeout, not one per run.
    let mut clients: BTreeMap<Duration, Result<HttpClient, String>> = BTreeMap::new();
    // Runs that may wait out their bounds start first, so that their waits do not make the
    // check's tail: the availability faults, then the others (a fault can keep a task from ever
    // looking finished), then the clean fixture and the variants.
    let mut order: Vec<(usize, Subject)> = subjects.iter().copied().enumerate().collect();
    order.sort_by_key(|(_, subject)| match subject {
        _ if subject.waits() => 0,
        Subject::Fault(_) => 1,
        Subject::Clean | Subject::Variant(_) => 2,
    });
    let mut runs = tokio::task::JoinSet::new();
    for (index, subject) in order {
        let (trials, options, limit) = (shared.clone(), options.clone(), limit.clone());
        let bounds = subject.bounds(&options);
        let client = clients
            .entry(bounds.request_timeout)
            .or_insert_with(|| HttpClient::new(http_config(bounds)).map_err(|e| e.to_string()))
            .clone();
        runs.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, run_subject(subject, client, &trials, &options).await)
        });
    }
    let mut done: Vec<Option<SubjectRun>> = vec![None; subjects.len()];
    while let Some(joined) = runs.join_next().await {
        if let Ok((index, run)) = joined {
            done[index] = Some(run);
        }
    }
    let runs = done
        .into_iter()
        .zip(subjects)
        .map(|(run, subject)| {
            run.unwrap_or_else(|| SubjectRun {
                subject,
                outcomes: Vec::new(),
                elapsed: Duration::ZERO,
                problem: Some("the run ended abnormally".into()),
            })
        })
        .collect();
    SelfCheck {
        trials: Arc::unwrap_or_clone(shared),
        options,
        reasons: WITHOUT_FAULT
            .iter()
            .map(|(entry, reason)| (entry.to_string(), reason.to_string()))
            .collect(),
        runs,
    }
}

/// At most this many trials of a run that waits out its bounds are in flight at once (two file
/// descriptors each, in this process), so that a large suite stays within the usual limit of 1,024.
const WAITING_AT_ONCE: usize = 256;

/// Starts the fixture `subject` describes and logs on to it with `http`.
pub async fn start(subject: Subject, http: HttpClient) -> Result<Target, SetupError> {
    let (fault, profile) = match subject {
        Subject::Clean => (None, Profile::default()),
        Subject::Variant(v) => (None, (v.profile)()),
        Subject::Fault(f) => (Some(f.fault), Profile::default()),
    };
    let options = FixtureOptions {
        fault,
        ..FixtureOptions::default()
    };
    start_fixture_with(options, profile, http, &Redactor::new(), "latest").await
}

/// The client settings for `bounds`: connecting and each whole request within its timeout.
pub fn http_config(bounds: Bounds) -> HttpConfig {
    HttpConfig {
        connect_timeout: bounds.request_timeout,
        request_timeout: bounds.request_timeout,
        // Every subject is an embedded fixture.
        pool_changes: true,
        ..HttpConfig::default()
    }
}

/// How trials wait on the fixture: polls without pause at first, verdicts from assertions only
/// (snapshots are the conformance run's business).
pub fn run_settings(await_deadline: Duration) -> RunSettings {
    RunSettings {
        await_deadline,
        poll_initial: Duration::ZERO,
        poll_max: Duration::from_millis(20),
        snapshots: Snapshots::new(Path::new("snapshots"), SnapshotMode::Off),
    }
}

/// Safe mode only applies to remote targets: on the fixture every trial runs.
const POLICY: Policy = Policy {
    allow_side_effects: false,
};

async fn run_subject(
    subject: Subject,
    http: Result<HttpClient, String>,
    trials: &[TrialSpec],
    options: &Options,
) -> SubjectRun {
    let bounds = subject.bounds(options);
    let started = Instant::now();
    let work = async {
        let target = Arc::new(start(subject, http.map_err(SetupError::Config)?).await?);
        let settings = Arc::new(run_settings(bounds.await_deadline));
        // Trials that sit out a bound cost nothing while they wait: all of them at once make
        // the run one bound long instead of one per wave of `trials_at_once`. Up to a limit:
        // each waiting trial holds a connection open at both ends.
        let at_once = if subject.waits() {
            trials.len().min(WAITING_AT_ONCE)
        } else {
            options.trials_at_once
        };
        Ok::<_, SetupError>(run_all(trials, target, settings, POLICY, at_once).await)
    };
    let (outcomes, problem) = match tokio::time::timeout(options.run_limit, work).await {
        Ok(Ok(outcomes)) => (outcomes, None),
        Ok(Err(e)) => (Vec::new(), Some(format!("the fixture did not start: {e}"))),
        Err(_) => (
            Vec::new(),
            Some(format!(
                "stuck: no verdict for every trial within {:?}",
                options.run_limit
            )),
        ),
    };
    SubjectRun {
        subject,
        outcomes,
        elapsed: started.elapsed(),
        problem,
    }
}

/// What the check found out about one fault.
#[derive(Debug, Clone)]
pub struct FaultResult<'a> {
    pub info: &'static FaultInfo,
    /// The trials that failed showing the deviation, with their time to verdict.
    pub detected_by: Vec<(&'a TrialSpec, Duration)>,
    /// The trials that failed without showing it, with their messages.
    pub other_failures: Vec<(&'a TrialSpec, &'a str)>,
    pub run: &'a SubjectRun,
}

impl FaultResult<'_> {
    pub fn detected(&self) -> bool {
        !self.detected_by.is_empty()
    }

    /// The quickest verdict that names the deviation: how long a user waits to learn of it.
    pub fn time_to_verdict(&self) -> Option<Duration> {
        self.detected_by.iter().map(|(_, d)| *d).min()
    }
}

/// What the check found out about the clean fixture or one variant.
#[derive(Debug, Clone)]
pub struct PassingResult<'a> {
    pub subject: Subject,
    pub passed: usize,
    /// False alarms: failed trials and their messages.
    pub failures: Vec<(&'a TrialSpec, &'a str)>,
    pub run: &'a SubjectRun,
}

impl PassingResult<'_> {
    pub fn clean(&self) -> bool {
        self.failures.is_empty() && self.run.problem.is_none()
    }
}

/// A trial that detects no fault, and the reason given for it (if any).
#[derive(Debug, Clone)]
pub struct Undetecting<'a> {
    pub trial: &'a TrialSpec,
    pub reason: Option<&'a str>,
}

/// The score: faults detected out of faults, false alarms out of allowed variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub faults_detected: usize,
    pub faults: usize,
    /// Variants on which at least one trial failed.
    pub false_alarms: usize,
    pub variants: usize,
    /// Failed trials against the clean fixture.
    pub clean_failures: usize,
}

impl Score {
    pub fn perfect(&self) -> bool {
        self.faults_detected == self.faults && self.false_alarms == 0 && self.clean_failures == 0
    }
}

impl SelfCheck {
    /// Per fault, in table order.
    pub fn faults(&self) -> Vec<FaultResult<'_>> {
        self.runs
            .iter()
            .filter_map(|run| match run.subject {
                Subject::Fault(info) => Some(self.fault_result(info, run)),
                _ => None,
            })
            .collect()
    }

    fn fault_result<'a>(
        &'a self,
        info: &'static FaultInfo,
        run: &'a SubjectRun,
    ) -> FaultResult<'a> {
        let mut result = FaultResult {
            info,
            detected_by: Vec::new(),
            other_failures: Vec::new(),
            run,
        };
        for (spec, outcome) in self.trials.iter().zip(&run.outcomes) {
            if let Verdict::Failed(message) = &outcome.verdict {
                if message.contains(info.shows) {
                    result.detected_by.push((spec, outcome.duration));
                } else {
                    result.other_failures.push((spec, message));
                }
            }
        }
        result
    }

    /// The clean fixture, then each variant.
    pub fn passing(&self) -> Vec<PassingResult<'_>> {
        self.runs
            .iter()
            .filter(|run| run.subject.must_pass())
            .map(|run| {
                let mut result = PassingResult {
                    subject: run.subject,
                    passed: 0,
                    failures: Vec::new(),
                    run,
                };
                for (spec, outcome) in self.trials.iter().zip(&run.outcomes) {
                    match &outcome.verdict {
                        Verdict::Passed => result.passed += 1,
                        Verdict::Failed(message) => result.failures.push((spec, message)),
                        Verdict::Ignored(_) => {}
                    }
                }
                result
            })
            .collect()
    }

    /// The kill matrix by trial: for each trial (in order), the faults it detects.
    pub fn kills_by_trial(&self) -> Vec<(&TrialSpec, Vec<&'static FaultInfo>)> {
        let faults = self.faults();
        self.trials
            .iter()
            .map(|spec| {
                let killed = faults
                    .iter()
                    .filter(|f| f.detected_by.iter().any(|(s, _)| s.id == spec.id))
                    .map(|f| f.info)
                    .collect();
                (spec, killed)
            })
            .collect()
    }

    /// The kill matrix by case: for each case, the faults any of its trials detects (in the
    /// order of [`FAULTS`]).
    pub fn kills_by_case(&self) -> BTreeMap<&str, Vec<&'static FaultInfo>> {
        let mut cases: BTreeMap<&str, Vec<&'static FaultInfo>> = BTreeMap::new();
        for (spec, killed) in self.kills_by_trial() {
            let entry = cases.entry(spec.case.id.as_str()).or_default();
            for info in killed {
                if !entry.iter().any(|f| f.fault == info.fault) {
                    entry.push(info);
                }
            }
        }
        let position = |info: &FaultInfo| FAULTS.iter().position(|f| f.fault == info.fault);
        for faults in cases.values_mut() {
            faults.sort_by_key(|f| position(f));
        }
        cases
    }

    /// The trials that detect no fault, each with the reason given for it, if any.
    pub fn undetecting(&self) -> Vec<Undetecting<'_>> {
        self.kills_by_trial()
            .into_iter()
            .filter(|(_, killed)| killed.is_empty())
            .map(|(trial, _)| Undetecting {
                trial,
                reason: self.reason_for(trial),
            })
            .collect()
    }

    pub fn score(&self) -> Score {
        let faults = self.faults();
        let passing = self.passing();
        Score {
            faults_detected: faults.iter().filter(|f| f.detected()).count(),
            faults: faults.len(),
            false_alarms: passing
                .iter()
                .filter(|p| matches!(p.subject, Subject::Variant(_)) && !p.clean())
                .count(),
            variants: passing
                .iter()
                .filter(|p| matches!(p.subject, Subject::Variant(_)))
                .count(),
            clean_failures: passing
                .iter()
                .filter(|p| matches!(p.subject, Subject::Clean))
                .map(|p| p.failures.len() + usize::from(p.run.problem.is_some()))
                .sum(),
        }
    }

    /// Everything that keeps the check from being perfect, one message each; empty when it is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for p in self.passing() {
            let name = p.subject.name();
            if let Some(problem) = &p.run.problem {
                problems.push(format!("{name}: {problem}"));
            }
            for (spec, message) in &p.failures {
                problems.push(format!(
                    "false alarm on {name}: {} failed:\n{}",
                    spec.id,
                    clip(message, 2000)
                ));
            }
        }
        for f in self.faults() {
            let name = f.info.name;
            if let Some(problem) = &f.run.problem {
                problems.push(format!("fault {name}: {problem}"));
            } else if !f.detected() {
                let others = match f.other_failures.first() {
                    None => "no trial failed".to_string(),
                    Some((spec, message)) => format!(
                        "{} trial(s) failed without showing it, first {}:\n{}",
                        f.other_failures.len(),
                        spec.id,
                        clip(message, 2000)
                    ),
                };
                problems.push(format!(
                    "fault {name} ({}) is not detected: no failure message shows {:?}; {others}",
                    f.info.description, f.info.shows
                ));
            }
        }
        for u in self.undetecting() {
            if u.reason.is_none() {
                problems.push(format!(
                    "{} detects no fault: add a fault to src/fixture/faults.rs that makes it fail, \
                     or say why none can in WITHOUT_FAULT",
                    u.trial.id
                ));
            }
        }
        let undetecting: Vec<&str> = self
            .undetecting()
            .iter()
            .map(|u| u.trial.id.as_str())
            .collect();
        for (entry, _) in &self.reasons {
            let matching: Vec<&TrialSpec> =
                self.trials.iter().filter(|t| names(entry, t)).collect();
            if matching.is_empty() {
                problems.push(format!(
                    "WITHOUT_FAULT names {entry:?}, which is no case or trial: remove it"
                ));
            } else if matching
                .iter()
                .all(|t| !undetecting.contains(&t.id.as_str()))
            {
                problems.push(format!(
                    "WITHOUT_FAULT gives a reason for {entry:?}, which detects a fault now: remove it"
                ));
            }
        }
        problems
    }
}

/// Whether a [`WITHOUT_FAULT`] entry (a case id or a trial id) names `trial`.
fn names(entry: &str, trial: &TrialSpec) -> bool {
    trial.id == entry || trial.case.id == entry
}

impl SelfCheck {
    /// The reason given for `trial` detecting no fault, if any.
    fn reason_for(&self, trial: &TrialSpec) -> Option<&str> {
        self.reasons
            .iter()
            .find(|(entry, _)| names(entry, trial))
            .map(|(_, reason)| reason.as_str())
    }
}

#[cfg(test)]
mod tests;

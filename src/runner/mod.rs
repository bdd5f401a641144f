//! From cases to verdicts: planning trials (every case × format), running them ([`exec`]) and
//! wrapping them as libtest-mimic trials, so `cargo test`, filters, `--list`, `--format json` and
//! nextest work as with any Rust test.

pub mod exec;
pub mod message;
pub mod select;
pub mod summary;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use libtest_mimic::{Completion, Failed, Trial};

pub use exec::{RunSettings, StepRecord, TrialOutcome, TrialSpec, Verdict, run_trial};

use crate::case::{Case, Level};
use crate::target_server::{Target, TargetKind};

/// Every case in every format it lists, sorted by trial id.
pub fn plan(cases: &[Case]) -> Vec<TrialSpec> {
    let mut specs: Vec<TrialSpec> = cases
        .iter()
        .flat_map(|case| {
            let case = Arc::new(case.clone());
            case.def
                .formats
                .clone()
                .into_iter()
                .map(move |format| TrialSpec {
                    id: format!("{}::{format}", case.id),
                    case: case.clone(),
                    format,
                })
        })
        .collect();
    specs.sort_by(|a, b| a.id.cmp(&b.id));
    specs.dedup_by(|a, b| a.id == b.id);
    specs
}

/// What decides, before running, whether a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Side-effecting trials may run against a remote target.
    pub allow_side_effects: bool,
}

/// Why a trial will not run on this target under this policy, if it will not.
pub fn skip_reason(spec: &TrialSpec, kind: TargetKind, policy: Policy) -> Option<String> {
    if kind == TargetKind::Remote && spec.case.has_side_effects() && !policy.allow_side_effects {
        return Some("safe mode: this case starts, stops or retries a job; pass --allow-side-effects to run it".into());
    }
    None
}

/// Shared by every trial of a run: the runtime, the target (set once it is up) and the outcomes.
pub struct RunContext {
    pub runtime: tokio::runtime::Handle,
    pub target: OnceLock<Arc<Target>>,
    pub settings: RunSettings,
    pub policy: Policy,
    pub outcomes: Mutex<Vec<(TrialSpec, TrialOutcome)>>,
}

impl RunContext {
    /// A context whose target is set later (not at all for `--list`).
    pub fn new(
        runtime: tokio::runtime::Handle,
        settings: RunSettings,
        policy: Policy,
    ) -> RunContext {
        RunContext {
            runtime,
            target: OnceLock::new(),
            settings,
            policy,
            outcomes: Mutex::new(Vec::new()),
        }
    }

    /// Runs one trial (on the runtime's workers: polled on libtest's thread instead, every
    /// response would have to wake that thread) and records its outcome.
    fn run(self: &Arc<Self>, spec: &TrialSpec) -> Result<Completion, Failed> {
        let Some(target) = self.target.get() else {
            return Err("the target was not set up".into());
        };
        let (context, target, owned) = (self.clone(), target.clone(), spec.clone());
        let running = self.runtime.spawn(async move {
            run_guarded(&owned, &target, &context.settings, context.policy).await
        });
        let outcome = match self.runtime.block_on(running) {
            Ok(outcome) => outcome,
            // Only a runtime shutting down cancels it: a panic is already a verdict.
            Err(e) => TrialOutcome::not_run(
                &spec.id,
                Verdict::Failed(format!("the trial was cancelled: {e}")),
            ),
        };
        let result = match &outcome.verdict {
            Verdict::Passed => Ok(Completion::Completed),
            Verdict::Ignored(reason) => Ok(Completion::ignored_with(reason)),
            Verdict::Failed(message) => Err(Failed::from(message)),
        };
        self.record(spec, outcome);
        result
    }

    fn record(&self, spec: &TrialSpec, outcome: TrialOutcome) {
        self.outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((spec.clone(), outcome));
    }
}

/// Runs `specs` concurrently (at most `concurrency` at a time) without libtest, in trial order:
/// the engine behind `self-check`, `record` and the harness's own tests.
///
/// `concurrency` runner tasks each take the next trial not yet started, run it, and take the next:
/// only as many trial futures exist as run at once (spawned all at once, every waiting trial would
/// hold its whole future, and a 10,000-trial run would need hundreds of megabytes before its first
/// request), and no trial waits for the calling thread to start it (handing each one over from
/// there cost two thread wake-ups per trial).
pub async fn run_all(
    specs: &[TrialSpec],
    target: Arc<Target>,
    settings: Arc<RunSettings>,
    policy: Policy,
    concurrency: usize,
) -> Vec<TrialOutcome> {
    let prefetched = prefetch_snapshots(
        specs,
        &settings,
        target.kind,
        policy,
        &tokio::runtime::Handle::current(),
    );
    let queue: Arc<[TrialSpec]> = specs.into();
    let next = Arc::new(AtomicUsize::new(0));
    // Each outcome is put in its place as its trial ends, so a runner that died would lose no
    // other trial's.
    let slots: Arc<Mutex<Vec<Option<TrialOutcome>>>> =
        Arc::new(Mutex::new(vec![None; specs.len()]));
    let mut runners = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, specs.len().max(1)) {
        let (queue, next, slots) = (queue.clone(), next.clone(), slots.clone());
        let (target, settings) = (target.clone(), settings.clone());
        runners.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = queue.get(index) else {
                    break;
                };
                let outcome = run_guarded(spec, &target, &settings, policy).await;
                slots.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(outcome);
            }
        });
    }
    while let Some(joined) = runners.join_next().await {
        if let Err(e) = joined {
            eprintln!("emconform: a trial runner ended abnormally: {e}");
        }
    }
    let outcomes = std::mem::take(&mut *slots.lock().unwrap_or_else(|e| e.into_inner()));
    // Long done by now; waited for so that no read outlives the run.
    let _ = prefetched.await;
    outcomes
        .into_iter()
        .zip(specs)
        .map(|(o, spec)| {
            o.unwrap_or_else(|| {
                TrialOutcome::not_run(
                    &spec.id,
                    Verdict::Failed("the trial did not complete".into()),
                )
            })
        })
        .collect()
}

/// Runs one trial to its verdict unless `policy` skips it on this target. A trial that panics
/// fails alone, saying what the panic said; whoever runs it goes on. Boxed: a trial's future is
/// kilobytes, and a box is made once and never moved.
async fn run_guarded(
    spec: &TrialSpec,
    target: &Target,
    settings: &RunSettings,
    policy: Policy,
) -> TrialOutcome {
    if let Some(reason) = skip_reason(spec, target.kind, policy) {
        return TrialOutcome::not_run(&spec.id, Verdict::Ignored(reason));
    }
    match CatchUnwind(Box::pin(run_trial(spec, target, settings))).await {
        Ok(outcome) => outcome,
        Err(panic) => TrialOutcome::not_run(
            &spec.id,
            Verdict::Failed(format!(
                "the trial panicked (a bug in emconform: please report it): {}",
                panic_text(panic.as_ref())
            )),
        ),
    }
}

/// What a panic said, when it said it in text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    (payload.downcast_ref::<String>().map(String::as_str))
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// A future's output, or the panic that polling it raised (the future is not polled again).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Starts reading the stored snapshots of those of `specs` that will run, in the order they will
/// need them, on a thread of `runtime`'s blocking pool: beside the run's start (logon, the first
/// trials' first requests) instead of in the trials' way (see
/// [`crate::snapshot::Snapshots::prefetch`]). A trial that needs a snapshot before it is read
/// reads it itself.
pub fn prefetch_snapshots<'s>(
    specs: impl IntoIterator<Item = &'s TrialSpec>,
    settings: &RunSettings,
    kind: TargetKind,
    policy: Policy,
    runtime: &tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    let running = (specs.into_iter()).filter(|spec| skip_reason(spec, kind, policy).is_none());
    let names: Vec<String> = running.flat_map(TrialSpec::snapshot_names).collect();
    let snapshots = settings.snapshots.clone();
    runtime.spawn_blocking(move || snapshots.prefetch(names))
}

/// The libtest-mimic trials for `specs`: named by trial id, with the level as the kind
/// (`[must] jobs::retry::answer::xml`); trials weaker than `weakest` (by default `may` ones) are
/// ignored unless asked for (`--include-ignored`, `--ignored`).
pub fn libtest_trials(
    specs: &[TrialSpec],
    context: &Arc<RunContext>,
    weakest: Level,
) -> Vec<Trial> {
    specs
        .iter()
        .map(|spec| {
            let context = context.clone();
            let owned = spec.clone();
            trial(spec, weakest, move || context.run(&owned))
        })
        .collect()
}

/// The libtest-mimic trial for `spec`: its name, its level as kind, ignored when weaker than
/// `weakest`, and `runner`.
fn trial(
    spec: &TrialSpec,
    weakest: Level,
    runner: impl FnOnce() -> Result<Completion, Failed> + Send + 'static,
) -> Trial {
    let level = spec.case.def.level;
    Trial::ignorable_test(spec.id.clone(), runner)
        .with_kind(level.name())
        .with_ignored_flag(level > weakest)
}

#[cfg(test)]
pub(crate) mod tests;

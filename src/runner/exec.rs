//! Running one trial: one case in one format, step by step, against a target.
//!
//! Each step builds its request exactly as the case says, sends it (re-sending while an `await`
//! condition does not hold), picks the `expect` alternative whose status matches, checks headers
//! and body, keeps captures, and compares the snapshot. The first step with a mismatch ends the
//! trial; its [`StepRecord`] holds everything the failure message and the reports need.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use url::Url;

use crate::body::doc::LazyDocument;
use crate::body::{EM_NAMESPACE, Format};
use crate::case::{
    AcceptChoice, AuthChoice, Capture, CaptureSource, Case, Expect, SessionChoice, Step, Vars,
};
use crate::check::{self, Mismatch};
use crate::http::{HttpError, OutgoingRequest, Response};
use crate::normalize::Normalizer;
use crate::roles::JobInfo;
use crate::runner::message::{FailedStep, failure_message};
use crate::secret::{Credentials, Secret};
use crate::snapshot::{SnapshotMode, SnapshotResult, Snapshots, snapshot_name};
use crate::target_server::{NoJob, SESSION_HEADER, Target};

/// How trials wait and compare, for a whole run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// How long an `await` may wait unless the case says otherwise.
    pub await_deadline: Duration,
    /// The first pause between polls (then doubled up to `poll_max`).
    pub poll_initial: Duration,
    pub poll_max: Duration,
    pub snapshots: Snapshots,
}

/// One case in one format.
#[derive(Debug, Clone)]
pub struct TrialSpec {
    /// `case::id::format`.
    pub id: String,
    pub case: Arc<Case>,
    pub format: Format,
}

impl TrialSpec {
    /// The names of the snapshots this trial compares with, one per step that takes one.
    pub fn snapshot_names(&self) -> impl Iterator<Item = String> + '_ {
        (self.case.def.steps.iter())
            .filter_map(|step| step.snapshot.as_ref())
            .map(|snap| snapshot_name(&self.case.id, snap.get_ref(), self.format))
    }
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The failure message (already redacted).
    Failed(String),
    /// Not run, and why.
    Ignored(String),
}

/// What happened at one step.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub name: String,
    /// Why the step did not run (`when` did not hold).
    pub skipped: Option<String>,
    pub request: Option<OutgoingRequest>,
    pub response: Option<Response>,
    /// How many times the request was sent (more than 1 while awaiting).
    pub sends: u32,
    /// The normalised exchange, when the step has a snapshot (every step that got an answer, in
    /// [`SnapshotMode::Record`]).
    pub normalised: Option<String>,
    pub snapshot: SnapshotResult,
    /// The `outcome` name of the alternative that applied.
    pub outcome: Option<String>,
    pub mismatches: Vec<Mismatch>,
}

/// The result of a trial.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    pub id: String,
    pub verdict: Verdict,
    pub duration: Duration,
    pub steps: Vec<StepRecord>,
}

impl TrialOutcome {
    /// The outcome of a trial that sent nothing (ignored before it started, or lost).
    pub fn not_run(id: &str, verdict: Verdict) -> TrialOutcome {
        TrialOutcome {
            id: id.to_string(),
            verdict,
            duration: Duration::ZERO,
            steps: Vec::new(),
        }
    }
}

/// A trial's placeholder values: captures in `values`; the built-ins (`base`, `api_version`,
/// `user`, `format`, `mime`, `job.ROLE…`) looked up in the step's scope instead of copied into
/// every trial's map; the response while checking it.
struct TrialVars<'a> {
    /// Captures (never named as a built-in: the loader refuses such a capture).
    values: &'a BTreeMap<String, String>,
    scope: StepScope<'a>,
    response: Option<&'a Response>,
}

impl TrialVars<'_> {
    fn builtin(&self, name: &str) -> Option<String> {
        let StepScope { spec, target, .. } = self.scope;
        Some(match name {
            "base" => target.api_base.as_str().trim_end_matches('/').to_string(),
            "format" => spec.format.name().to_string(),
            "mime" => spec.format.mime().to_string(),
            "api_version" => target.api_version.clone(),
            "user" => target.credentials.user.clone(),
            _ => return job_value(self.scope.jobs, name),
        })
    }
}

/// `job.ROLE` (the job's id), `job.ROLE.uid` or `job.ROLE.name` of the trial's `jobs`.
fn job_value(jobs: &[(&str, JobInfo)], name: &str) -> Option<String> {
    let rest = name.strip_prefix("job.")?;
    let (role, field) = match rest.rsplit_once('.') {
        Some((role, field @ ("uid" | "name"))) => (role, field),
        _ => (rest, "id"),
    };
    let (_, job) = jobs.iter().find(|(r, _)| *r == role)?;
    Some(match field {
        "uid" => job.uid.clone(),
        "name" => job.name.clone(),
        _ => job.id.clone(),
    })
}

impl Vars for TrialVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        match (name, self.response) {
            ("response.status", Some(r)) => Some(r.status.to_string()),
            ("response.body_length", Some(r)) => Some(r.body.len().to_string()),
            _ => (self.values.get(name).cloned()).or_else(|| self.builtin(name)),
        }
    }
}

/// Why a step could not be carried out at all (as opposed to a mismatch).
struct StepError(String);

/// Runs one trial to its verdict.
pub async fn run_trial(spec: &TrialSpec, target: &Target, settings: &RunSettings) -> TrialOutcome {
    let started = Instant::now();
    let _running = target.progress.trial(&spec.id);
    let mut steps = Vec::with_capacity(spec.case.def.steps.len());
    let verdict = run_steps(spec, target, settings, &mut steps).await;
    TrialOutcome {
        id: spec.id.clone(),
        verdict,
        duration: started.elapsed(),
        steps,
    }
}

async fn run_steps(
    spec: &TrialSpec,
    target: &Target,
    settings: &RunSettings,
    records: &mut Vec<StepRecord>,
) -> Verdict {
    let case = &spec.case;
    let mut values = BTreeMap::new();
    if case.needs_portal_account() && target.portal_account.is_none() {
        return Verdict::Ignored(
            "this case needs a second account that is not a Portal Administrator (a Portal User): \
             give one with --portal-user NAME --portal-password-env VAR"
                .into(),
        );
    }
    let mut known = Vec::new();
    let mut jobs = Vec::new();
    for role in case.job_roles() {
        let job: JobInfo = match target.lease_job(role, case.has_side_effects()).await {
            Ok(job) => job,
            Err(NoJob::Ignored(reason)) => return Verdict::Ignored(reason),
            Err(NoJob::Failed(problem)) => {
                return Verdict::Failed(target.redactor.redact(&problem));
            }
        };
        known.push((job.id.clone(), format!("<job:{role}>")));
        known.push((job.name.clone(), format!("<job-name:{role}>")));
        jobs.push((role, job));
    }
    let mut normalizer = Normalizer::new(target.redactor.clone(), target.origin(), known);
    let mut outcomes: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Snapshot differences do not stop the trial (later steps still run and are compared), so a
    // reviewer sees every new or changed snapshot of a trial at once.
    let mut snapshot_failures = Vec::new();
    let total = case.def.steps.len();
    // The first failure decides the verdict; after it only `cleanup` steps run (logging out what
    // the case opened), and their own results no longer matter.
    let mut failure: Option<String> = None;
    for (index, step) in case.def.steps.iter().enumerate() {
        let name = step.name.get_ref().clone();
        if failure.is_some() && !step.cleanup {
            records.push(skipped_record(&name, "an earlier step failed".into()));
            continue;
        }
        if let Some(when) = &step.when {
            let w = when.get_ref();
            if outcomes.get(&w.step).and_then(|o| o.as_deref()) != Some(w.outcome.as_str()) {
                records.push(skipped_record(
                    &name,
                    format!("step {:?} did not end with outcome {:?}", w.step, w.outcome),
                ));
                outcomes.insert(name, None);
                continue;
            }
        }
        let mut record = skipped_record(&name, String::new());
        record.skipped = None;
        let result = run_step(
            StepScope {
                spec,
                step,
                target,
                settings,
                jobs: &jobs,
            },
            &mut values,
            &mut normalizer,
            &mut record,
        )
        .await;
        outcomes.insert(name, record.outcome.clone());
        if failure.is_some() {
            records.push(record);
            continue;
        }
        let message = |record: &StepRecord, problem: Option<&str>, mode: SnapshotMode| {
            let failed = FailedStep {
                case,
                index,
                total,
                step,
                record,
                problem,
            };
            failure_message(&failed, target, mode)
        };
        let problem = match result {
            Err(StepError(problem)) => Some(problem),
            Ok(()) if !record.mismatches.is_empty() => Some(String::new()),
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            // A recording keeps the last answer of a step that gave up (an await that timed out).
            if settings.snapshots.mode() == SnapshotMode::Record
                && record.normalised.is_none()
                && let (Some(request), Some(response)) = (&record.request, &record.response)
            {
                record.normalised = Some(normalizer.exchange(request, response, spec.format));
            }
            let problem = Some(problem.as_str()).filter(|p| !p.is_empty());
            failure = Some(message(&record, problem, settings.snapshots.mode()));
            records.push(record);
            continue;
        }
        if settings.snapshots.mode() == SnapshotMode::Assert
            && matches!(
                record.snapshot,
                SnapshotResult::Differs { .. } | SnapshotResult::Missing { .. }
            )
        {
            snapshot_failures.push(message(&record, None, SnapshotMode::Assert));
        }
        records.push(record);
    }
    if let Some(message) = failure {
        Verdict::Failed(target.redactor.redact(&message))
    } else if snapshot_failures.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Failed(target.redactor.redact(&snapshot_failures.join("\n")))
    }
}

fn skipped_record(name: &str, reason: String) -> StepRecord {
    StepRecord {
        name: name.to_string(),
        skipped: Some(reason),
        request: None,
        response: None,
        sends: 0,
        normalised: None,
        snapshot: SnapshotResult::NotChecked,
        outcome: None,
        mismatches: Vec::new(),
    }
}

/// A random, well-formed token that no server issued: base64 of a fresh GUID, like EM's own.
fn invalid_token() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().to_string())
}

fn build_request(
    step: &Step,
    target: &Target,
    format: Format,
    vars: &TrialVars,
) -> Result<OutgoingRequest, StepError> {
    let err = |e: crate::case::MissingVar| StepError(format!("cannot build the request: {e}"));
    let path = step.path.get_ref().render(vars).map_err(err)?;
    let mut url = if path.starts_with("http://") || path.starts_with("https://") {
        let url = Url::parse(&path)
            .map_err(|e| StepError(format!("{path:?} is not a valid URL: {e}")))?;
        if url.origin() != target.api_base.origin() {
            return Err(StepError(format!(
                "the URL {path} is on {}, not on the target {}: not sent, so that the session does not \
                 leave the target (Hrefs must use the address the client called, spec §6.5)",
                url.origin().ascii_serialization(),
                target.origin()
            )));
        }
        url
    } else {
        target
            .api_base
            .join(path.trim_start_matches('/'))
            .map_err(|e| StepError(format!("cannot join {path:?} to {}: {e}", target.api_base)))?
    };
    if !step.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &step.query {
            pairs.append_pair(k, &v.render(vars).map_err(err)?);
        }
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let custom_accept = step
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("accept"));
    match (&step.accept, custom_accept) {
        (_, true) | (Some(AcceptChoice::Omit), _) => {}
        (None | Some(AcceptChoice::Format), false) => {
            headers.push(("Accept".into(), format.mime().into()))
        }
        (Some(AcceptChoice::Value(t)), false) => {
            headers.push(("Accept".into(), t.render(vars).map_err(err)?))
        }
    }
    match &step.session {
        SessionChoice::Run => headers.push((
            SESSION_HEADER.into(),
            target.session_token().expose().to_string(),
        )),
        SessionChoice::None => {}
        SessionChoice::Invalid => headers.push((SESSION_HEADER.into(), invalid_token())),
        SessionChoice::Token(t) => {
            headers.push((SESSION_HEADER.into(), t.render(vars).map_err(err)?))
        }
    }
    match step.auth {
        Some(AuthChoice::Basic) => headers.push((
            "Authorization".into(),
            target
                .credentials
                .basic_authorization()
                .expose()
                .to_string(),
        )),
        Some(choice @ (AuthChoice::WrongPassword | AuthChoice::UnknownUser)) => {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let user = match choice {
                AuthChoice::UnknownUser => format!("emconform-nobody-{nonce}"),
                _ => target.credentials.user.clone(),
            };
            let wrong = Credentials::new(user, format!("wrong-{nonce}"));
            target.redactor.add_credentials(&wrong);
            headers.push((
                "Authorization".into(),
                wrong.basic_authorization().expose().to_string(),
            ));
        }
        Some(AuthChoice::PortalUser) => {
            let account = target.portal_account.as_ref().ok_or_else(|| {
                StepError("the target has no second (Portal User) account".into())
            })?;
            headers.push((
                "Authorization".into(),
                account.basic_authorization().expose().to_string(),
            ));
        }
        None => {}
    }
    for (name, value) in &step.headers {
        headers.push((name.clone(), value.render(vars).map_err(err)?));
    }
    let body = match &step.body {
        Some(t) => Some(t.render(vars).map_err(err)?.into_bytes()),
        None => None,
    };
    let method = step.method.0.clone();
    let sets_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if body.is_none() && !sets_length && matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        // EM runs behind HTTP.sys, which wants a length on every POST (spec §1.2).
        headers.push(("Content-Length".into(), "0".into()));
    }
    Ok(OutgoingRequest {
        method,
        url,
        headers,
        body,
    })
}

/// Describes the `until` conditions for a timeout message.
fn describe_until(case: &Case, step: &Step) -> String {
    step.await_
        .as_ref()
        .map(|a| {
            a.until
                .iter()
                .map(|u| {
                    format!(
                        "{} ({})",
                        case.source[u.span()].trim(),
                        case.location(&u.span())
                    )
                })
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .unwrap_or_default()
}

/// Sends a request. When it carries the run's session and the server answers 401 where the step
/// expects no 401, the session is taken as expired: the target logs on again and the request is
/// sent once more with the new token (`request` is updated, so failures show what was sent).
async fn send_once(
    step: &Step,
    request: &mut OutgoingRequest,
    target: &Target,
) -> Result<Response, HttpError> {
    let response = register_tokens(target, target.http.send(request).await?);
    let expects_401 = step
        .expect
        .0
        .iter()
        .any(|e| e.status.get_ref().matches(401));
    if response.status != 401 || step.session != SessionChoice::Run || expects_401 {
        return Ok(response);
    }
    let Some(stale) = request.header(SESSION_HEADER).map(Secret::new) else {
        return Ok(response);
    };
    // Boxed: a logon's future is a kilobyte, and this path is rare; inline, every step's future
    // would carry it.
    let Ok(fresh) = Box::pin(target.renew_session(&stale)).await else {
        return Ok(response);
    };
    for (name, value) in &mut request.headers {
        if name.eq_ignore_ascii_case(SESSION_HEADER) {
            *value = fresh.expose().to_string();
        }
    }
    Ok(register_tokens(target, target.http.send(request).await?))
}

/// Redacts any session token a response hands out, from the moment it arrives.
fn register_tokens(target: &Target, response: Response) -> Response {
    for token in response.header_all(SESSION_HEADER) {
        target.redactor.add(token);
    }
    response
}

/// A response and its body as the step reads it (already parsed when an `await` read it, so
/// that it is parsed once).
struct Answer<'a> {
    response: &'a Response,
    body: LazyDocument<'a>,
}

/// What a step runs in: its trial, itself, the target, the run's settings and the trial's
/// leased jobs (by role).
#[derive(Clone, Copy)]
struct StepScope<'a> {
    spec: &'a TrialSpec,
    step: &'a Step,
    target: &'a Target,
    settings: &'a RunSettings,
    jobs: &'a [(&'a str, JobInfo)],
}

/// Sends the request, re-sending while an `await` condition does not hold, and hands the
/// response it ends with to `finish` (then keeps it in the record; the caller keeps the request).
async fn send_step<T>(
    scope @ StepScope {
        spec,
        step,
        target,
        settings,
        ..
    }: StepScope<'_>,
    request: &mut OutgoingRequest,
    values: &mut BTreeMap<String, String>,
    record: &mut StepRecord,
    finish: impl FnOnce(&mut StepRecord, &mut BTreeMap<String, String>, &OutgoingRequest, Answer) -> T,
) -> Result<T, StepError> {
    let deadline = (step.await_.as_ref())
        .and_then(|aw| aw.deadline)
        .unwrap_or(settings.await_deadline);
    // Only said when waiting fails or is shown.
    let awaited = std::cell::LazyCell::new(|| describe_until(&spec.case, step));
    // The format an `await` reads the body in.
    let format = step
        .expect
        .0
        .first()
        .and_then(|e| e.format)
        .unwrap_or(spec.format);
    let started = Instant::now();
    let mut pause = settings.poll_initial;
    loop {
        let sent = send_once(step, request, target).await;
        let response = match sent {
            Ok(response) => response,
            // The last answer seen stays in the record, for the failure message.
            Err(e) if record.sends > 0 => {
                return Err(StepError(format!(
                    "no response while awaiting {}: {e}; {} earlier request(s) over {:.1?} \
                     were answered, the last answer is below",
                    *awaited,
                    record.sends,
                    started.elapsed()
                )));
            }
            Err(e) => return Err(send_error(&e)),
        };
        record.sends += 1;
        let body = LazyDocument::new(&response.body, format);
        // Without an `await`, or with a status no alternative expects, the first answer is the
        // one; otherwise the one the `until` conditions accept.
        let settled = match &step.await_ {
            None => true,
            Some(aw) => {
                let status_expected = step
                    .expect
                    .0
                    .iter()
                    .any(|e| e.status.get_ref().matches(response.status));
                let checking = TrialVars {
                    values,
                    scope,
                    response: Some(&response),
                };
                !status_expected
                    || check::await_settled_on(&aw.until, &body, &checking).unwrap_or(true)
            }
        };
        if settled {
            let answer = Answer {
                response: &response,
                body,
            };
            let finished = finish(record, values, request, answer);
            record.response = Some(response);
            return Ok(finished);
        }
        drop(body);
        record.response = Some(response);
        let remaining = deadline.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            return Err(StepError(format!(
                "gave up waiting after {:.1?} and {} requests (deadline {deadline:?}, --await-deadline): \
                 still not {}; the last response is below",
                started.elapsed(),
                record.sends,
                *awaited,
            )));
        }
        if target.progress.is_shown() {
            target
                .progress
                .awaiting(&spec.id, step.name.get_ref(), &awaited, record.sends);
        }
        // The last poll falls on the deadline itself. No pause at all is a yield: a zero sleep
        // would wait for the timer's next millisecond.
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause.min(remaining)).await;
        }
        pause = if pause.is_zero() {
            Duration::from_millis(1)
        } else {
            (pause * 2).min(settings.poll_max)
        };
    }
}

fn send_error(e: &HttpError) -> StepError {
    StepError(format!("no response: {e}"))
}

/// Finds the value a capture asks for.
fn capture_value(
    capture: &Capture,
    response: &Response,
    body: &LazyDocument,
) -> Result<String, String> {
    let raw = match &capture.source {
        CaptureSource::Header(h) => response
            .header(h)
            .map(str::to_string)
            .ok_or_else(|| format!("no header {h}"))?,
        CaptureSource::Body(path) => {
            let doc = match body.get() {
                Some(Ok(doc)) => doc,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the body is not UTF-8".to_string()),
            };
            let resolved = path
                .resolve(&BTreeMap::<String, String>::new())
                .map_err(|e| e.to_string())?;
            let lookup = doc.select(&resolved, EM_NAMESPACE);
            lookup.values.into_iter().next().ok_or_else(|| {
                format!(
                    "nothing at {path}{}",
                    lookup.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                )
            })?
        }
    };
    match &capture.pattern {
        None => Ok(raw),
        Some(re) => re
            .captures(&raw)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
            .ok_or_else(|| format!("{raw:?} does not match /{re}/")),
    }
}

async fn run_step(
    scope: StepScope<'_>,
    values: &mut BTreeMap<String, String>,
    normalizer: &mut Normalizer,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    let mut request = {
        let vars = TrialVars {
            values,
            scope,
            response: None,
        };
        build_request(scope.step, scope.target, scope.spec.format, &vars)?
    };
    // `send_step` keeps the response in the record; the request goes there after it.
    let finish = |record: &mut StepRecord,
                  values: &mut BTreeMap<String, String>,
                  request: &OutgoingRequest,
                  answer: Answer| {
        check_answer(scope, values, normalizer, record, request, answer)
    };
    let sent = send_step(scope, &mut request, values, record, finish).await;
    // As sent (after any session renewal), whatever came of it.
    record.request = Some(request);
    sent
}

/// Checks the answer a step ended with: picks the `expect` alternative, keeps captures, checks
/// headers and body, compares the snapshot.
fn check_answer(
    scope @ StepScope {
        spec,
        step,
        target,
        settings,
        ..
    }: StepScope,
    values: &mut BTreeMap<String, String>,
    normalizer: &mut Normalizer,
    record: &mut StepRecord,
    request: &OutgoingRequest,
    Answer { response, body }: Answer,
) {
    let case = &spec.case;
    let Some(expect) = step
        .expect
        .0
        .iter()
        .find(|e| e.status.get_ref().matches(response.status))
    else {
        let expected = step
            .expect
            .0
            .iter()
            .map(|e| e.status.get_ref().to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        record.mismatches.push(Mismatch {
            subject: "status".into(),
            expected,
            actual: response.status.to_string(),
            location: Some(case.location(&step.expect.0[0].status.span())),
            note: check::status_note(response),
        });
        let exchange = (request, response, None);
        take_snapshot(spec, step, settings, normalizer, record, exchange);
        return;
    };
    record.outcome = expect.outcome.clone();
    // Parsed once, for the await, the captures and the checks (the await reads the body in the
    // first alternative's format; another one reads it afresh).
    let format = expect.format.unwrap_or(spec.format);
    let body = if body.format() == format {
        body
    } else {
        LazyDocument::new(&response.body, format)
    };
    // Captures first: the alternative's own checks may use them (`TaskId` against `Href`).
    for (name, capture) in &expect.capture {
        match capture_value(capture.get_ref(), response, &body) {
            Ok(value) => {
                if capture.get_ref().secret {
                    target.redactor.add(&value);
                }
                values.insert(name.clone(), value);
            }
            Err(problem) => record.mismatches.push(Mismatch {
                subject: format!("capture `{name}`"),
                expected: "a value".into(),
                actual: problem,
                location: Some(case.location(&capture.span())),
                note: None,
            }),
        }
    }
    let vars = TrialVars {
        values,
        scope,
        response: Some(response),
    };
    check_expect(case, expect, response, &body, &vars, record);
    let exchange = (request, response, Some(&body));
    take_snapshot(spec, step, settings, normalizer, record, exchange);
}

fn check_expect(
    case: &Case,
    expect: &Expect,
    response: &Response,
    body: &LazyDocument,
    vars: &TrialVars,
    record: &mut StepRecord,
) {
    record
        .mismatches
        .extend(check::check_headers(case, &expect.headers, response, vars));
    if expect.empty && !response.body.is_empty() {
        record.mismatches.push(Mismatch {
            subject: "body".into(),
            expected: "an empty body".into(),
            actual: format!(
                "{} bytes: {:?}",
                response.body.len(),
                check::clip(&response.text(), 120)
            ),
            location: Some(case.location(&expect.status.span())),
            note: None,
        });
    }
    record.mismatches.extend(check::check_lazy_body(
        case,
        &expect.body,
        response,
        body,
        vars,
    ));
}

/// A step's request, its response, and the response's body as the checks read it (if they did).
type Exchange<'a, 'body> = (
    &'a OutgoingRequest,
    &'a Response,
    Option<&'a LazyDocument<'body>>,
);

fn take_snapshot(
    spec: &TrialSpec,
    step: &Step,
    settings: &RunSettings,
    normalizer: &mut Normalizer,
    record: &mut StepRecord,
    (request, response, parsed): Exchange,
) {
    let recording = settings.snapshots.mode() == SnapshotMode::Record;
    if (step.snapshot.is_none() && !recording) || settings.snapshots.mode() == SnapshotMode::Off {
        return;
    }
    let format = step
        .expect
        .0
        .iter()
        .find_map(|e| e.format)
        .unwrap_or(spec.format);
    let text = normalizer.exchange_parsed(request, response, format, parsed);
    if let Some(snap) = step.snapshot.as_ref().filter(|_| !recording) {
        let name = snapshot_name(&spec.case.id, snap.get_ref(), spec.format);
        // For insta's metadata, written only with a new or changed snapshot.
        let description = || {
            format!(
                "{} — step {:?}, {}",
                spec.case.def.title,
                step.name.get_ref(),
                spec.format
            )
        };
        record.snapshot = settings
            .snapshots
            .check(&name, &text, &spec.case.path, &description);
    }
    record.normalised = Some(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_placeholders_name_the_leased_jobs() {
        let failed = JobInfo::new("5b6c0f44-1a2b-4c3d-8e9f-001122334455", "Nightly");
        let copy = JobInfo::new("0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "Copy.uid");
        let jobs = [("failed", failed.clone()), ("backup-copy", copy.clone())];
        let get = |name| job_value(&jobs, name);
        assert_eq!(get("job.failed"), Some(failed.id.clone()));
        assert_eq!(get("job.failed.uid"), Some(failed.uid.clone()));
        assert_eq!(get("job.failed.name"), Some("Nightly".into()));
        assert_eq!(get("job.backup-copy"), Some(copy.id.clone()));
        assert_eq!(get("job.backup-copy.name"), Some("Copy.uid".into()));
        assert_eq!(get("job.succeeded"), None, "not a job of this trial");
        assert_eq!(get("job.failed.id"), None, "no such field");
        assert_eq!(get("failed"), None);
    }
}

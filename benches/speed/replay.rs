//! The floor: the HTTP requests the suite sent, replayed by a plain reqwest loop against a fresh
//! fixture, trial by trial with the same concurrency as the suite.
//!
//! **Capturing.** A suite run's outcomes hold, per step, the request as it was sent
//! (`StepRecord::request`), how many times it was sent (`sends`: more than once while awaiting) and
//! the last response. That is the sequence, in order, per trial.
//!
//! **Replaying against a fresh fixture.** Sent verbatim, most requests would miss: a fresh fixture
//! listens on another port, has another password and session, and its jobs, tasks and logon
//! sessions have other ids — a retry of an unknown job is a cheap 404, not the 202 the suite got.
//! So the sequence is *correlated*, as load-testing tools do with recorded sessions: every
//! identifier in a request (a GUID, `task-N`, a session token) is traced, once, before timing, to
//! where the suite got it from, and the replay takes it from the same place:
//!
//! - an earlier response of the same trial (a task's `Href`, a logon's token): the replay reads the
//!   same-numbered identifier from its own response to that request;
//! - the job the harness provisioned for the trial: the replay provisions one of the same role on
//!   its fixture, in-process, exactly as the harness does;
//! - the run's origin, session token and the accounts' `Authorization` headers: replaced with the
//!   fresh fixture's once, before timing;
//! - anything else (a GUID written in the case, a random invalid token) is sent as it was.
//!
//! The replay then checks that every response has the status the suite got: only then did it make
//! the fixture do the same work. The loop does nothing else: no assertions, no snapshots, no
//! templates, no failure messages.
//!
//! One difference is inherent: requests the suite sends without `Accept` (design note 5) go on a
//! fresh connection; reqwest always adds `Accept: */*` and reuses its pool. That is counted as the
//! harness's overhead, which it is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emconform::fixture::Fixture;
use emconform::runner::{TrialOutcome, TrialSpec};
use emconform::secret::Credentials;
use emconform::target_server::Target;
use regex::Regex;

/// What an identifier in a request is, for the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// The job provisioned for the trial.
    Job,
    /// The `index`-th identifier in the replay's response to request `request` of this trial.
    FromResponse {
        request: usize,
        index: usize,
    },
}

/// A request's text (URL, a header value, the body) cut at its identifiers.
type Pieces = Vec<Piece>;

/// One request of a trial, ready to replay.
#[derive(Debug, Clone)]
struct ScriptedRequest {
    method: reqwest::Method,
    url: Pieces,
    headers: Vec<(String, Pieces)>,
    body: Option<Pieces>,
    /// How many times the suite sent it (back to back here: the fixture's tasks finish after
    /// polls, and the suite's first pauses are 0 and 1 ms).
    sends: u32,
    /// The status of the suite's last response to it.
    status: u16,
    /// Whether a later request takes an identifier from its response.
    keep_response: bool,
}

/// One trial's requests.
#[derive(Debug, Clone)]
pub struct Script {
    role: Option<String>,
    requests: Vec<ScriptedRequest>,
}

/// A captured run: one script per trial that sent anything.
#[derive(Debug, Clone)]
pub struct Capture {
    scripts: Vec<Script>,
    /// The values to replace before replaying against another fixture.
    origin: String,
    run_token: String,
    admin: Credentials,
    portal: Credentials,
}

impl Capture {
    /// Requests the suite sent without `Accept` (on a fresh connection of their own).
    pub fn without_accept(&self) -> u64 {
        self.scripts
            .iter()
            .flat_map(|s| &s.requests)
            .filter(|r| {
                !r.headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
            })
            .map(|r| u64::from(r.sends))
            .sum()
    }
}

/// GUIDs, fixture task ids and base64 session tokens.
fn identifiers() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|task-[0-9]+|[A-Za-z0-9+/]{40,}={0,2}",
        )
        .expect("a valid pattern")
    })
}

/// The text of a response in which identifiers are looked for: header values, then the body.
fn response_text<'a>(headers: impl Iterator<Item = &'a [u8]>, body: &[u8]) -> String {
    let mut text = String::new();
    for value in headers {
        text.push_str(&String::from_utf8_lossy(value));
        text.push('\n');
    }
    text.push_str(&String::from_utf8_lossy(body));
    text
}

/// The identifiers of a response text, in order.
fn identifiers_in(text: &str) -> Vec<&str> {
    identifiers().find_iter(text).map(|m| m.as_str()).collect()
}

/// Cuts `text` at its identifiers, tracing each to its source.
fn pieces(
    text: &str,
    earlier: &[Vec<String>],
    case_source: &str,
    job: &mut Option<String>,
    has_role: bool,
    used: &mut Vec<usize>,
) -> Pieces {
    let mut out = Vec::new();
    let mut at = 0;
    for m in identifiers().find_iter(text) {
        let value = m.as_str();
        let traced = earlier.iter().enumerate().rev().find_map(|(request, ids)| {
            ids.iter()
                .position(|id| id == value)
                .map(|index| Piece::FromResponse { request, index })
        });
        let piece = match traced {
            Some(piece) => {
                if let Piece::FromResponse { request, .. } = piece {
                    used.push(request);
                }
                piece
            }
            None if has_role
                && value.len() == 36
                && !case_source.contains(value)
                && job.as_deref().is_none_or(|j| j == value) =>
            {
                *job = Some(value.to_string());
                Piece::Job
            }
            None => continue,
        };
        out.push(Piece::Text(text[at..m.start()].to_string()));
        out.push(piece);
        at = m.end();
    }
    out.push(Piece::Text(text[at..].to_string()));
    out
}

/// Turns a suite run's outcomes into per-trial scripts.
pub fn capture(target: &Target, specs: &[TrialSpec], outcomes: &[TrialOutcome]) -> Capture {
    let fixture = target
        .embedded_fixture()
        .expect("the suite ran on the fixture");
    let mut scripts = Vec::new();
    for (spec, outcome) in specs.iter().zip(outcomes) {
        let case = &spec.case;
        let has_role = case.job_roles().next().is_some();
        let mut job = None;
        let mut earlier: Vec<Vec<String>> = Vec::new();
        let mut requests: Vec<ScriptedRequest> = Vec::new();
        for step in &outcome.steps {
            let (Some(request), Some(response)) = (&step.request, &step.response) else {
                continue;
            };
            let mut used = Vec::new();
            let mut cut =
                |text: &str| pieces(text, &earlier, &case.source, &mut job, has_role, &mut used);
            let url = cut(request.url.as_str());
            let headers = request
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), cut(v)))
                .collect();
            let body = request
                .body
                .as_ref()
                .map(|b| cut(&String::from_utf8_lossy(b)));
            for index in used {
                requests[index].keep_response = true;
            }
            requests.push(ScriptedRequest {
                method: reqwest::Method::from_bytes(request.method.as_bytes())
                    .expect("a method the suite sent"),
                url,
                headers,
                body,
                sends: step.sends.max(1),
                status: response.status,
                keep_response: false,
            });
            let text = response_text(
                response.headers.iter().map(|(_, v)| v.as_bytes()),
                &response.body,
            );
            earlier.push(
                identifiers_in(&text)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            );
        }
        if !requests.is_empty() {
            scripts.push(Script {
                role: has_role.then(|| case.job_roles().next().unwrap_or_default().to_string()),
                requests,
            });
        }
    }
    Capture {
        scripts,
        origin: target.origin().to_string(),
        run_token: target.session_token().expose().to_string(),
        admin: fixture.credentials(),
        portal: fixture.portal_credentials(),
    }
}

/// The floor's client: reqwest as anyone would set it up for plain HTTP/1.1 on loopback.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain reqwest client")
}

/// Logs on to `fixture` with a plain request; the session token.
pub async fn plain_logon(client: &reqwest::Client, fixture: &Fixture) -> String {
    let credentials = fixture.credentials();
    let url = fixture
        .api_base()
        .join("sessionMngr/?v=latest")
        .expect("url");
    let response = client
        .post(url)
        .header(
            "Authorization",
            credentials.basic_authorization().expose().to_string(),
        )
        .header("Content-Length", "0")
        .send()
        .await
        .expect("logon");
    assert_eq!(response.status().as_u16(), 201, "logon");
    response
        .headers()
        .get("X-RestSvcSessionId")
        .and_then(|v| v.to_str().ok())
        .expect("a session token")
        .to_string()
}

/// The capture's scripts with the run-wide values of `fixture` (origin, session, accounts).
pub fn retarget(capture: &Capture, fixture: &Fixture, run_token: &str) -> Vec<Script> {
    let origin = fixture.api_base().origin().ascii_serialization();
    let replacements = [
        (capture.origin.clone(), origin),
        (capture.run_token.clone(), run_token.to_string()),
        (
            capture.admin.basic_authorization().expose().to_string(),
            fixture
                .credentials()
                .basic_authorization()
                .expose()
                .to_string(),
        ),
        (
            capture.portal.basic_authorization().expose().to_string(),
            fixture
                .portal_credentials()
                .basic_authorization()
                .expose()
                .to_string(),
        ),
    ];
    let fix = |pieces: &Pieces| -> Pieces {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => Piece::Text(
                    replacements
                        .iter()
                        .fold(t.clone(), |t, (old, new)| t.replace(old.as_str(), new)),
                ),
                other => other.clone(),
            })
            .collect()
    };
    capture
        .scripts
        .iter()
        .map(|s| Script {
            role: s.role.clone(),
            requests: s
                .requests
                .iter()
                .map(|r| ScriptedRequest {
                    url: fix(&r.url),
                    headers: r.headers.iter().map(|(n, v)| (n.clone(), fix(v))).collect(),
                    body: r.body.as_ref().map(&fix),
                    ..r.clone()
                })
                .collect(),
        })
        .collect()
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Replayed {
    pub elapsed: Duration,
    /// CPU time of the whole process meanwhile (client and fixture).
    pub cpu: crate::stats::CpuTime,
    pub requests: u64,
    /// Responses whose status differs from the suite's: `(request, expected, got)`.
    pub differing: Vec<(String, u16, u16)>,
}

fn render(pieces: &Pieces, job: &str, kept: &BTreeMap<usize, Vec<String>>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Job => out.push_str(job),
            Piece::FromResponse { request, index } => {
                let value = kept
                    .get(request)
                    .and_then(|ids| ids.get(*index))
                    .map_or("<missing>", String::as_str);
                out.push_str(value);
            }
        }
    }
    out
}

/// Replays one trial's script; the requests sent and any status that differs.
async fn replay_script(
    client: &reqwest::Client,
    fixture: &Fixture,
    script: &Script,
) -> (u64, Vec<(String, u16, u16)>) {
    let job = script
        .role
        .as_deref()
        .and_then(|role| fixture.provision_job(role))
        .map(|j| j.id)
        .unwrap_or_default();
    let mut kept: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut sent = 0;
    let mut differing = Vec::new();
    for (index, request) in script.requests.iter().enumerate() {
        let url = render(&request.url, &job, &kept);
        let headers: Vec<(&str, String)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), render(v, &job, &kept)))
            .collect();
        let body = request.body.as_ref().map(|b| render(b, &job, &kept));
        let mut last = None;
        for _ in 0..request.sends {
            let mut builder = client.request(request.method.clone(), &url);
            for (name, value) in &headers {
                builder = builder.header(*name, value.as_str());
            }
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            sent += 1;
            match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    // Only a response that a later request takes an identifier from is looked at.
                    let values: Option<Vec<Vec<u8>>> = request.keep_response.then(|| {
                        response
                            .headers()
                            .values()
                            .map(|v| v.as_bytes().to_vec())
                            .collect()
                    });
                    let body = response.bytes().await.unwrap_or_default();
                    let ids = values.map(|values| {
                        identifiers_in(&response_text(values.iter().map(Vec::as_slice), &body))
                            .into_iter()
                            .map(str::to_string)
                            .collect::<Vec<String>>()
                    });
                    last = Some((status, ids));
                }
                Err(e) => {
                    differing.push((format!("{} {url}: {e}", request.method), request.status, 0));
                    last = None;
                }
            }
        }
        let Some((status, ids)) = last else {
            continue;
        };
        if status != request.status {
            differing.push((format!("{} {url}", request.method), request.status, status));
        }
        if let Some(ids) = ids {
            kept.insert(index, ids);
        }
    }
    (sent, differing)
}

/// Replays `scripts` against `fixture`, at most `concurrency` trials at a time (as `run_all`).
pub async fn replay(
    client: &reqwest::Client,
    fixture: &Fixture,
    scripts: Vec<Script>,
    concurrency: usize,
) -> Replayed {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let (started, cpu) = (Instant::now(), crate::stats::CpuTime::now());
    let mut tasks = tokio::task::JoinSet::new();
    for script in scripts {
        let (client, fixture, limit) = (client.clone(), fixture.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            replay_script(&client, &fixture, &script).await
        });
    }
    let mut replayed = Replayed::default();
    while let Some(joined) = tasks.join_next().await {
        let (sent, differing) = joined.expect("a replay task");
        replayed.requests += sent;
        replayed.differing.extend(differing);
    }
    replayed.elapsed = started.elapsed();
    replayed.cpu = crate::stats::CpuTime::since(cpu);
    replayed
}

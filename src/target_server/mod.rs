//! The server under test: where it is, how to reach it, the run's logon session, and which jobs
//! play which roles.
//!
//! A target is either the embedded fixture (started in-process; it provisions a fresh job per role
//! for every trial, so trials never share state) or a remote server (a real Enterprise Manager or
//! another implementation) whose jobs come from `--job ROLE=ID` or from discovery ([`discover`]).
//!
//! The run holds one logon session ([`session`]), shared by every trial. When the server answers
//! 401 to it (an expired session), [`Target::renew_session`] logs on again — once per stale token,
//! a few times per run at most — and the request is sent again.

pub mod discover;
pub mod jobs;
pub mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use url::Url;

use crate::body::Format;
use crate::fixture::{Fixture, FixtureOptions, Profile};
use crate::http::{HttpClient, HttpConfig, OutgoingRequest, Response};
use crate::progress::Progress;
use crate::roles::JobInfo;
use crate::secret::{Credentials, Redactor, Secret};
use discover::{JobFacts, SessionFacts};
use jobs::{Origin, RolePool};
pub use session::{LogonError, SESSION_HEADER, Session};

/// How many times a run logs on again after its session expired, at most.
pub const MAX_SESSION_RENEWALS: u32 = 3;

/// How many job reads discovery keeps in flight.
const DISCOVERY_CONCURRENCY: usize = 4;

/// What kind of server a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The embedded fixture: the reference whose snapshots are committed.
    Fixture,
    /// Any other server.
    Remote,
}

/// Where the jobs for each role come from.
enum JobSource {
    /// Fresh jobs per trial.
    Fixture(Fixture),
    /// Jobs given by the user or discovered, per role.
    Remote(Mutex<BTreeMap<String, RolePool>>),
}

/// Why a trial gets no job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoJob {
    /// None plays the role (the trial is ignored, with this reason).
    Ignored(String),
    /// Checking the job failed (the trial fails, with this message).
    Failed(String),
}

/// A job handed to a trial, or why there is none.
pub type JobLease = Result<JobInfo, NoJob>;

/// A server the suite runs against, logged on.
pub struct Target {
    pub kind: TargetKind,
    /// The API base, ending in `/api/`.
    pub api_base: Url,
    pub http: HttpClient,
    pub credentials: Credentials,
    pub api_version: String,
    pub redactor: Redactor,
    /// Shows running trials and awaits (off unless the run turns it on).
    pub progress: Progress,
    /// A second account that is not a Portal Administrator (a Portal User), for the cases about
    /// role checks (spec §3.2); `None` when the target has none, and those trials are ignored.
    pub portal_account: Option<Credentials>,
    session: RwLock<Session>,
    /// [`Target::origin`], worked out once (every trial's normaliser needs it).
    origin: String,
    /// Serialises renewals; counts them.
    renewals: tokio::sync::Mutex<u32>,
    jobs: JobSource,
}

/// Why a target could not be set up (the run stops with exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Tls(#[from] crate::http::TlsSetupError),
    #[error(transparent)]
    Fixture(#[from] crate::fixture::FixtureError),
    #[error(transparent)]
    Logon(#[from] LogonError),
    #[error("{0}")]
    Config(String),
}

/// Starts the embedded fixture (with `options`' fault, if any) and logs on to it.
pub async fn start_fixture(
    options: FixtureOptions,
    profile: Profile,
    http: HttpConfig,
    redactor: &Redactor,
    api_version: &str,
) -> Result<Target, SetupError> {
    // The fixture never closes a kept-alive connection unannounced.
    let http = HttpConfig {
        pool_changes: true,
        ..http
    };
    start_fixture_with(
        options,
        profile,
        HttpClient::new(http)?,
        redactor,
        api_version,
    )
    .await
}

/// [`start_fixture`] with a client made already (fixtures started by the dozen share one); make it
/// with [`HttpConfig::pool_changes`], as [`start_fixture`] does.
pub async fn start_fixture_with(
    options: FixtureOptions,
    profile: Profile,
    http: HttpClient,
    redactor: &Redactor,
    api_version: &str,
) -> Result<Target, SetupError> {
    let fixture = Fixture::start_with(options, profile).await?;
    let session = session::logon(
        &http,
        &fixture.api_base(),
        &fixture.credentials(),
        api_version,
        redactor,
    )
    .await?;
    Ok(Target::from_fixture(
        fixture,
        http,
        session,
        redactor.clone(),
        api_version,
    ))
}

/// Logs on to a remote server; its jobs are assigned afterwards with [`Target::find_jobs`].
pub async fn connect(
    api_base: Url,
    http: HttpClient,
    credentials: Credentials,
    api_version: &str,
    redactor: &Redactor,
) -> Result<Target, SetupError> {
    let session = session::logon(&http, &api_base, &credentials, api_version, redactor).await?;
    Ok(Target::remote(
        api_base,
        http,
        credentials,
        session,
        redactor.clone(),
        api_version,
        BTreeMap::new(),
    ))
}

impl Target {
    fn new(
        api_base: Url,
        http: HttpClient,
        credentials: Credentials,
        session: Session,
        redactor: Redactor,
        api_version: &str,
        jobs: JobSource,
    ) -> Target {
        let kind = match jobs {
            JobSource::Fixture(_) => TargetKind::Fixture,
            JobSource::Remote(_) => TargetKind::Remote,
        };
        Target {
            kind,
            origin: api_base.origin().ascii_serialization(),
            api_base,
            http,
            credentials,
            api_version: api_version.to_string(),
            redactor,
            progress: Progress::disabled(),
            portal_account: None,
            session: RwLock::new(session),
            renewals: tokio::sync::Mutex::new(0),
            jobs,
        }
    }

    /// A target backed by the embedded fixture.
    pub fn from_fixture(
        fixture: Fixture,
        http: HttpClient,
        session: Session,
        redactor: Redactor,
        api_version: &str,
    ) -> Target {
        let portal = fixture.portal_credentials();
        Target::new(
            fixture.api_base(),
            http,
            fixture.credentials(),
            session,
            redactor,
            api_version,
            JobSource::Fixture(fixture),
        )
        .with_portal_account(Some(portal))
    }

    /// A remote target with these jobs per role (more can be found with [`Target::find_jobs`]).
    #[allow(clippy::too_many_arguments)]
    pub fn remote(
        api_base: Url,
        http: HttpClient,
        credentials: Credentials,
        session: Session,
        redactor: Redactor,
        api_version: &str,
        jobs: BTreeMap<String, Vec<JobInfo>>,
    ) -> Target {
        let pools = jobs
            .into_iter()
            .map(|(role, jobs)| {
                let mut pool = RolePool::new(&role, Origin::Given);
                pool.jobs = jobs;
                (role, pool)
            })
            .collect();
        Target::new(
            api_base,
            http,
            credentials,
            session,
            redactor,
            api_version,
            JobSource::Remote(Mutex::new(pools)),
        )
    }

    /// The same target with a second, non-administrator account (registered with the redactor).
    pub fn with_portal_account(mut self, account: Option<Credentials>) -> Target {
        if let Some(account) = &account {
            self.redactor.add_credentials(account);
        }
        self.portal_account = account;
        self
    }

    /// Shows progress on `progress` from now on.
    pub fn with_progress(mut self, progress: Progress) -> Target {
        self.progress = progress;
        self
    }

    /// The run's current session token.
    pub fn session_token(&self) -> Secret {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .token
            .clone()
    }

    /// The run's current session.
    pub fn session(&self) -> Session {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Logs on again because the server answered 401 to `stale`, the token a request carried.
    /// Concurrent callers with the same stale token share one new logon; a caller whose token was
    /// already replaced just gets the current one. The stale session is logged out (best effort:
    /// if it expired, the server refuses that too). At most [`MAX_SESSION_RENEWALS`] per run.
    pub async fn renew_session(&self, stale: &Secret) -> Result<Secret, String> {
        let mut renewals = self.renewals.lock().await;
        let current = self.session();
        if current.token != *stale {
            return Ok(current.token);
        }
        if *renewals >= MAX_SESSION_RENEWALS {
            return Err(format!(
                "the run's session was renewed {MAX_SESSION_RENEWALS} times already; not again"
            ));
        }
        *renewals += 1;
        let _ = session::logout(&self.http, &current).await;
        let fresh = session::logon(
            &self.http,
            &self.api_base,
            &self.credentials,
            &self.api_version,
            &self.redactor,
        )
        .await
        .map_err(|e| format!("logging on again failed: {e}"))?;
        let token = fresh.token.clone();
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(token)
    }

    /// Logs the run's session out; says what went wrong, if anything.
    pub async fn logout(&self) -> Result<(), String> {
        session::logout(&self.http, &self.session()).await
    }

    /// The embedded fixture behind this target, if it is one.
    pub fn embedded_fixture(&self) -> Option<&Fixture> {
        match &self.jobs {
            JobSource::Fixture(f) => Some(f),
            JobSource::Remote(_) => None,
        }
    }

    /// `scheme://host:port` of the API base.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `GET {api_base}{relative}` as XML with the run's session (renewed once on a 401).
    pub async fn api_get(&self, relative: &str) -> Result<Response, String> {
        let url = self
            .api_base
            .join(relative)
            .map_err(|e| format!("cannot join {relative:?} to {}: {e}", self.api_base))?;
        let mut token = self.session_token();
        let mut renewed = false;
        loop {
            let request = OutgoingRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![
                    ("Accept".into(), Format::Xml.mime().into()),
                    (SESSION_HEADER.into(), token.expose().to_string()),
                ],
                body: None,
            };
            let response = self
                .http
                .send(&request)
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if response.status == 401 && !renewed {
                renewed = true;
                token = self.renew_session(&token).await?;
                continue;
            }
            return Ok(response);
        }
    }

    /// `GET` that must answer 200; the body as text.
    async fn api_read(&self, relative: &str) -> Result<String, String> {
        let response = self.api_get(relative).await?;
        if response.status != 200 {
            let hint = match response.status {
                403 => {
                    ": the account may not read jobs (spec §3.2: /jobs needs the Portal Administrator role)"
                }
                _ => "",
            };
            return Err(format!(
                "GET {}{relative} answered {}{hint}",
                self.api_base, response.status
            ));
        }
        Ok(response.text().into_owned())
    }

    /// What the API says about one job; `None` when it answers 404.
    pub async fn read_job(&self, id: &str) -> Result<Option<JobFacts>, String> {
        let relative = format!("jobs/{id}?format=Entity");
        let response = self.api_get(&relative).await?;
        match response.status {
            200 => Ok(discover::parse_jobs(&response.text())?.into_iter().next()),
            404 => Ok(None),
            status => Err(format!("GET {}{relative} answered {status}", self.api_base)),
        }
    }

    /// A job's newest backup session, if it has one.
    pub async fn newest_session(&self, job_id: &str) -> Result<Option<SessionFacts>, String> {
        let text = self
            .api_read(&discover::newest_session_query(job_id))
            .await?;
        discover::parse_newest_session(&text)
    }

    /// Assigns the jobs for a remote run: `given` (role, id) pairs as the user said (a job the
    /// server does not know is an error; one that does not look like its role is a warning), and
    /// jobs for the other roles in `needed` by discovery. Returns the report to print before the
    /// trials. Does nothing on the embedded fixture.
    pub async fn find_jobs(
        self: &Arc<Self>,
        given: &[(String, String)],
        needed: &BTreeSet<String>,
    ) -> Result<String, SetupError> {
        let JobSource::Remote(pools) = &self.jobs else {
            return Ok(String::new());
        };
        // The same job given twice for a role is one job (it supports one retry, not two).
        let mut unique: Vec<(String, String)> = Vec::new();
        for pair in given {
            if !unique.contains(pair) {
                unique.push(pair.clone());
            }
        }
        let given = unique.as_slice();
        let mut checks = tokio::task::JoinSet::new();
        for (index, (role, id)) in given.iter().enumerate() {
            if needed.contains(role) {
                let (target, role, id) = (self.clone(), role.clone(), id.clone());
                checks.spawn(async move { (index, target.check_given(&role, &id).await) });
            }
        }
        let mut checked: BTreeMap<usize, (JobInfo, Option<String>)> = BTreeMap::new();
        while let Some(joined) = checks.join_next().await {
            if let Ok((index, result)) = joined {
                checked.insert(index, result?);
            }
        }
        let mut found: BTreeMap<String, RolePool> = BTreeMap::new();
        for (index, (role, id)) in given.iter().enumerate() {
            let pool = found
                .entry(role.clone())
                .or_insert_with(|| RolePool::new(role, Origin::Given));
            let (info, warning) = checked
                .remove(&index)
                .unwrap_or_else(|| (JobInfo::new(id.clone(), format!("job {id}")), None));
            pool.jobs.push(info);
            pool.warnings.extend(warning);
        }
        let missing: Vec<&String> = needed.iter().filter(|r| !found.contains_key(*r)).collect();
        let mut jobs_on_target = None;
        if !missing.is_empty() {
            match self.discover(&missing).await {
                Ok((pools, total)) => {
                    jobs_on_target = Some(total);
                    found.extend(pools);
                }
                Err(reason) => {
                    for role in missing {
                        found.insert(
                            role.clone(),
                            RolePool::new(role, Origin::DiscoveryFailed(reason.clone())),
                        );
                    }
                }
            }
        }
        let report = jobs::describe(&found, jobs_on_target);
        *pools.lock().unwrap_or_else(|e| e.into_inner()) = found;
        Ok(self.redactor.redact(&report))
    }

    /// Reads a job given with `--job`: its name, and a warning when it does not look like its role
    /// (or could not be read). A job the server does not know is an error.
    async fn check_given(
        &self,
        role: &str,
        id: &str,
    ) -> Result<(JobInfo, Option<String>), SetupError> {
        let facts = match self.read_job(id).await {
            Ok(Some(facts)) => facts,
            Ok(None) => {
                return Err(SetupError::Config(format!(
                    "--job {role}={id}: the target has no such job (GET {}jobs/{id} answered 404)",
                    self.api_base
                )));
            }
            Err(problem) => {
                let info = JobInfo::new(id, format!("job {id}"));
                let warning = format!("could not read job {id} ({problem}); using it as given");
                return Ok((info, Some(warning)));
            }
        };
        let info = JobInfo::new(facts.id.clone(), facts.name.clone());
        if let Err(why) = discover::kind_fits(role, &facts) {
            return Ok((info, Some(format!("job \"{}\" ({id}): {why}", facts.name))));
        }
        if discover::role_depends_on_session(role)
            && let Ok(newest) = self.newest_session(id).await
            && let Err(why) = discover::session_fits(role, newest.as_ref())
        {
            let warning = format!(
                "job \"{}\" ({id}): {why}; its trials will be ignored unless that changes",
                facts.name
            );
            return Ok((info, Some(warning)));
        }
        Ok((info, None))
    }

    /// Finds jobs for `roles`: lists the jobs, reads the newest session of each candidate.
    /// Returns the pools and the number of jobs on the target.
    async fn discover(
        self: &Arc<Self>,
        roles: &[&String],
    ) -> Result<(BTreeMap<String, RolePool>, usize), String> {
        let all = discover::parse_jobs(&self.api_read("jobs?format=Entity").await?)?;
        let total = all.len();
        let candidates: Vec<JobFacts> = all
            .into_iter()
            .filter(|job| roles.iter().any(|r| discover::kind_fits(r, job).is_ok()))
            .collect();
        let limit = Arc::new(tokio::sync::Semaphore::new(DISCOVERY_CONCURRENCY));
        let mut reads = tokio::task::JoinSet::new();
        for (index, job) in candidates.iter().enumerate() {
            let (target, limit, job) = (self.clone(), limit.clone(), job.clone());
            reads.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let newest = if roles_need_session(&job) {
                    target.newest_session(&job.id).await
                } else {
                    Ok(None)
                };
                (index, newest)
            });
        }
        let mut newest: Vec<Option<Result<Option<SessionFacts>, String>>> =
            vec![None; candidates.len()];
        while let Some(joined) = reads.join_next().await {
            if let Ok((index, result)) = joined {
                newest[index] = Some(result);
            }
        }
        let mut pools: BTreeMap<String, RolePool> = roles
            .iter()
            .map(|r| (r.to_string(), RolePool::new(r, Origin::Discovered)))
            .collect();
        let mut unreadable = Vec::new();
        for (job, newest) in candidates.iter().zip(newest) {
            let newest = match newest {
                Some(Ok(n)) => n,
                Some(Err(problem)) => {
                    unreadable.push(format!("\"{}\": {problem}", job.name));
                    continue;
                }
                None => continue,
            };
            if let Some(role) = discover::role_of(job, newest.as_ref())
                && let Some(pool) = pools.get_mut(role)
            {
                pool.jobs
                    .push(JobInfo::new(job.id.clone(), job.name.clone()));
            }
        }
        for pool in pools.values_mut() {
            pool.jobs
                .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            if pool.jobs.is_empty() && !unreadable.is_empty() {
                pool.warnings.push(format!(
                    "the newest session of {} job(s) could not be read, e.g. {}",
                    unreadable.len(),
                    unreadable[0]
                ));
            }
        }
        Ok((pools, total))
    }

    /// A job playing `role` for one trial. A trial with side effects takes the job for itself
    /// (a failed job supports one successful retry, design note 3). On a remote target the job's
    /// newest session is read again first: a job that no longer plays its role (retried by an
    /// earlier trial or by the server's own schedule) is dropped and the next one is tried.
    pub async fn lease_job(&self, role: &str, exclusive: bool) -> JobLease {
        let pools = match &self.jobs {
            JobSource::Fixture(f) => {
                return f
                    .provision_job(role)
                    .ok_or_else(|| NoJob::Ignored(format!("the fixture has no role {role:?}")));
            }
            JobSource::Remote(pools) => pools,
        };
        let lock = || pools.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let job = {
                let mut pools = lock();
                let pool = pools
                    .entry(role.to_string())
                    .or_insert_with(|| RolePool::new(role, Origin::Discovered));
                match pool.take(exclusive) {
                    Some(job) => job,
                    None => return Err(NoJob::Ignored(pool.why_empty())),
                }
            };
            if !discover::role_depends_on_session(role) {
                return Ok(job);
            }
            // Boxed: a remote read's future is kilobytes, and inline it would make every trial's
            // future as large (the fixture's jobs come without it).
            match Box::pin(self.newest_session(&job.id)).await {
                Ok(newest) => match discover::session_fits(role, newest.as_ref()) {
                    Ok(()) => return Ok(job),
                    Err(why) => {
                        if let Some(pool) = lock().get_mut(role) {
                            pool.drop_job(&job, &format!("no longer plays `{role}`: {why}"));
                        }
                    }
                },
                Err(problem) => {
                    return Err(NoJob::Failed(format!(
                        "cannot check that job \"{}\" ({}) still plays the role `{role}` before using it: {problem}",
                        job.name, job.id
                    )));
                }
            }
        }
    }
}

/// Whether a candidate's role depends on its newest session (backup copy jobs do not).
fn roles_need_session(job: &JobFacts) -> bool {
    discover::kind_fits("backup-copy", job).is_err()
}

#[cfg(test)]
mod tests;

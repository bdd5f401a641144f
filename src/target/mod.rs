//! The server under test: where it is, how to reach it, the run's logon session, and which jobs
//! play which roles.
//!
//! A target is either the embedded fixture (started in-process; it provisions a fresh job per role
//! for every trial, so trials never share state) or a remote server (a real Enterprise Manager or
//! another implementation) whose jobs come from `--job ROLE=ID`.

pub mod session;

use std::collections::BTreeMap;
use std::sync::Mutex;

use url::Url;

use crate::fixture::{Fixture, FixtureOptions, Profile};
use crate::http::{HttpClient, HttpConfig};
use crate::roles::JobInfo;
use crate::secret::{Credentials, Redactor, Secret};
pub use session::{LogonError, SESSION_HEADER, Session};

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
    /// Jobs assigned by the user; side-effecting trials take one for themselves.
    Assigned(Mutex<BTreeMap<String, Vec<JobInfo>>>),
}

/// A job handed to a trial, or why there is none.
pub type JobLease = Result<JobInfo, String>;

/// A server the suite runs against, logged on.
pub struct Target {
    pub kind: TargetKind,
    /// The API base, ending in `/api/`.
    pub api_base: Url,
    pub http: HttpClient,
    pub credentials: Credentials,
    pub api_version: String,
    pub redactor: Redactor,
    session: Session,
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
    let http = HttpClient::new(http)?;
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

impl Target {
    /// A target backed by the embedded fixture.
    pub fn from_fixture(
        fixture: Fixture,
        http: HttpClient,
        session: Session,
        redactor: Redactor,
        api_version: &str,
    ) -> Target {
        Target {
            kind: TargetKind::Fixture,
            api_base: fixture.api_base(),
            credentials: fixture.credentials(),
            http,
            api_version: api_version.to_string(),
            redactor,
            session,
            jobs: JobSource::Fixture(fixture),
        }
    }

    /// A remote target with jobs assigned per role.
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
        Target {
            kind: TargetKind::Remote,
            api_base,
            http,
            credentials,
            api_version: api_version.to_string(),
            redactor,
            session,
            jobs: JobSource::Assigned(Mutex::new(jobs)),
        }
    }

    /// The run's session token.
    pub fn session_token(&self) -> &Secret {
        &self.session.token
    }

    /// The run's session (for logging out at the end).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Logs the run's session out; says what went wrong, if anything.
    pub async fn logout(&self) -> Result<(), String> {
        session::logout(&self.http, &self.session).await
    }

    /// The embedded fixture behind this target, if it is one.
    pub fn embedded_fixture(&self) -> Option<&Fixture> {
        match &self.jobs {
            JobSource::Fixture(f) => Some(f),
            JobSource::Assigned(_) => None,
        }
    }

    /// `scheme://host:port` of the API base.
    pub fn origin(&self) -> String {
        self.api_base.origin().ascii_serialization()
    }

    /// A job playing `role` for one trial. A trial with side effects takes the job for itself
    /// (a failed job supports one successful retry, design note 3).
    pub fn lease_job(&self, role: &str, exclusive: bool) -> JobLease {
        match &self.jobs {
            JobSource::Fixture(f) => f
                .provision_job(role)
                .ok_or_else(|| format!("the fixture has no role {role:?}")),
            JobSource::Assigned(pool) => {
                let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
                let jobs = pool.get_mut(role).filter(|j| !j.is_empty()).ok_or_else(|| {
                    format!("no job plays the role `{role}` on this target (give one with --job {role}=ID)")
                })?;
                if exclusive {
                    Ok(jobs.remove(0))
                } else {
                    Ok(jobs[0].clone())
                }
            }
        }
    }
}

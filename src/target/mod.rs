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
    /// Jobs assigned by the user: side-effecting trials take one of the `free` ones for
    /// themselves; read-only trials use the first one `assigned`, taken or not.
    Assigned {
        assigned: BTreeMap<String, Vec<JobInfo>>,
        free: Mutex<BTreeMap<String, Vec<JobInfo>>>,
    },
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
    /// A second account that is not a Portal Administrator (a Portal User), for the cases about
    /// role checks (spec §3.2); `None` when the target has none, and those trials are ignored.
    pub portal_account: Option<Credentials>,
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
        let portal = fixture.portal_credentials();
        redactor.add_credentials(&portal);
        Target {
            kind: TargetKind::Fixture,
            api_base: fixture.api_base(),
            credentials: fixture.credentials(),
            http,
            api_version: api_version.to_string(),
            redactor,
            portal_account: Some(portal),
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
            portal_account: None,
            session,
            jobs: JobSource::Assigned {
                free: Mutex::new(jobs.clone()),
                assigned: jobs,
            },
        }
    }

    /// The same target with a second, non-administrator account (registered with the redactor).
    pub fn with_portal_account(mut self, account: Option<Credentials>) -> Target {
        if let Some(account) = &account {
            self.redactor.add_credentials(account);
        }
        self.portal_account = account;
        self
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
            JobSource::Assigned { .. } => None,
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
            JobSource::Assigned { assigned, free } => {
                let none = || {
                    format!(
                        "no job plays the role `{role}` on this target (give one with --job {role}=ID)"
                    )
                };
                if !exclusive {
                    return assigned
                        .get(role)
                        .and_then(|jobs| jobs.first().cloned())
                        .ok_or_else(none);
                }
                if assigned.get(role).is_none_or(|jobs| jobs.is_empty()) {
                    return Err(none());
                }
                let mut free = free.lock().unwrap_or_else(|e| e.into_inner());
                free.get_mut(role)
                    .filter(|jobs| !jobs.is_empty())
                    .map(|jobs| jobs.remove(0))
                    .ok_or_else(|| {
                        format!(
                            "every job playing `{role}` was used by another trial of this run (a job supports one \
                             side-effecting trial; give more with --job {role}=ID)"
                        )
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;

    fn remote(jobs: &[(&str, &str)]) -> Target {
        let mut assigned: BTreeMap<String, Vec<JobInfo>> = BTreeMap::new();
        for (role, id) in jobs {
            assigned
                .entry(role.to_string())
                .or_default()
                .push(JobInfo::new(*id, format!("job {id}")));
        }
        Target::remote(
            Url::parse("https://em.example:9398/api/").expect("url"),
            HttpClient::new(HttpConfig::default()).expect("client"),
            Credentials::new("u", "p"),
            Session {
                token: Secret::new("t"),
                logout_url: None,
            },
            Redactor::new(),
            "latest",
            assigned,
        )
    }

    #[test]
    fn side_effecting_trials_take_a_job_each_and_read_only_ones_still_find_one() {
        let target = remote(&[("failed", "a"), ("failed", "b"), ("succeeded", "c")]);
        assert_eq!(
            target.lease_job("failed", true).map(|j| j.id),
            Ok("a".into())
        );
        assert_eq!(
            target.lease_job("failed", true).map(|j| j.id),
            Ok("b".into())
        );
        let used_up = target.lease_job("failed", true).unwrap_err();
        assert!(used_up.contains("used by another trial"), "{used_up}");
        // Taken jobs still serve trials that only read.
        assert_eq!(
            target.lease_job("failed", false).map(|j| j.id),
            Ok("a".into())
        );
        let none = target.lease_job("warning", false).unwrap_err();
        assert!(none.contains("--job warning=ID"), "{none}");
        assert!(target.lease_job("warning", true).is_err());
    }

    #[test]
    fn the_second_account_is_optional_and_redacted() {
        let target = remote(&[]);
        assert!(target.portal_account.is_none());
        let target = target.with_portal_account(Some(Credentials::new("D\\portal", "pw-2nd")));
        assert_eq!(target.redactor.redact("x pw-2nd y"), "x <redacted> y");
    }
}

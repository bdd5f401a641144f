//! `emconform serve`: the embedded Enterprise Manager as a standalone server, so client developers
//! can point curl or their own code at it, and emconform can run against it exactly as against a
//! real server (network, TLS, logon, discovery — no shortcut through the library).
//!
//! Plain HTTP is served by the fixture itself on the chosen port; with TLS, the fixture listens
//! on a private loopback port behind [`tls_front`], which presents a self-signed certificate
//! generated at start and written where the user asked.

pub mod tls_front;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use url::Url;

use crate::fixture::{Fault, Fixture, FixtureOptions};
use crate::roles::{JOB_ROLES, JobInfo};
use crate::secret::Credentials;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (default loopback).
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Serve HTTPS with a generated self-signed certificate, written (PEM) to this path.
    pub tls_certificate: Option<PathBuf>,
    pub fault: Option<Fault>,
    /// Jobs created per role (at least 1): a failed job supports one retry, so a client that
    /// retries N times needs N failed jobs.
    pub jobs_per_role: usize,
    /// The administrator account; default: `EMCONFORM\admin` with a random password.
    pub credentials: Option<Credentials>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls_certificate: None,
            fault: None,
            jobs_per_role: 1,
            credentials: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

/// A running server; dropping it stops it.
pub struct Server {
    fixture: Fixture,
    api_base: Url,
    jobs: Vec<(&'static str, JobInfo)>,
    certificate: Option<PathBuf>,
    _front: Option<tls_front::TlsFront>,
}

fn listen_error(address: SocketAddr, e: std::io::Error) -> ServeError {
    ServeError(format!(
        "cannot listen on {address}: {e} (choose another port with --port, or 0 for any free one)"
    ))
}

/// The host part of a URL for `ip`: a wildcard is reached over loopback.
fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

impl Server {
    /// Starts the server (inside a tokio runtime).
    pub async fn start(options: ServeOptions) -> Result<Server, ServeError> {
        let address = SocketAddr::new(options.host, options.port);
        let fixture_options = FixtureOptions {
            fault: options.fault,
            credentials: options.credentials.clone(),
            ..FixtureOptions::default()
        };
        let (fixture, api_base, front) = match &options.tls_certificate {
            None => {
                let listener =
                    std::net::TcpListener::bind(address).map_err(|e| listen_error(address, e))?;
                let fixture = Fixture::start(FixtureOptions {
                    listener: Some(listener),
                    ..fixture_options
                })
                .await
                .map_err(|e| ServeError(e.to_string()))?;
                let base = fixture.api_base();
                (fixture, base, None)
            }
            Some(path) => {
                let certificate = tls_front::self_signed(options.host)?;
                certificate.write(path)?;
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|e| listen_error(address, e))?;
                let port = listener
                    .local_addr()
                    .map_err(|e| listen_error(address, e))?
                    .port();
                let fixture = Fixture::start(FixtureOptions {
                    public_scheme: Some("https".into()),
                    ..fixture_options
                })
                .await
                .map_err(|e| ServeError(e.to_string()))?;
                let front = tls_front::start(listener, &certificate, fixture.address())?;
                let base = Url::parse(&format!("https://{}:{port}/api/", url_host(options.host)))
                    .map_err(|e| ServeError(format!("bad base URL: {e}")))?;
                (fixture, base, Some(front))
            }
        };
        let mut jobs = fixture.seeded_jobs();
        for role in JOB_ROLES {
            for _ in 1..options.jobs_per_role.max(1) {
                if let Some(job) = fixture.provision_job(role.name) {
                    jobs.push((role.name, job));
                }
            }
        }
        jobs.sort_by_key(|(role, _)| JOB_ROLES.iter().position(|r| r.name == *role));
        Ok(Server {
            fixture,
            api_base,
            jobs,
            certificate: options.tls_certificate,
            _front: front,
        })
    }

    /// The API base clients call, ending in `/api/`.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// The administrator account.
    pub fn credentials(&self) -> Credentials {
        self.fixture.credentials()
    }

    /// Every job, as `(role, job)`, grouped by role.
    pub fn jobs(&self) -> &[(&'static str, JobInfo)] {
        &self.jobs
    }

    /// Where the certificate was written, when serving HTTPS.
    pub fn certificate(&self) -> Option<&Path> {
        self.certificate.as_deref()
    }

    /// The fixture behind the server (e.g. for the tokens it issued).
    pub fn fixture(&self) -> &Fixture {
        &self.fixture
    }

    /// What a user needs to call the server: base URL, account, jobs, and ready-made commands.
    /// The password is shown unless `password_env` names the variable it came from.
    pub fn describe(&self, password_env: Option<&str>) -> String {
        let credentials = self.credentials();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "emconform serve: a simulated Enterprise Manager is listening"
        );
        let _ = writeln!(out, "  API base:     {}", self.api_base);
        let (curl_tls, emconform_tls) = match &self.certificate {
            Some(path) => {
                let _ = writeln!(
                    out,
                    "  certificate:  {} (self-signed, made now)",
                    path.display()
                );
                (
                    format!(" --cacert '{}'", path.display()),
                    format!(" --ca-cert '{}'", path.display()),
                )
            }
            None => (String::new(), String::new()),
        };
        if let Some(fault) = self.fixture.fault() {
            let info = fault.info();
            let _ = writeln!(out, "  fault:        {} ({})", info.name, info.description);
        }
        let _ = writeln!(out, "  user:         {}", credentials.user);
        let (password, env) = match password_env {
            Some(var) => (format!("(from ${var})"), var.to_string()),
            None => (
                credentials.password.expose().to_string(),
                "EM_PASSWORD".to_string(),
            ),
        };
        let _ = writeln!(out, "  password:     {password}");
        let _ = writeln!(out, "  jobs:");
        for (role, job) in &self.jobs {
            let _ = writeln!(out, "    {role:<14} {}  \"{}\"", job.id, job.name);
        }
        let base = self.api_base.as_str().trim_end_matches('/');
        let user = credentials.user.replace('\'', r"'\''");
        let _ = writeln!(out, "Try:");
        let auth = match password_env {
            Some(var) => format!("'{user}':\"${var}\""),
            None => format!("'{user}:{password}'"),
        };
        let _ = writeln!(
            out,
            "  curl{curl_tls} -i -X POST -u {auth} -H 'Content-Length: 0' '{base}/sessionMngr/?v=latest'"
        );
        let set_env = match password_env {
            Some(_) => String::new(),
            None => format!("{env}='{password}' "),
        };
        let _ = writeln!(
            out,
            "  {set_env}emconform --target {base} --user '{user}' --password-env {env}{emconform_tls}"
        );
        let _ = writeln!(out, "Stop with Ctrl-C.");
        out
    }
}

#[cfg(test)]
mod tests;

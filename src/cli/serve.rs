//! `emconform serve`: runs the embedded Enterprise Manager simulator until Ctrl-C, after printing
//! how to call it (see [`crate::serve`]).

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_USAGE, interrupted};
use crate::fixture::ADMIN_USER;
use crate::secret::Credentials;
use crate::serve::{ServeOptions, Server};

/// Options of `emconform serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port)
    #[arg(long, default_value_t = 9398, value_name = "PORT")]
    pub port: u16,
    /// Serve HTTPS with a freshly generated self-signed certificate, written (PEM) to FILE
    #[arg(long, value_name = "FILE")]
    pub tls: Option<PathBuf>,
    /// Deviate from the spec in this way (see `emconform --fault` for the names)
    #[arg(long, value_name = "NAME")]
    pub fault: Option<String>,
    /// Jobs per role (a failed job can be retried once)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs_per_role: usize,
    /// The account's user name
    #[arg(long, default_value = ADMIN_USER, value_name = "NAME")]
    pub user: String,
    /// Take the account's password from this environment variable (default: a random one, printed)
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("emconform serve: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs the server until interrupted.
pub fn serve(args: ServeArgs) -> ExitCode {
    let fault = match args.fault.as_deref().map(super::fault_by_name).transpose() {
        Ok(fault) => fault,
        Err(e) => return usage_error(e),
    };
    let credentials = match &args.password_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(password) => Some(Credentials::new(args.user.clone(), password)),
            Err(_) => return usage_error(format!("--password-env {var}: {var} is not set")),
        },
    };
    let credentials = credentials.or_else(|| {
        (args.user != ADMIN_USER)
            .then(|| Credentials::new(args.user.clone(), uuid::Uuid::new_v4().simple().to_string()))
    });
    let options = ServeOptions {
        host: args.host,
        port: args.port,
        tls_certificate: args.tls.clone(),
        fault,
        jobs_per_role: args.jobs_per_role,
        credentials,
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => return usage_error(e),
    };
    runtime.block_on(async {
        let server = match Server::start(options).await {
            Ok(server) => server,
            Err(e) => return usage_error(e),
        };
        print!("{}", server.describe(args.password_env.as_deref()));
        let _ = std::io::stdout().flush();
        interrupted().await;
        eprintln!("emconform serve: stopped");
        ExitCode::SUCCESS
    })
}

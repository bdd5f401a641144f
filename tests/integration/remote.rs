//! The suite against a remote target, through the real network path: the `emconform` binary
//! pointed at `emconform serve`-style servers (started in this process from the library) over
//! HTTPS and HTTP — trusting the certificate or not, giving jobs or discovering them, a server that
//! never answers, wrong credentials, Ctrl-C — and no secret in anything it prints.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use emconform::fixture::Fault;
use emconform::http::{HttpClient, HttpConfig, OutgoingRequest, Trust};
use emconform::serve::ServeOptions;

use crate::support::{
    PASSWORD_VAR, Served, against, assert_no_secret, binary, fresh_dir, job_args, path, serve,
    text, verdicts,
};

/// An HTTPS server whose certificate is written to a fresh file.
fn serve_https(name: &str, options: ServeOptions) -> (Served, PathBuf) {
    let cert = fresh_dir(name).join("certificate.pem");
    let served = serve(ServeOptions {
        tls_certificate: Some(cert.clone()),
        ..options
    });
    (served, cert)
}

/// Enough jobs for every side-effecting trial of the suite to have its own.
const JOBS_PER_ROLE: usize = 16;

/// Checks that no secret the server knows of (the password, each session token and the GUID it
/// encodes) is in what the run printed.
fn assert_no_secrets(served: &Served, output: &Output) {
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert_no_secret(&all, &served.server.fixture().secrets());
}

/// Whether a session token still works on the server.
fn token_is_live(served: &Served, token: &str) -> bool {
    let http = HttpClient::new(HttpConfig {
        trust: Trust::Insecure,
        ..HttpConfig::default()
    })
    .expect("client");
    let request = OutgoingRequest {
        method: "GET".into(),
        url: served
            .server
            .api_base()
            .join("logonSessions")
            .expect("a URL"),
        headers: vec![
            ("Accept".into(), "application/xml".into()),
            ("X-RestSvcSessionId".into(), token.into()),
        ],
        body: None,
    };
    let response = served
        .runtime
        .block_on(http.send(&request))
        .expect("answer");
    response.status == 200
}

#[test]
fn https_trusted_with_ca_cert_passes_every_trial_and_leaks_nothing() {
    let (served, cert) = serve_https(
        "ca-cert",
        ServeOptions {
            jobs_per_role: JOBS_PER_ROLE,
            ..ServeOptions::default()
        },
    );
    let out = served.run(&["--ca-cert", path(&cert), "--allow-side-effects"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let verdicts = verdicts(&stdout);
    assert!(!verdicts.values().any(|v| v == "FAILED"), "{verdicts:#?}");
    let retry = verdicts.get("[must] jobs::retry::answer::xml");
    assert_eq!(retry.map(String::as_str), Some("ok"), "the retry ran");
    assert!(
        stderr.contains("emconform: jobs for the trials"),
        "{stderr}"
    );
    assert!(!stderr.contains("--insecure"), "{stderr}");
    assert_no_secrets(&served, &out);
    // The run logged out at the end.
    let tokens = served.server.fixture().issued_tokens();
    assert!(tokens.iter().all(|t| !token_is_live(&served, t)));
}

#[test]
fn https_with_insecure_says_so_once_and_runs() {
    let (served, _cert) = serve_https("insecure", ServeOptions::default());
    let out = served.run(&["--insecure"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("--insecure").count(), 1, "{stderr}");
    assert!(
        stderr.contains("warning: --insecure: the server's TLS certificate is not verified"),
        "{stderr}"
    );
    assert_no_secrets(&served, &out);
}

#[test]
fn an_untrusted_certificate_is_one_error_naming_host_reason_and_fix() {
    let (served, _cert) = serve_https("untrusted", ServeOptions::default());
    let out = served.run(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(verdicts(&stdout).is_empty(), "no trial ran:\n{stdout}");
    let port = served.server.api_base().port().unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for part in [
        format!("TLS with 127.0.0.1:{port} failed"),
        "invalid peer certificate: UnknownIssuer".to_string(),
        "--ca-cert FILE".to_string(),
    ] {
        assert!(stderr.contains(&part), "{part:?} missing from:\n{stderr}");
    }
    assert_no_secrets(&served, &out);
}

#[test]
fn discovery_gives_the_same_verdicts_as_given_jobs() {
    let options = || ServeOptions {
        jobs_per_role: JOBS_PER_ROLE,
        ..ServeOptions::default()
    };
    // Two identical servers: a run that retries jobs changes them.
    let (given, discovered) = (serve(options()), serve(options()));
    for side_effects in [false, true] {
        let mut args: Vec<String> = job_args(&given.server, |_| true);
        let mut plain = Vec::new();
        if side_effects {
            args.push("--allow-side-effects".into());
            plain.push("--allow-side-effects");
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The two servers are independent: both runs at once.
        let (with_jobs, without) = std::thread::scope(|s| {
            let with_jobs = s.spawn(|| given.run(&args));
            let without = discovered.run(&plain);
            (with_jobs.join().expect("the run with jobs"), without)
        });
        let (a, b) = (text(&with_jobs.stdout), text(&without.stdout));
        assert_eq!(
            with_jobs.status.code(),
            Some(0),
            "{a}\n{}",
            text(&with_jobs.stderr)
        );
        assert_eq!(verdicts(&a), verdicts(&b), "given:\n{a}\ndiscovered:\n{b}");
        assert!(text(&without.stderr).contains("(found)"));
        assert!(text(&with_jobs.stderr).contains("(given)"));
        assert_no_secrets(&given, &with_jobs);
        assert_no_secrets(&discovered, &without);
    }
}

#[test]
fn safe_mode_leaves_out_side_effects_and_says_how_many() {
    let served = serve(ServeOptions::default());
    let out = served.run(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let left_out: Vec<String> = verdicts(&stdout)
        .into_iter()
        .filter(|(_, v)| v.starts_with("ignored (safe mode:"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        left_out
            .iter()
            .any(|n| n.ends_with("jobs::retry::answer::xml"))
    );
    assert!(
        stderr.contains(&format!(
            "  {} × safe mode: this case starts, stops or retries a job; pass --allow-side-effects to run it",
            left_out.len()
        )),
        "{stderr}"
    );
}

#[test]
fn a_role_without_a_job_is_ignored_saying_how_to_give_one() {
    let served = serve(ServeOptions::default());
    let failed = &served.server.jobs()[0];
    assert_eq!(failed.0, "failed");
    // One failed job for two retrying trials (xml and json): the second has none left.
    let job = format!("failed={}", failed.1.id);
    let out = served.run(&[
        "--job",
        &job,
        "--allow-side-effects",
        "jobs::retry::answer::",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let ignored: Vec<String> = verdicts(&stdout)
        .into_values()
        .filter(|v| v.starts_with("ignored"))
        .collect();
    assert_eq!(ignored.len(), 1, "{stdout}");
    assert!(
        ignored[0].contains("give one with --job failed=ID (repeatable)"),
        "{stdout}"
    );
}

#[test]
fn a_server_that_never_answers_fails_the_trials_within_the_timeout_and_the_run_ends() {
    let served = serve(ServeOptions {
        fault: Some(Fault::NoAnswer),
        jobs_per_role: 2,
        ..ServeOptions::default()
    });
    let jobs = job_args(&served.server, |role| {
        ["failed", "succeeded"].contains(&role)
    });
    // Every trial of these cases calls /api/jobs, which this server never answers.
    // Every trial waits out its timeout; all at once, so that the test takes one timeout, not
    // one per four trials.
    let mut args = vec![
        "--request-timeout",
        "300ms",
        "--test-threads",
        "64",
        "--allow-side-effects",
        "--progress",
        "jobs::retry::",
    ];
    args.extend(jobs.iter().map(String::as_str));
    let started = Instant::now();
    let out = served.run(&args);
    let elapsed = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(101), "{stdout}\n{stderr}");
    let verdicts = verdicts(&stdout);
    assert!(verdicts.values().any(|v| v == "FAILED"), "{verdicts:#?}");
    let failed_or_ignored = |v: &String| v == "FAILED" || v.starts_with("ignored");
    assert!(verdicts.values().all(failed_or_ignored), "{verdicts:#?}");
    assert!(
        stdout.contains("no complete answer within 300ms (--request-timeout)"),
        "{stdout}"
    );
    assert!(stderr.contains("could not read job"), "{stderr}");
    assert_no_secrets(&served, &out);
    eprintln!("never-answering server: verdicts after {elapsed:.1?} with --request-timeout 300ms");
}

#[test]
fn json_output_stays_parseable_with_progress_on() {
    let served = serve(ServeOptions {
        fault: Some(Fault::TaskNeverFinishes),
        jobs_per_role: JOBS_PER_ROLE,
        ..ServeOptions::default()
    });
    let out = served.run(&[
        "--format",
        "json",
        "--progress",
        "--allow-side-effects",
        "--await-deadline",
        "300ms",
        // Every awaiting trial waits the deadline out: side by side, not two at a time.
        "--test-threads",
        "16",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
    assert!(
        stderr.contains("emconform: tasks::finishes::xml: step \"task finishes\" awaits { path = \"State\", equals = \"Finished\" }"),
        "{stderr}"
    );
    assert!(stdout.contains("gave up waiting after"), "{stdout}");
    // The failures carry curl lines with the session header: redacted.
    assert!(
        stdout.contains("-H 'X-RestSvcSessionId: <redacted>'"),
        "{stdout}"
    );
    assert_no_secrets(&served, &out);
}

#[test]
fn an_address_that_never_answers_is_one_clear_error() {
    // Accepts connections, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let out = against(&url, "u", "pw-never-shown")
        .args(["--request-timeout", "300ms"])
        .output()
        .expect("the binary runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("failed: no complete answer within 300ms (--request-timeout)"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-never-shown"));
    drop(listener);
}

#[test]
fn a_wrong_password_is_one_clear_error() {
    let served = serve(ServeOptions::default());
    let out = served.emconform("not-the-password").output().expect("runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(verdicts(&stdout).is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("was refused (401): wrong user name or password"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"));
    assert_no_secrets(&served, &out);
}

#[test]
fn ctrl_c_logs_the_session_out() {
    let served = serve(ServeOptions {
        fault: Some(Fault::TaskNeverFinishes),
        jobs_per_role: JOBS_PER_ROLE,
        ..ServeOptions::default()
    });
    let mut child = served
        .emconform(&served.password())
        .args(["--allow-side-effects", "--progress", "tasks::finishes::"])
        .arg("--await-deadline")
        .arg("10m")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("piped");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // Wait (bounded) until a trial is stuck in its await; the run would hang there for 10 minutes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("\" awaits ")) {
        match seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => log.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no await within 30s:\n{}", log.join("\n"));
            }
        }
    }
    assert!(
        served
            .server
            .fixture()
            .issued_tokens()
            .iter()
            .any(|t| token_is_live(&served, t))
    );
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(130));
    while let Ok(line) = seen.recv_timeout(Duration::from_secs(5)) {
        log.push(line);
    }
    assert!(
        log.iter()
            .any(|l| l == "emconform: interrupted; logging out"),
        "{log:?}"
    );
    let tokens = served.server.fixture().issued_tokens();
    assert!(!tokens.is_empty());
    assert!(
        tokens.iter().all(|t| !token_is_live(&served, t)),
        "a session is still open"
    );
}

#[test]
fn list_says_per_trial_what_would_run_and_terse_list_is_untouched() {
    let list = |extra: &[&str]| {
        binary()
            .args(["--list", "--target", "https://em.invalid:9398/api"])
            .args(extra)
            .output()
            .expect("runs")
    };
    let out = list(&[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("[must] jobs::retry::answer::xml: test"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  left out  [must] jobs::retry::answer::xml — safe mode: this case starts, stops or retries a job"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  runs      [must] jobs::retry::without_session::xml (needs a `succeeded` job"
        ),
        "{stdout}"
    );
    // nextest parses this: every line is `name: test`.
    let out = list(&["--format", "terse"]);
    let stdout = text(&out.stdout);
    assert!(!stdout.is_empty());
    assert!(stdout.lines().all(|l| l.ends_with(": test")), "{stdout}");
}

/// A pseudo-terminal: the child gets the slave side as its controlling terminal.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
}

fn open_pty() -> Pty {
    use std::os::fd::FromRawFd as _;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors, which the Files below then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nothing else.
    unsafe {
        Pty {
            master: std::fs::File::from_raw_fd(master),
            slave: std::fs::File::from_raw_fd(slave),
        }
    }
}

/// Whether the terminal still echoes what is typed.
fn echoes(master: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd as _;
    // SAFETY: a zeroed termios is a valid buffer for tcgetattr to fill.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for as long as `master` lives.
    let rc = unsafe { libc::tcgetattr(master.as_raw_fd(), &mut termios) };
    rc != 0 || termios.c_lflag & libc::ECHO != 0
}

#[test]
fn without_password_env_a_terminal_is_asked_and_the_password_not_echoed() {
    use std::io::{Read as _, Write as _};
    use std::os::unix::process::CommandExt as _;
    let served = serve(ServeOptions::default());
    let password = served.password();
    let pty = open_pty();
    let mut command = binary();
    command
        .args(["--target", served.server.api_base().as_str()])
        .args([
            "--user",
            &served.server.credentials().user,
            "without_session",
        ])
        .env_remove(PASSWORD_VAR)
        .env_remove("EMCONFORM_PASSWORD_ENV")
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = command.spawn().expect("starts");
    drop(pty.slave);
    let mut reader = pty.master.try_clone().unwrap();
    let (chunks, seen) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        // Once the child is gone, reading the master fails (EIO): that is the end.
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || chunks.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = String::new();
    let mut answered = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(chunk) = seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        screen.push_str(&String::from_utf8_lossy(&chunk));
        if !answered && screen.contains("Password for ") {
            // Type only once the prompt has turned echo off, as a person would.
            while echoes(&pty.master) && Instant::now() < deadline {
                std::thread::yield_now();
            }
            let mut master = &pty.master;
            master
                .write_all(format!("{password}\n").as_bytes())
                .unwrap();
            answered = true;
        }
        if screen.contains("emconform: must:") {
            break;
        }
    }
    let status = child.wait().expect("exits");
    assert!(answered, "no prompt:\n{screen}");
    assert!(
        screen.contains(&format!(
            "Password for {} at 127.0.0.1: ",
            served.server.credentials().user
        )),
        "{screen}"
    );
    assert!(status.success(), "{screen}");
    assert!(screen.contains("test result: "), "{screen}");
    assert!(
        !screen.contains(&password),
        "the password was shown:\n{screen}"
    );
}

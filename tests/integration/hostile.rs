//! Hostile targets: servers that misbehave below HTTP, and the verdicts emconform gives them.
//!
//! Each test puts a raw tokio TCP server in front of an `emconform serve`-style server (started
//! in this process): the raw server answers the logon, the logout and everything else by
//! forwarding it (so a trial gets far enough to meet the misbehaviour), and misbehaves exactly
//! where the test says — a 200 MiB body, a body that drips, bytes that are not UTF-8, a
//! `Content-Length` larger than the body, a reset mid-body, a redirect to another host, HTTP/1.0
//! closing after each answer, 503 with `Retry-After`, the same stale Task on every poll. The
//! binary runs against it as a user would, and each test checks that the trial failed, in bounded
//! time and memory, with a message that says what happened. Each test prints how long the verdict
//! took (`cargo test --test integration hostile:: -- --nocapture`).

use std::collections::HashMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use emconform::http::{HttpClient, HttpConfig, OutgoingRequest};
use emconform::serve::{ServeOptions, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Served, against, job_args, serve, text, verdicts};

/// The trial most behaviours are met by: `GET /api/` with the run's session, expecting 200 XML.
const ENTRY_TRIAL: &str = "negotiation::accept_xml::xml";
/// 200 MiB.
const HUGE: u64 = 200 * 1024 * 1024;
/// The default `--max-body-bytes`.
const DEFAULT_LIMIT: u64 = 16 * 1024 * 1024;

/// How a hostile server misbehaves (everything else it forwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misbehaviour {
    /// `GET /api/` answers 200 MiB of XML, announced in `Content-Length` or chunked without one.
    HugeBody { announced: bool },
    /// `GET /api/` announces 100 bytes and sends one every 100 ms.
    Drip,
    /// `GET /api/` answers the entry point with two bytes that are not UTF-8 in it.
    InvalidUtf8,
    /// `GET /api/` announces 100 bytes more than it sends, then closes.
    ShortBody,
    /// `GET /api/` sends half its body, then resets the connection.
    ResetMidBody,
    /// `GET /api/` redirects to the same path on another host (a second listener).
    Redirect,
    /// Every answer is HTTP/1.0 with `Connection: close`, and the connection closes after it.
    Http10,
    /// Every answer is HTTP/1.1 without `Connection: close`, yet the connection closes after it.
    ClosesSilently,
    /// `GET /api/` answers 503 with `Retry-After: 120`.
    Unavailable,
    /// Every `GET` of a task answers what the first one did.
    StaleTask,
}

/// What a hostile server saw and did.
#[derive(Default)]
struct Observed {
    /// Bytes of misbehaving bodies written before the client went away.
    body_bytes_written: AtomicU64,
    /// Connections the redirect's other host accepted.
    other_host_connections: AtomicUsize,
    /// Task polls answered with a stale copy.
    stale_answers: AtomicUsize,
}

/// A request as read from the socket.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// An `emconform serve` server behind a misbehaving raw TCP server.
struct Hostile {
    server: Server,
    /// `http://127.0.0.1:PORT/api/` of the misbehaving server.
    api_base: String,
    observed: Arc<Observed>,
    /// Last: dropping the runtime stops both servers.
    _runtime: tokio::runtime::Runtime,
}

struct Proxy {
    misbehaviour: Misbehaviour,
    upstream: HttpClient,
    /// `127.0.0.1:PORT` of the real server and of the hostile one, for rewriting Hrefs.
    upstream_host: String,
    own_host: String,
    other_host: SocketAddr,
    observed: Arc<Observed>,
    /// The first answer to each task's `GET`, by path.
    stale: Mutex<HashMap<String, Answer>>,
}

impl Hostile {
    fn start(misbehaviour: Misbehaviour) -> Hostile {
        let Served { server, runtime } = serve(ServeOptions {
            jobs_per_role: 2,
            ..ServeOptions::default()
        });
        let observed = Arc::new(Observed::default());
        let (listener, other) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            // Another host: another loopback address, whose connections are counted.
            let other = TcpListener::bind("127.0.0.2:0")
                .await
                .expect("bind 127.0.0.2");
            (listener, other)
        });
        let own = listener.local_addr().expect("address");
        let other_host = other.local_addr().expect("address");
        let upstream = HttpClient::new(HttpConfig::default()).expect("client");
        let upstream_url = server.api_base();
        let proxy = Arc::new(Proxy {
            misbehaviour,
            upstream,
            upstream_host: format!(
                "{}:{}",
                upstream_url.host_str().expect("host"),
                upstream_url.port().expect("port")
            ),
            own_host: own.to_string(),
            other_host,
            observed: observed.clone(),
            stale: Mutex::new(HashMap::new()),
        });
        let counted = observed.clone();
        runtime.spawn(async move {
            while let Ok((socket, _)) = other.accept().await {
                counted
                    .other_host_connections
                    .fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        runtime.spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let proxy = proxy.clone();
                tokio::spawn(async move { proxy.serve(socket).await });
            }
        });
        Hostile {
            server,
            api_base: format!("http://{own}/api/"),
            observed,
            _runtime: runtime,
        }
    }

    /// The binary, pointed at the hostile server with the right account.
    fn emconform(&self, args: &[&str]) -> Command {
        let credentials = self.server.credentials();
        let mut command = against(
            &self.api_base,
            &credentials.user,
            credentials.password.expose(),
        );
        command.args(args);
        command
    }
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).await.ok()?;
    Some(request)
}

fn head(version: &str, status: u16, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("{version} {status} Hostile\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

impl Proxy {
    /// Answers the requests of one connection until it closes.
    async fn serve(&self, socket: TcpStream) {
        let mut reader = BufReader::new(socket);
        while let Some(request) = read_request(&mut reader).await {
            let keep_open = self.answer(&request, reader.get_mut()).await;
            if !keep_open {
                return;
            }
        }
    }

    /// Forwards a request to the real server; its answer with the Hrefs pointing here.
    async fn forward(&self, request: &Request) -> Answer {
        let url = format!("http://{}{}", self.upstream_host, request.target);
        let outgoing = OutgoingRequest {
            method: request.method.clone(),
            url: url.parse().expect("a URL"),
            headers: request
                .headers
                .iter()
                .filter(|(n, _)| !["host", "connection"].contains(&n.to_ascii_lowercase().as_str()))
                .cloned()
                .collect(),
            body: (!request.body.is_empty()).then(|| request.body.clone()),
        };
        let answer = self
            .upstream
            .send(&outgoing)
            .await
            .expect("the real server answers");
        let rewrite = |text: &str| text.replace(&self.upstream_host, &self.own_host);
        let headers = answer
            .headers
            .iter()
            .filter(|(n, _)| {
                !["content-length", "transfer-encoding", "connection"].contains(&n.as_str())
            })
            .map(|(n, v)| (n.clone(), rewrite(v)))
            .collect();
        let body = match std::str::from_utf8(&answer.body) {
            Ok(text) => rewrite(text).into_bytes(),
            Err(_) => answer.body.to_vec(),
        };
        (answer.status, headers, body)
    }

    /// Answers one request; whether the connection stays open.
    async fn answer(&self, request: &Request, socket: &mut TcpStream) -> bool {
        let entry_point = request.method == "GET" && request.target == "/api/";
        let task_poll = request.method == "GET" && request.target.starts_with("/api/tasks/");
        match self.misbehaviour {
            Misbehaviour::HugeBody { announced } if entry_point => {
                self.huge_body(socket, announced).await;
                false
            }
            Misbehaviour::Drip if entry_point => {
                let headers = [
                    ("Content-Type".to_string(), "application/xml".to_string()),
                    ("Content-Length".to_string(), "100".to_string()),
                ];
                if socket
                    .write_all(&head("HTTP/1.1", 200, &headers))
                    .await
                    .is_err()
                {
                    return false;
                }
                for _ in 0..100 {
                    if socket.write_all(b"<").await.is_err() {
                        return false;
                    }
                    self.observed
                        .body_bytes_written
                        .fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                false
            }
            Misbehaviour::InvalidUtf8 if entry_point => {
                let (status, headers, mut body) = self.forward(request).await;
                // Inside the root element, after its start tag.
                let root = body.windows(2).position(|w| w == b"<E").unwrap_or(0);
                let at = body[root..]
                    .iter()
                    .position(|b| *b == b'>')
                    .map_or(0, |i| root + i + 1);
                body.splice(at..at, [0xC3, 0x28]);
                self.write(socket, "HTTP/1.1", status, headers, &body, None)
                    .await
            }
            Misbehaviour::ShortBody if entry_point => {
                let (status, headers, body) = self.forward(request).await;
                let announced = body.len() + 100;
                self.write(socket, "HTTP/1.1", status, headers, &body, Some(announced))
                    .await;
                false
            }
            Misbehaviour::ResetMidBody if entry_point => {
                let (status, mut headers, body) = self.forward(request).await;
                headers.push(("Content-Length".into(), body.len().to_string()));
                let _ = socket.write_all(&head("HTTP/1.1", status, &headers)).await;
                let _ = socket.write_all(&body[..body.len() / 2]).await;
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = socket.set_zero_linger();
                false
            }
            Misbehaviour::Redirect if entry_point => {
                let headers = vec![(
                    "Location".to_string(),
                    format!("http://{}/api/", self.other_host),
                )];
                self.write(socket, "HTTP/1.1", 302, headers, b"", None)
                    .await
            }
            Misbehaviour::Unavailable if entry_point => {
                let headers = vec![
                    ("Retry-After".to_string(), "120".to_string()),
                    ("Content-Type".to_string(), "text/html".to_string()),
                ];
                let body = b"<html><body>Service Unavailable</body></html>";
                self.write(socket, "HTTP/1.1", 503, headers, body, None)
                    .await
            }
            Misbehaviour::StaleTask if task_poll => {
                let cached = self
                    .stale
                    .lock()
                    .expect("lock")
                    .get(&request.target)
                    .cloned();
                let (status, headers, body) = match cached {
                    Some(stale) => {
                        self.observed.stale_answers.fetch_add(1, Ordering::SeqCst);
                        stale
                    }
                    None => {
                        let fresh = self.forward(request).await;
                        self.stale
                            .lock()
                            .expect("lock")
                            .insert(request.target.clone(), fresh.clone());
                        fresh
                    }
                };
                self.write(socket, "HTTP/1.1", status, headers, &body, None)
                    .await
            }
            Misbehaviour::Http10 => {
                let (status, mut headers, body) = self.forward(request).await;
                headers.push(("Connection".into(), "close".into()));
                self.write(socket, "HTTP/1.0", status, headers, &body, None)
                    .await;
                false
            }
            Misbehaviour::ClosesSilently => {
                let (status, headers, body) = self.forward(request).await;
                self.write(socket, "HTTP/1.1", status, headers, &body, None)
                    .await;
                false
            }
            _ => {
                let (status, headers, body) = self.forward(request).await;
                self.write(socket, "HTTP/1.1", status, headers, &body, None)
                    .await
            }
        }
    }

    /// Writes an answer with a `Content-Length` (the body's, unless `announced` says otherwise).
    async fn write(
        &self,
        socket: &mut TcpStream,
        version: &str,
        status: u16,
        mut headers: Vec<(String, String)>,
        body: &[u8],
        announced: Option<usize>,
    ) -> bool {
        headers.push((
            "Content-Length".into(),
            announced.unwrap_or(body.len()).to_string(),
        ));
        let mut bytes = head(version, status, &headers);
        bytes.extend_from_slice(body);
        socket.write_all(&bytes).await.is_ok() && socket.flush().await.is_ok()
    }

    /// 200 MiB of well-formed XML, until the client stops reading.
    async fn huge_body(&self, socket: &mut TcpStream, announced: bool) {
        let mut headers = vec![("Content-Type".to_string(), "application/xml".to_string())];
        headers.push(if announced {
            ("Content-Length".into(), HUGE.to_string())
        } else {
            ("Transfer-Encoding".into(), "chunked".into())
        });
        if socket
            .write_all(&head("HTTP/1.1", 200, &headers))
            .await
            .is_err()
        {
            return;
        }
        let element = b"<Link Href=\"http://127.0.0.1/api/\" Rel=\"Up\" />";
        let chunk: Vec<u8> = element.iter().copied().cycle().take(64 * 1024).collect();
        let mut sent = 0u64;
        while sent < HUGE {
            let data = if announced {
                chunk.clone()
            } else {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                framed
            };
            if socket.write_all(&data).await.is_err() {
                return;
            }
            sent += chunk.len() as u64;
            self.observed
                .body_bytes_written
                .store(sent, Ordering::SeqCst);
        }
    }
}

/// A finished run of the binary.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// The process's peak resident memory (`ru_maxrss`), in KiB.
    max_rss_kib: i64,
}

/// Runs `command` to its end (killed after `limit`), with its peak memory.
fn run(command: &mut Command, limit: Duration) -> Finished {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("the binary starts");
    let pid = child.id() as libc::pid_t;
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    // A watchdog kills a run that hangs; it can only hit this child: the child is waited for
    // without being reaped (WNOWAIT) before the watchdog is told to stand down.
    let (done, stand_down) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if stand_down.recv_timeout(limit).is_err() {
            // SAFETY: the child is not yet reaped, so `pid` is still this child's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    // SAFETY: waitid and wait4 on our own child with valid out-pointers.
    let (status, usage) = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        );
        let _ = done.send(());
        let mut status = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut usage);
        (status, usage)
    };
    let elapsed = started.elapsed();
    let _ = watchdog.join();
    drop(child);
    Finished {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
        elapsed,
        max_rss_kib: usage.ru_maxrss,
    }
}

/// Runs one trial against the hostile server and checks that it failed, saying `expected`.
fn failed_trial(hostile: &Hostile, args: &[&str], expected: &[&str], label: &str) -> Finished {
    let out = run(&mut hostile.emconform(args), Duration::from_secs(120));
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.code,
        Some(101),
        "{label}: a failed trial exits 101:\n{all}"
    );
    assert!(
        out.stdout.contains("... FAILED"),
        "{label}: the trial failed:\n{all}"
    );
    for part in expected {
        assert!(all.contains(part), "{label}: {part:?} missing from:\n{all}");
    }
    assert!(
        !all.contains(hostile.server.credentials().password.expose()),
        "{label}: the password leaked"
    );
    if std::env::var_os("HOSTILE_SHOW").is_some() {
        eprintln!("{}", out.stdout);
    }
    eprintln!(
        "hostile: {label}: failed trial after {:.2?} (peak RSS {} MiB)",
        out.elapsed,
        out.max_rss_kib / 1024
    );
    out
}

#[test]
fn a_200_mib_body_announced_in_content_length_is_refused_unread() {
    let hostile = Hostile::start(Misbehaviour::HugeBody { announced: true });
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL],
        &[
            "no response: the answer announces a body of 209715200 bytes (Content-Length), \
             more than 16777216 (--max-body-bytes); not read",
            "curl -sS -i",
        ],
        "200 MiB body with Content-Length",
    );
    let written = hostile.observed.body_bytes_written.load(Ordering::SeqCst);
    assert!(
        written < DEFAULT_LIMIT,
        "{written} bytes were sent before the client gave up"
    );
}

#[test]
fn a_200_mib_chunked_body_is_cut_at_the_limit_and_memory_stays_bounded() {
    let hostile = Hostile::start(Misbehaviour::HugeBody { announced: false });
    let out = failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL],
        &[
            "no response: the body is larger than 16777216 bytes (--max-body-bytes); stopped reading",
        ],
        "200 MiB chunked body",
    );
    // The client read up to the limit and stopped: what the server got out is the limit plus
    // what the two sockets' buffers hold, far from 200 MiB.
    let written = hostile.observed.body_bytes_written.load(Ordering::SeqCst);
    assert!(
        written < DEFAULT_LIMIT + 16 * 1024 * 1024,
        "{written} bytes were sent before the client gave up"
    );
    // Memory: the same run against a server that behaves, plus at most the body buffer (up to
    // the limit, and a doubling vector may reserve twice what it holds) and slack for the
    // allocator.
    let calm = Hostile::start(Misbehaviour::StaleTask);
    let baseline = run(
        &mut calm.emconform(&["--exact", ENTRY_TRIAL]),
        Duration::from_secs(60),
    );
    assert_eq!(baseline.code, Some(0), "{}", baseline.stdout);
    let grown = out.max_rss_kib - baseline.max_rss_kib;
    eprintln!(
        "hostile: 200 MiB chunked body: peak RSS {} KiB against {} KiB for a normal answer \
         (+{} KiB), {} MiB sent by the server",
        out.max_rss_kib,
        baseline.max_rss_kib,
        grown,
        written / (1024 * 1024)
    );
    assert!(
        grown < (2 * DEFAULT_LIMIT as i64 + 16 * 1024 * 1024) / 1024,
        "peak memory grew by {grown} KiB"
    );
}

#[test]
fn a_body_that_drips_fails_at_the_request_timeout() {
    let hostile = Hostile::start(Misbehaviour::Drip);
    let out = failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL, "--request-timeout", "500ms"],
        &["no response: no complete answer within 500ms (--request-timeout)"],
        "body dripping 1 byte per 100 ms",
    );
    // The whole body would take 10 s to drip: the run ends well before, at the timeout.
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    assert!(hostile.observed.body_bytes_written.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_body_that_is_not_utf8_fails_saying_so_and_shows_it_lossily() {
    let hostile = Hostile::start(Misbehaviour::InvalidUtf8);
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL],
        &[
            "✗ body: expected xml text in UTF-8, got bytes that are not valid UTF-8",
            "body (not valid UTF-8; shown lossily):",
            "response: 200",
        ],
        "invalid UTF-8",
    );
}

#[test]
fn a_content_length_larger_than_the_body_fails_when_the_connection_closes() {
    let hostile = Hostile::start(Misbehaviour::ShortBody);
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL, "--request-timeout", "5s"],
        &[
            "no response: the answer (200) broke off after ",
            " bytes of its body, of ",
            " announced (Content-Length): end of file before message length reached",
        ],
        "Content-Length larger than the body",
    );
}

#[test]
fn a_connection_reset_mid_body_fails_saying_so() {
    let hostile = Hostile::start(Misbehaviour::ResetMidBody);
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL, "--request-timeout", "5s"],
        &[
            "no response: the answer (200) broke off after ",
            "Connection reset by peer",
        ],
        "connection reset mid-body",
    );
}

#[test]
fn a_redirect_to_another_host_is_not_followed_and_says_where_it_went() {
    let hostile = Hostile::start(Misbehaviour::Redirect);
    let other = "http://127.0.0.2:";
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL],
        &[
            "✗ status: expected 200, got 302",
            &format!("note: the server redirects to {other}"),
            "emconform never follows redirects, so the request and its session header went nowhere else",
            "-H 'X-RestSvcSessionId: <redacted>'",
        ],
        "redirect to another host",
    );
    assert_eq!(
        hostile
            .observed
            .other_host_connections
            .load(Ordering::SeqCst),
        0,
        "the other host was contacted"
    );
}

#[test]
fn a_server_answering_503_with_retry_after_fails_the_trial_without_retrying() {
    let hostile = Hostile::start(Misbehaviour::Unavailable);
    failed_trial(
        &hostile,
        &["--exact", ENTRY_TRIAL],
        &[
            "✗ status: expected 200, got 503",
            "note: the server is unavailable and asks to be called again later (Retry-After: 120); \
             emconform does not retry",
            "retry-after: 120",
        ],
        "503 with Retry-After",
    );
}

#[test]
fn a_task_that_stays_the_same_fails_at_the_await_deadline() {
    let hostile = Hostile::start(Misbehaviour::StaleTask);
    let jobs = job_args(&hostile.server, |role| role == "failed");
    let mut args = vec![
        "--exact",
        "tasks::finishes::xml",
        "--allow-side-effects",
        "--await-deadline",
        "800ms",
    ];
    args.extend(jobs.iter().map(String::as_str));
    let out = failed_trial(
        &hostile,
        &args,
        &[
            "✗ gave up waiting after ",
            "(deadline 800ms, --await-deadline): still not { path = \"State\", equals = \"Finished\" }",
            "the last response is below",
            "<State>Running</State>",
        ],
        "the same stale Task on every poll",
    );
    assert!(hostile.observed.stale_answers.load(Ordering::SeqCst) >= 2);
    // It gives up at the deadline, not before and not long after.
    let waited = waited_for(&out.stdout);
    assert!(
        (0.8..3.0).contains(&waited),
        "gave up after {waited} s:\n{}",
        out.stdout
    );
    assert!(out.elapsed < Duration::from_secs(60), "{:?}", out.elapsed);
}

/// The seconds in "gave up waiting after 812.3ms" (or "1.2s").
fn waited_for(stdout: &str) -> f64 {
    let after = stdout
        .split("gave up waiting after ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default();
    let number = |suffix: &str| after.strip_suffix(suffix)?.parse::<f64>().ok();
    number("ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("s"))
        .unwrap_or(f64::NAN)
}

/// A server that closes after every answer (saying so in HTTP/1.0, or not at all) is as
/// conformant as the one behind it: the whole suite gives the verdicts it gives that server
/// directly, with no transport error from a reused connection.
#[test]
fn servers_that_close_after_every_answer_get_the_verdicts_of_the_server_behind_them() {
    for misbehaviour in [Misbehaviour::Http10, Misbehaviour::ClosesSilently] {
        let hostile = Hostile::start(misbehaviour);
        let out = run(
            &mut hostile.emconform(&["--test-threads", "4"]),
            Duration::from_secs(120),
        );
        let label = format!("{misbehaviour:?}");
        assert_eq!(
            out.code,
            Some(0),
            "{label}:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        let credentials = hostile.server.credentials();
        let direct = against(
            hostile.server.api_base().as_str(),
            &credentials.user,
            credentials.password.expose(),
        )
        .output()
        .expect("runs");
        let direct = text(&direct.stdout);
        assert_eq!(verdicts(&out.stdout), verdicts(&direct), "{label}");
        assert!(verdicts(&out.stdout).iter().any(|(_, v)| v == "ok"));
        eprintln!(
            "hostile: {label}: the whole suite in {:.2?}, verdicts as direct",
            out.elapsed
        );
    }
}

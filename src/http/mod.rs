//! Sending one request exactly as a case describes it, and reading the answer within bounds.
//!
//! One [`HttpClient`] per run: a reqwest client (connection pool, TLS policy, timeouts) shared by
//! every trial. reqwest adds `Accept: */*` to any request without an `Accept` header, so a request
//! that must carry none (content negotiation cases) goes through a one-shot hyper connection
//! instead, with the same TLS policy. So does every request that changes something (`POST`,
//! `DELETE`, ...): a server may close a pooled connection just as a request goes out on it (some
//! close after every answer without saying so), and then nobody can tell whether the request was
//! carried out. A request that changes nothing (`GET`) which meets such a closed connection before
//! any answer goes once more, on a connection of its own; apart from that nothing is retried.
//! Against the embedded fixture, which never closes a connection unannounced, every request with
//! an `Accept` header uses the pool ([`HttpConfig::pool_changes`]).
//! Redirects are never followed, no proxy is used and no cookie is stored: a conformance verdict is
//! about what the server itself answered.

pub mod curl;
pub mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use url::Url;

pub use tls::{TlsSetupError, Trust};

/// Limits and trust for a run's requests.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// For the whole exchange: connecting, sending, and reading the body.
    pub request_timeout: Duration,
    /// Bodies larger than this fail the request instead of filling memory.
    pub max_body_bytes: usize,
    pub trust: Trust,
    /// Requests that change something (`POST`, `DELETE`) go on pooled connections too. Only for a
    /// server known never to close a kept-alive connection unannounced (the embedded fixture):
    /// elsewhere such a request goes on a connection of its own (see the module's note).
    pub pool_changes: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
            trust: Trust::Platform,
            pool_changes: false,
        }
    }
}

/// A request, exactly as it goes on the wire (less `Host` and framing headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: Url,
    /// In the order they are sent.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl OutgoingRequest {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// In the order received; names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (invalid UTF-8 is replaced, and said so by [`Response::is_utf8`]).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Whether the body is valid UTF-8.
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.body).is_ok()
    }
}

/// Why no response was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("could not connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("TLS with {host} failed: {reason}. {}", tls::advice(reason))]
    Tls { host: String, reason: String },
    #[error("no complete answer within {0:?} (--request-timeout)")]
    Timeout(Duration),
    #[error("the body is larger than {limit} bytes (--max-body-bytes); stopped reading")]
    BodyTooLarge { limit: usize },
    #[error(
        "the answer announces a body of {length} bytes (Content-Length), more than {limit} \
         (--max-body-bytes); not read"
    )]
    BodyAnnouncedTooLarge { length: u64, limit: usize },
    #[error("the exchange failed: {0}")]
    Protocol(String),
    #[error(
        "the answer ({status}) broke off after {received} bytes of its body{}: {reason}",
        announced.map(|n| format!(", of {n} announced (Content-Length)")).unwrap_or_default()
    )]
    BodyBroken {
        status: u16,
        received: usize,
        announced: Option<u64>,
        reason: String,
    },
    #[error("cannot build the request: {0}")]
    Invalid(String),
}

/// The run's HTTP client.
#[derive(Clone)]
pub struct HttpClient {
    reqwest: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    config: HttpConfig,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .finish()
    }
}

/// The chain of `source()` messages, which is where reqwest keeps the reason.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether an error chain comes from certificate verification.
fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // `io::Error::source` skips the error it wraps, so look inside it too.
        let wrapped = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        if wrapped || s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        let text = s.to_string();
        if text.contains("certificate")
            || text.contains("InvalidCertificate")
            || text.contains("tls handshake")
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Whether a request with `method` changes nothing on the server (RFC 9110 §9.2.1), so that
/// sending it again cannot change a verdict. (`DELETE` is idempotent but not this: a second
/// `DELETE` of a task the first one deleted answers 404.)
fn changes_nothing(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

impl HttpClient {
    /// Builds the client; fails only on an unusable TLS setting.
    pub fn new(config: HttpConfig) -> Result<HttpClient, TlsSetupError> {
        let tls = tls::client_config(&config.trust)?;
        let reqwest = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .http1_only()
            .referer(false)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| TlsSetupError::Rustls(rustls::Error::General(error_chain(&e))))?;
        Ok(HttpClient {
            reqwest,
            tls,
            config,
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Sends `req` and reads the whole answer, within the request timeout.
    pub async fn send(&self, req: &OutgoingRequest) -> Result<Response, HttpError> {
        let started = Instant::now();
        let limit = self.config.request_timeout;
        let exchange = async {
            let pooled = self.config.pool_changes || changes_nothing(&req.method);
            if req.header("accept").is_some() && pooled {
                self.send_pooled(req).await
            } else {
                self.on_new_connection(req).await
            }
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok((status, headers, body))) => Ok(Response {
                status,
                headers,
                body,
                elapsed: started.elapsed(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(HttpError::Timeout(limit)),
        }
    }

    fn classify(
        &self,
        url: &Url,
        e: &(dyn std::error::Error + 'static),
        connecting: bool,
    ) -> HttpError {
        let host = host_of(url);
        let reason = error_chain(e);
        if is_tls_error(e) {
            // The innermost cause names the certificate problem; the wrappers only repeat the URL.
            let mut cause = e;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            HttpError::Tls {
                host,
                reason: cause.to_string(),
            }
        } else if connecting {
            HttpError::Connect { host, reason }
        } else {
            HttpError::Protocol(reason)
        }
    }

    async fn send_pooled(
        &self,
        req: &OutgoingRequest,
    ) -> Result<(u16, Vec<(String, String)>, Bytes), HttpError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| HttpError::Invalid(e.to_string()))?;
        let mut builder = self.reqwest.request(method, req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            // No answer at all on a pooled connection (the server closed it as the request went
            // out): the request changes nothing, so it goes once more on a connection of its own.
            Err(e) if !e.is_connect() && !e.is_timeout() && !is_tls_error(&e) => {
                return self.on_new_connection(req).await;
            }
            Err(e) => return Err(self.classify(&req.url, &e, e.is_connect())),
        };
        let status = response.status().as_u16();
        let headers = header_list(response.headers());
        let mut body = BodyReader::start(status, response.headers(), &self.config)?;
        while let Some(chunk) = response.chunk().await.map_err(|e| body.broken(&e))? {
            body.push(&chunk)?;
        }
        Ok((status, headers, body.finish()))
    }

    /// [`HttpClient::send_on_new_connection`], boxed: its future (a TCP connect, a TLS handshake,
    /// a hyper connection) is kilobytes, and inline it would make every request's future, and so
    /// every trial's, that large, to be copied in full as each trial starts, though against the
    /// fixture it is seldom taken.
    async fn on_new_connection(
        &self,
        req: &OutgoingRequest,
    ) -> Result<(u16, Vec<(String, String)>, Bytes), HttpError> {
        Box::pin(self.send_on_new_connection(req)).await
    }

    /// One request on a connection of its own, with exactly the given headers.
    async fn send_on_new_connection(
        &self,
        req: &OutgoingRequest,
    ) -> Result<(u16, Vec<(String, String)>, Bytes), HttpError> {
        let url = &req.url;
        let host = url
            .host_str()
            .ok_or_else(|| HttpError::Invalid(format!("no host in {url}")))?;
        // An IPv6 address is written `[::1]` in a URL, and without brackets everywhere else.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(80);
        let connect = tokio::net::TcpStream::connect((host, port));
        let tcp = tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .map_err(|_| HttpError::Connect {
                host: host_of(url),
                reason: format!(
                    "no connection within {:?} (--connect-timeout)",
                    self.config.connect_timeout
                ),
            })?
            .map_err(|e| self.classify(url, &e, true))?;
        let _ = tcp.set_nodelay(true);
        if url.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| HttpError::Invalid(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Tls {
                    host: host_of(url),
                    reason: error_chain(&e),
                })?;
            self.exchange_raw(hyper_util::rt::TokioIo::new(tls), req)
                .await
        } else {
            self.exchange_raw(hyper_util::rt::TokioIo::new(tcp), req)
                .await
        }
    }

    async fn exchange_raw<IO>(
        &self,
        io: IO,
        req: &OutgoingRequest,
    ) -> Result<(u16, Vec<(String, String)>, Bytes), HttpError>
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| HttpError::Protocol(error_chain(&e)))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let url = &req.url;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(path)
            .header("host", authority);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = http_body_util::Full::new(Bytes::from(req.body.clone().unwrap_or_default()));
        let request = builder
            .body(body)
            .map_err(|e| HttpError::Invalid(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError::Protocol(error_chain(&e)))?;
        let status = response.status().as_u16();
        let headers = header_list(response.headers());
        let read = async {
            let mut body = BodyReader::start(status, response.headers(), &self.config)?;
            let mut body_stream = response.into_body();
            while let Some(frame) = body_stream.frame().await {
                let frame = frame.map_err(|e| body.broken(&e))?;
                if let Ok(data) = frame.into_data() {
                    body.push(&data)?;
                }
            }
            Ok(body.finish())
        };
        let body = read.await;
        driver.abort();
        Ok((status, headers, body?))
    }
}

/// Reads a body within the limit: refused before reading when its `Content-Length` is over it,
/// stopped as soon as it passes it otherwise; a body that breaks off says how much had come.
struct BodyReader {
    status: u16,
    announced: Option<u64>,
    limit: usize,
    body: Vec<u8>,
}

impl BodyReader {
    fn start(
        status: u16,
        headers: &http::HeaderMap,
        config: &HttpConfig,
    ) -> Result<BodyReader, HttpError> {
        let limit = config.max_body_bytes;
        let announced = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(length) = announced.filter(|length| *length > limit as u64) {
            return Err(HttpError::BodyAnnouncedTooLarge { length, limit });
        }
        Ok(BodyReader {
            status,
            announced,
            limit,
            body: Vec::new(),
        })
    }

    fn push(&mut self, data: &[u8]) -> Result<(), HttpError> {
        if self.body.len() + data.len() > self.limit {
            return Err(HttpError::BodyTooLarge { limit: self.limit });
        }
        self.body.extend_from_slice(data);
        Ok(())
    }

    /// The error for a body that could not be read to its end.
    fn broken(&self, e: &(dyn std::error::Error + 'static)) -> HttpError {
        // The innermost cause says what happened (a reset, an early end); the wrappers do not.
        let mut cause = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        HttpError::BodyBroken {
            status: self.status,
            received: self.body.len(),
            announced: self.announced,
            reason: cause.to_string(),
        }
    }

    fn finish(self) -> Bytes {
        Bytes::from(self.body)
    }
}

fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on `[::1]` answering every connection's first request with 200 and a short body.
    async fn ipv6_server() -> Option<Url> {
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.ok()?;
        let port = listener.local_addr().ok()?.port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let answer =
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Url::parse(&format!("http://[::1]:{port}/api/")).ok()
    }

    #[tokio::test]
    async fn requests_on_their_own_connection_reach_an_ipv6_address() {
        let Some(url) = ipv6_server().await else {
            eprintln!("no IPv6 loopback here; nothing to check");
            return;
        };
        let http = HttpClient::new(HttpConfig::default()).unwrap();
        // Without Accept, and a POST: both go on a connection of their own.
        for (method, headers) in [
            ("GET", vec![]),
            (
                "POST",
                vec![("Accept".to_string(), "application/xml".to_string())],
            ),
        ] {
            let request = OutgoingRequest {
                method: method.into(),
                url: url.clone(),
                headers,
                body: None,
            };
            let response = http.send(&request).await.unwrap();
            assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
        }
    }

    /// A keep-alive server answering every request with 202 and no body; counts connections.
    async fn counting_server() -> (Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let answer = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
                            if socket.write_all(answer.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/api/jobs/1?action=retry")).unwrap();
        (url, connections)
    }

    /// Connections used by three POSTs in a row with `pool_changes`.
    async fn connections_for_three_posts(pool_changes: bool) -> usize {
        let (url, connections) = counting_server().await;
        let http = HttpClient::new(HttpConfig {
            pool_changes,
            ..HttpConfig::default()
        })
        .unwrap();
        let request = OutgoingRequest {
            method: "POST".into(),
            url,
            headers: vec![("Accept".into(), "application/xml".into())],
            body: None,
        };
        for _ in 0..3 {
            assert_eq!(http.send(&request).await.unwrap().status, 202);
        }
        connections.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn changes_go_on_their_own_connections_unless_the_server_is_the_fixture() {
        assert_eq!(connections_for_three_posts(false).await, 3);
        assert_eq!(connections_for_three_posts(true).await, 1);
    }
}

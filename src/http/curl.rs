//! A curl command line that reproduces a request, for failure messages.
//!
//! It shows the request as it was really sent: an omitted `Accept` becomes `-H 'Accept:'` (curl
//! would otherwise add one). Secrets are not removed here; the caller passes the line through the
//! run's redactor like every other output.

use super::{OutgoingRequest, Trust};

/// Quotes a word for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The curl command for `req`, with the TLS options that make curl trust what the run trusted.
pub fn curl_line(req: &OutgoingRequest, trust: &Trust) -> String {
    let mut parts = vec!["curl -sS -i".to_string()];
    match trust {
        Trust::Platform => {}
        Trust::CaCert(path) => {
            parts.push(format!("--cacert {}", quote(&path.display().to_string())))
        }
        Trust::Insecure => parts.push("--insecure".to_string()),
    }
    if req.method != "GET" || req.body.is_some() {
        parts.push(format!("-X {}", req.method));
    }
    parts.push(quote(req.url.as_str()));
    if req.header("accept").is_none() {
        parts.push("-H 'Accept:'".to_string());
    }
    for (name, value) in &req.headers {
        parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
    }
    if let Some(body) = &req.body
        && !body.is_empty()
    {
        parts.push(format!(
            "--data-binary {}",
            quote(&String::from_utf8_lossy(body))
        ));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_method_url_headers_and_absent_accept() {
        let req = OutgoingRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:9/api/jobs/x?action=retry"
                .parse()
                .unwrap(),
            headers: vec![
                ("X-RestSvcSessionId".into(), "<redacted>".into()),
                ("Content-Length".into(), "0".into()),
            ],
            body: None,
        };
        assert_eq!(
            curl_line(&req, &Trust::Insecure),
            "curl -sS -i --insecure -X POST 'http://127.0.0.1:9/api/jobs/x?action=retry' -H 'Accept:' \
             -H 'X-RestSvcSessionId: <redacted>' -H 'Content-Length: 0'"
        );
    }

    #[test]
    fn quotes_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}

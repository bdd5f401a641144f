//! The standalone server over plain HTTP and HTTPS, checked with the harness's own client.

use std::path::PathBuf;

use super::{ServeOptions, Server};
use crate::http::{HttpClient, HttpConfig, HttpError, Trust};
use crate::secret::Redactor;
use crate::target_server::{LogonError, session};

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emconform-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

async fn logon(server: &Server, trust: Trust) -> Result<session::Session, LogonError> {
    let http = HttpClient::new(HttpConfig {
        trust,
        ..HttpConfig::default()
    })
    .expect("client");
    session::logon(
        &http,
        server.api_base(),
        &server.credentials(),
        "latest",
        &Redactor::new(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_serves_the_fixture_with_jobs_per_role() {
    let server = Server::start(ServeOptions {
        jobs_per_role: 3,
        ..ServeOptions::default()
    })
    .await
    .expect("starts");
    assert!(server.api_base().as_str().starts_with("http://127.0.0.1:"));
    assert_eq!(server.jobs().len(), 3 * crate::roles::JOB_ROLES.len());
    assert_eq!(server.jobs()[0].0, "failed");
    assert_eq!(server.jobs()[3].0, "failed-hyperv");
    logon(&server, Trust::Platform).await.expect("logon");
    let text = server.describe(None);
    assert!(text.contains(&format!("  API base:     {}", server.api_base())));
    assert!(text.contains(server.credentials().password.expose()));
    let text = server.describe(Some("MY_PW"));
    assert!(!text.contains(server.credentials().password.expose()));
    assert!(text.contains("--password-env MY_PW"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn https_is_trusted_with_the_written_certificate_and_refused_without_it() {
    let cert = temp_file("https.pem");
    let server = Server::start(ServeOptions {
        tls_certificate: Some(cert.clone()),
        ..ServeOptions::default()
    })
    .await
    .expect("starts");
    assert!(server.api_base().as_str().starts_with("https://127.0.0.1:"));
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let session = logon(&server, Trust::CaCert(cert.clone()))
        .await
        .expect("trusted");
    // Hrefs name the address the client called, with https.
    let logout = session.logout_url.expect("a Delete link");
    assert_eq!(logout.origin(), server.api_base().origin());
    logon(&server, Trust::Insecure).await.expect("insecure");

    match logon(&server, Trust::Platform).await {
        Err(LogonError::Http {
            source: HttpError::Tls { host, reason },
            ..
        }) => {
            assert_eq!(
                host,
                format!("127.0.0.1:{}", server.api_base().port().unwrap())
            );
            assert!(reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_port_is_a_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let err = Server::start(ServeOptions {
        port,
        ..ServeOptions::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(
        err.0
            .starts_with(&format!("cannot listen on 127.0.0.1:{port}:")),
        "{err}"
    );
    assert!(err.0.contains("--port"), "{err}");
}

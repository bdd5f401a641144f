//! Logon sessions: creating one (`POST /api/sessionMngr/?v=…`, spec §1.2) and ending it (`DELETE`
//! on the session's `Delete` link, §1.4). The token and the session GUID it encodes are registered
//! with the redactor the moment they arrive.

use url::Url;

use crate::body::{BodyPath, Document, EM_NAMESPACE, Format};
use crate::http::{HttpClient, HttpError, OutgoingRequest};
use crate::secret::{Credentials, Redactor, Secret};

/// The header that carries a session token.
pub const SESSION_HEADER: &str = "X-RestSvcSessionId";

/// A logon session the harness holds.
#[derive(Debug, Clone)]
pub struct Session {
    /// The `X-RestSvcSessionId` value.
    pub token: Secret,
    /// Where to `DELETE` to log out.
    pub logout_url: Option<Url>,
}

/// Why a logon failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogonError {
    #[error(
        "logon to {url} was refused (401): wrong user name or password, or the account holds none of \
         the roles Portal Administrator, Portal User, Restore Operator"
    )]
    Rejected { url: String },
    #[error("logon to {url} answered {status} instead of 201 Created: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("logon to {url} answered 201 without an X-RestSvcSessionId header")]
    NoToken { url: String },
    #[error("logon to {url} failed: {source}")]
    Http { url: String, source: HttpError },
}

/// The logon URL for an API version (`latest`, `v1_7`, ...).
pub fn logon_url(api_base: &Url, api_version: &str) -> Url {
    let mut url = api_base
        .join("sessionMngr/")
        .unwrap_or_else(|_| api_base.clone());
    url.set_query(Some(&format!("v={api_version}")));
    url
}

/// Logs on with Basic credentials.
pub async fn logon(
    http: &HttpClient,
    api_base: &Url,
    credentials: &Credentials,
    api_version: &str,
    redactor: &Redactor,
) -> Result<Session, LogonError> {
    redactor.add_credentials(credentials);
    let url = logon_url(api_base, api_version);
    let shown = url.to_string();
    let request = OutgoingRequest {
        method: "POST".into(),
        url: url.clone(),
        headers: vec![
            ("Accept".into(), Format::Xml.mime().into()),
            (
                "Authorization".into(),
                credentials.basic_authorization().expose().to_string(),
            ),
            ("Content-Length".into(), "0".into()),
        ],
        body: None,
    };
    let response = http
        .send(&request)
        .await
        .map_err(|source| LogonError::Http {
            url: shown.clone(),
            source,
        })?;
    if let Some(token) = response.header(SESSION_HEADER) {
        redactor.add(token);
    }
    match response.status {
        201 => {}
        401 => return Err(LogonError::Rejected { url: shown }),
        status => {
            return Err(LogonError::Unexpected {
                url: shown,
                status,
                body: redactor.redact(&crate::check::clip(&response.text(), 300)),
            });
        }
    }
    let token = response
        .header(SESSION_HEADER)
        .ok_or_else(|| LogonError::NoToken { url: shown.clone() })?
        .to_string();
    let text = response.text();
    let mut logout_url = None;
    if let Ok(doc) = Document::parse(&text, Format::Xml) {
        let field = |p: &str| {
            BodyPath::parse(p)
                .ok()
                .and_then(|p| {
                    p.resolve(&std::collections::BTreeMap::new())
                        .ok()
                        .map(std::borrow::Cow::into_owned)
                })
                .and_then(|p| doc.select(&p, EM_NAMESPACE).values.into_iter().next())
        };
        if let Some(id) = field("SessionId") {
            redactor.add(&id);
        }
        logout_url = field(r#"Links/Link[@Rel="Delete"]/@Href"#).and_then(|h| Url::parse(&h).ok());
    }
    if logout_url.is_none() {
        logout_url = response.header("location").and_then(|h| Url::parse(h).ok());
    }
    Ok(Session {
        token: Secret::new(token),
        logout_url,
    })
}

/// Ends a session; returns what went wrong, if anything, for a warning.
pub async fn logout(http: &HttpClient, session: &Session) -> Result<(), String> {
    let Some(url) = &session.logout_url else {
        return Err("the logon answer had no Delete link or Location to log out with".into());
    };
    let request = OutgoingRequest {
        method: "DELETE".into(),
        url: url.clone(),
        headers: vec![
            ("Accept".into(), Format::Xml.mime().into()),
            (SESSION_HEADER.into(), session.token.expose().to_string()),
        ],
        body: None,
    };
    match http.send(&request).await {
        Ok(r) if r.status == 204 || r.status == 200 => Ok(()),
        Ok(r) => Err(format!("logout answered {}", r.status)),
        Err(e) => Err(format!("logout failed: {e}")),
    }
}

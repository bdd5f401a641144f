//! Secrets: credentials that must never be printed, and the redactor that keeps them out of every
//! message, report and snapshot.
//!
//! A password, a session token (and the session GUID it encodes), and an `Authorization` header are
//! registered with the run's [`Redactor`] the moment they are known; everything the harness writes
//! goes through [`Redactor::redact`] first.

use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// What replaces a secret in output.
pub const REDACTED: &str = "<redacted>";

/// A string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// An Enterprise Manager account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// User name as EM expects it, e.g. `DOMAIN\user`.
    pub user: String,
    /// The password, never printed.
    pub password: Secret,
}

impl Credentials {
    /// An account.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: Secret::new(password),
        }
    }

    /// The value of an `Authorization: Basic ...` header for this account.
    pub fn basic_authorization(&self) -> Secret {
        Secret(format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.user, self.password.expose()))
        ))
    }
}

/// Replaces every registered secret (and its base64 forms) in text.
///
/// Cloning shares the set, so a token captured inside one trial is redacted everywhere.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret. Its base64 encoding and, when it is base64 of text (as EM session tokens
    /// are), the decoded text are registered too. Values shorter than 4 characters are ignored: they
    /// would redact ordinary text.
    pub fn add(&self, secret: &str) {
        let mut forms = vec![secret.to_string(), BASE64.encode(secret)];
        if let Ok(bytes) = BASE64.decode(secret.trim())
            && let Ok(text) = String::from_utf8(bytes)
            && text.chars().all(|c| !c.is_control())
        {
            forms.push(text);
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if form.len() >= 4 && !secrets.contains(&form) {
                secrets.push(form);
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Registers every form of an account's password and its Basic header.
    pub fn add_credentials(&self, credentials: &Credentials) {
        self.add(credentials.password.expose());
        let header = credentials.basic_authorization();
        if let Some(token) = header.expose().strip_prefix("Basic ") {
            self.add(token);
        }
    }

    /// The text with every secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials::new("DOMAIN\\admin", "hunter22");
        assert!(!format!("{c:?}").contains("hunter22"));
        assert!(!format!("{}", c.password).contains("hunter22"));
    }

    #[test]
    fn redacts_plain_base64_and_decoded_forms() {
        let r = Redactor::new();
        let guid = "5b6c0f44-1a2b-4c3d-8e9f-001122334455";
        let token = BASE64.encode(guid);
        r.add(&token);
        let text = format!("token {token} guid {guid} done");
        assert_eq!(r.redact(&text), "token <redacted> guid <redacted> done");
    }

    #[test]
    fn redacts_credentials_and_basic_header() {
        let r = Redactor::new();
        let c = Credentials::new("admin", "s3cret-pw");
        r.add_credentials(&c);
        let header = c.basic_authorization();
        let out = r.redact(&format!("pw=s3cret-pw auth={}", header.expose()));
        assert!(!out.contains("s3cret-pw"));
        assert!(!out.contains(header.expose().trim_start_matches("Basic ")));
    }
}

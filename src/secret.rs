//! Secrets: credentials that must never be printed, and the redactor that keeps them out of every
//! message, report and snapshot.
//!
//! A password, a session token (and the session GUID it encodes), and an `Authorization` header are
//! registered with the run's [`Redactor`] the moment they are known; everything the harness writes
//! goes through [`Redactor::redact`] first.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
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
    secrets: Arc<RwLock<Registry>>,
}

/// The registered secrets, indexed for finding all of them in one pass over a text.
///
/// A run registers a few secrets per logon and redacts every normalised response, so with
/// thousands of trials there are thousands of secrets: searching for each in turn grew with their
/// number (and an Aho-Corasick automaton would have to be rebuilt at every logon). Instead each
/// secret is filed under its first four bytes, and a text is scanned once: a position is ruled out
/// by one bit test unless some secret starts with its two bytes, then by a second unless one
/// starts with its four. Registering costs nothing more than a hash-map insertion.
#[derive(Default)]
struct Registry {
    /// Secrets (at least 4 bytes long) by their first four bytes.
    by_prefix: HashMap<[u8; 4], Vec<String>>,
    /// What rules positions out, made with the first secret.
    filters: Option<Box<Filters>>,
    /// The secrets given to [`Redactor::add`] (each with all its forms filed above).
    added: HashSet<String>,
}

/// 65,536 bits.
type Bits = [u64; 1 << 10];

/// The two bit tests a position of a text takes before the secrets are looked up.
struct Filters {
    /// Bit [`pair_of`] is set when some secret starts with those two bytes: the first test,
    /// without arithmetic.
    pairs: Bits,
    /// Bit [`slot`] of the first four bytes of every secret is set (a hash: a set bit may be
    /// another prefix's).
    prefixes: Bits,
}

/// Whether bit `at` of `bits` is set. (`% bits.len()` lets the compiler drop the bounds check.)
fn bit_set(bits: &Bits, at: usize) -> bool {
    bits[(at / 64) % bits.len()] & (1 << (at % 64)) != 0
}

/// Sets bit `at` of `bits`.
fn set_bit(bits: &mut Bits, at: usize) {
    bits[(at / 64) % bits.len()] |= 1 << (at % 64);
}

/// Where a 4-byte prefix falls in [`Filters::pairs`]: its first two bytes.
fn pair_of(prefix: [u8; 4]) -> usize {
    usize::from(u16::from_le_bytes([prefix[0], prefix[1]]))
}

/// Where a 4-byte prefix falls in [`Filters::prefixes`] (Fibonacci hashing to 16 bits).
fn slot(prefix: [u8; 4]) -> usize {
    (u32::from_le_bytes(prefix).wrapping_mul(0x9E37_79B1) >> 16) as usize
}

impl Registry {
    /// Files a secret; whether it was new.
    fn insert(&mut self, secret: String) -> bool {
        let Some(prefix) = secret.as_bytes().first_chunk::<4>().copied() else {
            return false;
        };
        let filed = self.by_prefix.entry(prefix).or_default();
        if filed.contains(&secret) {
            return false;
        }
        filed.push(secret);
        let filters = self.filters.get_or_insert_with(|| {
            Box::new(Filters {
                pairs: [0; 1 << 10],
                prefixes: [0; 1 << 10],
            })
        });
        set_bit(&mut filters.pairs, pair_of(prefix));
        set_bit(&mut filters.prefixes, slot(prefix));
        true
    }

    /// Byte ranges of every occurrence of every secret, overlapping ones merged.
    fn occurrences(&self, text: &str) -> Vec<Range<usize>> {
        let mut merged: Vec<Range<usize>> = Vec::new();
        let Some(filters) = &self.filters else {
            return merged;
        };
        let bytes = text.as_bytes();
        for (at, window) in bytes.array_windows::<4>().enumerate() {
            let prefix = *window;
            if !bit_set(&filters.pairs, pair_of(prefix))
                || !bit_set(&filters.prefixes, slot(prefix))
            {
                continue;
            }
            let Some(candidates) = self.by_prefix.get(&prefix) else {
                continue;
            };
            for secret in candidates {
                if bytes[at..].starts_with(secret.as_bytes()) {
                    let end = at + secret.len();
                    // Occurrences are found in order of their start: extend the last stretch or
                    // begin a new one.
                    match merged.last_mut() {
                        Some(last) if at <= last.end => last.end = last.end.max(end),
                        _ => merged.push(at..end),
                    }
                }
            }
        }
        merged
    }
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
        // The session token comes back on many responses: once is enough.
        if (self.secrets.read().unwrap_or_else(|e| e.into_inner()))
            .added
            .contains(secret)
        {
            return;
        }
        let mut forms = vec![secret.to_string(), BASE64.encode(secret)];
        if let Ok(bytes) = BASE64.decode(secret.trim())
            && let Ok(text) = String::from_utf8(bytes)
            && text.chars().all(|c| !c.is_control())
        {
            forms.push(text);
        }
        let mut registry = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        registry.added.insert(secret.to_string());
        for form in forms {
            registry.insert(form);
        }
    }

    /// Registers every form of an account's password and its Basic header.
    pub fn add_credentials(&self, credentials: &Credentials) {
        self.add(credentials.password.expose());
        let header = credentials.basic_authorization();
        if let Some(token) = header.expose().strip_prefix("Basic ") {
            self.add(token);
        }
    }

    /// The text with every secret replaced by [`REDACTED`]. Where secrets overlap (one inside
    /// another, or sharing characters), the whole stretch they cover is replaced once, so no part
    /// of any of them is left.
    pub fn redact(&self, text: &str) -> String {
        self.redacted(text).into_owned()
    }

    /// [`Redactor::redact`], borrowing the text when it holds no secret (as most do).
    pub fn redacted<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let registry = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let occurrences = registry.occurrences(text);
        if occurrences.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for range in occurrences {
            out.push_str(&text[at..range.start]);
            out.push_str(REDACTED);
            at = range.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
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

    #[test]
    fn overlapping_secrets_leave_nothing_of_either() {
        let r = Redactor::new();
        r.add("abcdefgh");
        r.add("efghijkl");
        r.add("wxyz");
        assert_eq!(
            r.redact("1 abcdefghijkl 2 wxyz 3 abcdefgh 4"),
            "1 <redacted> 2 <redacted> 3 <redacted> 4"
        );
        assert_eq!(r.redact("nothing here"), "nothing here");
        assert_eq!(Redactor::new().redact("no secrets"), "no secrets");
    }

    #[test]
    fn every_secret_is_found_however_many_are_registered() {
        // Many secrets, several sharing their first four bytes, none shorter than four.
        let r = Redactor::new();
        r.add("abc");
        assert_eq!(r.redact("abc abcd"), "abc abcd");
        let secrets: Vec<String> = (0..2000)
            .map(|n| format!("secret-number-{n:04}"))
            .chain((0..50).map(|n| format!("{n:04}-other")))
            .collect();
        for s in &secrets {
            r.add(s);
        }
        for s in &secrets {
            assert_eq!(r.redact(&format!("<{s}>")), "<<redacted>>", "{s}");
        }
    }

    #[test]
    fn secrets_are_found_at_every_position_of_a_text() {
        // Each secret at the very start, in the middle and at the very end of texts of every
        // length, next to bytes that share its first two (the first filter lets those through).
        let r = Redactor::new();
        // The last starts with a two-byte character: its first two bytes are one character.
        let secrets = ["wxyz", "wxab-secret", "ab\u{e9}cd", "\u{e9}t\u{e9}s"];
        for secret in secrets {
            r.add(secret);
        }
        for secret in secrets {
            for before in ["", "w", "wx", "wxa", "abab wx", "\u{e9}", "\u{e9}t"] {
                for after in ["", "w", "wx", " wxy"] {
                    let text = format!("{before}{secret}{after}");
                    assert_eq!(
                        r.redact(&text),
                        format!("{before}<redacted>{after}"),
                        "{text:?}"
                    );
                }
            }
        }
        for text in ["", "w", "wx", "wxy", "wxa", "wxyy"] {
            assert_eq!(r.redact(text), text);
        }
    }
}

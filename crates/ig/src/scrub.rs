//! Keeps secrets out of text: every configured secret (password, API key, the password of a
//! `user:password@` URL) and every session token the client was given is replaced by
//! `[redacted]` in error texts and logs built from what a server sent.

use std::collections::VecDeque;
use std::sync::{PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};

/// What replaces a secret.
const REDACTED: &str = "[redacted]";
/// Session tokens remembered (the newest): older ones were replaced long ago.
const MAX_TOKENS: usize = 32;
/// Shorter values are not scrubbed: they would mangle ordinary text and hide nothing.
const MIN_LEN: usize = 3;

/// The secrets to scrub: fixed ones from the configuration and the latest session tokens.
#[derive(Default)]
pub(crate) struct Scrubber {
    fixed: Vec<SecretString>,
    tokens: RwLock<VecDeque<SecretString>>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber").finish_non_exhaustive()
    }
}

impl Scrubber {
    /// Scrubs `secrets` (empty ones are ignored) and their JSON-escaped forms.
    pub(crate) fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        let mut fixed = Vec::new();
        for s in secrets {
            push_forms(&mut fixed, s.expose_secret());
        }
        Self {
            fixed,
            tokens: RwLock::new(VecDeque::new()),
        }
    }

    /// Adds session tokens (the newest [`MAX_TOKENS`] are kept).
    pub(crate) fn remember(&self, tokens: &[&SecretString]) {
        let mut t = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            let mut forms = Vec::new();
            push_forms(&mut forms, token.expose_secret());
            for f in forms {
                if !t.iter().any(|k| k.expose_secret() == f.expose_secret()) {
                    t.push_back(f);
                }
            }
        }
        while t.len() > MAX_TOKENS {
            t.pop_front();
        }
    }

    /// `text` with every known secret replaced.
    pub(crate) fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        for s in self.fixed.iter().chain(tokens.iter()) {
            let s = s.expose_secret();
            if out.contains(s) {
                out = out.replace(s, REDACTED);
            }
        }
        out
    }

    /// Lossily decoded `body` with every known secret replaced.
    pub(crate) fn bytes(&self, body: &[u8]) -> String {
        self.text(&String::from_utf8_lossy(body))
    }
}

fn push_forms(into: &mut Vec<SecretString>, s: &str) {
    if s.chars().count() < MIN_LEN {
        return;
    }
    into.push(SecretString::from(s.to_string()));
    // As it appears inside a JSON string (a server echoing the login body).
    if let Ok(json) = serde_json::to_string(s) {
        let inner = &json[1..json.len() - 1];
        if inner != s {
            into.push(SecretString::from(inner.to_string()));
        }
    }
    // Percent-decoded (a URL's password is stored encoded).
    if s.contains('%') {
        let decoded = percent_encoding::percent_decode_str(s).decode_utf8_lossy();
        if decoded != s && decoded.chars().count() >= MIN_LEN {
            into.push(SecretString::from(decoded.into_owned()));
        }
    }
}

/// `url` with the `user:password@` part (if any) replaced, for messages. Works on text that
/// does not parse as a URL too.
pub fn redact_url(url: &str) -> String {
    let Some(i) = url.find("://") else {
        // Not a URL: hide everything before an `@`, wherever it is.
        return match url.rfind('@') {
            Some(at) => format!("{REDACTED}@{}", &url[at + 1..]),
            None => url.to_string(),
        };
    };
    let (scheme, rest) = (&url[..i + 3], &url[i + 3..]);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}{REDACTED}@{}{tail}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

/// The password of a `user:password@` URL (encoded as written), if any.
pub(crate) fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_secrets_and_their_escaped_forms() {
        let s = Scrubber::new([
            SecretString::from("pa\"ss-word"),
            SecretString::from("KEY-123"),
            SecretString::from("ab"),
            SecretString::from(""),
        ]);
        s.remember(&[&SecretString::from("CST-TOKEN-1")]);
        let text = r#"{"password":"pa\"ss-word","key":"KEY-123","cst":"CST-TOKEN-1","x":"ab"}"#;
        let out = s.text(text);
        assert!(!out.contains("ss-word") && !out.contains("KEY-123") && !out.contains("CST-TOKEN"));
        assert!(out.contains("\"ab\""), "short values are left alone: {out}");
    }

    #[test]
    fn remembers_a_bounded_number_of_tokens() {
        let s = Scrubber::new([]);
        for i in 0..100 {
            s.remember(&[&SecretString::from(format!("TOKEN-{i:03}"))]);
        }
        assert_eq!(s.tokens.read().unwrap().len(), MAX_TOKENS);
        assert_eq!(s.text("TOKEN-099"), REDACTED);
    }

    #[test]
    fn redacts_url_credentials() {
        for (url, want) in [
            (
                "http://user:hunter2@host:1/x?y",
                "http://[redacted]@host:1/x?y",
            ),
            ("https://host/path@x", "https://host/path@x"),
            ("ht!tp://u:p%40ss@h", "ht!tp://[redacted]@h"),
            ("user:pw@host", "[redacted]@host"),
            ("http//me:pw@", "[redacted]@"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
        assert_eq!(
            url_password("http://u:p%40ss@h/x").as_deref(),
            Some("p%40ss")
        );
        assert_eq!(url_password("http://u@h/x"), None);
        assert_eq!(url_password("http://h/x:y@z"), None);
    }
}

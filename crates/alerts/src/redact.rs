//! Scrubbing secrets out of alert text: every configured secret (channel tokens, webhook URLs,
//! the SMTP password, IG's password and API key) is replaced wherever it appears, and shapes
//! that carry secrets are cut whatever their value: a URL keeps only its scheme and host, a
//! Telegram bot token, `Bearer` tokens and `password=`/`token=`-style pairs lose their value.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not searched for (they would cut ordinary words).
const MIN_SECRET_LEN: usize = 6;

/// Keys whose value is a secret in `key=value`, `key: value` and `"key":"value"` forms
/// (compared case-insensitively).
const SECRET_KEYS: [&str; 11] = [
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "secret",
    "cst",
    "x-security-token",
];

/// The scrubber: the known secrets plus the shape rules.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret to search for (its URL-decoded and -encoded forms are the same text here:
    /// tokens are URL-safe).
    pub fn add(&mut self, secret: &SecretString) {
        let s = secret.expose_secret().trim();
        if s.chars().count() >= MIN_SECRET_LEN {
            self.secrets.push(SecretString::from(s.to_string()));
            // Longest first, so a secret containing another is cut whole.
            self.secrets
                .sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
        }
    }

    /// `text` with every known secret and every secret-shaped value replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            let s = s.expose_secret();
            if out.contains(s) {
                out = out.replace(s, REDACTED);
            }
        }
        let out = scrub_urls(&out);
        let out = scrub_bot_tokens(&out);
        let out = scrub_bearer(&out);
        scrub_pairs(&out)
    }
}

fn is_url_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}' | ',')
}

/// Every `scheme://…` keeps its scheme and host (without user info); the rest goes.
fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (before, after) = rest.split_at(i);
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .count();
        out.push_str(before);
        let after = &after[3..];
        let end = after.find(is_url_end).unwrap_or(after.len());
        let url = &after[..end];
        if scheme_len == 0 {
            out.push_str("://");
            rest = after;
            continue;
        }
        let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..auth_end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        out.push_str("://");
        if authority.contains('@') {
            out.push_str(REDACTED);
            out.push('@');
        }
        out.push_str(host);
        let tail = &url[auth_end..];
        if tail == "/" {
            out.push('/');
        } else if !tail.is_empty() {
            out.push('/');
            out.push_str(REDACTED);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Telegram bot tokens (`123456789:AAF…`, with or without the `bot` prefix of the API path).
fn scrub_bot_tokens(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if at_word_start && chars[i].is_ascii_digit() {
            let digits = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let colon = i + digits;
            if digits >= 5 && chars.get(colon) == Some(&':') {
                let tail = chars[colon + 1..]
                    .iter()
                    .take_while(|c| is_token_char(**c))
                    .count();
                if tail >= 20 {
                    out.push_str(REDACTED);
                    i = colon + 1 + tail;
                    continue;
                }
            }
        }
        // `bot123:…` as in an API path.
        if chars[i..].starts_with(&['b', 'o', 't'])
            && chars.get(i + 3).is_some_and(char::is_ascii_digit)
            && at_word_start
        {
            out.push_str("bot");
            i += 3;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `Bearer <token>` and `Basic <credentials>` (any case).
fn scrub_bearer(text: &str) -> String {
    let mut out = text.to_string();
    for scheme in ["bearer ", "basic "] {
        out = scrub_after(&out, scheme);
    }
    out
}

fn scrub_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(marker) {
        let start = pos + found + marker.len();
        out.push_str(&text[pos..start]);
        let len = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
            .unwrap_or(text.len() - start);
        if len > 0 {
            out.push_str(REDACTED);
        }
        pos = start + len;
    }
    out.push_str(&text[pos..]);
    out
}

/// `password=…`, `token: …`, `"api_key":"…"`: the value goes.
fn scrub_pairs(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut i = 0;
    while i < bytes.len() {
        let key = SECRET_KEYS.iter().find(|k| {
            bytes[i..].starts_with(k.as_bytes())
                && (i == 0 || !is_token_char(char::from(bytes[i - 1])))
                && !bytes
                    .get(i + k.len())
                    .is_some_and(|b| is_token_char(char::from(*b)))
        });
        let Some(key) = key else {
            i += 1;
            continue;
        };
        let mut j = i + key.len();
        if bytes.get(j) == Some(&b'"') || bytes.get(j) == Some(&b'\'') {
            j += 1;
        }
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        if !matches!(bytes.get(j), Some(b'=' | b':')) {
            i += key.len();
            continue;
        }
        j += 1;
        while matches!(bytes.get(j), Some(b' ' | b'"' | b'\'')) {
            j += 1;
        }
        let len = text[j..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '&' | ';' | '}'))
            .unwrap_or(text.len() - j);
        if len == 0 || text[j..].starts_with(REDACTED) {
            i = j;
            continue;
        }
        out.push_str(&text[pos..j]);
        out.push_str(REDACTED);
        pos = j + len;
        i = pos;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        let mut r = Redactor::new();
        r.add(&SecretString::from("hunter2-smtp-pass".to_string()));
        r.add(&SecretString::from("abc".to_string()));
        r
    }

    #[test]
    fn secrets_and_secret_shapes_are_cut() {
        let cases = [
            (
                "login failed: wrong hunter2-smtp-pass",
                "login failed: wrong [redacted]",
            ),
            (
                "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage: 401",
                "POST https://api.telegram.org/[redacted] 401",
            ),
            (
                "token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw refused",
                "token [redacted] refused",
            ),
            (
                "error sending request for url (https://user:pw@hooks.example.com/services/T0/B0/XYZ?x=1)",
                "error sending request for url (https://[redacted]@hooks.example.com/[redacted])",
            ),
            ("Authorization: Bearer eyJabc.def", "Authorization: Bearer [redacted]"),
            ("{\"password\":\"s3cr3t\",\"user\":\"bob\"}", "{\"password\":\"[redacted]\",\"user\":\"bob\"}"),
            ("api_key=K123&x=1 token: zzz", "api_key=[redacted]&x=1 token: [redacted]"),
            ("a passwordless account, tokens: none", "a passwordless account, tokens: none"),
            ("the abc of it", "the abc of it"),
            ("https://example.com/", "https://example.com/"),
        ];
        let r = r();
        for (input, want) in cases {
            assert_eq!(r.scrub(input), want, "{input}");
        }
    }

    #[test]
    fn text_that_is_not_ascii_is_scrubbed_without_panicking() {
        let r = r();
        assert_eq!(
            r.scrub("P&L £12 — pässword password=x€y é token:ü"),
            "P&L £12 — pässword password=[redacted] é token:[redacted]"
        );
    }

    proptest::proptest! {
        #[test]
        fn scrubbing_never_panics_and_never_leaves_a_known_secret(
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
        ) {
            let r = r();
            let out = r.scrub(&format!("{before}hunter2-smtp-pass{after}"));
            proptest::prop_assert!(!out.contains("hunter2-smtp-pass"), "{}", out);
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        assert!(!format!("{:?}", r()).contains("hunter2"));
    }
}

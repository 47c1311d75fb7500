//! The control endpoints' authentication: a bearer token compared in constant time (SHA-256 of
//! both sides, so neither the content nor the length of the token leaks through timing), and a
//! [`Throttle`] on failed attempts per source address, so the token cannot be guessed at
//! speed. The token is never logged or echoed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The expected token, kept as its digest.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(redacted)")
    }
}

impl Token {
    /// `None` for an empty (or all-whitespace) token.
    pub fn new(secret: &SecretString) -> Option<Self> {
        let t = secret.expose_secret().trim();
        (!t.is_empty()).then(|| Self {
            digest: Sha256::digest(t.as_bytes()).into(),
        })
    }

    /// Whether an `Authorization` header value carries this token (`Bearer <token>`).
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(given) = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
        else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.trim_ascii()).into();
        bool::from(given.ct_eq(&self.digest))
    }
}

/// Failed attempts a source may make per [`FAILURE_WINDOW`]; past that it is refused (429)
/// before its token is looked at, until its oldest failure leaves the window.
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered at most (beyond that the one that failed longest ago is forgotten).
const SOURCES_KEPT: usize = 4096;

/// Failed control attempts by source address, over a sliding window.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Throttle {
    /// `Err(retry_after)` when `source` has used up its failures in the window.
    pub fn check(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let Some(seen) = map.get_mut(&source) else {
            return Ok(());
        };
        forget_old(seen, now);
        if seen.len() < MAX_FAILURES {
            return Ok(());
        }
        let oldest = seen.front().copied().unwrap_or(now);
        Err((oldest + FAILURE_WINDOW).saturating_duration_since(now))
    }

    /// Counts a failed attempt from `source`.
    pub fn failed(&self, source: IpAddr, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if !map.contains_key(&source) && map.len() >= SOURCES_KEPT {
            map.retain(|_, seen| {
                forget_old(seen, now);
                !seen.is_empty()
            });
            if map.len() >= SOURCES_KEPT {
                let stalest = map
                    .iter()
                    .min_by_key(|(_, seen)| seen.back().copied())
                    .map(|(ip, _)| *ip);
                if let Some(ip) = stalest {
                    map.remove(&ip);
                }
            }
        }
        let seen = map.entry(source).or_default();
        forget_old(seen, now);
        seen.push_back(now);
        if seen.len() > MAX_FAILURES {
            seen.pop_front();
        }
    }
}

fn forget_old(seen: &mut VecDeque<Instant>, now: Instant) {
    while seen
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= FAILURE_WINDOW)
    {
        seen.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_throttled_after_its_failures_until_the_window_moves_on() {
        let t = Throttle::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(t.check(a, t0), Ok(()), "attempt {i}");
            t.failed(a, t0 + Duration::from_secs(i as u64));
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(t.check(a, now), Err(Duration::from_secs(50)));
        assert_eq!(t.check(b, now), Ok(()), "another source is not affected");
        // Once the first failure is a minute old, one more attempt is allowed.
        assert_eq!(t.check(a, t0 + FAILURE_WINDOW), Ok(()));
        t.failed(a, t0 + FAILURE_WINDOW);
        assert!(t.check(a, t0 + FAILURE_WINDOW).is_err());
        assert_eq!(t.check(a, t0 + FAILURE_WINDOW * 3), Ok(()));
    }

    #[test]
    fn the_number_of_sources_remembered_is_bounded() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..(SOURCES_KEPT as u32 + 10) {
            t.failed(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(t.failures.lock().unwrap().len() <= SOURCES_KEPT);
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let t = Token::new(&SecretString::from("s3cret-token")).unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret-token")));
        assert!(t.accepts(Some(b"bearer s3cret-token")));
        for wrong in [
            None,
            Some(&b""[..]),
            Some(b"s3cret-token"),
            Some(b"Bearer "),
            Some(b"Bearer s3cret-toke"),
            Some(b"Bearer s3cret-token2"),
            Some(b"Basic s3cret-token"),
        ] {
            assert!(
                !t.accepts(wrong),
                "{:?}",
                wrong.map(String::from_utf8_lossy)
            );
        }
        assert!(Token::new(&SecretString::from("  ")).is_none());
        assert_eq!(format!("{t:?}"), "Token(redacted)");
    }
}

//! The control endpoints' authentication: a bearer token compared in constant time (SHA-256 of
//! both sides, so neither the content nor the length of the token leaks through timing). The
//! token is never logged or echoed.

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

#[cfg(test)]
mod tests {
    use super::*;

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

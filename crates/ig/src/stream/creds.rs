//! Where the stream gets its login from: a [`StreamCredentialSource`] (the REST session
//! manager, [`crate::IgClient`], in production; a fixed value in tests) yielding
//! [`StreamCredentials`].

use std::future::Future;

use secrecy::{ExposeSecret, SecretString};

use crate::{IgClient, IgError, StreamCredentials};

/// `CST-<cst>|XST-<xst>`, IG's `LS_password`. Only for the wire; never log it.
pub(crate) fn password(c: &StreamCredentials) -> SecretString {
    SecretString::from(format!(
        "CST-{}|XST-{}",
        c.cst.expose_secret(),
        c.xst.expose_secret()
    ))
}

/// Supplies stream logins and can force a fresh REST login when the stream reports expired
/// tokens (`CONERR,1`).
pub trait StreamCredentialSource: Send + Sync + 'static {
    /// The current endpoint, account and CST/XST (logging in first if there is no session).
    fn credentials(&self) -> impl Future<Output = Result<StreamCredentials, IgError>> + Send;
    /// Discards the current REST session and logs in again (single-flight in the session
    /// manager), so that the next [`Self::credentials`] call returns fresh tokens.
    fn force_relogin(&self) -> impl Future<Output = Result<(), IgError>> + Send;
}

/// The production source: the REST client's session manager (v2 tokens, or v3 sessions via
/// `GET /session?fetchSessionTokens=true`), with its single-flight re-login.
impl StreamCredentialSource for IgClient {
    fn credentials(&self) -> impl Future<Output = Result<StreamCredentials, IgError>> + Send {
        self.stream_credentials()
    }
    fn force_relogin(&self) -> impl Future<Output = Result<(), IgError>> + Send {
        IgClient::force_relogin(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_tokens() {
        let c = StreamCredentials {
            endpoint: "http://127.0.0.1:1".into(),
            account_id: scalper_model::AccountId::new("ABC123").unwrap(),
            cst: SecretString::from("secret-cst"),
            xst: SecretString::from("secret-xst"),
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert_eq!(
            password(&c).expose_secret(),
            "CST-secret-cst|XST-secret-xst"
        );
    }
}

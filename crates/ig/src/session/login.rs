//! How a session is obtained: v2 login (CST / X-SECURITY-TOKEN from response headers, optional
//! RSA-encrypted password, account switch), v3 OAuth login and refresh. One attempt each: the
//! [`super::SessionManager`] decides when to call them, retries, and installs the result.
//! Every login is a fresh request that carries no auth header of an older session.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::Method;
use scalper_ig_wire::errors::{self, ErrorClass};
use scalper_ig_wire::session::{
    EncryptionKeyResponse, LoginRequest, LoginV2Response, LoginV3Response, OAuthToken,
    RefreshTokenRequest, SwitchAccountRequest,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::{v3_deadlines, Session, Tokens};
use crate::config::{suggested_api_url, IgConfig, SessionVersion};
use crate::error::IgError;
use crate::transport::{Call, Reply, Transport};

/// The login procedures, over a transport and the configured credentials.
pub(super) struct Login<'a> {
    pub transport: &'a Transport,
    pub cfg: &'a IgConfig,
}

fn token_header(reply: &Reply, name: &str) -> Result<SecretString, IgError> {
    reply.header(name).map(SecretString::from).ok_or_else(|| {
        IgError::unexpected(
            "login",
            format!("IG's login answer has no {name} header (wrong environment or a proxy stripping headers?)"),
        )
    })
}

/// base64(password|timestamp) -> RSA PKCS#1 v1.5 with IG's key -> base64.
fn encrypt_password(
    password: &SecretString,
    key: &EncryptionKeyResponse,
) -> Result<String, IgError> {
    use rsa::pkcs8::DecodePublicKey;
    let der = B64
        .decode(key.encryption_key.trim())
        .map_err(|e| IgError::unexpected("encryption key", format!("not base64: {e}")))?;
    let public = rsa::RsaPublicKey::from_public_key_der(&der)
        .map_err(|e| IgError::unexpected("encryption key", format!("not an RSA key: {e}")))?;
    let stamp = key
        .time_stamp
        .ok_or_else(|| IgError::unexpected("encryption key", "no timeStamp"))?;
    let input = B64.encode(format!("{}|{stamp}", password.expose_secret()));
    let mut rng = rand::thread_rng();
    let cipher = public
        .encrypt(&mut rng, rsa::Pkcs1v15Encrypt, input.as_bytes())
        .map_err(|e| IgError::unexpected("password encryption", e))?;
    Ok(B64.encode(cipher))
}

impl Login<'_> {
    /// One login attempt with the configured version (and account, for v2). A 404 that is
    /// not one of IG's own error codes means the URL is not IG's REST API: [`IgError::WrongUrl`].
    pub(super) async fn login(&self) -> Result<Session, IgError> {
        let attempt = match self.cfg.session_version {
            SessionVersion::V2 => self.login_v2().await,
            SessionVersion::V3 => self.login_v3().await,
        };
        attempt.map_err(|e| match e {
            IgError::Api {
                status: 404,
                error_code,
                ..
            } if error_code
                .as_deref()
                .is_none_or(|c| c == errors::code::INVALID_URL) =>
            {
                let url = self.transport.shown_base().to_string();
                IgError::WrongUrl {
                    suggestion: suggested_api_url(&url),
                    url,
                }
            }
            e => e,
        })
    }

    async fn login_v2(&self) -> Result<Session, IgError> {
        let (password, encrypted) = if self.cfg.encrypt_password {
            let key: EncryptionKeyResponse = self
                .transport
                .send(
                    &Call::get("/session/encryptionKey", 1, "encryption key").unauthenticated(),
                    None,
                )
                .await?
                .json("encryption key")?;
            (encrypt_password(&self.cfg.password, &key)?, Some(true))
        } else {
            (self.cfg.password.expose_secret().to_string(), None)
        };
        let body = LoginRequest {
            identifier: self.cfg.username.clone(),
            password,
            encrypted_password: encrypted,
        };
        let call = Call::get("/session", 2, "login")
            .unauthenticated()
            .with_json(Method::POST, &body)?;
        drop(body);
        let reply = self.transport.send(&call, None).await?;
        let cst = token_header(&reply, "CST")?;
        let xst = token_header(&reply, "X-SECURITY-TOKEN")?;
        let resp: LoginV2Response = reply.json_secret("login")?;
        let current = usable_v2_account(
            &resp,
            self.cfg
                .account_id
                .as_ref()
                .map(scalper_model::AccountId::as_str),
        )?;
        let now = Instant::now();
        let mut state = Session {
            tokens: Tokens::V2 { cst, xst },
            generation: 0,
            created: now,
            issued: now,
            account_id: Some(current),
            lightstreamer_endpoint: resp.lightstreamer_endpoint.clone(),
            client_id: resp.client_id.clone(),
            currency: resp.currency_iso_code.clone(),
        };
        if let Some(want) = &self.cfg.account_id {
            if resp.current_account_id.as_deref() != Some(want.as_str()) {
                state = self.switch(state, want.as_str(), None).await?;
            }
        }
        Ok(state)
    }

    /// `PUT /session` (v2): switches account and takes the re-issued tokens from the headers
    /// (keeping a token whose header is absent). A v3 session only changes the account it
    /// names in `IG-ACCOUNT-ID`.
    pub(super) async fn switch(
        &self,
        mut state: Session,
        account: &str,
        default_account: Option<bool>,
    ) -> Result<Session, IgError> {
        if matches!(state.tokens, Tokens::V3 { .. }) {
            state.account_id = Some(account.to_string());
            return Ok(state);
        }
        let body = SwitchAccountRequest {
            account_id: account.to_string(),
            default_account,
        };
        let call = Call::get("/session", 1, "switch account")
            .unauthenticated()
            .with_json(Method::PUT, &body)?;
        match self.transport.send(&call, Some(state.auth())).await {
            Ok(reply) => {
                if let Tokens::V2 { cst, xst } = &mut state.tokens {
                    if let Some(c) = reply.header("CST") {
                        *cst = SecretString::from(c);
                    }
                    if let Some(x) = reply.header("X-SECURITY-TOKEN") {
                        *xst = SecretString::from(x);
                    }
                }
                tracing::info!(account, "switched IG account");
            }
            Err(IgError::Api {
                error_code: Some(code),
                ..
            }) if errors::classify(&code) == ErrorClass::SameAccount => {
                tracing::info!(account, "IG account already active");
            }
            Err(e) => return Err(e),
        }
        state.account_id = Some(account.to_string());
        Ok(state)
    }

    async fn login_v3(&self) -> Result<Session, IgError> {
        let body = LoginRequest {
            identifier: self.cfg.username.clone(),
            password: self.cfg.password.expose_secret().to_string(),
            encrypted_password: None,
        };
        let call = Call::get("/session", 3, "login")
            .unauthenticated()
            .with_json(Method::POST, &body)?;
        drop(body);
        let reply = self.transport.send(&call, None).await?;
        let resp: LoginV3Response = reply.json_secret("login")?;
        let token = resp
            .oauth_token
            .ok_or_else(|| IgError::unexpected("v3 login", "no oauthToken in IG's answer"))?;
        let account_id = self
            .cfg
            .account_id
            .as_ref()
            .map(|a| a.as_str().to_string())
            .or(resp.account_id)
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| IgError::NoAccount {
                detail: "the v3 login answer has no accountId (set IG_ACCOUNT_ID to name one)"
                    .into(),
            })?;
        let now = Instant::now();
        let tokens = v3_tokens(&token, now)?;
        Ok(Session {
            tokens,
            generation: 0,
            created: now,
            issued: now,
            account_id: Some(account_id),
            lightstreamer_endpoint: resp.lightstreamer_endpoint,
            client_id: resp.client_id,
            currency: None,
        })
    }

    /// `POST /session/refresh-token` with the current refresh token (v3 only).
    pub(super) async fn refresh(&self, state: &Session) -> Result<Session, IgError> {
        let Tokens::V3 { refresh, .. } = &state.tokens else {
            return Err(IgError::unexpected("refresh", "not a v3 session"));
        };
        let body = RefreshTokenRequest {
            refresh_token: refresh.expose_secret().to_string(),
        };
        let call = Call::get("/session/refresh-token", 1, "refresh token")
            .unauthenticated()
            .with_json(Method::POST, &body)?;
        drop(body);
        let reply = self.transport.send(&call, None).await?;
        let token: OAuthToken = reply.json_secret("refresh token")?;
        let now = Instant::now();
        let mut next = state.clone();
        next.tokens = v3_tokens(&token, now)?;
        next.issued = now;
        tracing::info!("IG access token refreshed");
        Ok(next)
    }
}

/// The account a v2 login leaves us on, if it is usable: IG names a current account, and
/// the account list (when IG sends one) is not empty, contains it and contains the configured
/// account. Anything else is [`IgError::NoAccount`], not a session.
fn usable_v2_account(resp: &LoginV2Response, wanted: Option<&str>) -> Result<String, IgError> {
    let no_account = |detail: String| Err(IgError::NoAccount { detail });
    let ids: Option<Vec<&str>> = resp
        .accounts
        .as_ref()
        .map(|list| list.iter().map(|a| a.account_id.as_str()).collect());
    if ids.as_ref().is_some_and(Vec::is_empty) {
        return no_account("the account list is empty".into());
    }
    let Some(current) = resp
        .current_account_id
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    else {
        return no_account("no currentAccountId".into());
    };
    if let Some(ids) = &ids {
        if !ids.contains(&current) {
            return no_account(format!(
                "currentAccountId {current} is not among the accounts listed ({})",
                ids.join(", ")
            ));
        }
        if let Some(want) = wanted {
            if !ids.contains(&want) {
                return no_account(format!(
                    "the configured account {want} (IG_ACCOUNT_ID) is not among this login's accounts ({})",
                    ids.join(", ")
                ));
            }
        }
    }
    Ok(current.to_string())
}

fn v3_tokens(token: &OAuthToken, now: Instant) -> Result<Tokens, IgError> {
    if token.access_token.is_empty() || token.refresh_token.is_empty() {
        return Err(IgError::unexpected(
            "v3 OAuth token",
            "empty access or refresh token",
        ));
    }
    let (refresh_due, expires_at) = v3_deadlines(now, token.expires_in.as_deref())?;
    Ok(Tokens::V3 {
        access: SecretString::from(token.access_token.clone()),
        refresh: SecretString::from(token.refresh_token.clone()),
        refresh_due,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_password_decrypts_to_base64_of_password_and_stamp() {
        use rsa::pkcs8::EncodePublicKey;
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 512).unwrap();
        let der = private.to_public_key().to_public_key_der().unwrap();
        let key = EncryptionKeyResponse {
            encryption_key: B64.encode(der.as_bytes()),
            time_stamp: Some(1_700_000_000_000),
        };
        let out = encrypt_password(&SecretString::from("s3cret"), &key).unwrap();
        let plain = private
            .decrypt(rsa::Pkcs1v15Encrypt, &B64.decode(out).unwrap())
            .unwrap();
        let inner = B64.decode(plain).unwrap();
        assert_eq!(inner, b"s3cret|1700000000000");
        let bad = EncryptionKeyResponse {
            encryption_key: "not base64!".into(),
            time_stamp: Some(1),
        };
        assert!(encrypt_password(&SecretString::from("x"), &bad).is_err());
    }
}

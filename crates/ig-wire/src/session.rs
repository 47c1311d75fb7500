//! Session endpoints: login v2/v3, refresh-token, read, switch account, encryption key.
//!
//! Secrets in these structs (password, OAuth tokens) are plain `String`s because they must go on
//! the wire, but every such struct has a hand-written `Debug` that redacts them.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `POST /session` v1/v2/v3 body. v3 ignores `encryptedPassword` (send `None`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginRequest {
    pub identifier: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_password: Option<bool>,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("identifier", &self.identifier)
            .field("password", &"[redacted]")
            .field("encrypted_password", &self.encrypted_password)
            .finish()
    }
}

/// Balance block of the v1/v2 login response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountInfo {
    #[serde(with = "super::num::opt")]
    pub balance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub deposit: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub profit_loss: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub available: Option<Decimal>,
}

/// One account in the v1/v2 login response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionAccount {
    pub account_id: String,
    pub account_name: Option<String>,
    pub preferred: Option<bool>,
    pub account_type: Option<String>,
}

/// `POST /session` v1/v2 response body (tokens come as `CST` / `X-SECURITY-TOKEN` headers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginV2Response {
    pub account_type: Option<String>,
    pub account_info: Option<AccountInfo>,
    pub currency_iso_code: Option<String>,
    pub currency_symbol: Option<String>,
    pub current_account_id: Option<String>,
    pub lightstreamer_endpoint: Option<String>,
    pub accounts: Option<Vec<SessionAccount>>,
    pub client_id: Option<String>,
    /// Hours, per IG's reference.
    #[serde(with = "super::num::opt")]
    pub timezone_offset: Option<Decimal>,
    pub has_active_demo_accounts: Option<bool>,
    pub has_active_live_accounts: Option<bool>,
    pub trailing_stops_enabled: Option<bool>,
    pub rerouting_environment: Option<String>,
    pub dealing_enabled: Option<bool>,
}

/// The `oauthToken` of a v3 login, and the whole body of `POST /session/refresh-token`.
/// `expires_in` is a string of seconds on IG (numbers are accepted too).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthToken {
    pub access_token: String,
    pub refresh_token: String,
    pub scope: Option<String>,
    pub token_type: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub expires_in: Option<String>,
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `POST /session` v3 response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginV3Response {
    pub account_id: Option<String>,
    pub client_id: Option<String>,
    #[serde(with = "super::num::opt")]
    pub timezone_offset: Option<Decimal>,
    pub lightstreamer_endpoint: Option<String>,
    pub oauth_token: Option<OAuthToken>,
    pub account_type: Option<String>,
}

/// `POST /session/refresh-token` v1 body.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshTokenRequest {
    pub refresh_token: String,
}

impl fmt::Debug for RefreshTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshTokenRequest { refresh_token: [redacted] }")
    }
}

/// `GET /session` v1 response (with `fetchSessionTokens=true` the tokens come as headers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionDetails {
    pub client_id: Option<String>,
    pub account_id: Option<String>,
    #[serde(with = "super::num::opt")]
    pub timezone_offset: Option<Decimal>,
    pub locale: Option<String>,
    pub currency: Option<String>,
    pub lightstreamer_endpoint: Option<String>,
}

/// `PUT /session` v1 body (switch account).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SwitchAccountRequest {
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_account: Option<bool>,
}

/// `PUT /session` v1 response (new tokens come as headers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SwitchAccountResponse {
    pub trailing_stops_enabled: Option<bool>,
    pub dealing_enabled: Option<bool>,
    pub has_active_demo_accounts: Option<bool>,
    pub has_active_live_accounts: Option<bool>,
}

/// `GET /session/encryptionKey` v1 response: a base64 SPKI RSA public key and a timestamp (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EncryptionKeyResponse {
    pub encryption_key: String,
    pub time_stamp: Option<i64>,
}

//! IG's error answers: the `{"errorCode": "..."}` body of every 4xx/5xx, the codes scalper emits
//! or branches on ([`code`]), and [`classify`], the one table that says what a code means.
//! The typed client error (`scalper_ig::IgError`) is built from [`ErrorClass`].

use serde::{Deserialize, Serialize};

/// The body of an IG error response. The code may be a dotted identifier or free text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    pub error_code: Option<String>,
}

impl ErrorBody {
    /// The body for `code`.
    pub fn new(code: impl Into<String>) -> Self {
        Self {
            error_code: Some(code.into()),
        }
    }

    /// Reads an error body; `None` when the body is not IG's JSON or carries no code.
    pub fn code_of(body: &[u8]) -> Option<String> {
        serde_json::from_slice::<Self>(body)
            .ok()
            .and_then(|b| b.error_code)
            .map(|c| c.trim().to_string())
    }
}

/// IG `errorCode` values, as IG spells them (labs.ig.com reference pages).
pub mod code {
    // Session tokens.
    pub const CLIENT_TOKEN_INVALID: &str = "error.security.client-token-invalid";
    pub const CLIENT_TOKEN_MISSING: &str = "error.security.client-token-missing";
    pub const ACCOUNT_TOKEN_INVALID: &str = "error.security.account-token-invalid";
    pub const ACCOUNT_TOKEN_MISSING: &str = "error.security.account-token-missing";
    pub const OAUTH_TOKEN_INVALID: &str = "error.security.oauth-token-invalid";
    // Login refusals.
    pub const INVALID_DETAILS: &str = "error.security.invalid-details";
    pub const TOO_MANY_FAILED_ATTEMPTS: &str = "error.security.too-many-failed-attempts";
    pub const ACCOUNT_SUSPENDED: &str = "error.security.account-suspended";
    pub const ACCOUNT_ACCESS_DENIED: &str = "error.security.account-access-denied";
    pub const API_KEY_MISSING: &str = "error.security.api-key-missing";
    pub const API_KEY_INVALID: &str = "error.security.api-key-invalid";
    // Allowances.
    pub const EXCEEDED_API_KEY_ALLOWANCE: &str = "error.public-api.exceeded-api-key-allowance";
    pub const EXCEEDED_ACCOUNT_ALLOWANCE: &str = "error.public-api.exceeded-account-allowance";
    pub const EXCEEDED_ACCOUNT_TRADING_ALLOWANCE: &str =
        "error.public-api.exceeded-account-trading-allowance";
    pub const EXCEEDED_HISTORICAL_DATA_ALLOWANCE: &str =
        "error.public-api.exceeded-account-historical-data-allowance";
    // Account switch.
    pub const SWITCH_SAME_ACCOUNT: &str = "error.switch.accountId-must-be-different";
    pub const SWITCH_INVALID_ACCOUNT: &str = "error.switch.invalid-accountId";
    // Not found.
    pub const DEAL_NOT_FOUND: &str = "error.confirms.deal-not-found";
    pub const EPIC_NOT_FOUND: &str = "error.public-api.epic-not-found";
    pub const INSTRUMENT_NOT_FOUND: &str = "error.trading.otc.instrument-not-found";
    pub const POSITION_NOT_FOUND: &str = "error.position.notfound";
    pub const INVALID_URL: &str = "invalid.url";
    // Bad requests.
    pub const INVALID_INPUT: &str = "invalid.input";
    pub const MALFORMED_DATE: &str = "error.malformed.date";
    pub const INVALID_DATE_RANGE: &str = "error.invalid.daterange";
    pub const UNSUPPORTED_EPIC: &str = "error.unsupported.epic";
    pub const TOO_MANY_EPICS: &str = "error.public-api.too-many-epics";
    pub const INVALID_PAGE_SIZE: &str = "error.request.invalid.page-size";
    pub const QUOTE_ORDERS_NOT_SUPPORTED: &str = "error.trading.otc.quote-orders.not-supported";
    // Server side.
    pub const SYSTEM_ERROR: &str = "system.error";
    pub const SERVICE_UNAVAILABLE: &str = "error.service.unavailable";
}

/// Which session token a code refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenCode {
    ClientInvalid,
    ClientMissing,
    AccountInvalid,
    AccountMissing,
    OAuthInvalid,
}

/// Which allowance a code says was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowanceCode {
    ApiKey,
    Account,
    AccountTrading,
    HistoricalData,
}

/// What an `errorCode` means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// A session token was refused: a new session (or a v3 refresh) is needed.
    Token(TokenCode),
    /// The username or password was refused.
    InvalidCredentials,
    /// Too many failed logins: the account may be locked.
    TooManyFailedAttempts,
    /// A request allowance (rate limit) was exceeded.
    Allowance(AllowanceCode),
    /// The API key is missing, invalid, disabled, revoked or restricted.
    ApiKeyRefused,
    /// The account cannot log in without a human (suspended, KYC, agreements...).
    AccountRefused,
    /// `/confirms`: no confirmation (yet, or any longer) for this deal reference.
    DealNotFound,
    /// An account switch to the account already active.
    SameAccount,
    /// Anything else.
    Other,
}

/// errorCode fragments of a refused API key.
const API_KEY: [&str; 6] = [
    "api-key-invalid",
    "api-key-disabled",
    "api-key-restricted",
    "api-key-revoked",
    "api-key-missing",
    "endpoint.unavailable.for.api-key",
];

/// errorCode fragments of an account that cannot log in without a human.
const ACCOUNT: [&str; 17] = [
    "account-suspended",
    "account-access-denied",
    "account-not-yet-activated",
    "account-migrated",
    "all-accounts-pending",
    "all-accounts-suspended",
    "client-suspended",
    "error.security.generic",
    "invalid-application",
    "invalid-website",
    "not-a-client-account",
    "kyc.required",
    "pending.agreements.required",
    "missing.credentials",
    "preferred.account.disabled",
    "preferred.account.not.set",
    "stockbroking-not-supported",
];

/// Ordered (fragment, class) pairs: the first fragment contained in the code wins. Order
/// matters where one fragment contains another (`exceeded-account-allowance` must not catch
/// the trading or historical-data allowances).
const TABLE: [(&str, ErrorClass); 12] = [
    (
        "client-token-invalid",
        ErrorClass::Token(TokenCode::ClientInvalid),
    ),
    (
        "client-token-missing",
        ErrorClass::Token(TokenCode::ClientMissing),
    ),
    (
        "account-token-invalid",
        ErrorClass::Token(TokenCode::AccountInvalid),
    ),
    (
        "account-token-missing",
        ErrorClass::Token(TokenCode::AccountMissing),
    ),
    (
        "oauth-token-invalid",
        ErrorClass::Token(TokenCode::OAuthInvalid),
    ),
    ("invalid-details", ErrorClass::InvalidCredentials),
    (
        "too-many-failed-attempts",
        ErrorClass::TooManyFailedAttempts,
    ),
    (
        "exceeded-account-historical-data-allowance",
        ErrorClass::Allowance(AllowanceCode::HistoricalData),
    ),
    (
        "exceeded-account-trading-allowance",
        ErrorClass::Allowance(AllowanceCode::AccountTrading),
    ),
    (
        "exceeded-account-allowance",
        ErrorClass::Allowance(AllowanceCode::Account),
    ),
    (
        "exceeded-api-key-allowance",
        ErrorClass::Allowance(AllowanceCode::ApiKey),
    ),
    ("deal-not-found", ErrorClass::DealNotFound),
];

/// Classifies an `errorCode`, case-insensitively and by its meaningful part (IG varies the
/// prefix between endpoints; validation codes carry the field name as a suffix).
pub fn classify(code: &str) -> ErrorClass {
    let c = code.trim().to_ascii_lowercase();
    if let Some((_, class)) = TABLE.iter().find(|(fragment, _)| c.contains(fragment)) {
        return *class;
    }
    if API_KEY.iter().any(|k| c.contains(k)) {
        return ErrorClass::ApiKeyRefused;
    }
    if ACCOUNT.iter().any(|k| c.contains(k)) {
        return ErrorClass::AccountRefused;
    }
    if c.contains("accountid-must-be-different") {
        return ErrorClass::SameAccount;
    }
    ErrorClass::Other
}

/// The canonical code of a token refusal (what the client reports it as).
pub fn token_code(t: TokenCode) -> &'static str {
    match t {
        TokenCode::ClientInvalid => code::CLIENT_TOKEN_INVALID,
        TokenCode::ClientMissing => code::CLIENT_TOKEN_MISSING,
        TokenCode::AccountInvalid => code::ACCOUNT_TOKEN_INVALID,
        TokenCode::AccountMissing => code::ACCOUNT_TOKEN_MISSING,
        TokenCode::OAuthInvalid => code::OAUTH_TOKEN_INVALID,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases = [
            (
                code::CLIENT_TOKEN_INVALID,
                ErrorClass::Token(TokenCode::ClientInvalid),
            ),
            (
                "ERROR.SECURITY.OAUTH-TOKEN-INVALID",
                ErrorClass::Token(TokenCode::OAuthInvalid),
            ),
            (
                code::ACCOUNT_TOKEN_MISSING,
                ErrorClass::Token(TokenCode::AccountMissing),
            ),
            (code::INVALID_DETAILS, ErrorClass::InvalidCredentials),
            (
                code::TOO_MANY_FAILED_ATTEMPTS,
                ErrorClass::TooManyFailedAttempts,
            ),
            (
                code::EXCEEDED_ACCOUNT_ALLOWANCE,
                ErrorClass::Allowance(AllowanceCode::Account),
            ),
            (
                code::EXCEEDED_ACCOUNT_TRADING_ALLOWANCE,
                ErrorClass::Allowance(AllowanceCode::AccountTrading),
            ),
            (
                code::EXCEEDED_HISTORICAL_DATA_ALLOWANCE,
                ErrorClass::Allowance(AllowanceCode::HistoricalData),
            ),
            (
                code::EXCEEDED_API_KEY_ALLOWANCE,
                ErrorClass::Allowance(AllowanceCode::ApiKey),
            ),
            (code::API_KEY_MISSING, ErrorClass::ApiKeyRefused),
            (
                "error.security.endpoint.unavailable.for.api-key",
                ErrorClass::ApiKeyRefused,
            ),
            (code::ACCOUNT_SUSPENDED, ErrorClass::AccountRefused),
            (
                "error.public-api.failure.kyc.required",
                ErrorClass::AccountRefused,
            ),
            (code::DEAL_NOT_FOUND, ErrorClass::DealNotFound),
            (code::SWITCH_SAME_ACCOUNT, ErrorClass::SameAccount),
            (code::EPIC_NOT_FOUND, ErrorClass::Other),
            (code::SYSTEM_ERROR, ErrorClass::Other),
            (
                "Unable to parse datetime=2020/09/01T00:00:00",
                ErrorClass::Other,
            ),
        ];
        for (c, want) in cases {
            assert_eq!(classify(c), want, "{c}");
        }
    }

    #[test]
    fn token_codes_classify_back() {
        for t in [
            TokenCode::ClientInvalid,
            TokenCode::ClientMissing,
            TokenCode::AccountInvalid,
            TokenCode::AccountMissing,
            TokenCode::OAuthInvalid,
        ] {
            assert_eq!(classify(token_code(t)), ErrorClass::Token(t));
        }
    }

    #[test]
    fn body_round_trip() {
        let body = serde_json::to_vec(&ErrorBody::new(code::DEAL_NOT_FOUND)).unwrap_or_default();
        assert_eq!(
            ErrorBody::code_of(&body).as_deref(),
            Some(code::DEAL_NOT_FOUND)
        );
        assert_eq!(ErrorBody::code_of(b"<html>bad gateway</html>"), None);
    }
}

//! `GET /operations/application` v1: the API key's allowances.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One application (API key) with its request allowances per minute.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Application {
    pub name: Option<String>,
    /// The API key itself: redacted in `Debug`, never logged.
    pub api_key: Option<String>,
    pub status: Option<String>,
    pub allowance_application_overall: Option<u32>,
    pub allowance_account_trading: Option<u32>,
    pub allowance_account_overall: Option<u32>,
    pub allowance_account_historical_data: Option<u32>,
    pub concurrent_subscriptions_limit: Option<u32>,
    pub allow_equities: Option<bool>,
    pub allow_quote_orders: Option<bool>,
    pub created_date: Option<String>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("name", &self.name)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("status", &self.status)
            .field(
                "allowance_application_overall",
                &self.allowance_application_overall,
            )
            .field("allowance_account_trading", &self.allowance_account_trading)
            .field("allowance_account_overall", &self.allowance_account_overall)
            .field(
                "allowance_account_historical_data",
                &self.allowance_account_historical_data,
            )
            .field(
                "concurrent_subscriptions_limit",
                &self.concurrent_subscriptions_limit,
            )
            .finish_non_exhaustive()
    }
}

//! `GET /accounts` v1.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /accounts` v1 response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountsResponse {
    pub accounts: Vec<Account>,
}

/// One account with its balance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Account {
    pub account_id: String,
    pub account_name: Option<String>,
    pub account_alias: Option<String>,
    pub status: Option<String>,
    pub account_type: Option<String>,
    pub preferred: Option<bool>,
    pub balance: Option<AccountBalance>,
    pub currency: Option<String>,
    pub can_transfer_from: Option<bool>,
    pub can_transfer_to: Option<bool>,
}

/// Balance figures of an account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountBalance {
    #[serde(with = "super::num::opt")]
    pub balance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub deposit: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub profit_loss: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub available: Option<Decimal>,
}

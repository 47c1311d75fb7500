//! Account history: `GET /history/activity` v3 (and the v1 list shape) and
//! `GET /history/transactions` v2.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /history/activity` v3 response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityResponse {
    pub activities: Vec<Activity>,
    pub metadata: Option<ActivityMetadata>,
}

/// One v3 activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Activity {
    pub date: Option<String>,
    pub epic: Option<String>,
    pub period: Option<String>,
    pub deal_id: Option<String>,
    /// `DEALER`, `MOBILE`, `PUBLIC_FIX_API`, `PUBLIC_WEB_API`, `SYSTEM`, `WEB`.
    pub channel: Option<String>,
    /// `EDIT_STOP_AND_LIMIT`, `POSITION`, `SYSTEM`, `WORKING_ORDER`.
    #[serde(rename = "type")]
    pub activity_type: Option<String>,
    /// `ACCEPTED`, `REJECTED`, `UNKNOWN`.
    pub status: Option<String>,
    pub description: Option<String>,
    pub details: Option<ActivityDetails>,
}

/// Details of a v3 activity (`detailed=true`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityDetails {
    pub deal_reference: Option<String>,
    pub actions: Option<Vec<ActivityAction>>,
    pub market_name: Option<String>,
    pub good_till_date: Option<String>,
    pub currency: Option<String>,
    #[serde(with = "super::num::opt")]
    pub size: Option<Decimal>,
    pub direction: Option<String>,
    #[serde(with = "super::num::opt")]
    pub level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub stop_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub stop_distance: Option<Decimal>,
    pub guaranteed_stop: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub trailing_stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub trailing_step: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limit_distance: Option<Decimal>,
}

/// An action of an activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityAction {
    pub action_type: Option<String>,
    pub affected_deal_id: Option<String>,
}

/// v3 paging: `next` is a URL path to follow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityMetadata {
    pub paging: Option<ActivityPaging>,
}

/// v3 paging block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityPaging {
    pub size: Option<u64>,
    pub next: Option<String>,
}

/// `GET /history/activity/...` v1 response (all values are display strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityV1Response {
    pub activities: Vec<ActivityV1>,
}

/// One v1 activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityV1 {
    pub epic: Option<String>,
    pub deal_id: Option<String>,
    pub activity_history_id: Option<String>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub activity: Option<String>,
    pub market_name: Option<String>,
    pub period: Option<String>,
    pub result: Option<String>,
    pub channel: Option<String>,
    pub currency: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub size: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub level: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub stop: Option<String>,
    pub stop_type: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub limit: Option<String>,
    pub action_status: Option<String>,
}

/// `GET /history/transactions` v2 response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransactionsResponse {
    pub transactions: Vec<Transaction>,
    pub metadata: Option<TransactionsMetadata>,
}

/// One transaction; IG sends amounts as display strings (e.g. `"£12.50"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Transaction {
    pub date: Option<String>,
    pub date_utc: Option<String>,
    pub open_date_utc: Option<String>,
    pub instrument_name: Option<String>,
    pub period: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub profit_and_loss: Option<String>,
    pub transaction_type: Option<String>,
    pub reference: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub open_level: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub close_level: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub size: Option<String>,
    pub currency: Option<String>,
    pub cash_transaction: Option<bool>,
}

/// Transactions metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransactionsMetadata {
    pub size: Option<u64>,
    pub page_data: Option<super::prices::PageData>,
}

//! `GET /confirms/{dealReference}` v1: the outcome of a dealing request (ACCEPTED/REJECTED and
//! the reason). Available for about a minute after the deal.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A deal confirmation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DealConfirmation {
    pub date: Option<String>,
    pub deal_id: Option<String>,
    pub deal_reference: Option<String>,
    /// `ACCEPTED` or `REJECTED`.
    pub deal_status: Option<String>,
    /// `SUCCESS` or a rejection reason such as `INSUFFICIENT_FUNDS`.
    pub reason: Option<String>,
    /// Position status: `OPEN`, `AMENDED`, `CLOSED`, `DELETED`, `PARTIALLY_CLOSED`.
    pub status: Option<String>,
    pub affected_deals: Option<Vec<AffectedDeal>>,
    pub direction: Option<String>,
    pub epic: Option<String>,
    pub expiry: Option<String>,
    #[serde(with = "super::num::opt")]
    pub level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub stop_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limit_distance: Option<Decimal>,
    pub guaranteed_stop: Option<bool>,
    pub trailing_stop: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub profit: Option<Decimal>,
    pub profit_currency: Option<String>,
}

/// A deal touched by a confirmed request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AffectedDeal {
    pub deal_id: Option<String>,
    /// `OPENED`, `AMENDED`, `DELETED`, `FULLY_CLOSED`, `PARTIALLY_CLOSED`.
    pub status: Option<String>,
}

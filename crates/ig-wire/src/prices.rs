//! `GET /prices/{epic}` v3 (and the older v1/v2 shapes, which differ only in where
//! `allowance` sits and in the time format).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Historical prices response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PricesResponse {
    pub prices: Vec<PricePoint>,
    pub instrument_type: Option<String>,
    /// v3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PriceMetadata>,
    /// v1/v2 put the allowance at the top level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowance: Option<PriceAllowance>,
}

/// One bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PricePoint {
    /// Local time, `yyyy/MM/dd HH:mm:ss` (v1: `yyyy:MM:dd-HH:mm:ss`).
    pub snapshot_time: Option<String>,
    /// UTC, `yyyy-MM-ddTHH:mm:ss` (v3 only).
    #[serde(rename = "snapshotTimeUTC", skip_serializing_if = "Option::is_none")]
    pub snapshot_time_utc: Option<String>,
    pub open_price: Option<BidAsk>,
    pub close_price: Option<BidAsk>,
    pub high_price: Option<BidAsk>,
    pub low_price: Option<BidAsk>,
    #[serde(with = "super::num::opt")]
    pub last_traded_volume: Option<Decimal>,
}

/// Bid, ask and last traded price of one bar side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BidAsk {
    #[serde(with = "super::num::opt")]
    pub bid: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub ask: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub last_traded: Option<Decimal>,
}

/// v3 metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriceMetadata {
    pub allowance: Option<PriceAllowance>,
    pub size: Option<u64>,
    pub page_data: Option<PageData>,
}

/// Historical-data allowance; `allowance_expiry` is seconds until reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PriceAllowance {
    pub remaining_allowance: Option<i64>,
    pub total_allowance: Option<i64>,
    pub allowance_expiry: Option<i64>,
}

/// Paging information.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageData {
    pub page_size: Option<u64>,
    pub page_number: Option<u64>,
    pub total_pages: Option<u64>,
}

//! Positions: `GET /positions` v2 (v1 fields accepted), `GET /positions/{dealId}` v2, open
//! `POST /positions/otc` v2, amend `PUT /positions/otc/{dealId}` v2, close (POST +
//! `_method: DELETE`) v1. Enum-like fields (`direction`, `orderType`...) are IG's strings.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /positions` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PositionsResponse {
    pub positions: Vec<PositionEntry>,
}

/// One open position with its market (also the body of `GET /positions/{dealId}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PositionEntry {
    pub position: Position,
    pub market: PositionMarket,
}

/// Position data. v1 uses `dealSize`/`openLevel`, v2 `size`/`level`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Position {
    #[serde(with = "super::num::opt")]
    pub contract_size: Option<Decimal>,
    pub created_date: Option<String>,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<String>,
    pub deal_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_reference: Option<String>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub deal_size: Option<Decimal>,
    pub direction: Option<String>,
    #[serde(with = "super::num::opt")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub open_level: Option<Decimal>,
    pub currency: Option<String>,
    pub controlled_risk: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub stop_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub trailing_step: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub trailing_stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limited_risk_premium: Option<Decimal>,
}

/// Market data attached to a position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PositionMarket {
    pub instrument_name: Option<String>,
    pub expiry: Option<String>,
    pub epic: String,
    pub instrument_type: Option<String>,
    #[serde(with = "super::num::opt")]
    pub lot_size: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub high: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub low: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub percentage_change: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub net_change: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub bid: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub offer: Option<Decimal>,
    pub update_time: Option<String>,
    #[serde(rename = "updateTimeUTC", skip_serializing_if = "Option::is_none")]
    pub update_time_utc: Option<String>,
    #[serde(with = "super::num::opt")]
    pub delay_time: Option<Decimal>,
    pub streaming_prices_available: Option<bool>,
    pub market_status: Option<String>,
    #[serde(with = "super::num::opt")]
    pub scaling_factor: Option<Decimal>,
}

/// `POST /positions/otc` v2 body. Build with `..Default::default()`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpenPositionRequest {
    pub currency_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_reference: Option<String>,
    /// `BUY` or `SELL`.
    pub direction: String,
    pub epic: String,
    /// `-` for CFDs, `DFB` for daily spread bets.
    pub expiry: String,
    pub force_open: bool,
    pub guaranteed_stop: bool,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_level: Option<Decimal>,
    /// `MARKET`, `LIMIT` or `QUOTE`.
    pub order_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    #[serde(with = "super::num::opt")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_level: Option<Decimal>,
    /// `EXECUTE_AND_ELIMINATE` or `FILL_OR_KILL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trailing_stop: Option<bool>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub trailing_stop_increment: Option<Decimal>,
}

/// `PUT /positions/otc/{dealId}` v2 body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AmendPositionRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guaranteed_stop: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub stop_level: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trailing_stop: Option<bool>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub trailing_stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub trailing_stop_increment: Option<Decimal>,
}

/// Close body (`POST /positions/otc` + `_method: DELETE`, v1). Set `deal_id` or
/// `epic` + `expiry`, not both; `direction` is the opposite of the position's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClosePositionRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    pub direction: String,
    #[serde(with = "super::num::opt")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub level: Option<Decimal>,
    pub order_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<String>,
    /// Not in IG's v1 close body; IG generates the reference of a close. Kept so a sandbox can
    /// accept it; the client does not send it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_reference: Option<String>,
}

/// `{"dealReference": "..."}`: the acknowledgement of every dealing request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DealReferenceResponse {
    pub deal_reference: String,
}

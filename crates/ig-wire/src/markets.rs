//! `GET /markets/{epic}` v3 and `GET /markets?epics=` v2: instrument, dealing rules, snapshot.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /markets/{epic}` v3 response (also one element of the v2 multi-epic response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketDetails {
    pub instrument: Option<InstrumentDetails>,
    pub dealing_rules: Option<DealingRulesDetails>,
    pub snapshot: Option<MarketSnapshot>,
}

/// `GET /markets?searchTerm=` v1 response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketSearchResponse {
    pub markets: Vec<MarketSearchEntry>,
}

/// One market found by a search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketSearchEntry {
    pub epic: String,
    pub instrument_name: Option<String>,
    pub instrument_type: Option<String>,
    pub expiry: Option<String>,
    pub market_status: Option<String>,
    #[serde(with = "super::num::opt")]
    pub bid: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub offer: Option<Decimal>,
}

/// `GET /markets?epics=a,b` v2 response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketsResponse {
    pub market_details: Vec<MarketDetails>,
}

/// A currency an instrument can be dealt in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstrumentCurrency {
    pub code: String,
    pub symbol: Option<String>,
    #[serde(with = "super::num::opt")]
    pub base_exchange_rate: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub exchange_rate: Option<Decimal>,
    pub is_default: Option<bool>,
}

/// A margin band.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarginDepositBand {
    #[serde(with = "super::num::opt")]
    pub min: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub max: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub margin: Option<Decimal>,
    pub currency: Option<String>,
}

/// `{unit, value}` as used by dealing rules, slippage factor and limited-risk premium.
/// `unit` is `POINTS` or `PERCENTAGE` (other spellings are kept).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnitValue {
    pub unit: Option<String>,
    #[serde(with = "super::num::opt")]
    pub value: Option<Decimal>,
}

/// Opening hours of a market.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpeningHours {
    pub market_times: Option<Vec<MarketTime>>,
}

/// One open/close window (`HH:mm`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketTime {
    pub open_time: Option<String>,
    pub close_time: Option<String>,
}

/// Expiry information.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExpiryDetails {
    pub last_dealing_date: Option<String>,
    pub settlement_info: Option<String>,
}

/// Rollover information.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloverDetails {
    pub last_rollover_time: Option<String>,
    pub rollover_info: Option<String>,
}

/// v3 `instrument` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstrumentDetails {
    pub epic: String,
    pub expiry: Option<String>,
    pub name: Option<String>,
    pub force_open_allowed: Option<bool>,
    pub stops_limits_allowed: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub lot_size: Option<Decimal>,
    pub unit: Option<String>,
    /// `CURRENCIES`, `INDICES`, `COMMODITIES`, ... (IG's `type`).
    #[serde(rename = "type")]
    pub instrument_type: Option<String>,
    pub controlled_risk_allowed: Option<bool>,
    pub streaming_prices_available: Option<bool>,
    pub market_id: Option<String>,
    pub currencies: Option<Vec<InstrumentCurrency>>,
    pub sprint_markets_minimum_expiry_time: Option<serde_json::Value>,
    pub sprint_markets_maximum_expiry_time: Option<serde_json::Value>,
    pub margin_deposit_bands: Option<Vec<MarginDepositBand>>,
    #[serde(with = "super::num::opt")]
    pub margin_factor: Option<Decimal>,
    pub margin_factor_unit: Option<String>,
    pub slippage_factor: Option<UnitValue>,
    pub limited_risk_premium: Option<UnitValue>,
    pub opening_hours: Option<OpeningHours>,
    pub expiry_details: Option<ExpiryDetails>,
    pub rollover_details: Option<RolloverDetails>,
    pub news_code: Option<String>,
    pub chart_code: Option<String>,
    pub country: Option<String>,
    /// Money per pip per contract, e.g. `"10.00"` (a string on IG).
    #[serde(with = "super::num::str_or_num")]
    pub value_of_one_pip: Option<String>,
    /// What one pip is, e.g. `"0.0001"` or `"0.0001 USD/EUR"`.
    #[serde(with = "super::num::str_or_num")]
    pub one_pip_means: Option<String>,
    #[serde(with = "super::num::str_or_num")]
    pub contract_size: Option<String>,
    pub special_info: Option<Vec<String>>,
    /// v4 only.
    pub limit_allowed: Option<bool>,
    /// v4 only.
    pub stop_allowed: Option<bool>,
}

/// v3 `dealingRules` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DealingRulesDetails {
    pub min_step_distance: Option<UnitValue>,
    pub min_deal_size: Option<UnitValue>,
    pub min_controlled_risk_stop_distance: Option<UnitValue>,
    pub min_normal_stop_or_limit_distance: Option<UnitValue>,
    pub max_stop_or_limit_distance: Option<UnitValue>,
    pub controlled_risk_spacing: Option<UnitValue>,
    pub market_order_preference: Option<String>,
    pub trailing_stops_preference: Option<String>,
}

/// v3 `snapshot` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarketSnapshot {
    pub market_status: Option<String>,
    #[serde(with = "super::num::opt")]
    pub net_change: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub percentage_change: Option<Decimal>,
    pub update_time: Option<String>,
    #[serde(with = "super::num::opt")]
    pub delay_time: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub bid: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub offer: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub high: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub low: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub binary_odds: Option<Decimal>,
    pub decimal_places_factor: Option<u32>,
    #[serde(with = "super::num::opt")]
    pub scaling_factor: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub controlled_risk_extra_spread: Option<Decimal>,
}

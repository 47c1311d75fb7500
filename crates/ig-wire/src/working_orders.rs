//! Working orders v2: list, create (`POST /workingorders/otc`), amend
//! (`PUT /workingorders/otc/{dealId}`), delete (POST + `_method: DELETE`). v1 list fields are
//! accepted too.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `GET /workingorders` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkingOrdersResponse {
    pub working_orders: Vec<WorkingOrderEntry>,
}

/// One working order with its market.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkingOrderEntry {
    pub working_order_data: WorkingOrderData,
    pub market_data: WorkingOrderMarket,
}

/// Working order data (v2 `orderSize`/`orderLevel`/`orderType`; v1 `size`/`level`/`requestType`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkingOrderData {
    pub deal_id: String,
    pub direction: Option<String>,
    pub epic: Option<String>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub order_size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub order_level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub level: Option<Decimal>,
    pub time_in_force: Option<String>,
    pub created_date: Option<String>,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<String>,
    pub good_till_date: Option<String>,
    #[serde(rename = "goodTillDateISO", skip_serializing_if = "Option::is_none")]
    pub good_till_date_iso: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_till: Option<String>,
    pub guaranteed_stop: Option<bool>,
    /// v2: `LIMIT` or `STOP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// v1: `LIMIT_ORDER` or `STOP_ORDER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    #[serde(with = "super::num::opt")]
    pub stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub limit_distance: Option<Decimal>,
    pub currency_code: Option<String>,
    pub dma: Option<bool>,
    #[serde(with = "super::num::opt")]
    pub limited_risk_premium: Option<Decimal>,
}

/// Market data attached to a working order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkingOrderMarket {
    pub instrument_name: Option<String>,
    pub exchange_id: Option<String>,
    pub expiry: Option<String>,
    pub market_status: Option<String>,
    pub epic: Option<String>,
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
    #[serde(with = "super::num::opt")]
    pub scaling_factor: Option<Decimal>,
}

/// `POST /workingorders/otc` v2 body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateWorkingOrderRequest {
    pub currency_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_reference: Option<String>,
    pub direction: String,
    pub epic: String,
    pub expiry: String,
    #[serde(with = "super::num::opt_flag", skip_serializing_if = "Option::is_none")]
    pub force_open: Option<bool>,
    /// `yyyy/mm/dd hh:mm:ss` UTC or epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_till_date: Option<String>,
    #[serde(with = "super::num::flag")]
    pub guaranteed_stop: bool,
    #[serde(with = "super::num::opt")]
    pub level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt")]
    pub size: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_level: Option<Decimal>,
    /// `GOOD_TILL_CANCELLED` or `GOOD_TILL_DATE`.
    pub time_in_force: String,
    /// `LIMIT` or `STOP`.
    #[serde(rename = "type")]
    pub order_type: String,
}

/// `PUT /workingorders/otc/{dealId}` v2 body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AmendWorkingOrderRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_till_date: Option<String>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_distance: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_level: Option<Decimal>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_distance: Option<Decimal>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    #[serde(with = "super::num::opt", skip_serializing_if = "Option::is_none")]
    pub level: Option<Decimal>,
}

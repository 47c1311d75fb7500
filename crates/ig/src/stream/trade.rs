//! The `TRADE:{account}` item's JSON fields (CONFIRMS, OPU, WOU): IG's wire shape and its
//! conversion into typed, domain-unit events.

use std::str::FromStr;

use rust_decimal::Decimal;
use scalper_model::{DealId, DealReference, Direction, Epic, Money, Price, Size};
use serde::Deserialize;
use serde_json::Value;

use crate::DealStatus;

fn deal_status(s: Option<&str>) -> DealStatus {
    match s.map(str::trim) {
        Some("ACCEPTED") => DealStatus::Accepted,
        Some("REJECTED") => DealStatus::Rejected,
        other => DealStatus::Other(other.unwrap_or_default().to_string()),
    }
}

/// The status of a position or working order in an OPU/WOU update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStatus {
    Open,
    Updated,
    Deleted,
    Other(String),
}

impl UpdateStatus {
    fn from_ig(s: Option<&str>) -> Self {
        match s.map(str::trim) {
            Some("OPEN") => Self::Open,
            Some("UPDATED") => Self::Updated,
            Some("DELETED") => Self::Deleted,
            other => Self::Other(other.unwrap_or_default().to_string()),
        }
    }
}

/// A deal touched by a confirmed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedDeal {
    pub deal_id: DealId,
    /// `OPENED`, `AMENDED`, `DELETED`, `FULLY_CLOSED`, `PARTIALLY_CLOSED`.
    pub status: String,
}

/// A `CONFIRMS` update: the outcome of one dealing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeConfirm {
    pub deal_reference: Option<DealReference>,
    pub deal_id: Option<DealId>,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    pub deal_status: DealStatus,
    /// `SUCCESS` or the rejection reason.
    pub reason: Option<String>,
    /// Position/order status: `OPEN`, `AMENDED`, `CLOSED`, `DELETED`, `PARTIALLY_CLOSED`.
    pub status: Option<String>,
    pub level: Option<Price>,
    pub size: Option<Size>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub profit: Option<Money>,
    pub profit_currency: Option<String>,
    pub affected_deals: Vec<AffectedDeal>,
    /// IG's `date` text, as sent.
    pub date: Option<String>,
}

impl TradeConfirm {
    /// The same confirm as `/confirms/{dealReference}` would give it (`None` without a deal
    /// reference, which no dealing call could be waiting for).
    pub fn to_confirmation(&self) -> Option<crate::Confirmation> {
        Some(crate::Confirmation {
            deal_reference: self.deal_reference.clone()?,
            deal_id: self.deal_id.clone(),
            status: self.deal_status.clone(),
            reject_reason: scalper_ig_wire::reject::of_confirmation(self.reason.as_deref()),
            position_status: self.status.as_deref().map(crate::convert::position_status),
            epic: self.epic.clone(),
            direction: self.direction,
            level: self.level,
            size: self.size,
            stop_level: self.stop_level,
            limit_level: self.limit_level,
            profit: self.profit.map(Money::value),
            profit_currency: self.profit_currency.clone(),
            affected_deals: self
                .affected_deals
                .iter()
                .map(|a| {
                    (
                        a.deal_id.clone(),
                        crate::convert::position_status(&a.status),
                    )
                })
                .collect(),
        })
    }
}

/// An `OPU` update: an open position was opened, changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionUpdate {
    pub deal_id: DealId,
    pub deal_reference: Option<DealReference>,
    pub deal_id_origin: Option<DealId>,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    pub status: UpdateStatus,
    pub deal_status: DealStatus,
    pub level: Option<Price>,
    pub size: Option<Size>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub guaranteed_stop: Option<bool>,
    pub currency: Option<String>,
    /// IG's `timestamp` text, as sent.
    pub timestamp: Option<String>,
}

/// A `WOU` update: a working order was created, changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrderUpdate {
    pub deal_id: DealId,
    pub deal_reference: Option<DealReference>,
    pub epic: Option<Epic>,
    pub direction: Option<Direction>,
    pub status: UpdateStatus,
    pub deal_status: DealStatus,
    pub level: Option<Price>,
    pub size: Option<Size>,
    /// `LIMIT` or `STOP`.
    pub order_type: Option<String>,
    pub time_in_force: Option<String>,
    pub stop_distance: Option<Decimal>,
    pub limit_distance: Option<Decimal>,
    pub currency: Option<String>,
    pub timestamp: Option<String>,
}

/// Why a TRADE field could not be turned into a typed event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad {field} JSON: {reason}")]
pub struct TradeDecodeError {
    pub field: &'static str,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Wire {
    deal_reference: Option<String>,
    deal_id: Option<String>,
    deal_id_origin: Option<String>,
    epic: Option<String>,
    direction: Option<String>,
    deal_status: Option<String>,
    reason: Option<String>,
    status: Option<String>,
    level: Option<Value>,
    size: Option<Value>,
    stop_level: Option<Value>,
    limit_level: Option<Value>,
    stop_distance: Option<Value>,
    limit_distance: Option<Value>,
    profit: Option<Value>,
    profit_currency: Option<String>,
    affected_deals: Option<Vec<WireAffected>>,
    date: Option<String>,
    timestamp: Option<String>,
    guaranteed_stop: Option<bool>,
    currency: Option<String>,
    order_type: Option<String>,
    time_in_force: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireAffected {
    deal_id: Option<String>,
    status: Option<String>,
}

struct Ctx(&'static str);

impl Ctx {
    fn err(&self, reason: impl Into<String>) -> TradeDecodeError {
        TradeDecodeError {
            field: self.0,
            reason: reason.into(),
        }
    }

    fn dec(&self, name: &str, v: Option<&Value>) -> Result<Option<Decimal>, TradeDecodeError> {
        let text = match v {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(other) => return Err(self.err(format!("{name} is not a number: {other}"))),
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| self.err(format!("{name} is not a number: {text:?}")))
    }

    fn id<T: FromStr>(
        &self,
        name: &str,
        v: Option<&String>,
    ) -> Result<Option<T>, TradeDecodeError> {
        match v.map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| self.err(format!("invalid {name} {s:?}"))),
        }
    }

    fn direction(&self, v: Option<&String>) -> Result<Option<Direction>, TradeDecodeError> {
        match v.map(|s| s.trim()) {
            None | Some("") => Ok(None),
            Some("BUY") => Ok(Some(Direction::Buy)),
            Some("SELL") => Ok(Some(Direction::Sell)),
            Some(other) => Err(self.err(format!("invalid direction {other:?}"))),
        }
    }

    fn required<T>(&self, name: &str, v: Option<T>) -> Result<T, TradeDecodeError> {
        v.ok_or_else(|| self.err(format!("missing {name}")))
    }

    fn parse(&self, json: &str) -> Result<Wire, TradeDecodeError> {
        serde_json::from_str(json).map_err(|e| self.err(e.to_string()))
    }
}

/// Decodes a `CONFIRMS` field value.
pub fn parse_confirm(json: &str) -> Result<TradeConfirm, TradeDecodeError> {
    let c = Ctx("CONFIRMS");
    let w = c.parse(json)?;
    let mut affected = Vec::new();
    for a in w.affected_deals.unwrap_or_default() {
        if let Some(id) = c.id::<DealId>("affected deal id", a.deal_id.as_ref())? {
            affected.push(AffectedDeal {
                deal_id: id,
                status: a.status.unwrap_or_default(),
            });
        }
    }
    Ok(TradeConfirm {
        deal_reference: c.id("deal reference", w.deal_reference.as_ref())?,
        deal_id: c.id("deal id", w.deal_id.as_ref())?,
        epic: c.id("epic", w.epic.as_ref())?,
        direction: c.direction(w.direction.as_ref())?,
        deal_status: deal_status(w.deal_status.as_deref()),
        reason: w.reason,
        status: w.status,
        level: c.dec("level", w.level.as_ref())?.map(Price::new),
        size: c.dec("size", w.size.as_ref())?.map(Size::new),
        stop_level: c.dec("stopLevel", w.stop_level.as_ref())?.map(Price::new),
        limit_level: c.dec("limitLevel", w.limit_level.as_ref())?.map(Price::new),
        profit: c.dec("profit", w.profit.as_ref())?.map(Money::new),
        profit_currency: w.profit_currency,
        affected_deals: affected,
        date: w.date,
    })
}

/// Decodes an `OPU` field value.
pub fn parse_position_update(json: &str) -> Result<PositionUpdate, TradeDecodeError> {
    let c = Ctx("OPU");
    let w = c.parse(json)?;
    Ok(PositionUpdate {
        deal_id: c.required("dealId", c.id("deal id", w.deal_id.as_ref())?)?,
        deal_reference: c.id("deal reference", w.deal_reference.as_ref())?,
        deal_id_origin: c.id("deal id origin", w.deal_id_origin.as_ref())?,
        epic: c.id("epic", w.epic.as_ref())?,
        direction: c.direction(w.direction.as_ref())?,
        status: UpdateStatus::from_ig(w.status.as_deref()),
        deal_status: deal_status(w.deal_status.as_deref()),
        level: c.dec("level", w.level.as_ref())?.map(Price::new),
        size: c.dec("size", w.size.as_ref())?.map(Size::new),
        stop_level: c.dec("stopLevel", w.stop_level.as_ref())?.map(Price::new),
        limit_level: c.dec("limitLevel", w.limit_level.as_ref())?.map(Price::new),
        guaranteed_stop: w.guaranteed_stop,
        currency: w.currency,
        timestamp: w.timestamp,
    })
}

/// Decodes a `WOU` field value.
pub fn parse_working_order_update(json: &str) -> Result<WorkingOrderUpdate, TradeDecodeError> {
    let c = Ctx("WOU");
    let w = c.parse(json)?;
    Ok(WorkingOrderUpdate {
        deal_id: c.required("dealId", c.id("deal id", w.deal_id.as_ref())?)?,
        deal_reference: c.id("deal reference", w.deal_reference.as_ref())?,
        epic: c.id("epic", w.epic.as_ref())?,
        direction: c.direction(w.direction.as_ref())?,
        status: UpdateStatus::from_ig(w.status.as_deref()),
        deal_status: deal_status(w.deal_status.as_deref()),
        level: c.dec("level", w.level.as_ref())?.map(Price::new),
        size: c.dec("size", w.size.as_ref())?.map(Size::new),
        order_type: w.order_type,
        time_in_force: w.time_in_force,
        stop_distance: c.dec("stopDistance", w.stop_distance.as_ref())?,
        limit_distance: c.dec("limitDistance", w.limit_distance.as_ref())?,
        currency: w.currency,
        timestamp: w.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn confirm_from_ig_json() {
        let json = r#"{"direction":"BUY","epic":"CS.D.GBPUSD.CFD.IP","stopLevel":1.2450,
            "limitLevel":null,"dealReference":"SCALP-1-000001","dealId":"DIAAAAB2K3L4M5N",
            "limitDistance":null,"stopDistance":null,"expiry":"-",
            "affectedDeals":[{"dealId":"DIAAAAB2K3L4M5N","status":"OPENED"}],
            "dealStatus":"ACCEPTED","guaranteedStop":false,"trailingStop":false,"level":1.25371,
            "reason":"SUCCESS","status":"OPEN","size":"1.5","profit":null,"profitCurrency":null,
            "date":"2026-11-26T20:00:00.123","channel":"PublicRestOTC"}"#;
        let c = parse_confirm(json).unwrap();
        assert_eq!(c.deal_reference.unwrap().as_str(), "SCALP-1-000001");
        assert_eq!(c.deal_status, DealStatus::Accepted);
        assert_eq!(c.direction, Some(Direction::Buy));
        assert_eq!(c.level, Some(Price::new(d("1.25371"))));
        assert_eq!(c.stop_level, Some(Price::new(d("1.2450"))));
        assert_eq!(c.size, Some(Size::new(d("1.5"))));
        assert_eq!(c.limit_level, None);
        assert_eq!(c.affected_deals.len(), 1);
        assert_eq!(c.status.as_deref(), Some("OPEN"));
    }

    #[test]
    fn rejected_confirm_has_reason() {
        let c = parse_confirm(
            r#"{"dealReference":"R2","dealStatus":"REJECTED","reason":"INSUFFICIENT_FUNDS","dealId":null}"#,
        )
        .unwrap();
        assert_eq!(c.deal_status, DealStatus::Rejected);
        assert_eq!(c.reason.as_deref(), Some("INSUFFICIENT_FUNDS"));
        assert_eq!(c.deal_id, None);
    }

    #[test]
    fn opu_and_wou() {
        let p = parse_position_update(
            r#"{"dealReference":"R1","dealId":"DI1","dealIdOrigin":"DI1","direction":"SELL",
            "epic":"IX.D.FTSE.DAILY.IP","status":"DELETED","dealStatus":"ACCEPTED","level":7500.5,
            "size":2,"timestamp":"2026-11-26T20:00:01.000","channel":"WTP","currency":"GBP"}"#,
        )
        .unwrap();
        assert_eq!(p.status, UpdateStatus::Deleted);
        assert_eq!(p.direction, Some(Direction::Sell));
        assert_eq!(p.level, Some(Price::new(d("7500.5"))));
        assert_eq!(p.size, Some(Size::new(d("2"))));
        let w = parse_working_order_update(
            r#"{"dealId":"DI9","status":"OPEN","orderType":"LIMIT","stopDistance":"10","level":1.1}"#,
        )
        .unwrap();
        assert_eq!(w.status, UpdateStatus::Open);
        assert_eq!(w.stop_distance, Some(d("10")));
        assert_eq!(w.order_type.as_deref(), Some("LIMIT"));
    }

    #[test]
    fn bad_json_is_a_typed_error() {
        for (json, want) in [
            ("not json", "CONFIRMS"),
            (r#"{"level":"abc"}"#, "level is not a number"),
            (r#"{"direction":"UP"}"#, "invalid direction"),
            (r#"{"epic":"no"}"#, "invalid epic"),
        ] {
            let e = parse_confirm(json).unwrap_err();
            assert!(e.to_string().contains(want), "{e} for {json}");
        }
        let e = parse_position_update(r#"{"status":"OPEN"}"#).unwrap_err();
        assert!(e.to_string().contains("missing dealId"), "{e}");
    }
}

//! The one place where IG's wire models (`scalper_ig_wire`) become domain types: decimal prices
//! and sizes, typed ids, `MarketStatus`, `Instrument` and `DealingRules` (point size from
//! `onePipMeans` and `scalingFactor`, value of a point from `valueOfOnePip`).

use std::str::FromStr;

use rust_decimal::Decimal;
use scalper_model::{
    Candle, DealId, DealReference, DealingRules, Direction, Epic, Instrument, MarketStatus, Points,
    Price, Size,
};

use scalper_ig_wire::application::Application;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::markets::{MarketDetails, UnitValue};
use scalper_ig_wire::positions::PositionEntry;
use scalper_ig_wire::prices::{BidAsk, PricesResponse};
use scalper_ig_wire::time::parse_utc;

use crate::error::IgError;
use crate::types::{Allowances, Confirmation, DealStatus, Market, OpenPosition};

fn bad(context: &str, detail: impl std::fmt::Display) -> IgError {
    IgError::unexpected(context, detail)
}

/// Parses IG's direction spelling.
pub fn direction(s: &str) -> Option<Direction> {
    match s.trim().to_ascii_uppercase().as_str() {
        "BUY" => Some(Direction::Buy),
        "SELL" => Some(Direction::Sell),
        _ => None,
    }
}

/// Leading decimal of a string such as `"0.0001 USD/EUR"` or `"10.00"`.
pub fn leading_decimal(s: &str) -> Option<Decimal> {
    let token: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    Decimal::from_str(&token).ok()
}

/// Price units per point: `onePipMeans` (in real price units) times `scalingFactor` (how
/// many IG level units make one real unit). With no `onePipMeans`, one level unit is a point,
/// which is how IG quotes scaled CFDs and most index and commodity markets.
pub fn point_size(one_pip_means: Option<&str>, scaling_factor: Option<Decimal>) -> Decimal {
    let scaling = scaling_factor
        .filter(|s| *s > Decimal::ZERO)
        .unwrap_or(Decimal::ONE);
    match one_pip_means.and_then(leading_decimal) {
        // Checked: absurd values (beyond Decimal's range) fall back like garbage does.
        Some(pip) if pip > Decimal::ZERO => pip
            .checked_mul(scaling)
            .map_or(Decimal::ONE, |p| p.normalize()),
        _ => Decimal::ONE,
    }
}

/// A distance rule in points; percentages are converted with the mid price when known.
fn distance_points(
    rule: Option<&UnitValue>,
    mid: Option<Decimal>,
    point: Decimal,
) -> Option<Points> {
    let rule = rule?;
    let value = rule.value?;
    match rule.unit.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("PERCENTAGE") => {
            let mid = mid?;
            if point.is_zero() {
                return None;
            }
            // Checked: an out-of-range product is no usable rule rather than a panic.
            let points = (value / Decimal::ONE_HUNDRED)
                .checked_mul(mid)?
                .checked_div(point)?;
            Some(Points::new(points.round_dp(2)))
        }
        _ => Some(Points::new(value)),
    }
}

/// Step implied by the precision of a size: 0.5 -> 0.1, 0.25 -> 0.01, 1 -> 1.
fn size_step(min: Decimal) -> Decimal {
    Decimal::new(1, min.normalize().scale())
}

/// Converts a `/markets/{epic}` v3 answer into a [`Market`].
pub fn market(details: &MarketDetails) -> Result<Market, IgError> {
    const CTX: &str = "market details";
    let inst = details
        .instrument
        .as_ref()
        .ok_or_else(|| bad(CTX, "no instrument block"))?;
    let epic = Epic::new(inst.epic.clone()).map_err(|e| bad(CTX, e))?;
    let snap = details.snapshot.clone().unwrap_or_default();
    let rules = details.dealing_rules.clone().unwrap_or_default();
    let point = point_size(inst.one_pip_means.as_deref(), snap.scaling_factor);
    let mid = match (snap.bid, snap.offer) {
        (Some(b), Some(o)) => b.checked_add(o).map(|s| s / Decimal::TWO),
        _ => None,
    };
    let min_deal = rules
        .min_deal_size
        .as_ref()
        .and_then(|r| r.value)
        .ok_or_else(|| bad(CTX, format!("{epic}: no dealingRules.minDealSize")))?;
    let value_per_point = inst
        .value_of_one_pip
        .as_deref()
        .and_then(leading_decimal)
        .or_else(|| {
            let contract = inst.contract_size.as_deref().and_then(leading_decimal)?;
            let pip = inst.one_pip_means.as_deref().and_then(leading_decimal)?;
            contract.checked_mul(pip)
        })
        .unwrap_or(Decimal::ONE);
    let currencies = inst.currencies.clone().unwrap_or_default();
    let default_currency = currencies
        .iter()
        .find(|c| c.is_default == Some(true))
        .or_else(|| currencies.first());
    let currency = default_currency.map(|c| c.code.clone()).unwrap_or_default();
    // IG's `exchangeRate`: account currency per unit of this currency.
    let account_rate = match default_currency.and_then(|c| c.exchange_rate) {
        Some(r) if r > Decimal::ZERO => r,
        _ => {
            tracing::warn!(%epic, currency = %currency, "no exchange rate to the account currency in the market details; P&L and sizing for this market assume 1");
            Decimal::ONE
        }
    };
    let instrument = Instrument {
        epic,
        name: inst.name.clone().unwrap_or_default(),
        point_size: point,
        value_per_point,
        currency,
        account_rate,
        expiry: inst.expiry.clone().unwrap_or_else(|| "-".to_string()),
        rules: DealingRules {
            min_deal_size: Size::new(min_deal),
            size_step: size_step(min_deal),
            min_stop_distance: distance_points(
                rules.min_normal_stop_or_limit_distance.as_ref(),
                mid,
                point,
            )
            .unwrap_or(Points::ZERO),
            max_stop_distance: distance_points(
                rules.max_stop_or_limit_distance.as_ref(),
                mid,
                point,
            ),
        },
    };
    Ok(Market {
        instrument,
        status: snap
            .market_status
            .as_deref()
            .map_or(MarketStatus::Other(String::new()), MarketStatus::from_ig),
        bid: snap.bid.map(Price::new),
        offer: snap.offer.map(Price::new),
        update_time: snap.update_time.clone(),
        streaming_prices_available: inst.streaming_prices_available.unwrap_or(false),
        scaling_factor: snap
            .scaling_factor
            .filter(|s| *s > Decimal::ZERO)
            .unwrap_or(Decimal::ONE),
    })
}

/// Converts a v2 (or v1) position into an [`OpenPosition`].
pub fn position(entry: &PositionEntry) -> Result<OpenPosition, IgError> {
    const CTX: &str = "position";
    let p = &entry.position;
    let deal_id = DealId::new(p.deal_id.clone()).map_err(|e| bad(CTX, e))?;
    let epic = Epic::new(entry.market.epic.clone()).map_err(|e| bad(CTX, e))?;
    let dir = p
        .direction
        .as_deref()
        .and_then(direction)
        .ok_or_else(|| bad(CTX, format!("{deal_id}: direction {:?}", p.direction)))?;
    let size = p
        .size
        .or(p.deal_size)
        .ok_or_else(|| bad(CTX, format!("{deal_id}: no size")))?;
    let level = p
        .level
        .or(p.open_level)
        .ok_or_else(|| bad(CTX, format!("{deal_id}: no level")))?;
    Ok(OpenPosition {
        deal_id,
        deal_reference: p
            .deal_reference
            .as_deref()
            .and_then(|r| DealReference::new(r).ok()),
        epic,
        direction: dir,
        size: Size::new(size),
        level: Price::new(level),
        stop_level: p.stop_level.map(Price::new),
        limit_level: p.limit_level.map(Price::new),
        currency: p.currency.clone(),
        created_utc: p.created_date_utc.clone(),
        expiry: entry.market.expiry.clone(),
    })
}

/// Converts a confirmation; `reference` is the one asked for (used if IG omits it).
pub fn confirmation(
    c: &DealConfirmation,
    reference: &DealReference,
) -> Result<Confirmation, IgError> {
    const CTX: &str = "deal confirmation";
    let status = match c.deal_status.as_deref().map(str::to_ascii_uppercase) {
        Some(s) if s == "ACCEPTED" => DealStatus::Accepted,
        Some(s) if s == "REJECTED" => DealStatus::Rejected,
        Some(s) => DealStatus::Other(s),
        None => return Err(bad(CTX, format!("{reference}: no dealStatus"))),
    };
    let deal_id = match c.deal_id.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => Some(DealId::new(d).map_err(|e| bad(CTX, e))?),
        None => None,
    };
    Ok(Confirmation {
        deal_reference: c
            .deal_reference
            .as_deref()
            .and_then(|r| DealReference::new(r).ok())
            .unwrap_or_else(|| reference.clone()),
        deal_id,
        status,
        reason: c.reason.clone(),
        position_status: c.status.clone(),
        epic: c.epic.as_deref().and_then(|e| Epic::new(e).ok()),
        direction: c.direction.as_deref().and_then(direction),
        level: c.level.map(Price::new),
        size: c.size.map(Size::new),
        stop_level: c.stop_level.map(Price::new),
        limit_level: c.limit_level.map(Price::new),
        profit: c.profit,
        profit_currency: c.profit_currency.clone(),
        affected_deals: c
            .affected_deals
            .iter()
            .flatten()
            .filter_map(|a| {
                Some((
                    DealId::new(a.deal_id.clone()?).ok()?,
                    a.status.clone().unwrap_or_default(),
                ))
            })
            .collect(),
    })
}

/// The allowances of an API key, IG's defaults where a value is missing.
pub fn allowances(app: &Application) -> Allowances {
    let d = Allowances::default();
    Allowances {
        trading_per_minute: app
            .allowance_account_trading
            .unwrap_or(d.trading_per_minute),
        non_trading_per_minute: app
            .allowance_account_overall
            .unwrap_or(d.non_trading_per_minute),
        application_per_minute: app
            .allowance_application_overall
            .unwrap_or(d.application_per_minute),
        historical_points_per_week: app
            .allowance_account_historical_data
            .unwrap_or(d.historical_points_per_week),
    }
}

/// Mid-price candles (spread at the open) of a v3 answer; bars without a UTC time or both
/// sides are skipped. `period_ms` is the resolution the caller asked for.
pub fn candles(prices: &PricesResponse, epic: &Epic, period_ms: i64) -> Vec<Candle> {
    let mid = |ba: Option<&BidAsk>| -> Option<(Decimal, Decimal)> {
        let ba = ba?;
        let (b, a) = (ba.bid?, ba.ask?);
        Some((b.checked_add(a)? / Decimal::TWO, a.checked_sub(b)?))
    };
    prices
        .prices
        .iter()
        .filter_map(|p| {
            let start = parse_utc(p.snapshot_time_utc.as_deref()?)?;
            let (open, spread) = mid(p.open_price.as_ref())?;
            let (high, _) = mid(p.high_price.as_ref())?;
            let (low, _) = mid(p.low_price.as_ref())?;
            let (close, _) = mid(p.close_price.as_ref())?;
            Some(Candle {
                epic: epic.clone(),
                start,
                period_ms,
                open: Price::new(open),
                high: Price::new(high),
                low: Price::new(low),
                close: Price::new(close),
                spread: Some(spread),
                volume: p.last_traded_volume,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn point_size_cases() {
        assert_eq!(
            point_size(Some("0.0001 USD/EUR"), Some(dec!(10000))),
            dec!(1)
        );
        assert_eq!(point_size(Some("0.0001"), Some(dec!(1))), dec!(0.0001));
        assert_eq!(point_size(Some("0.01 JPY/USD"), Some(dec!(100))), dec!(1));
        assert_eq!(point_size(None, Some(dec!(1))), dec!(1));
        assert_eq!(point_size(Some("garbage"), None), dec!(1));
    }

    #[test]
    fn size_step_from_precision() {
        assert_eq!(size_step(dec!(0.5)), dec!(0.1));
        assert_eq!(size_step(dec!(0.25)), dec!(0.01));
        assert_eq!(size_step(dec!(1.0)), dec!(1));
    }
}

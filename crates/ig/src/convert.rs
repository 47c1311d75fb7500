//! The one place where IG's wire models (`scalper_ig_wire`) become domain types: decimal prices
//! and sizes, typed ids, `MarketStatus`, `Instrument` and `DealingRules` (point size from
//! `onePipMeans` and `scalingFactor`, value of a point from `valueOfOnePip`).

use std::str::FromStr;

use rust_decimal::Decimal;
use scalper_model::{
    AccountId, Candle, DealId, DealReference, DealingRules, Direction, Epic, Instrument,
    MarginBand, MarginRules, MarketStatus, MarketTerms, Money, OrderType, Points, Price,
    PriceScale, ProductKind, Size,
};

use scalper_ig_wire::accounts::Account as WireAccount;
use scalper_ig_wire::application::Application;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::history::{Activity as WireActivity, Transaction as WireTransaction};
use scalper_ig_wire::markets::{MarketDetails, UnitValue};
use scalper_ig_wire::positions::PositionEntry;
use scalper_ig_wire::prices::{BidAsk, PricesResponse};
use scalper_ig_wire::session::SessionDetails;
use scalper_ig_wire::time::{parse_time, parse_utc};
use scalper_ig_wire::working_orders::WorkingOrderEntry;
use scalper_ig_wire::{reject, Resolution};

use crate::error::IgError;
use crate::types::{
    Account, Activity, Allowances, Balance, Confirmation, DealStatus, HistoricalAllowance, Market,
    OpenPosition, PositionStatus, PricePage, SessionInfo, Transaction, WorkingOrder,
};

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

/// Guaranteed stops when the market offers them (`controlledRiskAllowed`): the minimum
/// distance (`minControlledRiskStopDistance`, 0 when absent) and the premium charged when one
/// is triggered (`limitedRiskPremium`, 0 when absent).
fn guaranteed_rules(
    inst: &scalper_ig_wire::markets::InstrumentDetails,
    rules: &scalper_ig_wire::markets::DealingRulesDetails,
    mid: Option<Decimal>,
    point: Decimal,
) -> Option<scalper_model::GuaranteedStopRules> {
    if inst.controlled_risk_allowed != Some(true) {
        return None;
    }
    let min_distance =
        distance_points(rules.min_controlled_risk_stop_distance.as_ref(), mid, point)
            .unwrap_or(Points::ZERO);
    let premium = match &inst.limited_risk_premium {
        Some(UnitValue {
            unit,
            value: Some(v),
        }) if unit
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case("PERCENTAGE")) =>
        {
            scalper_model::StopPremium::Percent(*v)
        }
        Some(UnitValue { value: Some(v), .. }) => scalper_model::StopPremium::Points(*v),
        _ => scalper_model::StopPremium::Points(Decimal::ZERO),
    };
    Some(scalper_model::GuaranteedStopRules {
        min_distance,
        premium,
    })
}

/// Step implied by the precision of a size: 0.5 -> 0.1, 0.25 -> 0.01, 1 -> 1.
fn size_step(min: Decimal) -> Decimal {
    Decimal::new(1, min.normalize().scale())
}

/// IG's margin factor (percent) and deposit bands.
fn margin_rules(inst: &scalper_ig_wire::markets::InstrumentDetails) -> MarginRules {
    let percent_unit = inst
        .margin_factor_unit
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case("PERCENTAGE"));
    let factor = inst
        .margin_factor
        .filter(|f| *f >= Decimal::ZERO && percent_unit)
        .unwrap_or(Decimal::ZERO);
    let bands = inst
        .margin_deposit_bands
        .iter()
        .flatten()
        .filter_map(|b| {
            Some(MarginBand {
                min: Size::new(b.min.unwrap_or(Decimal::ZERO)),
                max: b.max.map(Size::new),
                percent: b.margin.filter(|m| *m >= Decimal::ZERO)?,
            })
        })
        .collect();
    MarginRules {
        factor_percent: factor,
        bands,
    }
}

/// One search result, or `None` (logged) when IG's epic is unusable.
pub fn market_hit(
    e: &scalper_ig_wire::markets::MarketSearchEntry,
) -> Option<crate::types::MarketHit> {
    let epic = match Epic::new(e.epic.trim()) {
        Ok(epic) => epic,
        Err(err) => {
            tracing::warn!(epic = %e.epic, error = %err, "market search: an entry with an unusable epic left out");
            return None;
        }
    };
    Some(crate::types::MarketHit {
        epic,
        name: e.instrument_name.clone().unwrap_or_default(),
        instrument_type: e.instrument_type.clone().unwrap_or_default(),
        expiry: e.expiry.clone().unwrap_or_else(|| "-".into()),
        status: e
            .market_status
            .as_deref()
            .map_or(MarketStatus::Other(String::new()), MarketStatus::from_ig),
        bid: e.bid.map(Price::new),
        offer: e.offer.map(Price::new),
    })
}

/// Account-currency units per unit of `currency`: 1 for the account's own currency, else IG's
/// `exchangeRate`, else (logged) the built-in fixed rate, else 1.
fn account_rate(epic: &Epic, currency: &str, account: &str, ig: Option<Decimal>) -> Decimal {
    if !account.is_empty() && account == currency {
        return Decimal::ONE;
    }
    if let Some(r) = ig.filter(|r| *r > Decimal::ZERO) {
        return r;
    }
    let fixed = scalper_model::economics::default_rate(currency, account);
    if let Some(r) = fixed.filter(|_| !account.is_empty()) {
        tracing::warn!(%epic, currency, account, rate = %r, "no exchange rate to the account currency in the market details; P&L and sizing for this market use the built-in fixed rate");
        return r;
    }
    tracing::warn!(%epic, currency, account, "no exchange rate to the account currency in the market details; P&L and sizing for this market assume 1");
    Decimal::ONE
}

/// Converts a `/markets/{epic}` v3 answer into a [`Market`] whose P&L is converted into
/// `account_currency` (the live account's, from `/accounts`; `None`: unknown, amounts are
/// then left unlabelled): at rate 1 when the market's currency is the account's, else at IG's
/// `exchangeRate` for that currency (account units per unit), else at the built-in fixed rate
/// with a warning.
pub fn market(details: &MarketDetails, account_currency: Option<&str>) -> Result<Market, IgError> {
    const CTX: &str = "market details";
    let inst = details
        .instrument
        .as_ref()
        .ok_or_else(|| bad(CTX, "no instrument block"))?;
    let epic = Epic::new(inst.epic.clone()).map_err(|e| bad(CTX, e))?;
    let snap = details.snapshot.clone().unwrap_or_default();
    let rules = details.dealing_rules.clone().unwrap_or_default();
    let scaling = snap
        .scaling_factor
        .filter(|s| *s > Decimal::ZERO)
        .unwrap_or(Decimal::ONE);
    // With no `onePipMeans`, one level unit is a point (scaled CFDs, most indices).
    let one_pip = inst
        .one_pip_means
        .as_deref()
        .and_then(leading_decimal)
        .filter(|p| *p > Decimal::ZERO && p.checked_mul(scaling).is_some())
        .unwrap_or(Decimal::ONE / scaling);
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
    let currencies = inst.currencies.clone().unwrap_or_default();
    let default_currency = currencies
        .iter()
        .find(|c| c.is_default == Some(true))
        .or_else(|| currencies.first());
    let currency = default_currency.map(|c| c.code.clone()).unwrap_or_default();
    let account_currency = account_currency.map(str::trim).unwrap_or_default();
    let account_rate = account_rate(
        &epic,
        &currency,
        account_currency,
        default_currency.and_then(|c| c.exchange_rate),
    );
    let kind = match inst.expiry.as_deref() {
        Some("DFB") => ProductKind::SpreadBet,
        _ if inst.unit.as_deref() == Some("AMOUNT") && inst.contract_size.is_none() => {
            ProductKind::SpreadBet
        }
        _ => ProductKind::Cfd,
    };
    let terms = MarketTerms {
        kind,
        scaling_factor: scaling,
        one_pip_means: one_pip,
        value_of_one_pip: inst.value_of_one_pip.as_deref().and_then(leading_decimal),
        contract_size: inst.contract_size.as_deref().and_then(leading_decimal),
        lot_size: inst.lot_size,
        currency: if currency.is_empty() {
            "-".to_string()
        } else {
            currency
        },
        account_currency: account_currency.to_string(),
        exchange_rate: Some(account_rate),
        margin: margin_rules(inst),
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
            guaranteed_stop: guaranteed_rules(inst, &rules, mid, point),
            trailing_stops: rules.trailing_stops_preference.as_deref() == Some("AVAILABLE"),
            min_trailing_step: distance_points(rules.min_step_distance.as_ref(), mid, point),
        },
        expiry: inst.expiry.clone().unwrap_or_else(|| "-".to_string()),
    };
    let mut instrument = match Instrument::from_terms(
        epic.clone(),
        inst.name.clone().unwrap_or_default(),
        &terms,
        PriceScale::Ig,
    ) {
        Ok(i) => i,
        // IG gave neither valueOfOnePip nor contractSize: one unit of money per point, as
        // before, with a warning.
        Err(e) => {
            tracing::warn!(%epic, error = %e, "market details without a value per point; assuming 1 per point");
            let terms = MarketTerms {
                value_of_one_pip: Some(Decimal::ONE),
                ..terms
            };
            Instrument::from_terms(
                epic,
                inst.name.clone().unwrap_or_default(),
                &terms,
                PriceScale::Ig,
            )
            .map_err(|e| bad(CTX, e))?
        }
    };
    // The level unit per point as IG's details give it (kept from before: garbage falls back).
    instrument.point_size = point;
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
        opening_hours: inst
            .opening_hours
            .as_ref()
            .and_then(|h| h.market_times.as_ref())
            .map(|times| {
                times
                    .iter()
                    .filter_map(|t| Some((t.open_time.clone()?, t.close_time.clone()?)))
                    .collect()
            })
            .unwrap_or_default(),
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
        created: p
            .created_date_utc
            .as_deref()
            .or(p.created_date.as_deref())
            .and_then(parse_time),
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
        reject_reason: reject::of_confirmation(c.reason.as_deref()),
        position_status: c.status.as_deref().map(position_status),
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
                    position_status(a.status.as_deref().unwrap_or_default()),
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

/// A page of price history: its candles (at `resolution`, IG's default `MINUTE` when none
/// was asked for), the historical-data allowance and the page count.
pub fn price_page(
    prices: &PricesResponse,
    epic: &Epic,
    resolution: Option<Resolution>,
) -> PricePage {
    let period = resolution.unwrap_or(Resolution::Minute).millis();
    let meta = prices.metadata.as_ref();
    let allowance = meta
        .and_then(|m| m.allowance.as_ref())
        .or(prices.allowance.as_ref())
        .map(|a| HistoricalAllowance {
            remaining: a.remaining_allowance,
            total: a.total_allowance,
            resets_in_secs: a.allowance_expiry,
        });
    PricePage {
        candles: candles(prices, epic, period),
        allowance,
        total_pages: meta
            .and_then(|m| m.page_data.as_ref())
            .and_then(|p| p.total_pages)
            .unwrap_or(1),
    }
}

/// IG's position and affected-deal statuses (`OPEN`/`OPENED`, `FULLY_CLOSED`...).
pub fn position_status(s: &str) -> PositionStatus {
    match s.trim().to_ascii_uppercase().as_str() {
        "OPEN" | "OPENED" => PositionStatus::Opened,
        "AMENDED" | "UPDATED" => PositionStatus::Amended,
        "PARTIALLY_CLOSED" => PositionStatus::PartiallyClosed,
        "CLOSED" | "FULLY_CLOSED" => PositionStatus::Closed,
        "DELETED" => PositionStatus::Deleted,
        _ => PositionStatus::Other(s.trim().to_string()),
    }
}

/// `GET /session` v1 as [`SessionInfo`].
pub fn session_info(d: &SessionDetails) -> SessionInfo {
    SessionInfo {
        account_id: d.account_id.as_deref().and_then(|a| AccountId::new(a).ok()),
        client_id: d.client_id.clone(),
        lightstreamer_endpoint: d.lightstreamer_endpoint.clone(),
        currency: d.currency.clone(),
    }
}

/// One account of `GET /accounts` v1.
pub fn account(a: &WireAccount) -> Result<Account, IgError> {
    Ok(Account {
        account_id: AccountId::new(a.account_id.clone()).map_err(|e| bad("accounts", e))?,
        name: a.account_name.clone(),
        preferred: a.preferred == Some(true),
        currency: a.currency.clone(),
        account_type: a.account_type.clone(),
        balance: a.balance.as_ref().map(|b| Balance {
            balance: b.balance.map(Money::new),
            deposit: b.deposit.map(Money::new),
            profit_loss: b.profit_loss.map(Money::new),
            available: b.available.map(Money::new),
        }),
    })
}

/// One working order of `GET /workingorders` (v2 fields, v1 accepted).
pub fn working_order(w: &WorkingOrderEntry) -> Result<WorkingOrder, IgError> {
    let d = &w.working_order_data;
    let order_type = d
        .order_type
        .as_deref()
        .or(d.request_type.as_deref())
        .map(|t| match t.trim().to_ascii_uppercase().as_str() {
            "LIMIT" | "LIMIT_ORDER" => OrderType::Limit,
            "STOP" | "STOP_ORDER" => OrderType::Stop,
            _ => OrderType::Market,
        });
    Ok(WorkingOrder {
        deal_id: DealId::new(d.deal_id.clone()).map_err(|e| bad("working order", e))?,
        epic: d
            .epic
            .as_deref()
            .or(w.market_data.epic.as_deref())
            .and_then(|e| Epic::new(e).ok()),
        direction: d.direction.as_deref().and_then(direction),
        order_type,
        size: d.order_size.or(d.size).map(Size::new),
        level: d.order_level.or(d.level).map(Price::new),
        stop_distance: d.stop_distance.map(Points::new),
        limit_distance: d.limit_distance.map(Points::new),
        currency: d.currency_code.clone(),
        created: d
            .created_date_utc
            .as_deref()
            .or(d.created_date.as_deref())
            .and_then(parse_time),
        good_till: d
            .good_till_date_iso
            .as_deref()
            .or(d.good_till_date.as_deref())
            .and_then(parse_time),
    })
}

/// One activity of `GET /history/activity` v3.
pub fn activity(a: &WireActivity) -> Activity {
    let d = a.details.as_ref();
    Activity {
        at: a.date.as_deref().and_then(parse_time),
        epic: a.epic.as_deref().and_then(|e| Epic::new(e).ok()),
        deal_id: a.deal_id.as_deref().and_then(|d| DealId::new(d).ok()),
        deal_reference: d
            .and_then(|d| d.deal_reference.as_deref())
            .and_then(|r| DealReference::new(r).ok()),
        description: a.description.clone(),
        channel: a.channel.clone(),
        direction: d.and_then(|d| d.direction.as_deref()).and_then(direction),
        level: d.and_then(|d| d.level).map(Price::new),
        size: d.and_then(|d| d.size).map(Size::new),
        stop_level: d.and_then(|d| d.stop_level).map(Price::new),
        limit_level: d.and_then(|d| d.limit_level).map(Price::new),
    }
}

/// A number in IG's display text (`"£-12.50"`, `"+1"`, `"1,234.5"`): its sign, digits and
/// point.
fn display_decimal(s: &str) -> Option<Decimal> {
    let kept: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    Decimal::from_str(&kept).ok()
}

/// One transaction of `GET /history/transactions` v2 (amounts are display strings on IG).
pub fn transaction(t: &WireTransaction) -> Transaction {
    let num = |v: &Option<String>| v.as_deref().and_then(display_decimal);
    Transaction {
        at: t
            .date_utc
            .as_deref()
            .or(t.date.as_deref())
            .and_then(parse_time),
        instrument_name: t.instrument_name.clone(),
        reference: t.reference.clone(),
        open_level: num(&t.open_level).map(Price::new),
        close_level: num(&t.close_level).map(Price::new),
        size: num(&t.size),
        profit_and_loss: num(&t.profit_and_loss).map(Money::new),
        currency: t.currency.clone(),
        cash: t.cash_transaction == Some(true),
    }
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
    fn display_numbers_and_statuses() {
        assert_eq!(display_decimal("£-12.50"), Some(dec!(-12.50)));
        assert_eq!(display_decimal("+1"), Some(dec!(1)));
        assert_eq!(display_decimal("1,234.5"), Some(dec!(1234.5)));
        assert_eq!(display_decimal("n/a"), None);
        assert_eq!(position_status("FULLY_CLOSED"), PositionStatus::Closed);
        assert_eq!(position_status("OPEN"), PositionStatus::Opened);
        assert_eq!(position_status("NEW"), PositionStatus::Other("NEW".into()));
    }

    #[test]
    fn size_step_from_precision() {
        assert_eq!(size_step(dec!(0.5)), dec!(0.1));
        assert_eq!(size_step(dec!(0.25)), dec!(0.01));
        assert_eq!(size_step(dec!(1.0)), dec!(1));
    }
}

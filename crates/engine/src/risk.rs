//! Pre-trade risk: every entry is approved (with its final size and distances) or refused
//! with a [`Refusal`]. Also session-day and trading-hours arithmetic (time-zone aware).
//!
//! Checks run in this order, the first failure wins: halt, unresolved outcome, market status,
//! stream gap, quote present, stale quote, trading hours, scheduled flatten or news window,
//! spread, open positions per instrument, open positions total, trades per day, cooldown, then
//! sizing (margin, leverage and currency exposure, a size the broker refused for funds).

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use scalper_model::{
    DealReference, Direction, Epic, Instrument, MarketStatus, Money, Points, Price, Quote, Size,
    Timestamp,
};

use crate::action::{HaltReason, Refusal};
use crate::config::{parse_tz, RiskConfig, RiskPerTrade};
use crate::error::ConfigError;
use crate::strategy::{Entry, StopKind};

/// Caps a risk-sized entry at what the available margin carries (a fixed size is not
/// shrunk), and refuses an entry whose size (at least the minimum deal) the margin cannot
/// carry. The margin is IG's factor (or deposit bands) on the notional at the entry side.
fn cap_by_margin(i: &RiskInput<'_>, fixed: bool, size: &mut Size) -> Option<Refusal> {
    let available = i.available_margin?;
    let inst = i.instrument;
    let q = i.quote?;
    let level = q.offer.max(q.bid);
    let required = inst.margin_for(*size, level);
    if required <= available {
        return None;
    }
    let rules = &inst.rules;
    let per_unit = inst.margin_for(Size::new(Decimal::ONE), level).value();
    if !fixed && per_unit > Decimal::ZERO && available.value() > Decimal::ZERO {
        let capped = Size::new(available.value() / per_unit).floor_to_step(rules.size_step);
        if capped >= rules.min_deal_size
            && capped > Size::ZERO
            && inst.margin_for(capped, level) <= available
        {
            *size = capped;
            return None;
        }
    }
    Some(Refusal::InsufficientMargin {
        required,
        available,
        currency: inst.account_currency().to_string(),
    })
}

/// The open positions' notional, in account currency: in total and net per currency (a long
/// EUR/USD is long EUR and short USD; an index is long or short its currency), and per
/// instrument (long positive, short negative).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    pub gross: Money,
    pub by_currency: Vec<(String, Money)>,
    pub by_instrument: Vec<(Epic, Money)>,
}

impl Exposure {
    /// Adds a position of `direction` and `notional` (account currency) on `inst`.
    pub fn add(&mut self, inst: &Instrument, direction: Direction, notional: Money) {
        self.gross += notional;
        let signed = if direction == Direction::Buy {
            notional
        } else {
            -notional
        };
        match self.by_instrument.iter_mut().find(|(e, _)| *e == inst.epic) {
            Some((_, m)) => *m += signed,
            None => self.by_instrument.push((inst.epic.clone(), signed)),
        }
        for (currency, sign) in legs(inst, direction) {
            let amount = if sign { notional } else { -notional };
            match self.by_currency.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, m)) => *m += amount,
                None => self.by_currency.push((currency.to_string(), amount)),
            }
        }
    }

    pub fn net(&self, currency: &str) -> Money {
        self.by_currency
            .iter()
            .find(|(c, _)| c == currency)
            .map_or(Money::ZERO, |(_, m)| *m)
    }
}

/// The currencies a position is long (`true`) or short (`false`) of: an FX pair's base and
/// quote, or an instrument's own currency.
fn legs(inst: &Instrument, direction: Direction) -> Vec<(&str, bool)> {
    let long = direction == Direction::Buy;
    match scalper_model::catalogue::by_epic(&inst.epic) {
        Some((m, _)) if !m.base.is_empty() => vec![(m.base, long), (m.currency, !long)],
        Some((m, _)) => vec![(m.currency, long)],
        None => vec![(inst.currency.as_str(), long)],
    }
}

/// Notional of `size` at `level`, in account currency.
pub fn notional(inst: &Instrument, size: Size, level: Price) -> Money {
    inst.to_account(Money::new(inst.notional_per_unit(level) * size.value()))
}

/// Refuses an entry that would pass the leverage or a currency's exposure limit.
fn check_exposure(
    c: &RiskConfig,
    i: &RiskInput<'_>,
    direction: Direction,
    size: Size,
) -> Option<Refusal> {
    let current = i.exposure?;
    let q = i.quote?;
    let inst = i.instrument;
    let added = notional(inst, size, q.offer.max(q.bid));
    if let Some(max) = c.max_leverage {
        let equity = i.equity.value();
        let leverage = if equity > Decimal::ZERO {
            (current.gross + added).value() / equity
        } else {
            Decimal::MAX
        };
        if leverage > max {
            return Some(Refusal::MaxLeverage { leverage, max });
        }
    }
    if let Some(max) = c.max_currency_exposure {
        let mut after = current.clone();
        after.add(inst, direction, added);
        for (currency, _) in legs(inst, direction) {
            let (before, now) = (current.net(currency), after.net(currency));
            if now.value().abs() > max && now.value().abs() > before.value().abs() {
                return Some(Refusal::MaxCurrencyExposure {
                    currency: currency.to_string(),
                    exposure: now,
                    max: Money::new(max),
                });
            }
        }
    }
    None
}

/// An approved entry: the size and distances to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub size: Size,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
}

/// Risk's answer to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve(Approved),
    Refuse(Refusal),
}

/// Everything risk looks at for one entry.
#[derive(Debug, Clone, Copy)]
pub struct RiskInput<'a> {
    pub now: Timestamp,
    pub instrument: &'a Instrument,
    pub quote: Option<&'a Quote>,
    pub status: &'a MarketStatus,
    pub stream_gap: bool,
    pub halted: Option<HaltReason>,
    pub unresolved: Option<&'a DealReference>,
    pub open_total: u32,
    pub open_instrument: u32,
    pub trades_today: u32,
    pub consecutive_losses: u32,
    pub cooldown_until: Option<Timestamp>,
    /// End of the pause after a broker rejection of an entry.
    pub rejected_until: Option<Timestamp>,
    /// The smallest size the broker refused for insufficient funds since a position last
    /// closed: entries of that size or more are refused without asking.
    pub funds_refused: Option<Size>,
    /// The open positions' exposure, when a leverage or currency limit is configured.
    pub exposure: Option<&'a Exposure>,
    /// The scheduled flatten or news window that holds now.
    pub blackout: Option<&'a crate::schedule::Blackout>,
    pub equity: Money,
    /// Margin the account can still commit (equity with open P&L, less the margin of open
    /// positions), in account currency; `None` when the instrument has no margin modelled.
    pub available_margin: Option<Money>,
    /// Per-instrument override of `max_spread_points`.
    pub max_spread_points: Option<Decimal>,
}

#[derive(Debug, Clone)]
struct Window {
    start: NaiveTime,
    end: NaiveTime,
    tz: Tz,
    days: Vec<chrono::Weekday>,
}

/// The risk manager: configuration with its time zones resolved.
#[derive(Debug, Clone)]
pub struct RiskManager {
    cfg: RiskConfig,
    session_tz: Tz,
    windows: Vec<Window>,
}

impl RiskManager {
    pub fn new(cfg: RiskConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let session_tz = parse_tz(&cfg.session_timezone)?;
        let windows = cfg
            .trading_hours
            .iter()
            .map(|w| {
                Ok(Window {
                    start: w.start.0,
                    end: w.end.0,
                    tz: parse_tz(&w.timezone)?,
                    days: w.days.clone(),
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            cfg,
            session_tz,
            windows,
        })
    }

    pub fn config(&self) -> &RiskConfig {
        &self.cfg
    }

    /// The session day `ts` belongs to: the local date in `session_timezone`, shifted so that
    /// days begin at `session_start`. The journal uses it to restore the day's P&L and count.
    pub fn session_day(&self, ts: Timestamp) -> NaiveDate {
        let dt = ts.to_datetime().unwrap_or_default();
        let local = dt.with_timezone(&self.session_tz).naive_local();
        let shifted = local - (self.cfg.session_start.0 - NaiveTime::MIN);
        shifted.date()
    }

    /// First instant of the session day after the one containing `ts`.
    pub fn next_session_start(&self, ts: Timestamp) -> Timestamp {
        let next = self.session_day(ts).succ_opt().unwrap_or(NaiveDate::MAX);
        let naive = next.and_time(self.cfg.session_start.0);
        let utc = self
            .session_tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|d| d.with_timezone(&chrono::Utc))
            // A start inside a DST gap: one hour later exists.
            .or_else(|| {
                self.session_tz
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
                    .map(|d| d.with_timezone(&chrono::Utc))
            });
        utc.map_or(Timestamp::from_millis(i64::MAX), Timestamp::from_datetime)
    }

    /// True when `ts` is inside a trading window (always when none is configured).
    pub fn in_trading_hours(&self, ts: Timestamp) -> bool {
        if self.windows.is_empty() {
            return true;
        }
        let Some(dt) = ts.to_datetime() else {
            return false;
        };
        self.windows.iter().any(|w| {
            let local = dt.with_timezone(&w.tz).naive_local();
            let t = local.time();
            let (inside, day) = if w.start < w.end {
                (t >= w.start && t < w.end, local.date())
            } else if t >= w.start {
                (true, local.date())
            } else {
                // After midnight in a window that started the previous day.
                (t < w.end, local.date().pred_opt().unwrap_or(local.date()))
            };
            inside && (w.days.is_empty() || w.days.contains(&day.weekday()))
        })
    }

    /// Decides on one entry.
    pub fn check_entry(&self, input: &RiskInput<'_>, entry: &Entry) -> Decision {
        match self.refusal(input) {
            Some(r) => Decision::Refuse(r),
            None => self.size(input, entry),
        }
    }

    fn refusal(&self, i: &RiskInput<'_>) -> Option<Refusal> {
        let c = &self.cfg;
        if let Some(reason) = i.halted {
            return Some(Refusal::Halted { reason });
        }
        if let Some(r) = i.unresolved {
            return Some(Refusal::OutcomeUnknownPending {
                deal_ref: r.clone(),
            });
        }
        if !i.status.is_tradeable() {
            return Some(Refusal::MarketNotTradeable {
                status: i.status.to_string(),
            });
        }
        if i.stream_gap {
            return Some(Refusal::StreamGap);
        }
        let Some(q) = i.quote else {
            return Some(Refusal::NoQuote);
        };
        let age = i.now.since(q.ts);
        if age > c.stale_quote_ms {
            return Some(Refusal::StaleQuote {
                age_ms: age,
                max_ms: c.stale_quote_ms,
            });
        }
        if !self.in_trading_hours(i.now) {
            return Some(Refusal::OutsideTradingHours);
        }
        match i.blackout {
            Some(crate::schedule::Blackout::Scheduled(name)) => {
                return Some(Refusal::ScheduledFlatten { name: name.clone() });
            }
            Some(crate::schedule::Blackout::News(event)) => {
                return Some(Refusal::NewsBlackout {
                    event: event.clone(),
                });
            }
            Some(crate::schedule::Blackout::MarketClosed(opens)) => {
                return Some(Refusal::MarketClosed { opens: *opens });
            }
            Some(crate::schedule::Blackout::MarketClosing(closes)) => {
                return Some(Refusal::MarketClosing { closes: *closes });
            }
            None => {}
        }
        if let Some(max) = i.max_spread_points.or(c.max_spread_points) {
            let spread = i.instrument.to_points(q.spread()).value();
            if spread > max {
                return Some(Refusal::SpreadTooWide { spread, max });
            }
        }
        if i.open_instrument >= c.max_open_per_instrument {
            return Some(Refusal::MaxOpenPerInstrument {
                open: i.open_instrument,
                max: c.max_open_per_instrument,
            });
        }
        if i.open_total >= c.max_open_positions {
            return Some(Refusal::MaxOpenPositions {
                open: i.open_total,
                max: c.max_open_positions,
            });
        }
        if i.trades_today >= c.max_trades_per_day {
            return Some(Refusal::MaxTradesPerDay {
                trades: i.trades_today,
                max: c.max_trades_per_day,
            });
        }
        if let Some(until) = i.rejected_until {
            if i.now < until {
                return Some(Refusal::RecentlyRejected { until });
            }
        }
        if let Some(until) = i.cooldown_until {
            if i.now < until {
                return Some(Refusal::Cooldown {
                    losses: i.consecutive_losses,
                    until,
                });
            }
        }
        None
    }

    /// Size and distances: stop and limit widened to the market minimum; size from the fixed
    /// size or from risk per trade ÷ (stop points × value per point), floored to the size
    /// step, capped at `max_size`, refused below the minimum deal size.
    fn size(&self, i: &RiskInput<'_>, entry: &Entry) -> Decision {
        let rules = &i.instrument.rules;
        let min = rules.min_stop_distance;
        let widen = |d: Points| if d < min { min } else { d };
        let limit = entry.limit_distance.map(widen);
        let stop = match entry.stop_kind {
            StopKind::Normal => entry.stop_distance.map(widen),
            StopKind::Guaranteed => {
                let Some(g) = rules.guaranteed_stop else {
                    return Decision::Refuse(Refusal::StopKindUnavailable {
                        kind: "guaranteed".into(),
                    });
                };
                let Some(d) = entry.stop_distance else {
                    return Decision::Refuse(Refusal::StopKindNeedsDistance {
                        kind: "guaranteed".into(),
                    });
                };
                let gmin = if g.min_distance > min {
                    g.min_distance
                } else {
                    min
                };
                Some(if d < gmin { gmin } else { d })
            }
            StopKind::Trailing { .. } => {
                if !rules.trailing_stops {
                    return Decision::Refuse(Refusal::StopKindUnavailable {
                        kind: "trailing".into(),
                    });
                }
                let Some(d) = entry.stop_distance else {
                    return Decision::Refuse(Refusal::StopKindNeedsDistance {
                        kind: "trailing".into(),
                    });
                };
                Some(widen(d))
            }
        };
        if let (Some(s), Some(max)) = (stop, rules.max_stop_distance) {
            if s > max {
                return Decision::Refuse(Refusal::StopTooFar {
                    distance: s.value(),
                    max: max.value(),
                });
            }
        }
        let raw = match (entry.size, stop) {
            (Some(size), _) => size,
            (None, Some(s)) => {
                let budget = match self.cfg.risk_per_trade {
                    RiskPerTrade::Percent(p) => i.equity.value() * p / Decimal::ONE_HUNDRED,
                    RiskPerTrade::Amount(a) => a,
                };
                let per_unit = s.value() * i.instrument.account_value_per_point();
                if per_unit <= Decimal::ZERO || budget <= Decimal::ZERO {
                    Size::ZERO
                } else {
                    Size::new(budget / per_unit)
                }
            }
            (None, None) => return Decision::Refuse(Refusal::NoStopToSizeFrom),
        };
        let mut size = raw.floor_to_step(rules.size_step);
        if let Some(max) = self.cfg.max_size {
            if size.value() > max {
                size = Size::new(max).floor_to_step(rules.size_step);
            }
        }
        if size < rules.min_deal_size || size <= Size::ZERO {
            return Decision::Refuse(Refusal::SizeBelowMinimum {
                size,
                min: rules.min_deal_size,
            });
        }
        if let Some(refusal) = cap_by_margin(i, entry.size.is_some(), &mut size) {
            return Decision::Refuse(refusal);
        }
        if let Some(refusal) = check_exposure(&self.cfg, i, entry.direction, size) {
            return Decision::Refuse(refusal);
        }
        if let Some(refused) = i.funds_refused {
            if size >= refused {
                return Decision::Refuse(Refusal::BrokerRefusedFunds { size: refused });
            }
        }
        Decision::Approve(Approved {
            size: Size::new(scalper_model::normalized(size.value())),
            stop_distance: stop,
            limit_distance: limit,
        })
    }
}

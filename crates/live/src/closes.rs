//! Positions the broker closed by itself (stop, limit, platform, margin close-out): seen as a
//! stream OPU `DELETED`, or found missing from `/positions` by the in-run reconciliation (after
//! a stream gap, and every `reconcile_interval_ms`). Either way the close is booked at the level
//! IG recorded for the closing deal (`/history/activity`), with IG's cause: its channel
//! (`SYSTEM` is IG itself) and its level against the position's stop and limit. The last quote
//! only gives the estimate used when IG's history does not show the close (yet).

use scalper_engine::{BrokerEvent, CloseCause, Engine, Trade};
use scalper_ig::stream::{PositionUpdate, UpdateStatus};
use scalper_ig::{CloseLevel, IgClient};
use scalper_model::{normalized, DealId, DealState, Direction, Price, Quote, Size, Timestamp};

/// A position the broker no longer holds, to be valued from IG's history.
#[derive(Debug, Clone)]
pub struct GoneClose {
    /// The close as far as scalper can tell without IG's history (last quote, cause
    /// `Manual`): booked as it is when the history does not show the close.
    pub estimate: BrokerEvent,
    pub direction: Direction,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// A close valued from IG's history: the event for the engine and the reason to journal.
#[derive(Debug, Clone)]
pub struct ValuedClose {
    pub event: BrokerEvent,
    pub reason: String,
}

/// The engine's open position `deal_id` (not one it is opening or closing itself), as a
/// [`GoneClose`] estimated from the last quote.
pub fn gone(
    engine: &Engine,
    quote_for: impl Fn(&scalper_model::Epic) -> Option<Quote>,
    now: Timestamp,
    deal_id: &DealId,
    level_hint: Option<Price>,
) -> Option<GoneClose> {
    let trade = engine
        .trades()
        .iter()
        .find(|t| t.deal_id.as_ref() == Some(deal_id) && t.state == DealState::Open)?;
    gone_trade(trade, quote_for, now, level_hint)
}

/// `trade`, an open position with a deal id, as a [`GoneClose`] estimated from the last quote
/// (or `level_hint`, or its entry level when no quote came yet).
pub fn gone_trade(
    trade: &Trade,
    quote_for: impl Fn(&scalper_model::Epic) -> Option<Quote>,
    now: Timestamp,
    level_hint: Option<Price>,
) -> Option<GoneClose> {
    let deal_id = trade.deal_id.clone()?;
    let exit_side = quote_for(&trade.epic).map(|q| match trade.direction {
        Direction::Buy => q.bid,
        Direction::Sell => q.offer,
    });
    let level = exit_side.or(level_hint).or(trade.entry_level)?;
    Some(GoneClose {
        estimate: BrokerEvent::PositionClosed {
            deal_id,
            level,
            pnl: None,
            cause: CloseCause::Manual,
            at: now,
        },
        direction: trade.direction,
        stop_level: trade.stop_level,
        limit_level: trade.limit_level,
    })
}

/// An OPU `DELETED` for a position the engine holds open (not one it is closing itself): the
/// broker closed it.
pub fn broker_side_close(
    engine: &Engine,
    quote_for: impl Fn(&scalper_model::Epic) -> Option<Quote>,
    now: Timestamp,
    p: &PositionUpdate,
) -> Option<GoneClose> {
    if p.status != UpdateStatus::Deleted {
        return None;
    }
    gone(engine, quote_for, now, &p.deal_id, p.level)
}

/// An OPU `UPDATED` that shows one of the engine's open positions smaller (same deal id) while
/// no partial close of the engine's is in flight: part of it was closed on IG's platform. The
/// part, as a [`GoneClose`] whose estimate is a `PartiallyClosed` at the last quote, to be
/// valued at IG's level like a broker-side close.
pub fn broker_side_reduce(
    engine: &Engine,
    quote_for: impl Fn(&scalper_model::Epic) -> Option<Quote>,
    now: Timestamp,
    p: &PositionUpdate,
) -> Option<GoneClose> {
    if p.status != UpdateStatus::Updated {
        return None;
    }
    let left = p.size?;
    let trade = engine.trades().iter().find(|t| {
        t.deal_id.as_ref() == Some(&p.deal_id) && t.state == DealState::Open && t.reducing.is_none()
    })?;
    if left >= trade.size || left.value() <= rust_decimal::Decimal::ZERO {
        return None;
    }
    let mut part = gone_trade(trade, quote_for, now, None)?;
    let BrokerEvent::PositionClosed {
        deal_id, level, at, ..
    } = part.estimate
    else {
        return None;
    };
    part.estimate = BrokerEvent::PartiallyClosed {
        deal_id,
        deal_ref: None,
        size: Size::new(normalized(trade.size.value() - left.value())),
        level,
        pnl: None,
        at,
    };
    Some(part)
}

/// Whether a close at `level` is at or past the position's stop (then `Stop`) or its limit
/// (then `Limit`): a long is stopped below and limited above, a short the other way round.
pub fn level_cause(
    direction: Direction,
    level: Price,
    stop: Option<Price>,
    limit: Option<Price>,
) -> Option<CloseCause> {
    let (stopped, limited) = match direction {
        Direction::Buy => (
            stop.is_some_and(|s| level <= s),
            limit.is_some_and(|l| level >= l),
        ),
        Direction::Sell => (
            stop.is_some_and(|s| level >= s),
            limit.is_some_and(|l| level <= l),
        ),
    };
    if stopped {
        Some(CloseCause::Stop)
    } else if limited {
        Some(CloseCause::Limit)
    } else {
        None
    }
}

/// IG's cause for a close: who closed it (the activity's channel) and where (its level against
/// the position's stop and limit).
pub fn cause_from_ig(
    close: &CloseLevel,
    direction: Direction,
    stop: Option<Price>,
    limit: Option<Price>,
) -> (CloseCause, String) {
    let channel = close.channel.as_deref().unwrap_or("").to_ascii_uppercase();
    let description = close
        .description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let by_level = level_cause(direction, close.level, stop, limit);
    match (channel.as_str(), by_level) {
        ("SYSTEM", Some(CloseCause::Stop)) => (
            CloseCause::Stop,
            format!("stop: IG closed it at {}{description}", close.level),
        ),
        ("SYSTEM", Some(CloseCause::Limit)) => (
            CloseCause::Limit,
            format!("limit: IG closed it at {}{description}", close.level),
        ),
        ("SYSTEM", _) => (
            CloseCause::Manual,
            format!(
                "closed by IG (not at its stop or limit: a margin close-out, expiry or IG action) at {}{description}",
                close.level
            ),
        ),
        ("", Some(cause)) => (
            cause,
            format!(
                "{}: IG's close level {} is at or past it (IG gave no channel){description}",
                if cause == CloseCause::Stop { "stop" } else { "limit" },
                close.level
            ),
        ),
        ("", _) => (
            CloseCause::Manual,
            format!("closed at the broker at {}{description}", close.level),
        ),
        (other, _) => (
            CloseCause::Manual,
            format!(
                "closed outside this run through {other} at {}{description}",
                close.level
            ),
        ),
    }
}

/// The close at the level and with the cause IG recorded for the closing deal
/// (`/history/activity?dealId=`); the estimate as it is when the history does not say.
pub async fn value_close(client: &IgClient, gone: GoneClose) -> ValuedClose {
    let GoneClose {
        mut estimate,
        direction,
        stop_level,
        limit_level,
    } = gone;
    let mut reason = String::new();
    // A part closed on IG's platform: the level of IG's deal that closed it.
    if let BrokerEvent::PartiallyClosed {
        deal_id, level, at, ..
    } = &mut estimate
    {
        match client.close_level(deal_id, direction.opposite()).await {
            Ok(Some(close)) => {
                *level = close.level;
                if let Some(t) = close.at {
                    *at = t;
                }
            }
            Ok(None) => {
                tracing::warn!(deal_id = %deal_id, "the partial close is not in IG's activity history yet; booked at the last quote");
            }
            Err(e) => {
                tracing::warn!(deal_id = %deal_id, error = %e, "cannot read IG's activity history; the partial close is booked at the last quote");
            }
        }
    }
    if let BrokerEvent::PositionClosed {
        deal_id,
        level,
        cause,
        at,
        ..
    } = &mut estimate
    {
        match client.close_level(deal_id, direction.opposite()).await {
            Ok(Some(close)) => {
                let (c, r) = cause_from_ig(&close, direction, stop_level, limit_level);
                *level = close.level;
                *cause = c;
                if let Some(t) = close.at {
                    *at = t;
                }
                reason = r;
            }
            Ok(None) => {
                tracing::warn!(deal_id = %deal_id, "the close is not in IG's activity history yet; booked at the last quote");
                reason = format!("closed at the broker; IG's history did not show the close yet, booked at the last quote {level}");
            }
            Err(e) => {
                tracing::warn!(deal_id = %deal_id, error = %e, "cannot read IG's activity history; the close is booked at the last quote");
                reason = format!("closed at the broker; IG's history could not be read ({e}), booked at the last quote {level}");
            }
        }
    }
    ValuedClose {
        event: estimate,
        reason,
    }
}

/// What an in-run reconciliation found.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// The positions scalper held open that IG no longer has, valued from IG's history.
    pub closed: Vec<ValuedClose>,
    /// Positions IG has that this run does not manage: `deal id epic direction size`.
    pub unknown: Vec<String>,
    /// How many positions IG reported.
    pub broker_positions: usize,
}

/// Compares IG's positions with `held` (the engine's open positions when the reconciliation
/// was asked for) and values every one IG no longer has. `None` when `/positions` cannot be
/// read (the next reconciliation tries again).
pub async fn reconcile(
    client: &IgClient,
    held: Vec<GoneClose>,
    managed: Vec<DealId>,
) -> Option<Reconciled> {
    let positions = match client.positions().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "in-run reconciliation: cannot read /positions; trying again later");
            return None;
        }
    };
    let mut out = Reconciled {
        broker_positions: positions.len(),
        ..Reconciled::default()
    };
    for g in held {
        let BrokerEvent::PositionClosed { deal_id, .. } = &g.estimate else {
            continue;
        };
        if positions.iter().any(|p| &p.deal_id == deal_id) {
            continue;
        }
        out.closed.push(value_close(client, g).await);
    }
    for p in &positions {
        if !managed.contains(&p.deal_id) {
            out.unknown.push(format!(
                "{} {} {} {}",
                p.deal_id,
                p.epic,
                p.direction.as_str(),
                p.size
            ));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn close(level: rust_decimal::Decimal, channel: Option<&str>) -> CloseLevel {
        CloseLevel {
            level: Price::new(level),
            at: None,
            channel: channel.map(Into::into),
            description: Some("Position/s closed: DIAAAA1".into()),
        }
    }

    #[test]
    fn ig_system_closes_at_the_stop_or_limit_are_stops_and_limits() {
        let (stop, limit) = (
            Some(Price::new(dec!(1.0990))),
            Some(Price::new(dec!(1.1020))),
        );
        let (c, r) = cause_from_ig(
            &close(dec!(1.0989), Some("SYSTEM")),
            Direction::Buy,
            stop,
            limit,
        );
        assert_eq!(c, CloseCause::Stop);
        assert!(r.starts_with("stop: IG closed it at 1.0989"), "{r}");
        let (c, _) = cause_from_ig(
            &close(dec!(1.1021), Some("SYSTEM")),
            Direction::Buy,
            stop,
            limit,
        );
        assert_eq!(c, CloseCause::Limit);
        // A short: the stop is above, the limit below.
        let (c, _) = cause_from_ig(
            &close(dec!(1.1020), Some("SYSTEM")),
            Direction::Sell,
            limit,
            stop,
        );
        assert_eq!(c, CloseCause::Stop);
    }

    #[test]
    fn other_channels_and_system_closes_elsewhere_are_not_stops() {
        let (stop, limit) = (
            Some(Price::new(dec!(1.0990))),
            Some(Price::new(dec!(1.1020))),
        );
        let (c, r) = cause_from_ig(
            &close(dec!(1.1000), Some("SYSTEM")),
            Direction::Buy,
            stop,
            limit,
        );
        assert_eq!(c, CloseCause::Manual);
        assert!(r.contains("margin close-out"), "{r}");
        let (c, r) = cause_from_ig(
            &close(dec!(1.0980), Some("WEB")),
            Direction::Buy,
            stop,
            limit,
        );
        assert_eq!(
            c,
            CloseCause::Manual,
            "a hand close past the stop is still a hand close"
        );
        assert!(r.contains("through WEB"), "{r}");
    }

    #[test]
    fn level_cause_reads_each_side_for_longs_and_shorts() {
        let p = |d| Some(Price::new(d));
        let long = |l| {
            level_cause(
                Direction::Buy,
                Price::new(l),
                p(dec!(1.0990)),
                p(dec!(1.1020)),
            )
        };
        assert_eq!(long(dec!(1.0990)), Some(CloseCause::Stop), "at the stop");
        assert_eq!(long(dec!(1.1020)), Some(CloseCause::Limit), "at the limit");
        assert_eq!(long(dec!(1.1000)), None, "between the two");
        let short = |l| {
            level_cause(
                Direction::Sell,
                Price::new(l),
                p(dec!(1.1020)),
                p(dec!(1.0990)),
            )
        };
        assert_eq!(
            short(dec!(1.1025)),
            Some(CloseCause::Stop),
            "past a short's stop"
        );
        assert_eq!(
            short(dec!(1.0985)),
            Some(CloseCause::Limit),
            "past a short's limit"
        );
        assert_eq!(short(dec!(1.1000)), None);
        assert_eq!(
            level_cause(Direction::Buy, Price::new(dec!(1.0)), None, None),
            None,
            "no stop or limit: no level cause"
        );
    }
}

//! Broker reports applied to trades: confirms, rejections, unknown outcomes and their
//! resolution, closes (statistics, cooldown, daily loss) and the broker-failure policy.
//! Every transition goes through `DealState::apply`; an impossible one is logged at ERROR.

use scalper_model::economics::Amount;
use scalper_model::{DealEvent, DealState, Money, Points, Price, Timestamp};

use super::{log, placeholder_id, Engine};
use crate::action::{Action, ClosedTrade, HaltReason, LogLevel, OpenedTrade, ReducedTrade};
use crate::config::BrokerFailurePolicy;
use crate::event::{rejection_text, BrokerCommand, BrokerEvent, CloseCause};
use crate::strategy::{Fill, StopKind, StrategyContext};

impl Engine {
    pub(super) fn on_broker_event(&mut self, ev: BrokerEvent, out: &mut Vec<Action>) {
        match ev {
            BrokerEvent::Accepted {
                deal_ref,
                deal_id,
                level,
                size,
                stop_level,
                limit_level,
                at,
            } => {
                if let Some(i) = self
                    .trades
                    .iter()
                    .position(|t| t.reducing.as_ref().is_some_and(|(r, _, _)| *r == deal_ref))
                {
                    // A confirm of a partial close (or its resolution).
                    let deal_id = self.trades[i].deal_id.clone().unwrap_or(deal_id);
                    self.reduced(i, deal_id, size, level, None, at, out);
                    return;
                }
                let Some(i) = self.trades.iter().position(|t| t.open_ref == deal_ref) else {
                    // A confirm of a close request: treat it as the close.
                    if let Some(i) = self
                        .trades
                        .iter()
                        .position(|t| t.close_ref.as_ref() == Some(&deal_ref))
                    {
                        self.finish(i, level, None, CloseCause::Engine, at, out);
                    } else {
                        out.push(log(
                            LogLevel::Warn,
                            None,
                            format!("confirm for unknown deal reference {deal_ref}"),
                        ));
                    }
                    return;
                };
                let t = &mut self.trades[i];
                let was_unknown = t.state == DealState::Unknown;
                let next = t
                    .state
                    .apply(DealEvent::Accept)
                    .and_then(|s| s.apply(DealEvent::PositionSeen));
                match next {
                    Ok(s) => t.state = s,
                    Err(e) => {
                        out.push(log(
                            LogLevel::Error,
                            Some(t.epic.clone()),
                            format!("{deal_ref}: {e}"),
                        ));
                        return;
                    }
                }
                if was_unknown {
                    self.unknown_resolved += 1;
                    t.unknown_ref = None;
                    out.push(log(
                        LogLevel::Info,
                        Some(t.epic.clone()),
                        format!("outcome of {deal_ref} resolved: accepted"),
                    ));
                }
                let point = self
                    .markets
                    .iter()
                    .find(|m| m.instrument.epic == t.epic)
                    .map_or(rust_decimal::Decimal::ONE, |m| m.instrument.point_size);
                let away = |d: Option<Points>, sign: rust_decimal::Decimal| {
                    d.map(|d| level + sign * d.value() * point)
                };
                let sign = t.direction.sign();
                t.deal_id = Some(deal_id.clone());
                t.entry_level = Some(level);
                t.entry_time = Some(at);
                t.size = size;
                t.best_price = Some(level);
                if t.stop_kind == StopKind::Guaranteed {
                    t.premium_points = super::premium_at(
                        self.markets.iter().find(|m| m.instrument.epic == t.epic),
                        level,
                    );
                }
                t.stop_level = stop_level.or_else(|| away(t.stop_distance, -sign));
                t.limit_level = limit_level.or_else(|| away(t.limit_distance, sign));
                self.day_trades += 1;
                out.push(Action::TradeOpened(OpenedTrade {
                    trade_id: t.trade_id,
                    deal_ref,
                    deal_id,
                    epic: t.epic.clone(),
                    direction: t.direction,
                    size: t.size,
                    level,
                    stop_level: t.stop_level,
                    limit_level: t.limit_level,
                    at,
                    paper: t.paper,
                }));
                let fill = Fill {
                    direction: t.direction,
                    size: t.size,
                    level,
                    at,
                    closing: false,
                };
                let pending_close = t.close_when_open.take();
                self.notify_fill(i, &fill);
                if let Some(reason) = pending_close {
                    self.close_trade(i, &reason, out);
                } else if self.halts.manual_close {
                    self.close_trade(i, "kill switch", out);
                } else if self.halts.daily_loss {
                    self.close_trade(i, "daily loss limit", out);
                }
            }
            BrokerEvent::Rejected {
                deal_ref,
                reason,
                detail,
            } => self.on_rejected(
                &deal_ref,
                &reason,
                &rejection_text(&reason, detail.as_deref()),
                out,
            ),
            BrokerEvent::OutcomeUnknown { deal_ref, detail } => {
                if let Some(i) = self
                    .trades
                    .iter()
                    .position(|t| t.reducing.as_ref().is_some_and(|(r, _, _)| *r == deal_ref))
                {
                    let now = self.now;
                    let t = &mut self.trades[i];
                    if t.unknown_ref.as_ref() == Some(&deal_ref) {
                        return;
                    }
                    t.unknown_ref = Some(deal_ref.clone());
                    t.last_resolve_at = Some(now);
                    out.push(log(
                        LogLevel::Warn,
                        Some(t.epic.clone()),
                        format!("outcome of partial close {deal_ref} unknown ({detail}): resolving, nothing resent"),
                    ));
                    out.push(Action::Broker(BrokerCommand::Resolve {
                        deal_ref,
                        epic: t.epic.clone(),
                    }));
                    return;
                }
                let Some(i) = self.trades.iter().position(|t| {
                    t.open_ref == deal_ref || t.close_ref.as_ref() == Some(&deal_ref)
                }) else {
                    out.push(log(
                        LogLevel::Warn,
                        None,
                        format!("unknown outcome for unknown deal reference {deal_ref}"),
                    ));
                    return;
                };
                let now = self.now;
                let t = &mut self.trades[i];
                // Still unknown after a resolution attempt: wait for the timer's next retry
                // (answering at once could loop with a broker that answers synchronously).
                if t.unknown_ref.as_ref() == Some(&deal_ref) {
                    return;
                }
                match t.state.apply(DealEvent::OutcomeUnknown) {
                    Ok(s) => t.state = s,
                    Err(e) => {
                        out.push(log(
                            LogLevel::Error,
                            Some(t.epic.clone()),
                            format!("{deal_ref}: {e}"),
                        ));
                        return;
                    }
                }
                t.unknown_ref = Some(deal_ref.clone());
                out.push(log(
                    LogLevel::Warn,
                    Some(t.epic.clone()),
                    format!("outcome of {deal_ref} unknown ({detail}): resolving, nothing resent"),
                ));
                t.last_resolve_at = Some(now);
                out.push(Action::Broker(BrokerCommand::Resolve {
                    deal_ref,
                    epic: t.epic.clone(),
                }));
            }
            BrokerEvent::PositionClosed {
                deal_id,
                level,
                pnl,
                cause,
                at,
            } => match self
                .trades
                .iter()
                .position(|t| t.deal_id.as_ref() == Some(&deal_id))
            {
                Some(i) => self.finish(i, level, pnl, cause, at, out),
                None => out.push(log(
                    LogLevel::Warn,
                    None,
                    format!("position {deal_id} closed but not ours"),
                )),
            },
            BrokerEvent::PartiallyClosed {
                deal_id,
                deal_ref: _,
                size,
                level,
                pnl,
                at,
            } => match self
                .trades
                .iter()
                .position(|t| t.deal_id.as_ref() == Some(&deal_id))
            {
                Some(i) => self.reduced(i, deal_id, size, level, pnl, at, out),
                None => out.push(log(
                    LogLevel::Warn,
                    None,
                    format!("position {deal_id} partly closed but not ours"),
                )),
            },
            BrokerEvent::Amended {
                deal_id,
                stop_level,
                limit_level,
            } => {
                if let Some(t) = self
                    .trades
                    .iter_mut()
                    .find(|t| t.deal_id.as_ref() == Some(&deal_id))
                {
                    t.stop_level = stop_level;
                    t.limit_level = limit_level;
                    t.prev_stop_level = None;
                }
            }
            BrokerEvent::AmendRejected {
                deal_id,
                reason,
                detail,
            } => {
                let reason = rejection_text(&reason, detail.as_deref());
                if let Some(t) = self
                    .trades
                    .iter_mut()
                    .find(|t| t.deal_id.as_ref() == Some(&deal_id))
                {
                    if let Some(prev) = t.prev_stop_level.take() {
                        t.stop_level = Some(prev);
                    }
                    out.push(log(
                        LogLevel::Warn,
                        Some(t.epic.clone()),
                        format!("stop amendment of {deal_id} refused: {reason}"),
                    ));
                }
            }
            BrokerEvent::Failure { kind, detail } => self.on_failure(kind, &detail, out),
        }
    }

    fn on_rejected(
        &mut self,
        deal_ref: &scalper_model::DealReference,
        code: &scalper_model::RejectReason,
        reason: &str,
        out: &mut Vec<Action>,
    ) {
        if let Some(i) = self
            .trades
            .iter()
            .position(|t| t.reducing.as_ref().is_some_and(|(r, _, _)| r == deal_ref))
        {
            let t = &mut self.trades[i];
            t.reducing = None;
            if t.unknown_ref.as_ref() == Some(deal_ref) {
                t.unknown_ref = None;
                self.unknown_resolved += 1;
            }
            out.push(log(
                LogLevel::Warn,
                Some(t.epic.clone()),
                format!(
                    "partial close {deal_ref} of trade {} rejected: {reason}",
                    t.trade_id
                ),
            ));
            if let Some(r) = t.close_when_open.take() {
                self.close_trade(i, &r, out);
            }
            return;
        }
        if let Some(i) = self.trades.iter().position(|t| t.open_ref == *deal_ref) {
            let t = &mut self.trades[i];
            let was_unknown = t.state == DealState::Unknown;
            if let Err(e) = t.state.apply(DealEvent::Reject) {
                out.push(log(
                    LogLevel::Error,
                    Some(t.epic.clone()),
                    format!("{deal_ref}: {e}"),
                ));
                return;
            }
            let epic = t.epic.clone();
            let size = t.size;
            self.trades.remove(i);
            // The account does not take trailing stops (IG: its trailingStopsEnabled
            // preference): entries asking for one are refused here from now on.
            if matches!(code, scalper_model::RejectReason::Other(c) if c == "TRAILING_STOP_NOT_ALLOWED")
            {
                if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == epic) {
                    m.instrument.rules.trailing_stops = false;
                    m.trailing_refused = true;
                }
                out.push(log(
                    LogLevel::Error,
                    Some(epic.clone()),
                    "the broker refuses trailing stops on this account or market: enable trailing stops in the IG account's preferences, or set trailing = \"engine\" in the strategy".to_string(),
                ));
            }
            if *code == scalper_model::RejectReason::InsufficientFunds {
                if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == epic) {
                    m.funds_refused = Some(m.funds_refused.map_or(size, |s| s.min(size)));
                }
            }
            // A refused order is not resent on every quote: pause entries on this instrument.
            // (A resolution that found no deal is not a refusal.)
            let pause = self.cfg.risk.reject_cooldown_ms;
            if !was_unknown && pause > 0 {
                let until = self.now.plus_millis(pause);
                if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == epic) {
                    m.rejected_until = Some(until);
                }
            }
            if was_unknown {
                self.unknown_resolved += 1;
                out.push(log(
                    LogLevel::Info,
                    Some(epic.clone()),
                    format!("outcome of {deal_ref} resolved: no deal"),
                ));
            }
            out.push(log(
                LogLevel::Warn,
                Some(epic),
                format!("entry {deal_ref} rejected: {reason}"),
            ));
        } else if let Some(i) = self
            .trades
            .iter()
            .position(|t| t.close_ref.as_ref() == Some(deal_ref))
        {
            let retry = self.now.plus_millis(self.cfg.resolve_retry_ms);
            let t = &mut self.trades[i];
            match t.state.apply(DealEvent::CloseRejected) {
                Ok(s) => t.state = s,
                Err(e) => {
                    out.push(log(
                        LogLevel::Error,
                        Some(t.epic.clone()),
                        format!("{deal_ref}: {e}"),
                    ));
                    return;
                }
            }
            if t.unknown_ref.as_ref() == Some(deal_ref) {
                t.unknown_ref = None;
                self.unknown_resolved += 1;
            }
            t.close_ref = None;
            t.close_retry_at = Some(retry);
            out.push(log(
                LogLevel::Warn,
                Some(t.epic.clone()),
                format!("close {deal_ref} rejected: {reason}; retrying at {retry}"),
            ));
        } else {
            out.push(log(
                LogLevel::Warn,
                None,
                format!("rejection for unknown deal reference {deal_ref}: {reason}"),
            ));
        }
    }

    fn on_failure(&mut self, kind: crate::event::FailureKind, detail: &str, out: &mut Vec<Action>) {
        match self.cfg.on_broker_failure {
            BrokerFailurePolicy::Halt => {
                if self.halts.broker {
                    return;
                }
                self.halts.broker = true;
                out.push(log(
                    LogLevel::Error,
                    None,
                    format!("broker failure ({kind:?}): {detail}; entries stopped, open positions still managed"),
                ));
                out.push(Action::Halted {
                    reason: HaltReason::BrokerFailure,
                });
            }
            BrokerFailurePolicy::Paper => {
                if self.paper_fallback {
                    out.push(log(
                        LogLevel::Error,
                        None,
                        format!("broker failure after paper fallback ({kind:?}): {detail}"),
                    ));
                    return;
                }
                self.paper_fallback = true;
                out.push(log(
                    LogLevel::Error,
                    None,
                    format!("broker failure ({kind:?}): {detail}; switching to PAPER trading (on_broker_failure = \"paper\")"),
                ));
                out.push(Action::PaperFallback {
                    detail: detail.to_string(),
                });
            }
        }
    }

    /// Records the close of trade `i` and updates the statistics.
    /// Realised P&L into the run's and the day's totals and the drawdown.
    fn book(&mut self, pnl: Money) {
        self.realised += pnl;
        self.day_pnl += pnl;
        if self.realised > self.peak {
            self.peak = self.realised;
        }
        let dd = self.peak - self.realised;
        if dd > self.max_drawdown {
            self.max_drawdown = dd;
        }
    }

    /// Part of trade `i` closed: book its P&L, shrink the trade, tell the strategy, and
    /// carry out a close that waited for it.
    #[allow(clippy::too_many_arguments)]
    fn reduced(
        &mut self,
        i: usize,
        deal_id: scalper_model::DealId,
        size: scalper_model::Size,
        level: Price,
        pnl: Option<Money>,
        at: Timestamp,
        out: &mut Vec<Action>,
    ) {
        let Some(idx) = self
            .markets
            .iter()
            .position(|m| m.instrument.epic == self.trades[i].epic)
        else {
            return;
        };
        let t = &mut self.trades[i];
        let (deal_ref, reason) = match t.reducing.take() {
            Some((r, _, why)) => (r, why),
            None => (
                t.open_ref.clone(),
                "closed in part at the broker".to_string(),
            ),
        };
        if t.unknown_ref.as_ref() == Some(&deal_ref) {
            t.unknown_ref = None;
            self.unknown_resolved += 1;
        }
        let size = if size > t.size { t.size } else { size };
        let entry = t.entry_level.unwrap_or(level);
        let inst = &self.markets[idx].instrument;
        let pnl = pnl
            .unwrap_or_else(|| inst.pnl(t.direction, size, entry, level))
            .round_cents();
        t.size = scalper_model::Size::new(scalper_model::normalized(t.size.value() - size.value()));
        t.partial_pnl += pnl;
        let reduced = ReducedTrade {
            trade_id: t.trade_id,
            deal_ref,
            deal_id,
            epic: t.epic.clone(),
            direction: t.direction,
            closed_size: size,
            remaining: t.size,
            level,
            pnl,
            at,
            reason,
        };
        let fill = Fill {
            direction: t.direction,
            size,
            level,
            at,
            closing: true,
        };
        self.book(pnl);
        out.push(Action::TradeReduced(reduced));
        self.notify_fill(i, &fill);
        if let Some(r) = self.trades[i].close_when_open.take() {
            self.close_trade(i, &r, out);
        }
    }

    fn finish(
        &mut self,
        i: usize,
        level: Price,
        pnl: Option<Money>,
        cause: CloseCause,
        at: Timestamp,
        out: &mut Vec<Action>,
    ) {
        let mut t = self.trades.remove(i);
        // A close frees margin: sizes the broker refused for funds may be tried again.
        for m in &mut self.markets {
            m.funds_refused = None;
        }
        if t.state == DealState::Closing && t.unknown_ref.is_some() {
            self.unknown_resolved += 1;
        }
        if let Err(e) = t.state.apply(DealEvent::Closed) {
            out.push(log(
                LogLevel::Error,
                Some(t.epic.clone()),
                format!("{}: {e}", t.open_ref),
            ));
        }
        let Some(idx) = self
            .markets
            .iter()
            .position(|m| m.instrument.epic == t.epic)
        else {
            return;
        };
        let inst = &self.markets[idx].instrument;
        let entry = t.entry_level.unwrap_or(level);
        // Realised P&L is booked in cents, as brokers book it, so totals match the ledger.
        let mut pnl = pnl
            .unwrap_or_else(|| inst.pnl(t.direction, t.size, entry, level))
            .round_cents();
        // A triggered guaranteed stop costs its premium (IG books it as its own transaction).
        let mut premium_note = None;
        if let (CloseCause::Stop, StopKind::Guaranteed, Some(p)) =
            (cause, t.stop_kind, t.premium_points)
        {
            let premium = inst
                .pnl(
                    scalper_model::Direction::Buy,
                    t.size,
                    entry,
                    entry + p.value() * inst.point_size,
                )
                .round_cents();
            pnl -= premium;
            premium_note = Some(format!(
                "guaranteed stop triggered: premium {} points ({})",
                p.value().normalize(),
                Amount::new(premium, inst.account_currency())
            ));
        }
        // Partial closes were realised when they happened; the trade reports its whole P&L.
        let booked = pnl;
        let pnl = pnl + t.partial_pnl;
        let closed = ClosedTrade {
            trade_id: t.trade_id,
            deal_ref: t.open_ref.clone(),
            deal_id: t.deal_id.clone().unwrap_or_else(placeholder_id),
            epic: t.epic.clone(),
            direction: t.direction,
            size: t.size,
            entry_time: t.entry_time.unwrap_or(at),
            entry_price: entry,
            exit_time: at,
            exit_price: level,
            pnl,
            cause,
            // The trade is done with: its close reason moves into the report.
            reason: if cause == CloseCause::Engine {
                t.close_reason.take().unwrap_or_default()
            } else {
                premium_note.unwrap_or_default()
            },
            paper: t.paper,
        };
        self.book(booked);
        self.closed_total += 1;
        if self.closed_kept > 0 {
            if self.closed.len() >= 2 * self.closed_kept {
                // Keep the most recent ones: a long run must not grow with every trade (the
                // runner and the journal receive each one as `Action::TradeClosed`).
                self.closed.drain(..self.closed.len() - self.closed_kept);
            }
            self.closed.push(closed.clone());
        }
        out.push(Action::TradeClosed(closed));
        let m = &mut self.markets[idx];
        if pnl > Money::ZERO {
            self.wins += 1;
            m.consecutive_losses = 0;
        } else if pnl < Money::ZERO {
            self.losses += 1;
            m.consecutive_losses += 1;
            let n = self.cfg.risk.cooldown_after_losses;
            if n > 0 && m.consecutive_losses >= n && self.cfg.risk.cooldown_ms > 0 {
                let until = at.max(self.now).plus_millis(self.cfg.risk.cooldown_ms);
                m.cooldown_until = Some(until);
                m.consecutive_losses = 0;
                out.push(log(
                    LogLevel::Warn,
                    Some(t.epic.clone()),
                    format!("{n} consecutive losses: no entries until {until}"),
                ));
            }
        }
        let fill = Fill {
            direction: t.direction.opposite(),
            size: t.size,
            level,
            at,
            closing: true,
        };
        let (position, open_trades) = self.position_of(idx);
        let m = &mut self.markets[idx];
        let ctx = StrategyContext {
            instrument: &m.instrument,
            now: self.now,
            position,
            open_trades,
        };
        m.strategy.on_fill(&fill, &ctx);
        self.check_daily_loss_now(out);
    }

    fn notify_fill(&mut self, i: usize, fill: &Fill) {
        let Some(idx) = self
            .markets
            .iter()
            .position(|m| m.instrument.epic == self.trades[i].epic)
        else {
            return;
        };
        let (position, open_trades) = self.position_of(idx);
        let m = &mut self.markets[idx];
        let ctx = StrategyContext {
            instrument: &m.instrument,
            now: self.now,
            position,
            open_trades,
        };
        m.strategy.on_fill(fill, &ctx);
    }
}

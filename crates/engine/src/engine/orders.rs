//! Trade lifecycle inside the engine: intents to orders (through risk), broker reports to
//! state transitions (through `DealState::apply`, errors surfaced as ERROR logs), exits
//! (max hold, trailing stop, kill switch, daily loss limit) and the broker-failure policy.

use scalper_model::{DealEvent, DealState, Direction, Money, Size};

use super::{counts_as_open, log, Engine, Trade};
use crate::action::{Action, HaltReason, LogLevel};
use crate::event::{AmendOrder, BrokerCommand, CloseOrder, OpenOrder};
use crate::risk::{Decision, RiskInput};
use crate::strategy::{Entry, Intent, StopKind};
use rust_decimal::Decimal;
use scalper_model::Points;

impl Engine {
    pub(super) fn handle_intents(
        &mut self,
        idx: usize,
        intents: Vec<Intent>,
        out: &mut Vec<Action>,
    ) {
        for intent in intents {
            match intent {
                Intent::Exit { direction, reason } => {
                    self.exit(idx, direction, &reason, false, out);
                }
                Intent::Enter(entry) => self.enter(idx, entry, out),
                Intent::Reduce {
                    direction,
                    fraction,
                    reason,
                } => self.reduce(idx, direction, fraction, &reason, out),
            }
        }
    }

    pub(super) fn exit(
        &mut self,
        idx: usize,
        direction: Option<Direction>,
        reason: &str,
        include_adopted: bool,
        out: &mut Vec<Action>,
    ) {
        let epic = self.markets[idx].instrument.epic.clone();
        for i in 0..self.trades.len() {
            let t = &mut self.trades[i];
            if t.epic != epic
                || direction.is_some_and(|d| d != t.direction)
                || (t.adopted && !include_adopted)
            {
                continue;
            }
            match t.state {
                DealState::Open if t.close_ref.is_none() => self.close_trade(i, reason, out),
                DealState::Submitted | DealState::Accepted | DealState::Unknown => {
                    t.close_when_open = Some(reason.to_string());
                }
                _ => {}
            }
        }
    }

    /// Closes `fraction` of each open position on market `idx` (of `direction`, or all):
    /// rounded down to the size step; a part below the minimum deal size is not sent (logged),
    /// a remainder below it closes the whole position.
    fn reduce(
        &mut self,
        idx: usize,
        direction: Option<Direction>,
        fraction: Decimal,
        reason: &str,
        out: &mut Vec<Action>,
    ) {
        if fraction <= Decimal::ZERO || fraction >= Decimal::ONE {
            if fraction >= Decimal::ONE {
                self.exit(idx, direction, reason, false, out);
            }
            return;
        }
        let rules = self.markets[idx].instrument.rules.clone();
        let epic = self.markets[idx].instrument.epic.clone();
        let expiry = self.markets[idx].expiry.clone();
        for i in 0..self.trades.len() {
            let t = &self.trades[i];
            if t.epic != epic
                || direction.is_some_and(|d| d != t.direction)
                || t.adopted
                || t.state != DealState::Open
                || t.close_ref.is_some()
                || t.reducing.is_some()
                || t.unknown_ref.is_some()
            {
                continue;
            }
            let Some(deal_id) = t.deal_id.clone() else {
                continue;
            };
            let part = Size::new(scalper_model::normalized(
                Size::new(t.size.value() * fraction)
                    .floor_to_step(rules.size_step)
                    .value(),
            ));
            if part < rules.min_deal_size || part <= Size::ZERO {
                out.push(log(
                    LogLevel::Info,
                    Some(epic.clone()),
                    format!(
                        "partial close of trade {} not sent: {} of {} is below the minimum deal size {}",
                        t.trade_id, part, t.size, rules.min_deal_size
                    ),
                ));
                continue;
            }
            if t.size.value() - part.value() < rules.min_deal_size.value() {
                self.close_trade(i, reason, out);
                continue;
            }
            let deal_ref = self.refs.next_ref();
            let t = &mut self.trades[i];
            t.reducing = Some((deal_ref.clone(), part, reason.to_string()));
            out.push(Action::Broker(BrokerCommand::Close(CloseOrder {
                deal_ref,
                deal_id,
                epic: t.epic.clone(),
                direction: t.direction.opposite(),
                size: part,
                expiry: expiry.clone(),
            })));
        }
    }

    pub(super) fn close_all(&mut self, reason: &str, out: &mut Vec<Action>) {
        for idx in 0..self.markets.len() {
            self.exit(idx, None, reason, true, out);
        }
    }

    fn enter(&mut self, idx: usize, entry: Entry, out: &mut Vec<Action>) {
        if self.entries_closed {
            return;
        }
        let m = &self.markets[idx];
        let epic = &m.instrument.epic;
        let mut open_total = 0;
        let mut open_instrument = 0;
        let mut pending = 0;
        let mut unresolved = None;
        for t in &self.trades {
            if counts_as_open(t) {
                open_total += 1;
                if t.epic == *epic {
                    open_instrument += 1;
                }
            }
            if matches!(t.state, DealState::Submitted | DealState::Unknown) {
                pending += 1;
            }
            if t.epic == *epic && unresolved.is_none() {
                unresolved = t.unknown_ref.as_ref();
            }
        }
        // At most two entries in flight per instrument: one a flip marked to close as soon as
        // it fills, and its replacement. A strategy flipping faster than the broker confirms
        // cannot stack up more behind the allowance (halts and unknown outcomes are risk's
        // first words, so they keep precedence).
        let in_flight = || {
            self.trades.iter().filter(|t| {
                t.epic == *epic && t.state == DealState::Submitted && t.close_ref.is_none()
            })
        };
        if self.halted().is_none() && unresolved.is_none() && in_flight().count() >= 2 {
            if let Some(t) = in_flight().next_back() {
                self.refusals += 1;
                out.push(Action::Refused {
                    epic: epic.clone(),
                    direction: Some(entry.direction),
                    reason: crate::action::Refusal::EntryInFlight {
                        deal_ref: t.open_ref.clone(),
                    },
                });
                return;
            }
        }
        let blackout = self.schedule.blackout(self.now, epic);
        let exposure = (self.cfg.risk.max_leverage.is_some()
            || self.cfg.risk.max_currency_exposure.is_some())
        .then(|| self.exposure());
        let input = RiskInput {
            now: self.now,
            instrument: &m.instrument,
            quote: m.last_quote.as_ref(),
            status: &m.status,
            stream_gap: m.stream_gap,
            halted: self.halted(),
            unresolved,
            open_total,
            open_instrument,
            trades_today: self.day_trades + pending,
            consecutive_losses: self.cfg.risk.cooldown_after_losses,
            cooldown_until: m.cooldown_until,
            rejected_until: m.rejected_until,
            funds_refused: m.funds_refused,
            blackout: blackout.as_ref(),
            exposure: exposure.as_ref(),
            equity: self.equity_start + self.realised,
            available_margin: (!m.instrument.margin.is_none()).then(|| self.available_margin()),
            max_spread_points: m.max_spread_points,
        };
        let approved = match self.risk.check_entry(&input, &entry) {
            Decision::Refuse(reason) => {
                self.refusals += 1;
                out.push(Action::Refused {
                    epic: epic.clone(),
                    direction: Some(entry.direction),
                    reason,
                });
                return;
            }
            Decision::Approve(a) => a,
        };
        let inst = &m.instrument;
        let deal_ref = self.refs.next_ref();
        let min = inst.rules.min_stop_distance;
        let mut trade = Trade {
            trade_id: self.next_trade_id,
            epic: epic.clone(),
            direction: entry.direction,
            size: approved.size,
            state: DealState::Intent,
            open_ref: deal_ref.clone(),
            close_ref: None,
            deal_id: None,
            entry_level: None,
            entry_time: None,
            stop_distance: approved.stop_distance,
            limit_distance: approved.limit_distance,
            stop_level: None,
            limit_level: None,
            trailing_distance: entry
                .trailing_distance
                .map(|d| if d < min { min } else { d }),
            best_price: None,
            max_hold_ms: entry.max_hold_ms,
            submitted_at: self.now,
            paper: self.paper_broker || self.paper_fallback,
            reason: entry.reason,
            close_reason: None,
            close_when_open: None,
            close_retry_at: None,
            unknown_ref: None,
            last_resolve_at: None,
            prev_stop_level: None,
            adopted: false,
            stop_kind: entry.stop_kind,
            premium_points: None,
            reducing: None,
            partial_pnl: Money::ZERO,
        };
        let stop_kind = match entry.stop_kind {
            // The increment is at least the market's minimum step (1 point when unknown).
            StopKind::Trailing { increment } => {
                let floor = inst
                    .rules
                    .min_trailing_step
                    .unwrap_or(Points::new(Decimal::ONE));
                StopKind::Trailing {
                    increment: if increment < floor { floor } else { increment },
                }
            }
            k => k,
        };
        trade.stop_kind = stop_kind;
        let order = OpenOrder {
            deal_ref,
            epic: epic.clone(),
            direction: entry.direction,
            size: approved.size,
            stop_distance: approved.stop_distance,
            limit_distance: approved.limit_distance,
            currency: m.currency.clone(),
            expiry: m.expiry.clone(),
            stop_kind,
        };
        match trade.state.apply(DealEvent::Submit) {
            Ok(s) => trade.state = s,
            Err(e) => {
                out.push(log(LogLevel::Error, Some(order.epic), e.to_string()));
                return;
            }
        }
        self.next_trade_id += 1;
        self.trades.push(trade);
        out.push(Action::Broker(BrokerCommand::Open(order)));
    }

    /// Sends a close for open trade `i` (no-op with an ERROR log on an impossible transition).
    pub(super) fn close_trade(&mut self, i: usize, reason: &str, out: &mut Vec<Action>) {
        let t = &mut self.trades[i];
        let Some(deal_id) = t.deal_id.clone() else {
            return;
        };
        // A partial close is in flight: close the rest once it is settled.
        if t.reducing.is_some() {
            t.close_when_open = Some(reason.to_string());
            return;
        }
        match t.state.apply(DealEvent::SubmitClose) {
            Ok(s) => t.state = s,
            Err(e) => {
                out.push(log(LogLevel::Error, Some(t.epic.clone()), e.to_string()));
                return;
            }
        }
        let deal_ref = self.refs.next_ref();
        t.close_ref = Some(deal_ref.clone());
        t.close_reason = Some(reason.to_string());
        t.close_retry_at = None;
        let expiry = self
            .markets
            .iter()
            .find(|m| m.instrument.epic == t.epic)
            .map_or_else(|| "-".into(), |m| m.expiry.clone());
        out.push(Action::Broker(BrokerCommand::Close(CloseOrder {
            deal_ref,
            deal_id,
            epic: t.epic.clone(),
            direction: t.direction.opposite(),
            size: t.size,
            expiry,
        })));
    }

    /// Max hold, trailing stop and the daily loss limit, on a new price for market `idx`.
    pub(super) fn manage_positions(&mut self, idx: usize, out: &mut Vec<Action>) {
        if self.trades.is_empty() || self.markets[idx].last_quote.is_none() {
            return;
        }
        // Only trailing stops need the prices and the step: read on first use.
        let mut step = None;
        let mut any_open = false;
        for i in 0..self.trades.len() {
            if self.trades[i].epic != self.markets[idx].instrument.epic
                || self.trades[i].state != DealState::Open
            {
                continue;
            }
            any_open = true;
            if self.max_hold_due(i) {
                self.close_trade(i, "max hold time", out);
                continue;
            }
            let t = &mut self.trades[i];
            // Only trailing stops go on (the deal id is copied only for them).
            let Some(dist) = t.trailing_distance else {
                continue;
            };
            let Some(deal_id) = t.deal_id.clone() else {
                continue;
            };
            let m = &self.markets[idx];
            let Some(q) = &m.last_quote else { return };
            let (bid, offer, point) = (q.bid, q.offer, m.instrument.point_size);
            let dist = dist.value() * point;
            let (best, candidate) = match t.direction {
                Direction::Buy => {
                    let best = t.best_price.map_or(bid, |b| b.max(bid));
                    (best, best - dist)
                }
                Direction::Sell => {
                    let best = t.best_price.map_or(offer, |b| b.min(offer));
                    (best, best + dist)
                }
            };
            t.best_price = Some(best);
            let step = *step.get_or_insert_with(|| self.cfg.trailing_step_points * point);
            let improves = match (t.direction, t.stop_level) {
                (_, None) => true,
                (Direction::Buy, Some(s)) => candidate >= s + step && candidate > s,
                (Direction::Sell, Some(s)) => candidate <= s - step && candidate < s,
            };
            if improves && t.close_ref.is_none() {
                t.prev_stop_level = t.stop_level;
                t.stop_level = Some(candidate);
                out.push(Action::Broker(BrokerCommand::Amend(AmendOrder {
                    deal_id,
                    epic: t.epic.clone(),
                    stop_level: Some(candidate),
                    limit_level: t.limit_level,
                })));
            }
        }
        if any_open {
            self.check_daily_loss_now(out);
        }
    }

    /// [`Self::check_daily_loss`] with the open P&L at the latest prices. The exact decimal
    /// valuation (a division per position) runs only when an f64 estimate says the limit may
    /// be near: the same decisions for far less work on every quote.
    pub(super) fn check_daily_loss_now(&mut self, out: &mut Vec<Action>) {
        let Some(limit) = self.cfg.risk.daily_loss_limit else {
            return;
        };
        if self.halts.daily_loss || !self.daily_loss_may_be_reached(limit) {
            return;
        }
        let unrealised = self.unrealised();
        self.check_daily_loss(unrealised, out);
    }

    /// False only when the day's P&L plus the open P&L (estimated in f64, with a margin far
    /// above its rounding error) is clearly above `-limit`.
    fn daily_loss_may_be_reached(&self, limit: rust_decimal::Decimal) -> bool {
        // An estimate: each conversion is within a few ulps, far inside the margin below.
        use crate::strategy::approx_f64 as to_f64;
        let mut total = to_f64(self.day_pnl.value());
        let mut magnitude = total.abs() + to_f64(limit).abs();
        for (t, m, entry, exit) in self.valued_positions() {
            let sign = match t.direction {
                Direction::Buy => 1.0,
                Direction::Sell => -1.0,
            };
            let (exit, entry) = (to_f64(exit.value()), to_f64(entry.value()));
            let per_unit = to_f64(t.size.value()) * m.money_per_price_unit;
            let pnl = (exit - entry) * sign * per_unit;
            if !pnl.is_finite() {
                return true;
            }
            total += pnl;
            // The subtraction's rounding scales with the price level, not with the move.
            magnitude += pnl.abs() + (exit.abs() + entry.abs()) * per_unit.abs();
        }
        let margin = magnitude * 1e-9 + 1e-6;
        total - margin <= -to_f64(limit)
    }

    fn max_hold_due(&self, i: usize) -> bool {
        let t = &self.trades[i];
        matches!((t.entry_time, t.max_hold_ms), (Some(at), Some(h)) if self.now.since(at) >= h)
    }

    /// True when a timer event could do more than move the clock: a strategy that uses
    /// timers, or a trade with a timed duty (a max hold time, a close to retry, an unknown
    /// outcome to resolve; see [`Self::manage_timers`]). Otherwise a timer event changes
    /// nothing the next event would not: that event moves the clock (and rolls the session
    /// day) before anything else, so a backtest may skip the timer.
    pub fn timer_has_work(&self) -> bool {
        self.markets.iter().any(|m| m.strategy.uses_timer())
            || self.trades.iter().any(|t| {
                t.max_hold_ms.is_some() || t.close_retry_at.is_some() || t.unknown_ref.is_some()
            })
    }

    /// Timer duties for market `idx`: max hold, close retries, resolution retries.
    pub(super) fn manage_timers(&mut self, idx: usize, out: &mut Vec<Action>) {
        let retry = self.cfg.resolve_retry_ms;
        for i in 0..self.trades.len() {
            if self.trades[i].epic != self.markets[idx].instrument.epic {
                continue;
            }
            let state = self.trades[i].state;
            if state == DealState::Open && self.trades[i].close_ref.is_none() {
                if self.max_hold_due(i) {
                    self.close_trade(i, "max hold time", out);
                    continue;
                }
                let t = &self.trades[i];
                if let (Some(at), Some(reason)) = (t.close_retry_at, t.close_reason.clone()) {
                    if self.now >= at {
                        self.close_trade(i, &reason, out);
                        continue;
                    }
                }
            }
            let now = self.now;
            let t = &mut self.trades[i];
            if let Some(r) = t.unknown_ref.clone() {
                if t.last_resolve_at.is_none_or(|at| now.since(at) >= retry) {
                    t.last_resolve_at = Some(now);
                    out.push(Action::Broker(BrokerCommand::Resolve {
                        deal_ref: r,
                        epic: t.epic.clone(),
                    }));
                }
            }
        }
    }

    /// Locks trading and closes everything when the day's P&L (realised + `unrealised`)
    /// reaches the loss limit.
    pub(super) fn check_daily_loss(&mut self, unrealised: Money, out: &mut Vec<Action>) {
        let Some(limit) = self.cfg.risk.daily_loss_limit else {
            return;
        };
        if self.halts.daily_loss || self.day_pnl + unrealised > Money::new(-limit) {
            return;
        }
        self.halts.daily_loss = true;
        out.push(Action::Halted {
            reason: HaltReason::DailyLossLimit,
        });
        out.push(log(
            LogLevel::Error,
            None,
            format!(
                "daily loss limit {limit} reached (day P&L {}, open P&L {}): closing positions, trading locked until {}",
                self.day_pnl, unrealised, self.next_day_at
            ),
        ));
        self.close_all("daily loss limit", out);
    }
}

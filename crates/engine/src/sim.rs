//! The paper/sim broker: fills market orders from quotes (or bars) with the spread, a
//! deterministic slippage model and latency, applies IG's dealing rules (market status,
//! minimum size and step, minimum/maximum stop distance) and triggers stops and limits on
//! prices. Paper must not be a gentler world than live: stops fill at the (possibly gapped)
//! triggering price minus slippage, limits fill at their level, never better.
//!
//! Quote runs: call [`SimBroker::on_quote`] before the engine sees the quote, then
//! [`SimBroker::submit`] for each command (or use [`step`], which does both in the right
//! order). Bar runs: call [`SimBroker::on_bar`] with each bar before the engine sees it:
//! orders submitted at a bar's close fill at the next bar's open (± half the spread), then
//! that bar's range is checked against stops and limits, stop first when both are inside.

mod bars;

use std::collections::VecDeque;
use std::future::{ready, Future};

use rust_decimal::Decimal;
use scalper_model::{
    Candle, DealId, DealReference, Direction, Epic, Instrument, MarketStatus, Money, Price, Quote,
    RejectReason, Size, Timestamp,
};
use serde::{Deserialize, Serialize};

pub use bars::intrabar_exit;

use crate::action::Action;
use crate::broker::Broker;
use crate::driver::{Driver, Venue};
use crate::engine::Engine;
use crate::event::{BrokerCommand, BrokerEvent, CloseCause, CloseOrder, EngineEvent, OpenOrder};
use crate::strategy::StopKind;

/// How many recent outcomes the sim broker keeps for `Resolve` requests (the engine resolves
/// only references of trades still in flight; a short list stays in cache).
pub const OUTCOMES_KEPT: usize = 512;

/// Fill model of the paper/sim broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// `None` (default): market orders fill on the next quote. `Some(0)`: on the quote that
    /// triggered them (NautilusTrader's default). `Some(ms)`: on the first quote at least
    /// `ms` after submission (and never the triggering one).
    pub latency_ms: Option<i64>,
    /// Adverse slippage per market fill, in points. Default 0.
    pub slippage_points: Decimal,
    /// Additional adverse slippage as a fraction of the current spread. Default 0.
    pub slippage_spread_fraction: Decimal,
    /// Commission per fill as a percentage of notional (`level / point_size × value_per_point
    /// × size`), rounded to the cent. Default 0.
    pub commission_pct: Decimal,
    /// Prefix of simulated deal ids. Default `SIM`.
    pub deal_id_prefix: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            latency_ms: None,
            slippage_points: Decimal::ZERO,
            slippage_spread_fraction: Decimal::ZERO,
            commission_pct: Decimal::ZERO,
            deal_id_prefix: "SIM".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct SimMarket {
    instrument: Instrument,
    last: Option<Quote>,
    status: MarketStatus,
    /// Quotes seen so far (orders remember the count at submission).
    seq: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    cmd: BrokerCommand,
    submitted_at: Timestamp,
    submitted_seq: u64,
}

/// A simulated open position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPosition {
    pub deal_id: DealId,
    pub deal_ref: DealReference,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    /// Commission paid on entry (what is left of it after partial closes).
    pub commission: Money,
    /// Normal, guaranteed (filled at its level whatever the gap) or trailing (moved by the
    /// broker in steps of its increment, at the distance it was opened with).
    pub stop_kind: StopKind,
    /// A trailing stop's distance in price units.
    pub trailing_distance: Option<Decimal>,
}

/// Commission of one fill: `percent` of the notional (`level / point_size x value_per_point x
/// size`, in the instrument's currency), booked in the account currency.
pub fn commission(inst: &Instrument, percent: Decimal, level: Price, size: Size) -> Money {
    if percent.is_zero() || inst.point_size.is_zero() {
        return Money::ZERO;
    }
    let notional = inst.notional_per_unit(level) * size.value();
    inst.to_account(Money::new(notional * percent / Decimal::ONE_HUNDRED))
}

/// Paper broker for the live runner and simulated broker for backtests.
#[derive(Debug, Clone)]
pub struct SimBroker {
    cfg: SimConfig,
    markets: Vec<SimMarket>,
    pending: VecDeque<Pending>,
    positions: Vec<SimPosition>,
    /// Outcomes by deal reference, for `Resolve`: the most recent [`OUTCOMES_KEPT`] (the
    /// engine only asks about references it is still working on; an unbounded list would
    /// grow with every trade of a long backtest).
    outcomes: Vec<(DealReference, BrokerEvent)>,
    /// Count of outcomes remembered (the slot to overwrite next, modulo the capacity).
    outcomes_next: usize,
    outcomes_kept: usize,
    next_deal: u64,
    /// The ordering driver's buffers, reused by [`step`].
    driver: Driver,
    /// Reused by [`step`]: one command's reports.
    reports: Vec<BrokerEvent>,
    bar_mode: bool,
}

impl SimBroker {
    pub fn new(cfg: SimConfig, instruments: Vec<Instrument>) -> Self {
        Self {
            cfg,
            markets: instruments
                .into_iter()
                .map(|instrument| SimMarket {
                    instrument,
                    last: None,
                    status: MarketStatus::Tradeable,
                    seq: 0,
                })
                .collect(),
            pending: VecDeque::new(),
            positions: Vec::new(),
            outcomes: Vec::new(),
            outcomes_next: 0,
            outcomes_kept: OUTCOMES_KEPT,
            next_deal: 0,
            driver: Driver::new(),
            reports: Vec::new(),
            bar_mode: false,
        }
    }

    /// Open positions.
    pub fn positions(&self) -> &[SimPosition] {
        &self.positions
    }

    /// Orders waiting for a price.
    pub fn pending_orders(&self) -> usize {
        self.pending.len()
    }

    /// Sets a market's dealing status (the sim refuses deals unless `TRADEABLE`; closes are
    /// also allowed in `CLOSINGS_ONLY`).
    pub fn set_market_status(&mut self, epic: &Epic, status: MarketStatus) {
        if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == *epic) {
            m.status = status;
        }
    }

    /// Replaces a market's dealing rules (a paper run follows the broker's current ones).
    pub fn set_dealing_rules(&mut self, epic: &Epic, rules: scalper_model::DealingRules) {
        if let Some(m) = self.markets.iter_mut().find(|m| m.instrument.epic == *epic) {
            m.instrument.rules = rules;
        }
    }

    fn market(&self, epic: &Epic) -> Option<usize> {
        self.markets.iter().position(|m| m.instrument.epic == *epic)
    }

    /// Keeps an outcome for `Resolve`, overwriting the oldest once [`OUTCOMES_KEPT`] are held
    /// (references are unique, so the order of the list does not matter).
    fn remember(&mut self, deal_ref: &DealReference, ev: &BrokerEvent) {
        if self.outcomes_kept == 0 {
            return;
        }
        let entry = (deal_ref.clone(), ev.clone());
        if self.outcomes.len() < self.outcomes_kept {
            self.outcomes.push(entry);
        } else {
            let slot = self.outcomes_next % self.outcomes_kept;
            self.outcomes[slot] = entry;
        }
        self.outcomes_next = self.outcomes_next.wrapping_add(1);
    }

    /// How many recent outcomes `Resolve` can find (default [`OUTCOMES_KEPT`]). A backtest,
    /// where the sim never reports an unknown outcome and so is never asked, keeps none.
    pub fn keep_outcomes(&mut self, kept: usize) {
        self.outcomes_kept = kept;
        self.outcomes.clear();
        self.outcomes_next = 0;
    }

    /// Carries out a command synchronously (owned, like [`Broker::execute`]; see
    /// [`SimBroker::submit_into`] to lend it).
    #[allow(clippy::needless_pass_by_value)] // the owned form matches `Broker::execute`
    pub fn submit(&mut self, cmd: BrokerCommand) -> Vec<BrokerEvent> {
        let mut out = Vec::new();
        self.submit_into(&cmd, &mut out);
        out
    }

    /// Like [`SimBroker::submit`], by reference, appending the reports to `out` (the command
    /// is copied only when it has to wait for a price).
    pub fn submit_into(&mut self, cmd: &BrokerCommand, out: &mut Vec<BrokerEvent>) {
        match cmd {
            BrokerCommand::Open(o) => {
                if let Some(reason) = self.validate_open(o) {
                    self.reject(o.deal_ref.clone(), reason, out);
                } else {
                    self.enqueue_or_fill(cmd, out);
                }
            }
            BrokerCommand::Close(c) => {
                if let Some(reason) = self.validate_close(c) {
                    self.reject(c.deal_ref.clone(), reason, out);
                } else {
                    self.enqueue_or_fill(cmd, out);
                }
            }
            BrokerCommand::Amend(a) => out.push(self.amend(a)),
            BrokerCommand::Resolve { deal_ref, .. } => {
                let known = self.outcomes.iter().find(|(r, _)| r == deal_ref);
                out.push(match known {
                    Some((_, ev)) => ev.clone(),
                    None if self.pending.iter().any(|p| cmd_ref(&p.cmd) == deal_ref) => {
                        BrokerEvent::OutcomeUnknown {
                            deal_ref: deal_ref.clone(),
                            detail: "order still pending".to_string(),
                        }
                    }
                    None => BrokerEvent::Rejected {
                        deal_ref: deal_ref.clone(),
                        reason: RejectReason::NoDeal,
                        detail: None,
                    },
                });
            }
        }
    }

    fn reject(
        &mut self,
        deal_ref: DealReference,
        reason: RejectReason,
        out: &mut Vec<BrokerEvent>,
    ) {
        let ev = BrokerEvent::Rejected {
            deal_ref,
            reason,
            detail: None,
        };
        if let BrokerEvent::Rejected { deal_ref, .. } = &ev {
            self.remember(deal_ref, &ev);
        }
        out.push(ev);
    }

    fn validate_open(&self, o: &OpenOrder) -> Option<RejectReason> {
        let Some(m) = self.market(&o.epic).map(|i| &self.markets[i]) else {
            return Some(RejectReason::InstrumentNotFound);
        };
        if !m.status.is_tradeable() {
            return Some(RejectReason::MarketClosedWithEdits);
        }
        let rules = &m.instrument.rules;
        if o.size < rules.min_deal_size {
            return Some(RejectReason::MinimumDealSize);
        }
        if rules.size_step > Decimal::ZERO && !(o.size.value() / rules.size_step).fract().is_zero()
        {
            return Some(RejectReason::SizeIncrement);
        }
        match o.stop_kind {
            StopKind::Normal => {}
            StopKind::Guaranteed => match (rules.guaranteed_stop, o.stop_distance) {
                (None, _) => return Some(RejectReason::Other("CR_NOT_ALLOWED".into())),
                (Some(g), Some(d)) if d < g.min_distance => {
                    return Some(RejectReason::StopOrLimitLevel)
                }
                (Some(_), None) => return Some(RejectReason::Other("STOP_REQUIRED_ERROR".into())),
                _ => {}
            },
            StopKind::Trailing { increment } => {
                if !rules.trailing_stops {
                    return Some(RejectReason::Other("TRAILING_STOP_NOT_ALLOWED".into()));
                }
                if o.stop_distance.is_none()
                    || rules.min_trailing_step.is_some_and(|m| increment < m)
                {
                    return Some(RejectReason::Other(
                        "ATTACHED_ORDER_TRAILING_STOP_ERROR".into(),
                    ));
                }
            }
        }
        for d in [o.stop_distance, o.limit_distance].into_iter().flatten() {
            if d < rules.min_stop_distance {
                return Some(RejectReason::StopOrLimitLevel);
            }
            if rules.max_stop_distance.is_some_and(|max| d > max) {
                return Some(RejectReason::StopOrLimitLevel);
            }
        }
        if m.last.is_none() && !self.bar_mode {
            return Some(RejectReason::MarketOffline);
        }
        None
    }

    fn validate_close(&self, c: &CloseOrder) -> Option<RejectReason> {
        let Some(p) = self.positions.iter().find(|p| p.deal_id == c.deal_id) else {
            return Some(RejectReason::PositionNotFound);
        };
        // A close must trade against the position, for all of it.
        if c.direction == p.direction {
            return Some(RejectReason::PositionNotAvailableToClose);
        }
        // All of it, or a part that leaves at least the minimum deal size open.
        if c.size > p.size || c.size <= Size::ZERO {
            return Some(RejectReason::OrderSizeCannotBeFilled);
        }
        if c.size < p.size {
            let min = self.market(&p.epic).map_or(Size::ZERO, |i| {
                self.markets[i].instrument.rules.min_deal_size
            });
            if c.size < min || p.size.value() - c.size.value() < min.value() {
                return Some(RejectReason::MinimumDealSize);
            }
        }
        let m = self.market(&p.epic).map(|i| &self.markets[i]);
        if !m.is_some_and(|m| {
            matches!(
                m.status,
                MarketStatus::Tradeable | MarketStatus::ClosingsOnly
            )
        }) {
            return Some(RejectReason::MarketClosedWithEdits);
        }
        None
    }

    fn enqueue_or_fill(&mut self, cmd: &BrokerCommand, out: &mut Vec<BrokerEvent>) {
        let Some(idx) = self.market(cmd_epic(cmd)) else {
            return;
        };
        if self.cfg.latency_ms == Some(0) && !self.bar_mode {
            // Borrowed out and put back: `fill` does not look at the market's last quote.
            if let Some(q) = self.markets[idx].last.take() {
                self.fill(cmd, &q, out);
                self.markets[idx].last = Some(q);
                return;
            }
        }
        let m = &self.markets[idx];
        let submitted_at = m.last.as_ref().map_or(Timestamp::from_millis(0), |q| q.ts);
        self.pending.push_back(Pending {
            cmd: cmd.clone(),
            submitted_at,
            submitted_seq: m.seq,
        });
    }

    fn slip(&self, inst: &Instrument, q: &Quote) -> Decimal {
        if self.cfg.slippage_points.is_zero() && self.cfg.slippage_spread_fraction.is_zero() {
            return Decimal::ZERO;
        }
        self.cfg.slippage_points * inst.point_size + self.cfg.slippage_spread_fraction * q.spread()
    }

    fn commission(&self, inst: &Instrument, level: Price, size: Size) -> Money {
        commission(inst, self.cfg.commission_pct, level, size)
    }

    /// Fills a market order at `q` (offer for buys, bid for sells, slippage against us).
    fn fill(&mut self, cmd: &BrokerCommand, q: &Quote, out: &mut Vec<BrokerEvent>) {
        let Some(idx) = self.market(&q.epic) else {
            return;
        };
        let inst = &self.markets[idx].instrument;
        let slip = self.slip(inst, q);
        let price = |dir: Direction| match dir {
            Direction::Buy => q.offer + slip,
            Direction::Sell => q.bid - slip,
        };
        match cmd {
            BrokerCommand::Open(o) => {
                let level = price(o.direction);
                let sign = o.direction.sign();
                let stop_level = o.stop_distance.map(|d| level - sign * inst.from_points(d));
                let limit_level = o.limit_distance.map(|d| level + sign * inst.from_points(d));
                let commission = self.commission(inst, level, o.size);
                self.next_deal += 1;
                let deal_id = DealId::numbered(&self.cfg.deal_id_prefix, self.next_deal)
                    .unwrap_or_else(|_| fallback_deal_id(self.next_deal));
                self.positions.push(SimPosition {
                    deal_id: deal_id.clone(),
                    deal_ref: o.deal_ref.clone(),
                    epic: o.epic.clone(),
                    direction: o.direction,
                    size: o.size,
                    level,
                    stop_level,
                    limit_level,
                    commission,
                    stop_kind: o.stop_kind,
                    trailing_distance: match o.stop_kind {
                        StopKind::Trailing { .. } => o.stop_distance.map(|d| inst.from_points(d)),
                        _ => None,
                    },
                });
                let ev = BrokerEvent::Accepted {
                    deal_ref: o.deal_ref.clone(),
                    deal_id,
                    level,
                    size: o.size,
                    stop_level,
                    limit_level,
                    at: q.ts,
                };
                self.remember(&o.deal_ref, &ev);
                out.push(ev);
            }
            BrokerCommand::Close(c) => {
                let level = price(c.direction);
                let partial = self
                    .positions
                    .iter()
                    .find(|p| p.deal_id == c.deal_id)
                    .is_some_and(|p| c.size < p.size);
                if partial {
                    if let Some(ev) = self.close_part(c, level, q.ts) {
                        self.remember(&c.deal_ref, &ev);
                        out.push(ev);
                    }
                    return;
                }
                if let Some(ev) = self.close_position(&c.deal_id, level, CloseCause::Engine, q.ts) {
                    self.remember(&c.deal_ref, &ev);
                    out.push(ev);
                } else {
                    self.reject(c.deal_ref.clone(), RejectReason::PositionNotFound, out);
                }
            }
            BrokerCommand::Amend(_) | BrokerCommand::Resolve { .. } => {}
        }
    }

    /// Removes a position and reports its close with P&L net of both commissions.
    fn close_position(
        &mut self,
        deal_id: &DealId,
        level: Price,
        cause: CloseCause,
        at: Timestamp,
    ) -> Option<BrokerEvent> {
        let i = self.positions.iter().position(|p| p.deal_id == *deal_id)?;
        let p = self.positions.remove(i);
        let inst = &self.markets[self.market(&p.epic)?].instrument;
        let gross = inst.pnl(p.direction, p.size, p.level, level);
        let pnl = gross - p.commission - self.commission(inst, level, p.size);
        Some(BrokerEvent::PositionClosed {
            deal_id: p.deal_id,
            level,
            pnl: Some(pnl),
            cause,
            at,
        })
    }

    /// Closes `c.size` of a larger position: P&L of that part, net of its share of the entry
    /// commission and its own.
    fn close_part(&mut self, c: &CloseOrder, level: Price, at: Timestamp) -> Option<BrokerEvent> {
        let i = self.positions.iter().position(|p| p.deal_id == c.deal_id)?;
        let idx = self.market(&self.positions[i].epic)?;
        let inst = &self.markets[idx].instrument;
        let p = &self.positions[i];
        let share = if p.size.value().is_zero() {
            Decimal::ZERO
        } else {
            c.size.value() / p.size.value()
        };
        let entry_commission = Money::new(p.commission.value() * share).round_cents();
        let pnl = inst.pnl(p.direction, c.size, p.level, level)
            - entry_commission
            - self.commission(inst, level, c.size);
        let p = &mut self.positions[i];
        p.size = Size::new(scalper_model::normalized(p.size.value() - c.size.value()));
        p.commission -= entry_commission;
        Some(BrokerEvent::PartiallyClosed {
            deal_id: c.deal_id.clone(),
            deal_ref: Some(c.deal_ref.clone()),
            size: c.size,
            level,
            pnl: Some(pnl),
            at,
        })
    }

    /// IG's trailing stops on a new price: each stop that is more than its distance plus one
    /// increment behind the best price moves up by whole increments.
    fn trail(&mut self, idx: usize, q: &Quote, out: &mut Vec<BrokerEvent>) {
        let point = self.markets[idx].instrument.point_size;
        for p in &mut self.positions {
            let (StopKind::Trailing { increment }, Some(dist), Some(stop)) =
                (p.stop_kind, p.trailing_distance, p.stop_level)
            else {
                continue;
            };
            if p.epic != q.epic {
                continue;
            }
            let step = increment.value() * point;
            if step <= Decimal::ZERO {
                continue;
            }
            let moved = match p.direction {
                Direction::Buy => q.bid - dist - stop,
                Direction::Sell => stop - (q.offer + dist),
            };
            if moved < step {
                continue;
            }
            let steps = (moved / step).floor();
            let new = stop + p.direction.sign() * steps * step;
            p.stop_level = Some(new);
            out.push(BrokerEvent::Amended {
                deal_id: p.deal_id.clone(),
                stop_level: Some(new),
                limit_level: p.limit_level,
            });
        }
    }

    fn amend(&mut self, a: &crate::event::AmendOrder) -> BrokerEvent {
        let refuse = |reason: RejectReason| BrokerEvent::AmendRejected {
            deal_id: a.deal_id.clone(),
            reason,
            detail: None,
        };
        let Some(pi) = self.positions.iter().position(|p| p.deal_id == a.deal_id) else {
            return refuse(RejectReason::PositionNotFound);
        };
        let p = &self.positions[pi];
        let Some(m) = self.market(&p.epic).map(|i| &self.markets[i]) else {
            return refuse(RejectReason::InstrumentNotFound);
        };
        if !m.status.is_tradeable() {
            return refuse(RejectReason::MarketClosedWithEdits);
        }
        if let (Some(q), Some(stop)) = (&m.last, a.stop_level) {
            let min = m
                .instrument
                .from_points(m.instrument.rules.min_stop_distance);
            let ok = match p.direction {
                Direction::Buy => stop <= q.bid - min,
                Direction::Sell => stop >= q.offer + min,
            };
            if !ok {
                return refuse(RejectReason::StopOrLimitLevel);
            }
        }
        let p = &mut self.positions[pi];
        p.stop_level = a.stop_level;
        p.limit_level = a.limit_level;
        BrokerEvent::Amended {
            deal_id: a.deal_id.clone(),
            stop_level: a.stop_level,
            limit_level: a.limit_level,
        }
    }

    /// Sees a quote: triggers stops and limits of positions opened before it, then fills
    /// pending orders that are due.
    #[inline]
    pub fn on_quote(&mut self, q: &Quote) -> Vec<BrokerEvent> {
        let Some(idx) = self.market(&q.epic) else {
            return Vec::new();
        };
        self.bar_mode = false;
        let m = &mut self.markets[idx];
        m.seq += 1;
        let seq = m.seq;
        match &mut m.last {
            // Update in place: no allocation per quote on the hot path.
            Some(last) => {
                last.bid = q.bid;
                last.offer = q.offer;
                last.ts = q.ts;
            }
            None => m.last = Some(q.clone()),
        }
        // Nothing to trigger and nothing waiting: the usual quote ends here.
        if self.pending.is_empty()
            && !self
                .positions
                .iter()
                .any(|p| p.epic == q.epic && (p.stop_level.is_some() || p.limit_level.is_some()))
        {
            return Vec::new();
        }
        self.trigger_and_fill(idx, seq, q)
    }

    /// Stops and limits touched by `q`, then pending orders due at `q`.
    #[inline(never)]
    fn trigger_and_fill(&mut self, idx: usize, seq: u64, q: &Quote) -> Vec<BrokerEvent> {
        let mut out = Vec::new();
        self.trail(idx, q, &mut out);
        // Slippage applies to stop fills only: computed when a stop triggers.
        let slip = |b: &Self| b.slip(&b.markets[idx].instrument, q);
        let mut i = 0;
        while i < self.positions.len() {
            let p = &self.positions[i];
            if p.epic != q.epic {
                i += 1;
                continue;
            }
            let hit = match p.direction {
                Direction::Buy => {
                    if let Some(s) = p.stop_level.filter(|s| q.bid <= *s) {
                        // A guaranteed stop fills at its level, gap or not.
                        Some(match p.stop_kind {
                            StopKind::Guaranteed => (s, CloseCause::Stop),
                            _ => (q.bid - slip(self), CloseCause::Stop),
                        })
                    } else if p.limit_level.is_some_and(|l| q.bid >= l) {
                        p.limit_level.map(|l| (l, CloseCause::Limit))
                    } else {
                        None
                    }
                }
                Direction::Sell => {
                    if let Some(s) = p.stop_level.filter(|s| q.offer >= *s) {
                        Some(match p.stop_kind {
                            StopKind::Guaranteed => (s, CloseCause::Stop),
                            _ => (q.offer + slip(self), CloseCause::Stop),
                        })
                    } else if p.limit_level.is_some_and(|l| q.offer <= l) {
                        p.limit_level.map(|l| (l, CloseCause::Limit))
                    } else {
                        None
                    }
                }
            };
            match hit {
                Some((level, cause)) => {
                    let id = p.deal_id.clone();
                    if let Some(ev) = self.close_position(&id, level, cause, q.ts) {
                        out.push(ev);
                    }
                }
                None => i += 1,
            }
        }
        if self.pending.is_empty() {
            return out;
        }
        let latency = self.cfg.latency_ms.unwrap_or(0);
        // One pass in place: due orders are filled, the others go back in the same order.
        for _ in 0..self.pending.len() {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            let due = cmd_epic(&p.cmd) == &q.epic
                && p.submitted_seq < seq
                && q.ts.since(p.submitted_at) >= latency;
            if due {
                self.fill_pending(&p.cmd, q, &mut out);
            } else {
                self.pending.push_back(p);
            }
        }
        out
    }

    /// Fills a pending order, re-checking it against the current state (a close whose
    /// position was stopped out meanwhile is rejected).
    fn fill_pending(&mut self, cmd: &BrokerCommand, q: &Quote, out: &mut Vec<BrokerEvent>) {
        if let BrokerCommand::Close(c) = cmd {
            if let Some(reason) = self.validate_close(c) {
                self.reject(c.deal_ref.clone(), reason, out);
                return;
            }
        }
        self.fill(cmd, q, out);
    }

    /// Fills every pending order at the last known quote of its market (end of data).
    pub fn finish(&mut self) -> Vec<BrokerEvent> {
        let mut out = Vec::new();
        while let Some(p) = self.pending.pop_front() {
            let last = self
                .market(cmd_epic(&p.cmd))
                .and_then(|i| self.markets[i].last.clone());
            match last {
                Some(q) => self.fill_pending(&p.cmd, &q, &mut out),
                None => self.reject(
                    cmd_ref(&p.cmd).clone(),
                    RejectReason::MarketOffline,
                    &mut out,
                ),
            }
        }
        out
    }

    /// Sees a bar (see the module doc): pending orders fill at its open, then stops and limits
    /// are checked against its range with the stop-first rule.
    pub fn on_bar(&mut self, bar: &Candle) -> Vec<BrokerEvent> {
        bars::on_bar(self, bar)
    }
}

fn cmd_epic(cmd: &BrokerCommand) -> &Epic {
    match cmd {
        BrokerCommand::Open(o) => &o.epic,
        BrokerCommand::Close(c) => &c.epic,
        BrokerCommand::Amend(a) => &a.epic,
        BrokerCommand::Resolve { epic, .. } => epic,
    }
}

fn cmd_ref(cmd: &BrokerCommand) -> &DealReference {
    match cmd {
        BrokerCommand::Open(o) => &o.deal_ref,
        BrokerCommand::Close(c) => &c.deal_ref,
        BrokerCommand::Resolve { deal_ref, .. } => deal_ref,
        // Amendments are never pending.
        BrokerCommand::Amend(_) => unreachable_ref(),
    }
}

#[allow(clippy::unwrap_used)] // literals that satisfy the id rules
fn unreachable_ref() -> &'static DealReference {
    static R: std::sync::OnceLock<DealReference> = std::sync::OnceLock::new();
    R.get_or_init(|| DealReference::new("AMEND").unwrap())
}

#[allow(clippy::unwrap_used)]
fn fallback_deal_id(n: u64) -> DealId {
    DealId::new(format!("SIM{n}")).unwrap()
}

impl Broker for SimBroker {
    fn execute(&mut self, cmd: BrokerCommand) -> impl Future<Output = Vec<BrokerEvent>> + Send {
        ready(self.submit(cmd))
    }
    fn on_quote(&mut self, quote: &Quote) -> Vec<BrokerEvent> {
        SimBroker::on_quote(self, quote)
    }
    fn is_paper(&self) -> bool {
        true
    }
}

/// Drives one event through the sim broker and the engine with the one ordering contract
/// ([`crate::driver`]), feeding broker reports back until nothing is left, and appends every
/// engine action to `out`. Quotes and bars go to the broker first (fills and stop triggers they
/// cause), a market status change is applied to the simulated market first, then the engine
/// sees the event; each `Action::Broker` is submitted at once.
pub fn step(
    engine: &mut Engine,
    broker: &mut SimBroker,
    event: EngineEvent,
    out: &mut Vec<Action>,
) {
    let mut driver = std::mem::take(&mut broker.driver);
    driver.step(engine, broker, event, out);
    broker.driver = driver;
}

/// [`step`] for a quote the caller keeps (a backtest reuses one quote for every record):
/// the same actions in the same order as `step(engine, broker, EngineEvent::Quote(q.clone()),
/// out)`, without copying the quote.
#[inline]
pub fn step_quote(engine: &mut Engine, broker: &mut SimBroker, q: &Quote, out: &mut Vec<Action>) {
    let mut driver = std::mem::take(&mut broker.driver);
    driver.step_quote(engine, broker, q, out);
    broker.driver = driver;
}

impl Venue for SimBroker {
    #[inline]
    fn reports_before(&mut self, event: &EngineEvent, out: &mut Vec<BrokerEvent>) {
        let reports = match event {
            EngineEvent::Quote(q) => self.on_quote(q),
            EngineEvent::Candle(c) => self.on_bar(c),
            EngineEvent::MarketStatus { epic, status, .. } => {
                self.set_market_status(epic, status.clone());
                return;
            }
            EngineEvent::DealingRules { epic, rules, .. } => {
                self.set_dealing_rules(epic, rules.clone());
                return;
            }
            _ => return,
        };
        if !reports.is_empty() {
            out.extend(reports);
        }
    }

    #[inline]
    fn reports_before_quote(&mut self, quote: &Quote, out: &mut Vec<BrokerEvent>) {
        let reports = self.on_quote(quote);
        if !reports.is_empty() {
            out.extend(reports);
        }
    }

    #[inline]
    fn submit(&mut self, cmd: &BrokerCommand, queue: &mut VecDeque<EngineEvent>) {
        let mut reports = std::mem::take(&mut self.reports);
        self.submit_into(cmd, &mut reports);
        queue.extend(reports.drain(..).map(EngineEvent::Broker));
        self.reports = reports;
    }
}

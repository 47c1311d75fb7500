//! The shadow's pairing book: each live entry is paired with the shadow entry decided on the
//! same input (same instrument and direction), and each pair is reported once both sides are
//! closed, with the entry and exit differences in points and the P&L difference. Pure: no
//! clock, no I/O; the shadow task feeds it in the live loop's order.
//!
//! Differences are signed against live: `+` points mean live filled worse than paper.

use std::collections::HashMap;

use rust_decimal::Decimal;
use scalper_engine::{ClosedTrade, OpenedTrade};
use scalper_journal::{ShadowLeg, ShadowOutcome, ShadowTrade};
use scalper_model::{DealReference, Direction, Epic, Instrument, Money, Timestamp};
use serde::Serialize;

/// Which engine a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Shadow,
}

/// An entry decision, as the book is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub epic: Epic,
    pub direction: Direction,
    pub deal_ref: DealReference,
    /// The deciding engine's clock at the decision (the quote's time).
    pub at: Timestamp,
}

/// The run's shadow totals: what the summary, `--json` and the metrics show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShadowSummary {
    /// Live trades with a shadow twin, both closed.
    pub pairs: u64,
    /// Live trades the shadow did not make (extra against paper).
    pub live_only: u64,
    /// Shadow trades live did not make (missed by live).
    pub shadow_only: u64,
    /// Trades still open on either side at the end (not compared).
    pub unfinished: u64,
    /// Realised P&L of the compared live and shadow trades, and live less shadow, in the
    /// account currency.
    pub pnl_live: Money,
    pub pnl_shadow: Money,
    pub pnl_difference: Money,
    /// Mean entry and exit slippage of live against paper over the pairs, points (+ is worse).
    pub entry_slippage_points_mean: Option<Decimal>,
    pub exit_slippage_points_mean: Option<Decimal>,
    /// Mean time from the decision to live's fill, ms of the run's quote clock.
    pub entry_delay_ms_mean: Option<i64>,
    /// Inputs (quotes and events) the shadow engine processed, and the quotes among them.
    pub inputs: u64,
    pub quotes: u64,
    /// Shadow entries whose live twin is still being opened or closed (0 once live caught up).
    pub awaiting_live: u64,
    /// Live-loop inputs the shadow could not take because it fell behind; after the first
    /// one the shadow stops comparing (its state would no longer follow live's).
    pub inputs_dropped: u64,
}

#[derive(Debug, Clone)]
struct Leg {
    deal_ref: DealReference,
    step: u64,
    opened: Option<(u64, Timestamp)>,
    closed: Option<ShadowLeg>,
    failed: bool,
}

impl Leg {
    fn new(d: &Decision, step: u64) -> Self {
        Self {
            deal_ref: d.deal_ref.clone(),
            step,
            opened: None,
            closed: None,
            failed: false,
        }
    }

    /// `Some(leg)` when closed, `None` when it never became a trade; `Err` while pending.
    fn done(&self) -> Result<Option<&ShadowLeg>, ()> {
        match (&self.closed, self.failed) {
            (Some(c), _) => Ok(Some(c)),
            (None, true) => Ok(None),
            (None, false) => Err(()),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    epic: Epic,
    direction: Direction,
    decided_at: Timestamp,
    live: Option<Leg>,
    shadow: Option<Leg>,
    same_quote: bool,
}

/// Running sums behind [`ShadowSummary`]'s means.
#[derive(Debug, Default)]
struct Sums {
    entry: (Decimal, u64),
    exit: (Decimal, u64),
    delay: (i64, i64),
}

/// Open comparisons and the totals of finished ones.
#[derive(Debug, Default)]
pub struct Book {
    entries: Vec<Entry>,
    point_sizes: HashMap<Epic, Decimal>,
    summary: ShadowSummary,
    sums: Sums,
}

impl Book {
    pub fn new(instruments: &[Instrument]) -> Self {
        Self {
            point_sizes: instruments
                .iter()
                .map(|i| (i.epic.clone(), i.point_size))
                .collect(),
            ..Self::default()
        }
    }

    /// The shadow decided an entry while processing input `step`.
    pub fn shadow_entry(&mut self, step: u64, d: &Decision) {
        self.entries.push(Entry {
            epic: d.epic.clone(),
            direction: d.direction,
            decided_at: d.at,
            live: None,
            shadow: Some(Leg::new(d, step)),
            same_quote: false,
        });
    }

    /// Live decided an entry: on input `step` (`on_input`), or after a broker report, which the
    /// shadow never sees (then it pairs with the oldest unpaired shadow entry still open on
    /// that instrument and direction: paper filled the first half of a flip at once).
    pub fn live_entry(&mut self, step: u64, on_input: bool, d: &Decision) {
        let twin = self.entries.iter_mut().find(|e| {
            e.live.is_none()
                && e.epic == d.epic
                && e.direction == d.direction
                && e.shadow.as_ref().is_some_and(|s| {
                    if on_input {
                        s.step == step
                    } else {
                        s.closed.is_none() && !s.failed
                    }
                })
        });
        match twin {
            Some(e) => {
                e.same_quote = on_input;
                e.live = Some(Leg::new(d, step));
            }
            None => self.entries.push(Entry {
                epic: d.epic.clone(),
                direction: d.direction,
                decided_at: d.at,
                live: Some(Leg::new(d, step)),
                shadow: None,
                same_quote: false,
            }),
        }
    }

    fn find(&mut self, side: Side, deal_ref: &DealReference) -> Option<(usize, &mut Leg)> {
        self.entries.iter_mut().enumerate().find_map(|(i, e)| {
            let leg = match side {
                Side::Live => e.live.as_mut(),
                Side::Shadow => e.shadow.as_mut(),
            }?;
            (leg.deal_ref == *deal_ref).then_some((i, leg))
        })
    }

    /// A side's entry filled, as that side's engine learnt at `at` on the run's quote clock
    /// (trades the book does not know, e.g. positions taken over at start, are ignored).
    pub fn opened(&mut self, side: Side, t: &OpenedTrade, at: Timestamp) {
        if let Some((_, leg)) = self.find(side, &t.deal_ref) {
            leg.opened = Some((t.trade_id, at));
        }
    }

    /// A side's trade closed: returns the comparison when that finished it.
    pub fn closed(&mut self, side: Side, t: &ClosedTrade) -> Option<ShadowTrade> {
        let (i, leg) = self.find(side, &t.deal_ref)?;
        leg.closed = Some(ShadowLeg {
            trade_id: t.trade_id,
            size: t.size,
            entry: t.entry_price,
            exit: t.exit_price,
            opened_at: t.entry_time,
            closed_at: t.exit_time,
            pnl: t.pnl,
        });
        self.complete(i)
    }

    /// A side's entry was refused by its broker (never became a trade).
    pub fn failed(&mut self, side: Side, deal_ref: &DealReference) -> Option<ShadowTrade> {
        let (i, leg) = self.find(side, deal_ref)?;
        if leg.opened.is_some() {
            return None;
        }
        leg.failed = true;
        self.complete(i)
    }

    /// The end of the run: entries never filled count as refused; what is still open on
    /// either side is counted as unfinished.
    pub fn finish(&mut self) -> Vec<ShadowTrade> {
        for e in &mut self.entries {
            for leg in [e.live.as_mut(), e.shadow.as_mut()].into_iter().flatten() {
                if leg.opened.is_none() && leg.closed.is_none() {
                    leg.failed = true;
                }
            }
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            if self.is_pending(i) {
                i += 1;
            } else {
                out.extend(self.complete(i));
            }
        }
        self.summary.unfinished = self.entries.len() as u64;
        self.summary.awaiting_live = 0;
        out
    }

    fn is_pending(&self, i: usize) -> bool {
        let e = &self.entries[i];
        e.live.as_ref().is_some_and(|l| l.done().is_err())
            || e.shadow.as_ref().is_some_and(|s| s.done().is_err())
    }

    /// The totals so far.
    pub fn summary(&self) -> ShadowSummary {
        let mut s = self.summary.clone();
        s.awaiting_live = self
            .entries
            .iter()
            .filter(|e| match (&e.live, &e.shadow) {
                (Some(l), Some(sh)) => {
                    (sh.opened.is_some() && l.opened.is_none() && !l.failed)
                        || (sh.closed.is_some() && l.closed.is_none() && !l.failed)
                }
                _ => false,
            })
            .count() as u64;
        s
    }

    pub fn count_input(&mut self, quote: bool) {
        self.summary.inputs += 1;
        self.summary.quotes += u64::from(quote);
    }

    /// Removes entry `i` when neither side is pending, and books it.
    fn complete(&mut self, i: usize) -> Option<ShadowTrade> {
        if self.is_pending(i) {
            return None;
        }
        let e = self.entries.remove(i);
        let live = e.live.as_ref().and_then(|l| l.closed.clone());
        let shadow = e.shadow.as_ref().and_then(|s| s.closed.clone());
        let outcome = match (&live, &shadow) {
            (Some(_), Some(_)) => ShadowOutcome::Paired,
            (Some(_), None) => ShadowOutcome::LiveOnly,
            (None, Some(_)) => ShadowOutcome::ShadowOnly,
            (None, None) => return None,
        };
        let mut t = ShadowTrade {
            epic: e.epic.clone(),
            direction: e.direction,
            outcome,
            decided_at: e.decided_at,
            live,
            shadow,
            same_quote: e.same_quote,
            entry_slippage_points: None,
            exit_slippage_points: None,
            pnl_difference: None,
            entry_delay_ms: None,
        };
        if let (Some(l), Some(s)) = (&t.live, &t.shadow) {
            let sign = e.direction.sign();
            let points = |d: Decimal| match self.point_sizes.get(&e.epic) {
                Some(ps) if !ps.is_zero() => (d / ps).normalize(),
                _ => d.normalize(),
            };
            t.entry_slippage_points = Some(points((l.entry - s.entry) * sign));
            t.exit_slippage_points = Some(points((s.exit - l.exit) * sign));
            t.pnl_difference = Some(l.pnl - s.pnl);
            t.entry_delay_ms = e
                .live
                .as_ref()
                .and_then(|l| l.opened)
                .map(|(_, at)| at.since(e.decided_at));
        }
        self.book(&t);
        Some(t)
    }

    fn book(&mut self, t: &ShadowTrade) {
        let s = &mut self.summary;
        match t.outcome {
            ShadowOutcome::Paired => s.pairs += 1,
            ShadowOutcome::LiveOnly => s.live_only += 1,
            ShadowOutcome::ShadowOnly => s.shadow_only += 1,
        }
        if let Some(l) = &t.live {
            s.pnl_live += l.pnl;
        }
        if let Some(sh) = &t.shadow {
            s.pnl_shadow += sh.pnl;
        }
        s.pnl_difference = s.pnl_live - s.pnl_shadow;
        let sums = &mut self.sums;
        if let Some(p) = t.entry_slippage_points {
            sums.entry.0 += p;
            sums.entry.1 += 1;
        }
        if let Some(p) = t.exit_slippage_points {
            sums.exit.0 += p;
            sums.exit.1 += 1;
        }
        if let Some(ms) = t.entry_delay_ms {
            sums.delay.0 += ms;
            sums.delay.1 += 1;
        }
        let mean = |(sum, n): (Decimal, u64)| {
            (n > 0).then(|| (sum / Decimal::from(n)).round_dp(2).normalize())
        };
        s.entry_slippage_points_mean = mean(sums.entry);
        s.exit_slippage_points_mean = mean(sums.exit);
        s.entry_delay_ms_mean = (sums.delay.1 > 0).then(|| sums.delay.0 / sums.delay.1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rust_decimal_macros::dec;
    use scalper_engine::CloseCause;
    use scalper_model::{DealId, Price, Size};

    use super::*;

    fn epic() -> Epic {
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
    }

    fn book() -> Book {
        let mut b = Book::default();
        b.point_sizes.insert(epic(), dec!(0.0001));
        b
    }

    fn decision(r: &str, direction: Direction) -> Decision {
        Decision {
            epic: epic(),
            direction,
            deal_ref: DealReference::new(r).unwrap(),
            at: Timestamp::from_millis(1_000),
        }
    }

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn opened(r: &str, id: u64) -> OpenedTrade {
        OpenedTrade {
            trade_id: id,
            deal_ref: DealReference::new(r).unwrap(),
            deal_id: DealId::new(format!("D{id}")).unwrap(),
            epic: epic(),
            direction: Direction::Buy,
            size: Size::new(dec!(1)),
            level: Price::new(dec!(1.1)),
            stop_level: None,
            limit_level: None,
            at: Timestamp::from_millis(0),
            paper: false,
        }
    }

    fn closed(
        r: &str,
        direction: Direction,
        entry: Decimal,
        exit: Decimal,
        pnl: Decimal,
    ) -> ClosedTrade {
        ClosedTrade {
            trade_id: 1,
            deal_ref: DealReference::new(r).unwrap(),
            deal_id: DealId::new("D1").unwrap(),
            epic: epic(),
            direction,
            size: Size::new(dec!(1)),
            entry_time: Timestamp::from_millis(1_000),
            entry_price: Price::new(entry),
            exit_time: Timestamp::from_millis(5_000),
            exit_price: Price::new(exit),
            pnl: Money::new(pnl),
            cause: CloseCause::Engine,
            reason: String::new(),
            paper: false,
        }
    }

    /// Same decision, live filled 2 points worse on entry and 1 point worse on exit (a buy):
    /// the pair says so, in points and in money, once both sides are closed.
    #[test]
    fn a_pair_reports_slippage_against_paper_once_both_sides_closed() {
        let mut b = book();
        b.shadow_entry(7, &decision("S-1", Direction::Buy));
        b.live_entry(7, true, &decision("L-1", Direction::Buy));
        b.opened(Side::Shadow, &opened("S-1", 1), ts(1_000));
        b.opened(Side::Live, &opened("L-1", 9), ts(1_040));
        let paper = closed("S-1", Direction::Buy, dec!(1.1000), dec!(1.1010), dec!(100));
        assert_eq!(b.closed(Side::Shadow, &paper), None, "live is still open");
        assert_eq!(b.summary().awaiting_live, 1);
        let live = closed("L-1", Direction::Buy, dec!(1.1002), dec!(1.1009), dec!(70));
        let t = b.closed(Side::Live, &live).unwrap();
        assert_eq!(t.outcome, ShadowOutcome::Paired);
        assert!(t.same_quote);
        assert_eq!(t.entry_slippage_points, Some(dec!(2)));
        assert_eq!(t.exit_slippage_points, Some(dec!(1)));
        assert_eq!(t.pnl_difference, Some(Money::new(dec!(-30))));
        assert_eq!(t.entry_delay_ms, Some(40));
        let s = b.summary();
        assert_eq!(
            (s.pairs, s.live_only, s.shadow_only, s.awaiting_live),
            (1, 0, 0, 0)
        );
        assert_eq!(s.pnl_difference, Money::new(dec!(-30)));
        assert_eq!(s.entry_slippage_points_mean, Some(dec!(2)));
    }

    /// For a sell, a higher entry and a lower exit than paper are better for live.
    #[test]
    fn sell_slippage_is_signed_against_live() {
        let mut b = book();
        b.shadow_entry(1, &decision("S-1", Direction::Sell));
        b.live_entry(1, true, &decision("L-1", Direction::Sell));
        b.closed(
            Side::Shadow,
            &closed(
                "S-1",
                Direction::Sell,
                dec!(1.1000),
                dec!(1.0990),
                dec!(100),
            ),
        );
        let t = b
            .closed(
                Side::Live,
                &closed(
                    "L-1",
                    Direction::Sell,
                    dec!(1.1001),
                    dec!(1.0991),
                    dec!(100),
                ),
            )
            .unwrap();
        assert_eq!(t.entry_slippage_points, Some(dec!(-1)));
        assert_eq!(t.exit_slippage_points, Some(dec!(1)));
        assert_eq!(t.pnl_difference, Some(Money::ZERO));
    }

    /// Decisions on different inputs, or in opposite directions, are not twins.
    #[test]
    fn unmatched_trades_are_live_only_and_shadow_only() {
        let mut b = book();
        b.shadow_entry(3, &decision("S-1", Direction::Buy));
        b.live_entry(4, true, &decision("L-1", Direction::Buy));
        b.live_entry(4, true, &decision("L-2", Direction::Sell));
        let t = b
            .closed(
                Side::Live,
                &closed("L-1", Direction::Buy, dec!(1.1), dec!(1.1), dec!(0)),
            )
            .unwrap();
        assert_eq!(t.outcome, ShadowOutcome::LiveOnly);
        let t = b
            .closed(
                Side::Shadow,
                &closed("S-1", Direction::Buy, dec!(1.1), dec!(1.2), dec!(5)),
            )
            .unwrap();
        assert_eq!(t.outcome, ShadowOutcome::ShadowOnly);
        assert_eq!(t.pnl_difference, None);
        // Live's sell is still open at the end: unfinished, not compared.
        b.opened(Side::Live, &opened("L-2", 2), ts(1_000));
        assert!(b.finish().is_empty());
        let s = b.summary();
        assert_eq!(
            (s.pairs, s.live_only, s.shadow_only, s.unfinished),
            (0, 1, 1, 1)
        );
        assert_eq!(s.pnl_live, Money::ZERO);
        assert_eq!(s.pnl_shadow, Money::new(dec!(5)));
        assert_eq!(s.pnl_difference, Money::new(dec!(-5)));
    }

    /// Live's entry refused by the broker: the shadow's trade is one live missed.
    #[test]
    fn a_refused_live_entry_leaves_a_shadow_only_trade() {
        let mut b = book();
        b.shadow_entry(1, &decision("S-1", Direction::Buy));
        b.live_entry(1, true, &decision("L-1", Direction::Buy));
        assert_eq!(
            b.failed(Side::Live, &DealReference::new("L-1").unwrap()),
            None
        );
        let t = b
            .closed(
                Side::Shadow,
                &closed("S-1", Direction::Buy, dec!(1.1), dec!(1.2), dec!(5)),
            )
            .unwrap();
        assert_eq!(t.outcome, ShadowOutcome::ShadowOnly);
    }

    /// The second half of a flip: live sends it after the close's confirm (a broker report),
    /// paper filled it at once; they pair, flagged as not decided on the same quote.
    #[test]
    fn an_entry_after_a_broker_report_pairs_with_the_open_paper_twin() {
        let mut b = book();
        b.shadow_entry(5, &decision("S-2", Direction::Sell));
        b.opened(Side::Shadow, &opened("S-2", 2), ts(1_000));
        b.live_entry(5, false, &decision("L-2", Direction::Sell));
        b.closed(
            Side::Shadow,
            &closed("S-2", Direction::Sell, dec!(1.1), dec!(1.1), dec!(0)),
        );
        let t = b
            .closed(
                Side::Live,
                &closed("L-2", Direction::Sell, dec!(1.1), dec!(1.1), dec!(0)),
            )
            .unwrap();
        assert_eq!(t.outcome, ShadowOutcome::Paired);
        assert!(!t.same_quote);
    }
}

//! The price history `/prices` serves: a deterministic, hierarchical history before the
//! simulation's first quote, then the simulation's own recorded bars.
//!
//! The history is one path drawn top-down. Calendar months walk back from the simulation's
//! starting quote; each bar is split into whole bars of the next level of
//! [`CHAIN`] (month, day, hour, 30, 15 and 5 minutes, minute, second) by a Brownian bridge
//! from its open to its close, inside its high and low: one child reaches the high, one the
//! low, and the parent's ticks are shared among the children. So at every level a bar is
//! exactly the aggregate of its children (open, high, low, close, ticks), and the resolutions
//! outside the chain (MINUTE_2, MINUTE_3, MINUTE_10, HOUR_2..4, WEEK) are aggregated from the
//! chain level below them. A bar costs its own generation plus one bar per level above it,
//! never its descendants. Where the market never trades (under market hours) the path does
//! not move and there is no bar. Every split draws from a generator seeded by (sandbox seed,
//! underlying epic, level, bar start), so the same bar comes back whatever was asked before;
//! the mini and spread-bet epics of a market have the underlying's (its CFD's) history,
//! rescaled to their quotes.
//!
//! Prices are integers in units of the last quoted decimal (bid, and the ask a fixed spread
//! above it), so aggregates are exact; the random draws are `f64` (statistics, as in
//! [`crate::sim`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use scalper_model::Timestamp;

use crate::config::{MarketSchedule, SandboxConfig};
use crate::market::{aggregate, bar_start, Bar, Follow, MarketRt, Source, MONTH_MS};

/// Bars one request may generate at most (the newest are kept), and how many bars of its
/// resolution the history holds before the simulation's start: finer resolutions reach back
/// less far (SECOND 5.5 hours, MINUTE 13.9 days, HOUR 2.3 years), as at IG.
pub const MAX_BACKFILL_BARS: usize = 20_000;

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// The generated levels, coarsest first: each bar holds whole bars of the next.
pub const CHAIN: [i64; 8] = [MONTH_MS, DAY, HOUR, 30 * MIN, 15 * MIN, 5 * MIN, MIN, SEC];

/// How far back the history goes: the Unix epoch.
const FLOOR_MS: i64 = 0;

/// Mean ticks per trading second beyond the one every trading second has (the simulator
/// ticks about every 300 ms).
const EXTRA_TICKS_PER_SEC: f64 = 2.33;

/// The bars of `period_ms` starting in `[from, to]` (epoch ms, `to` open-ended when `None`),
/// oldest first: back-filled ones, then the simulator's; only bars in which the market trades.
pub fn range(
    cfg: &SandboxConfig,
    m: &MarketRt,
    seed: u64,
    period_ms: i64,
    from: i64,
    to: Option<i64>,
) -> Vec<Bar> {
    let mut windows = Windows::new(cfg, m);
    let live = live(m, period_ms, from, &mut windows);
    let end = to.map_or(i64::MAX, |t| t.saturating_add(1));
    let hist = History::new(m, seed, windows).bars(period_ms, from, end, MAX_BACKFILL_BARS);
    let mut out = join(hist, live);
    out.retain(|b| b.start >= from && b.start < end);
    out
}

/// The last `n` bars of `period_ms` in which the market trades, oldest first.
pub fn last(cfg: &SandboxConfig, m: &MarketRt, seed: u64, period_ms: i64, n: usize) -> Vec<Bar> {
    let mut windows = Windows::new(cfg, m);
    // The newest n periods usually hold the n bars: aggregate only those first.
    let n_periods = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1);
    let recent = if period_ms == MONTH_MS {
        i64::MIN
    } else {
        m.last.ts.millis() - period_ms.saturating_mul(n_periods)
    };
    let mut recorded = live(m, period_ms, recent, &mut windows);
    if recorded.len() < n && recent != i64::MIN {
        recorded = live(m, period_ms, i64::MIN, &mut windows);
    }
    let mut out = if recorded.len() > n {
        recorded
    } else {
        // One more than needed: the newest back-filled bar may be the first live one's start.
        let want = (n - recorded.len() + 1).min(MAX_BACKFILL_BARS);
        let hist = History::new(m, seed, windows).bars(period_ms, FLOOR_MS, i64::MAX, want);
        join(hist, recorded)
    };
    let skip = out.len().saturating_sub(n);
    out.drain(..skip);
    out
}

/// The history's last bar and the simulation's first are one bar when they share a start.
fn join(mut hist: Vec<Bar>, live: Vec<Bar>) -> Vec<Bar> {
    let mut live = live.into_iter().peekable();
    if let (Some(h), Some(l)) = (hist.last_mut(), live.peek()) {
        if h.start == l.start {
            h.merge(l);
            live.next();
        }
    }
    hist.extend(live);
    hist
}

/// The simulation's bars of `period_ms` from the one holding `from`. They are aggregated
/// from a recorded tier that divides the period and still holds everything since the start:
/// minutes or seconds (the coarser), whose bars never straddle an opening or a close, else
/// hours or days; when every such tier has dropped bars, the coarsest, without a first bar it
/// only partly holds. Only recorded bars in which the market trades count, so the live
/// resolutions agree with one another too.
fn live(m: &MarketRt, period: i64, from: i64, windows: &mut Windows) -> Vec<Bar> {
    let divides = |p: i64| p <= period && (period == MONTH_MS || period % p == 0);
    let tiers = || m.tiers.iter().rev().filter(|t| divides(t.period));
    let Some(tier) = tiers()
        .find(|t| t.period <= MIN && !t.trimmed)
        .or_else(|| tiers().find(|t| !t.trimmed))
        .or_else(|| tiers().next())
    else {
        return Vec::new();
    };
    let (Some(first), Some(newest)) = (tier.bars.front(), tier.bars.back()) else {
        return Vec::new();
    };
    let lo = if from == i64::MIN {
        0
    } else {
        let start = bar_start(from, period);
        tier.bars.partition_point(|b| b.start < start)
    };
    let Some(oldest) = tier.bars.get(lo) else {
        return Vec::new();
    };
    windows.cover(oldest.start, newest.start + tier.period);
    let p = tier.period;
    let mut out = aggregate(
        tier.bars
            .range(lo..)
            .filter(|b| windows.open_ms(b.start, b.start + p) > 0),
        period,
    );
    if tier.trimmed && out.first().is_some_and(|b| b.start < first.start) {
        out.remove(0);
    }
    out
}

/// When a market trades, as sorted, disjoint `[open, close)` spans in whole seconds; `None`
/// when it always does. Filled lazily from the market's hours around the times asked.
struct Windows {
    spans: Option<Vec<(i64, i64)>>,
    hours: Option<scalper_model::hours::TradingHours>,
    holidays: Vec<scalper_model::hours::Holiday>,
    /// The times whose spans are known: `[lo, hi)`.
    known: Option<(i64, i64)>,
}

impl Windows {
    fn new(cfg: &SandboxConfig, m: &MarketRt) -> Self {
        if cfg.schedule == MarketSchedule::AlwaysOpen {
            return Self {
                spans: None,
                hours: None,
                holidays: Vec::new(),
                known: None,
            };
        }
        Self {
            spans: Some(Vec::new()),
            hours: Some(m.entry.hours.clone()),
            holidays: MarketSchedule::holidays_of(&m.entry.epic, &cfg.holidays),
            known: None,
        }
    }

    /// Makes the spans exact over `[from, to)`.
    fn cover(&mut self, from: i64, to: i64) {
        // `TradingHours::windows(at)` is exact from two days before `at` to eight after.
        const BACK: i64 = 2 * DAY;
        const AHEAD: i64 = 8 * DAY;
        let (Some(spans), Some(hours)) = (&mut self.spans, &self.hours) else {
            return;
        };
        let (mut lo, mut hi) = self.known.unwrap_or((from, from));
        let fetch = |at: i64, spans: &mut Vec<(i64, i64)>| {
            for w in hours.windows(Timestamp::from_millis(at), &self.holidays) {
                let (o, c) = (w.open.millis(), w.close.millis());
                spans.push((o - o.rem_euclid(SEC), c - c.rem_euclid(SEC)));
            }
        };
        let mut changed = false;
        while lo > from {
            fetch(lo - AHEAD, spans);
            lo -= AHEAD + BACK;
            changed = true;
        }
        while hi < to {
            fetch(hi + BACK, spans);
            hi += AHEAD + BACK;
            changed = true;
        }
        if changed {
            spans.sort_unstable();
            let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
            for &(o, c) in spans.iter() {
                match merged.last_mut() {
                    Some(last) if o <= last.1 => last.1 = last.1.max(c),
                    _ => merged.push((o, c)),
                }
            }
            *spans = merged;
        }
        self.known = Some((lo, hi));
    }

    /// Milliseconds of `[from, to)` in which the market trades (already covered).
    fn open_ms(&self, from: i64, to: i64) -> i64 {
        let Some(spans) = &self.spans else {
            return to - from;
        };
        let first = spans.partition_point(|&(_, c)| c <= from);
        spans[first..]
            .iter()
            .take_while(|&&(o, _)| o < to)
            .map(|&(o, c)| c.min(to) - o.max(from))
            .filter(|&d| d > 0)
            .sum()
    }

    /// Whole trading seconds in `[from, to)` (both whole seconds): additive over splits.
    fn open_secs(&self, from: i64, to: i64) -> u64 {
        u64::try_from(self.open_ms(from, to) / SEC).unwrap_or(0)
    }
}

/// One bar of the path: bid prices in units of the last decimal, `[start, end)` (the newest
/// bars end early, at the history's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    start: i64,
    end: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    ticks: u64,
}

impl Node {
    fn flat(start: i64, end: i64, at: i64) -> Self {
        Self {
            start,
            end,
            open: at,
            high: at,
            low: at,
            close: at,
            ticks: 0,
        }
    }
}

/// One market's back-filled history.
struct History {
    windows: Windows,
    /// The first millisecond after the history: the simulation's start, to the second.
    end: i64,
    /// The simulation's starting bid, in units, and the fixed spread above it.
    bid: i64,
    spread: i64,
    decimals: u32,
    /// Volatility per square root of a second, as a fraction of the price.
    vol: f64,
    key: u64,
    /// How an epic quoted from its market's underlying rescales the underlying's history.
    follow: Option<Follow>,
}

impl History {
    fn new(m: &MarketRt, seed: u64, windows: Windows) -> Self {
        // An epic quoted from an underlying has the underlying's history, rescaled.
        let follow = match &m.source {
            Source::Follow(f) => Some(f.clone()),
            _ => None,
        };
        let (origin, decimals, epic) = match &follow {
            Some(f) => (&f.leader_origin, f.leader_decimals, f.leader.as_str()),
            None => (&m.origin, m.entry.decimals, m.entry.epic.as_str()),
        };
        let units = |d: Decimal| {
            (d * Decimal::from(10_i64.pow(decimals)))
                .round()
                .to_i64()
                .unwrap_or(1)
        };
        let o = origin;
        let bid = units(o.bid.value()).max(1);
        let spread = (units(o.offer.value()) - bid).max(0);
        let epic_hash = epic.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let t0 = o.ts.millis();
        Self {
            windows,
            end: t0 - t0.rem_euclid(SEC),
            bid,
            spread,
            decimals,
            vol: m.entry.sim_params().vol_per_sqrt_sec,
            key: seed ^ epic_hash,
            follow,
        }
    }

    fn rng(&self, level: usize, start: i64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            self.key
                ^ (level as u64 + 1).rotate_left(40)
                ^ (start as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    }

    /// Back-filled bars of `period` starting in `[from, to)`, at most `limit` (the newest),
    /// oldest first.
    fn bars(mut self, period: i64, from: i64, to: i64, limit: usize) -> Vec<Bar> {
        let depth = period.saturating_mul(i64::try_from(MAX_BACKFILL_BARS).unwrap_or(i64::MAX));
        let from = from.max(FLOOR_MS).max(self.end.saturating_sub(depth));
        if let Some(level) = CHAIN.iter().position(|&p| p == period) {
            let mut nodes = self.collect(level, from, to, limit);
            nodes.reverse();
            return nodes.iter().map(|n| self.bar(n)).collect();
        }
        // Not in the chain: aggregate the coarsest chain level that divides the period.
        let Some(level) = CHAIN
            .iter()
            .position(|&p| p < period && period % p == 0 && p != MONTH_MS)
        else {
            return Vec::new();
        };
        let ratio = usize::try_from(period / CHAIN[level]).unwrap_or(1);
        let lo = bar_start(from, period);
        let hi = if to == i64::MAX {
            to
        } else {
            bar_start(to - 1, period).saturating_add(period)
        };
        let want = limit.saturating_add(1).saturating_mul(ratio);
        let mut nodes = self.collect(level, lo, hi, want);
        nodes.reverse();
        let fine: Vec<Bar> = nodes.iter().map(|n| self.bar(n)).collect();
        let mut out = aggregate(&fine, period);
        out.retain(|b| b.start >= from && b.start < to);
        // The oldest may hold only part of its bars when the limit cut the walk.
        if nodes.len() >= want && !out.is_empty() {
            out.remove(0);
        }
        let skip = out.len().saturating_sub(limit);
        out.drain(..skip);
        out
    }

    fn bar(&self, n: &Node) -> Bar {
        let d = self.decimals;
        let p = |bid: i64| {
            let (b, a) = (Decimal::new(bid, d), Decimal::new(bid + self.spread, d));
            self.follow.as_ref().map_or((b, a), |f| f.price(b, a))
        };
        Bar {
            start: n.start,
            open: p(n.open),
            high: p(n.high),
            low: p(n.low),
            close: p(n.close),
            ticks: n.ticks,
        }
    }

    /// The trading bars of `CHAIN[level]` starting in `[from, to)`, newest first, at most
    /// `limit`: months walk back from the end, each split down to the level.
    fn collect(&mut self, level: usize, from: i64, to: i64, limit: usize) -> Vec<Node> {
        let mut out = Vec::new();
        let mut close = self.bid;
        let mut month_end = self.end;
        while out.len() < limit && month_end > from && month_end > FLOOR_MS {
            let start = bar_start(month_end - 1, MONTH_MS);
            self.windows.cover(start, month_end);
            let month = self.root(start, month_end, close);
            close = month.open;
            if start < to && month.ticks > 0 {
                self.descend(0, month, level, (from, to), limit, &mut out);
            }
            month_end = start;
        }
        out
    }

    fn descend(
        &self,
        level: usize,
        node: Node,
        target: usize,
        (from, to): (i64, i64),
        limit: usize,
        out: &mut Vec<Node>,
    ) {
        if level == target {
            if node.start >= from && node.start < to && node.ticks > 0 {
                out.push(node);
            }
            return;
        }
        for child in self.split(level, &node).into_iter().rev() {
            if out.len() >= limit {
                return;
            }
            if child.ticks > 0 && child.end > from && child.start < to {
                self.descend(level + 1, child, target, (from, to), limit, out);
            }
        }
    }

    /// Volatility over `secs` trading seconds at `price`, in units.
    fn sigma(&self, price: i64, secs: u64) -> f64 {
        self.vol * price as f64 * (secs as f64).sqrt()
    }

    /// A month ending at `close` (a random walk backwards in time).
    fn root(&self, start: i64, end: i64, close: i64) -> Node {
        let secs = self.windows.open_secs(start, end);
        if secs == 0 {
            return Node::flat(start, end, close);
        }
        let mut rng = self.rng(0, start);
        let sigma = self.sigma(close, secs);
        let z: f64 = StandardNormal.sample(&mut rng);
        let open = ((close as f64) * (-z * sigma / close.max(1) as f64).exp()).round() as i64;
        let open = open.max(1);
        let (up, down): (f64, f64) = (
            StandardNormal.sample(&mut rng),
            StandardNormal.sample(&mut rng),
        );
        Node {
            start,
            end,
            open,
            high: open.max(close) + (up.abs() * sigma * 0.5).round() as i64,
            low: (open.min(close) - (down.abs() * sigma * 0.5).round() as i64).max(1),
            close,
            ticks: secs + extra_ticks(&mut rng, secs),
        }
    }

    /// `p` (a bar of `CHAIN[level]`) as its bars of the next level, oldest first.
    fn split(&self, level: usize, p: &Node) -> Vec<Node> {
        let child = CHAIN[level + 1];
        let mut out = Vec::new();
        let mut s = p.start;
        while s < p.end {
            let e = (s + child).min(p.end);
            out.push(Node::flat(s, e, p.open));
            s = e;
        }
        if p.ticks == 0 {
            return out;
        }
        let secs: Vec<u64> = out
            .iter()
            .map(|c| self.windows.open_secs(c.start, c.end))
            .collect();
        let mut rng = self.rng(level + 1, p.start);
        let sigma_1s = self.sigma((p.open + p.close) / 2, 1);
        // Opens and closes: a Brownian bridge from the open to the close over the trading
        // children, inside the bar's range; closed children stay flat.
        let mut left: u64 = secs.iter().sum();
        let mut at = p.open;
        for (c, &n) in out.iter_mut().zip(&secs) {
            c.open = at;
            if n > 0 {
                c.close = if n >= left {
                    p.close
                } else {
                    let frac = n as f64 / left as f64;
                    let mean = at as f64 + (p.close - at) as f64 * frac;
                    let sd = sigma_1s * (n as f64 * (left - n) as f64 / left as f64).sqrt();
                    let z: f64 = StandardNormal.sample(&mut rng);
                    ((mean + sd * z).round() as i64).clamp(p.low, p.high)
                };
                left -= n;
            }
            c.close = if n > 0 { c.close } else { at };
            c.high = c.open.max(c.close);
            c.low = c.open.min(c.close);
            at = c.close;
        }
        // The bar's high and low are reached in the children that come closest; the others
        // make their own, smaller excursions.
        let trading = || {
            out.iter()
                .zip(&secs)
                .enumerate()
                .filter(|(_, (_, &n))| n > 0)
        };
        let hi = trading().max_by_key(|(i, (c, _))| (c.high, std::cmp::Reverse(*i)));
        let lo = trading().min_by_key(|(i, (c, _))| (c.low, *i));
        let (hi, lo) = (hi.map(|(i, _)| i), lo.map(|(i, _)| i));
        let mut weights = Vec::with_capacity(out.len());
        for (i, (c, &n)) in out.iter_mut().zip(&secs).enumerate() {
            if n == 0 {
                weights.push(0.0);
                continue;
            }
            let sd = sigma_1s * (n as f64).sqrt() * 0.5;
            let (up, down): (f64, f64) = (
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            );
            c.high = if Some(i) == hi {
                p.high
            } else {
                (c.high + (up.abs() * sd).round() as i64).min(p.high)
            };
            c.low = if Some(i) == lo {
                p.low
            } else {
                (c.low - (down.abs() * sd).round() as i64).max(p.low)
            };
            weights.push(n as f64 * rng.gen_range(0.5..1.5));
        }
        share_ticks(&mut out, &secs, &weights, p.ticks);
        out
    }
}

/// Ticks beyond one a second for `secs` trading seconds.
fn extra_ticks(rng: &mut ChaCha8Rng, secs: u64) -> u64 {
    (secs as f64 * EXTRA_TICKS_PER_SEC * rng.gen_range(0.5..1.5)).round() as u64
}

/// Shares `total` ticks among `children`: one a trading second each, the rest by `weights`
/// (the remainder to the heaviest), so they sum to `total`.
fn share_ticks(children: &mut [Node], secs: &[u64], weights: &[f64], total: u64) {
    let base: u64 = secs.iter().sum();
    let extra = total.saturating_sub(base);
    let sum: f64 = weights.iter().sum();
    let mut given = 0;
    for ((c, &n), &w) in children.iter_mut().zip(secs).zip(weights) {
        let e = if sum > 0.0 {
            (extra as f64 * w / sum).floor() as u64
        } else {
            0
        };
        c.ticks = n + e;
        given += e;
    }
    let heaviest = weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    if let Some(c) = heaviest.and_then(|i| children.get_mut(i)) {
        c.ticks += extra.saturating_sub(given);
    }
}

#[cfg(test)]
mod tests;

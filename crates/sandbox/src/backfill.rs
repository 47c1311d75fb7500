//! Deterministic price history before the simulator's first stored bar, so that `/prices` can
//! answer any resolution and range: bars walk backwards from the oldest stored bar's open (the
//! history ends exactly where the simulation's own bars begin), each drawn from a generator
//! seeded by (sandbox seed, epic, resolution, bar start), so the same request always gets the
//! same bars whatever else was asked before. Resolutions are not consistent with one another
//! (a DAY bar is not the sum of its HOUR bars), and closed hours and weekends are not skipped.
//!
//! The random walk is `f64` (statistics, as in [`crate::sim`]); every level is a `Decimal`
//! rounded to the instrument's decimal places.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use scalper_model::Timestamp;

use crate::config::{MarketSchedule, SandboxConfig};
use crate::market::{aggregate, bar_start, previous_bar_start, Bar, MarketRt};

/// Back-filled bars one request may generate at most (the newest are kept).
pub const MAX_BACKFILL_BARS: i64 = 20_000;

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
    let live = aggregate(m, period_ms);
    let mut out = before(m, seed, period_ms, &live, from);
    out.extend(live);
    out.retain(|b| {
        b.start >= from && to.is_none_or(|t| b.start <= t) && trades_in(cfg, m, b.start, period_ms)
    });
    out
}

/// The last `n` bars of `period_ms` in which the market trades, oldest first.
pub fn last(cfg: &SandboxConfig, m: &MarketRt, seed: u64, period_ms: i64, n: usize) -> Vec<Bar> {
    let live = aggregate(m, period_ms);
    let open = |b: &Bar| trades_in(cfg, m, b.start, period_ms);
    let mut out: Vec<Bar> = live.iter().filter(|b| open(b)).cloned().collect();
    let missing = n.saturating_sub(out.len());
    if missing > 0 {
        let end = live
            .first()
            .map_or_else(|| bar_start(m.last.ts.millis(), period_ms), |b| b.start);
        let cap = usize::try_from(MAX_BACKFILL_BARS).unwrap_or(usize::MAX);
        // Closed bars are left out: walk back further until enough open ones are found.
        let mut span = missing.min(cap);
        loop {
            let mut from = end;
            for _ in 0..span {
                from = previous_bar_start(from, period_ms);
            }
            let mut older: Vec<Bar> = before(m, seed, period_ms, &live, from)
                .into_iter()
                .filter(|b| open(b))
                .collect();
            if older.len() >= missing || span >= cap {
                older.append(&mut out);
                out = older;
                break;
            }
            span = span.saturating_mul(2).min(cap);
        }
    }
    let skip = out.len().saturating_sub(n);
    out.drain(..skip);
    out
}

/// Whether the market trades at some time in the bar of `period` at `start` (always under the
/// always-open schedule, and for weeks and months). Intraday bars are sampled at their start,
/// middle and last millisecond, a day every hour.
fn trades_in(cfg: &SandboxConfig, m: &MarketRt, start: i64, period: i64) -> bool {
    const DAY: i64 = 86_400_000;
    if cfg.schedule == MarketSchedule::AlwaysOpen || period > DAY {
        return true;
    }
    let step = if period == DAY {
        3_600_000
    } else {
        (period / 2).max(1)
    };
    let at = |t: i64| cfg.is_open(&m.entry, Timestamp::from_millis(t));
    (start..start + period)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .any(at)
        || at(start + period - 1)
}

/// Back-filled bars starting in `[from, first live bar)`, oldest first.
fn before(m: &MarketRt, seed: u64, period: i64, live: &[Bar], from: i64) -> Vec<Bar> {
    if period <= 0 {
        return Vec::new();
    }
    let (end, anchor) = if let Some(b) = live.first() {
        (b.start, b.open)
    } else {
        (
            bar_start(m.last.ts.millis(), period),
            (m.last.bid.value(), m.last.offer.value()),
        )
    };
    let aligned = bar_start(from, period);
    if aligned >= end {
        return Vec::new();
    }
    let e = &m.entry;
    let decimals = e.decimals;
    let sigma = e.sim_params().vol_per_sqrt_sec * (period as f64 / 1000.0).sqrt();
    let spread = (anchor.1 - anchor.0).to_f64().unwrap_or(0.0).max(0.0);
    let epic_hash = e
        .epic
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let level = |mid: f64| -> (Decimal, Decimal) {
        let bid = Decimal::from_f64(mid - spread / 2.0).unwrap_or_default();
        let ask = Decimal::from_f64(mid + spread / 2.0).unwrap_or_default();
        (bid.round_dp(decimals), ask.round_dp(decimals))
    };
    let mut close_mid = ((anchor.0 + anchor.1) / Decimal::TWO)
        .to_f64()
        .unwrap_or(0.0);
    let mut out = Vec::new();
    let mut start = end;
    while start > aligned && out.len() < usize::try_from(MAX_BACKFILL_BARS).unwrap_or(usize::MAX) {
        start = previous_bar_start(start, period);
        let mut rng = ChaCha8Rng::seed_from_u64(
            seed ^ epic_hash
                ^ (period as u64).rotate_left(32)
                ^ (start as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let z: f64 = StandardNormal.sample(&mut rng);
        let up: f64 = StandardNormal.sample(&mut rng);
        let down: f64 = StandardNormal.sample(&mut rng);
        let open_mid = close_mid * (-sigma * z).exp();
        let high_mid = open_mid.max(close_mid) * (sigma * up.abs() * 0.5).exp();
        let low_mid = open_mid.min(close_mid) * (-sigma * down.abs() * 0.5).exp();
        let ticks = ((period as f64 / 300.0) * rng.gen_range(0.5..1.5)).max(1.0);
        out.push(Bar {
            start,
            open: level(open_mid),
            high: level(high_mid),
            low: level(low_mid),
            close: level(close_mid),
            ticks: ticks as u64,
        });
        close_mid = open_mid;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::Source;
    use crate::sim::MarketSim;

    fn market() -> MarketRt {
        let entry = crate::catalog::catalogue().swap_remove(0);
        let start = Timestamp::from_millis(1_767_225_600_000);
        let warm = start.plus_millis(-600_000);
        let sim = MarketSim::new(entry.sim_params(), 7, warm);
        let mut m = MarketRt::new(entry, Source::Sim(Box::new(sim)), warm);
        while m.next_before(start).is_some() {}
        m
    }

    #[test]
    fn no_bars_where_the_market_is_closed() {
        use chrono::{Datelike, Timelike, Weekday};
        let hours = SandboxConfig {
            schedule: MarketSchedule::MarketHours,
            ..SandboxConfig::for_tests()
        };
        let m = market();
        assert_eq!(m.entry.epic.as_str(), "CS.D.EURUSD.CFD.IP");
        // FX closes from Friday 17:00 to Sunday 17:00 New York time (22:00 UTC in winter).
        let closed = |ms: i64| {
            let d = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            match d.weekday() {
                Weekday::Sat => true,
                Weekday::Fri => d.hour() >= 22,
                Weekday::Sun => d.hour() < 22,
                _ => false,
            }
        };
        let bars = last(&hours, &m, 1, 3_600_000, 24 * 12);
        assert_eq!(bars.len(), 24 * 12, "closed hours are skipped, not counted");
        assert!(
            bars.iter().all(|b| !closed(b.start)),
            "no bar in the weekend"
        );
        let weekend = bars
            .windows(2)
            .filter(|w| w[1].start - w[0].start > 3_600_000)
            .count();
        assert!(weekend >= 1, "the 12 days hold a weekend gap");
        // Always open: the same hours with the weekend in them.
        let all = last(&SandboxConfig::for_tests(), &m, 1, 3_600_000, 24 * 12);
        assert!(all.windows(2).all(|w| w[1].start - w[0].start == 3_600_000));
        assert!(all.iter().any(|b| closed(b.start)));
        // DAY bars leave Saturday out.
        let days = last(&hours, &m, 1, 86_400_000, 14);
        assert_eq!(days.len(), 14);
        assert!(days.iter().all(|b| {
            chrono::DateTime::from_timestamp_millis(b.start)
                .unwrap()
                .weekday()
                != Weekday::Sat
        }));
    }

    #[test]
    fn month_bars_are_calendar_months() {
        use chrono::{Datelike, Timelike};
        let open = SandboxConfig::for_tests();
        let m = market();
        let months = last(&open, &m, 1, crate::market::MONTH_MS, 14);
        assert_eq!(months.len(), 14);
        for w in months.windows(2) {
            let (a, b) = (
                chrono::DateTime::from_timestamp_millis(w[0].start).unwrap(),
                chrono::DateTime::from_timestamp_millis(w[1].start).unwrap(),
            );
            assert_eq!((a.day(), a.hour(), b.day()), (1, 0, 1), "{a} {b}");
            let month_no =
                |d: chrono::DateTime<chrono::Utc>| i64::from(d.year()) * 12 + i64::from(d.month0());
            assert_eq!(month_no(b) - month_no(a), 1);
            assert_eq!(w[0].close, w[1].open, "continuous");
        }
        // The newest month holds the simulation's bars (its warm-up ends 2026-01-01 00:00).
        let newest = chrono::DateTime::from_timestamp_millis(months[13].start).unwrap();
        assert_eq!((newest.year(), newest.month()), (2025, 12));
        let year = range(
            &open,
            &m,
            1,
            crate::market::MONTH_MS,
            months[2].start + 1,
            None,
        );
        assert_eq!(year[0].start, months[3].start);
    }

    #[test]
    fn history_ends_where_the_simulation_begins_and_is_deterministic() {
        let open = SandboxConfig::for_tests();
        let m = market();
        let live = aggregate(&m, 60_000);
        let days = last(&open, &m, 1, 86_400_000, 30);
        assert_eq!(days.len(), 30);
        let minutes = last(&open, &m, 1, 60_000, live.len() + 50);
        assert_eq!(minutes.len(), live.len() + 50);
        // The newest back-filled minute closes at the first simulated minute's open.
        assert_eq!(minutes[49].close, live[0].open);
        assert_eq!(minutes[50..], live[..]);
        for w in minutes.windows(2).take(49) {
            assert_eq!(w[0].start + 60_000, w[1].start);
            assert_eq!(w[0].close, w[1].open, "continuous");
            assert!(w[0].low.0 <= w[0].open.0.min(w[0].close.0));
            assert!(w[0].high.0 >= w[0].open.0.max(w[0].close.0));
        }
        assert_eq!(
            last(&open, &m, 1, 86_400_000, 30),
            days,
            "same request, same bars"
        );
        assert_ne!(
            last(&open, &m, 2, 86_400_000, 30),
            days,
            "another seed, another history"
        );
        // A range: the same bars as by count, and bounded.
        let from = minutes[10].start;
        assert_eq!(
            range(&open, &m, 1, 60_000, from, Some(minutes[20].start)),
            minutes[10..=20]
        );
        assert_eq!(
            range(&open, &m, 1, 1_000, 0, None).len(),
            usize::try_from(MAX_BACKFILL_BARS).unwrap() + aggregate(&m, 1_000).len()
        );
    }
}

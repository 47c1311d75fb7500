use super::*;
use crate::market::Source;
use crate::sim::MarketSim;

const START: i64 = 1_767_225_600_000; // 2026-01-01 00:00 UTC, a Thursday

fn market_of(epic: &str) -> MarketRt {
    let entry = crate::catalog::catalogue()
        .into_iter()
        .find(|e| e.epic.as_str() == epic)
        .unwrap();
    let start = Timestamp::from_millis(START);
    let warm = start.plus_millis(-600_000);
    let sim = MarketSim::new(entry.sim_params(), 7, warm);
    let mut m = MarketRt::new(entry, Source::Sim(Box::new(sim)), warm);
    while m.next_before(start).is_some() {}
    m
}

fn market() -> MarketRt {
    market_of("CS.D.EURUSD.CFD.IP")
}

fn hours() -> SandboxConfig {
    SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        ..SandboxConfig::for_tests()
    }
}

/// Every bar of `coarse` in `[from, to]` is the aggregate of the `fine` bars it holds, and
/// every fine bar is in a coarse one.
fn check_consistent(
    cfg: &SandboxConfig,
    m: &MarketRt,
    coarse: i64,
    fine: i64,
    from: i64,
    to: i64,
) -> usize {
    let big = range(cfg, m, 1, coarse, from, Some(to));
    if big.is_empty() {
        return 0;
    }
    let first = big[0].start;
    let last = big[big.len() - 1].start;
    let end = if coarse == MONTH_MS {
        bar_start(last + 32 * DAY, MONTH_MS)
    } else {
        last + coarse
    };
    let small = range(cfg, m, 1, fine, first, Some(end - 1));
    let merged = aggregate(&small, coarse);
    assert_eq!(merged.len(), big.len(), "{fine} into {coarse}: bar count");
    for (a, b) in merged.iter().zip(&big) {
        assert_eq!(a, b, "{fine} into {coarse} at {}", b.start);
        assert!(b.low.0 <= b.open.0.min(b.close.0) && b.high.0 >= b.open.0.max(b.close.0));
        assert!(b.ticks > 0);
    }
    big.len()
}

#[test]
fn every_resolution_is_the_aggregate_of_the_finer_ones() {
    const WEEK: i64 = 7 * DAY;
    let pairs: &[(i64, i64, i64)] = &[
        // (coarse, fine, span back from the start)
        (MONTH_MS, DAY, 400 * DAY),
        (WEEK, DAY, 120 * DAY),
        (DAY, HOUR, 20 * DAY),
        (4 * HOUR, HOUR, 5 * DAY),
        (3 * HOUR, HOUR, 5 * DAY),
        (2 * HOUR, HOUR, 5 * DAY),
        (HOUR, 30 * MIN, 3 * DAY),
        (HOUR, 15 * MIN, 3 * DAY),
        (30 * MIN, 15 * MIN, 2 * DAY),
        (30 * MIN, 10 * MIN, 2 * DAY),
        (15 * MIN, 5 * MIN, 2 * DAY),
        (10 * MIN, 5 * MIN, 2 * DAY),
        (5 * MIN, MIN, DAY),
        (3 * MIN, MIN, DAY),
        (2 * MIN, MIN, DAY),
        (MIN, SEC, 2 * HOUR),
    ];
    for cfg in [SandboxConfig::for_tests(), hours()] {
        for epic in ["CS.D.EURUSD.CFD.IP", "IX.D.DAX.IFMM.IP"] {
            let m = market_of(epic);
            for &(coarse, fine, span) in pairs {
                // Up to the newest live bar (the bar holding the start joins both parts),
                // and up to an earlier time when the DAX trades (it is closed at midnight):
                // 30 December 16:00, or 31 December 21:00 for seconds (they reach back 5.5
                // hours).
                let earlier = if fine == SEC { 3 * HOUR } else { 32 * HOUR };
                let n: usize = [START, START - earlier]
                    .iter()
                    .map(|&to| check_consistent(&cfg, &m, coarse, fine, to - span, to))
                    .sum();
                assert!(n >= 2, "{epic} {coarse}: {n} bars");
            }
        }
    }
}

#[test]
fn the_history_walks_through_every_level_to_the_first_tick() {
    let open = SandboxConfig::for_tests();
    let m = market();
    // The newest back-filled bar of each level closes on the simulation's first quote, and
    // the first live bar opens there.
    let origin = (m.origin.bid.value(), m.origin.offer.value());
    let live_start = m.origin.ts.millis();
    for &p in &CHAIN[1..] {
        let bars = range(&open, &m, 1, p, live_start - 50 * p, Some(live_start - 1));
        let newest = bars.last().unwrap();
        assert!(newest.start < live_start);
        if newest.start + p <= live_start {
            assert_eq!(newest.close, origin, "level {p}");
        }
    }
    let minutes = range(&open, &m, 1, MIN, live_start - 5 * MIN, None);
    let first_live = minutes.iter().position(|b| b.start == live_start).unwrap();
    assert_eq!(minutes[first_live - 1].close, origin);
    assert_eq!(minutes[first_live].open, origin);
    for w in minutes[..first_live].windows(2) {
        assert_eq!(w[0].close, w[1].open, "continuous");
    }
}

#[test]
fn a_bar_is_the_same_whatever_was_asked() {
    let cfg = hours();
    let m = market();
    let wide = range(&cfg, &m, 1, HOUR, START - 30 * DAY, Some(START));
    let narrow = range(&cfg, &m, 1, HOUR, START - 10 * DAY, Some(START - 9 * DAY));
    let at = wide
        .iter()
        .position(|b| b.start == narrow[0].start)
        .unwrap();
    assert_eq!(wide[at..at + narrow.len()], narrow[..]);
    assert_eq!(last(&cfg, &m, 1, HOUR, wide.len()), wide);
    assert_ne!(
        range(&cfg, &m, 2, HOUR, START - 30 * DAY, Some(START)),
        wide
    );
    let by_count = last(&cfg, &m, 1, 86_400_000, 30);
    assert_eq!(by_count.len(), 30);
    assert_eq!(last(&cfg, &m, 1, 86_400_000, 30), by_count);
}

#[test]
fn finer_resolutions_reach_back_less_far() {
    let open = SandboxConfig::for_tests();
    let m = market();
    let end = m.origin.ts.millis();
    for p in [SEC, MIN, HOUR] {
        let bars = range(&open, &m, 1, p, 0, Some(end - 1));
        assert_eq!(bars.len(), MAX_BACKFILL_BARS, "{p}");
        let floor = end - p * i64::try_from(MAX_BACKFILL_BARS).unwrap();
        assert!(bars[0].start >= floor && bars[0].start < floor + p, "{p}");
        assert!(range(&open, &m, 1, p, 0, Some(bars[0].start - 1)).is_empty());
    }
}

#[test]
fn requests_are_bounded() {
    let open = SandboxConfig::for_tests();
    let m = market();
    let live = range(&open, &m, 1, SEC, START - 3_600_000, None)
        .iter()
        .filter(|b| b.start >= m.origin.ts.millis())
        .count();
    let all = range(&open, &m, 1, SEC, 0, None);
    assert_eq!(all.len(), MAX_BACKFILL_BARS + live);
    let years = range(&open, &m, 1, MONTH_MS, 0, None);
    assert!(years.len() > 600, "months back to 1970: {}", years.len());
}

#[test]
fn no_bars_where_the_market_is_closed() {
    use chrono::{Datelike, Timelike, Weekday};
    let hours = hours();
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
    // The price does not move while the market is closed.
    for w in bars.windows(2) {
        assert_eq!(w[0].close, w[1].open);
    }
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
fn week_bars_start_on_mondays() {
    use chrono::{Datelike, Timelike, Weekday};
    let weeks = last(&SandboxConfig::for_tests(), &market(), 1, 7 * DAY, 10);
    assert_eq!(weeks.len(), 10);
    for w in &weeks {
        let d = chrono::DateTime::from_timestamp_millis(w.start).unwrap();
        assert_eq!((d.weekday(), d.hour()), (Weekday::Mon, 0), "{d}");
    }
}

#[test]
fn month_bars_are_calendar_months() {
    use chrono::{Datelike, Timelike};
    let open = SandboxConfig::for_tests();
    let m = market();
    let months = last(&open, &m, 1, MONTH_MS, 14);
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
    let year = range(&open, &m, 1, MONTH_MS, months[2].start + 1, None);
    assert_eq!(year[0].start, months[3].start);
}

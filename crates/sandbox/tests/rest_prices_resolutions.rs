//! `/prices` over raw HTTP: every resolution is the aggregate of the finer ones (open, high,
//! low, close of bid and ask, and volume), across the back-filled history, the bar where it
//! meets the simulation, and the forming bar; v1 and v2 give the same bars as v3; the
//! simulation's bars are its ticks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use common::{start_with, Raw, EURUSD};
use rust_decimal::Decimal;
use scalper_sandbox::{MarketSchedule, SandboxConfig};
use serde_json::Value;

const DAX: &str = "IX.D.DAX.IFMM.IP";
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// One bar as the wire gives it: start, (bid, ask) of open, high, low, close, and volume.
#[derive(Debug, Clone, PartialEq)]
struct WireBar {
    start: i64,
    open: (Decimal, Decimal),
    high: (Decimal, Decimal),
    low: (Decimal, Decimal),
    close: (Decimal, Decimal),
    volume: Decimal,
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(&v.to_string()).unwrap_or_else(|_| panic!("not a number: {v}"))
}

fn pair(v: &Value) -> (Decimal, Decimal) {
    (dec(&v["bid"]), dec(&v["ask"]))
}

fn bars(body: &Value, time_field: &str, fmt: &str) -> Vec<WireBar> {
    body["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| WireBar {
            start: NaiveDateTime::parse_from_str(p[time_field].as_str().unwrap(), fmt)
                .unwrap()
                .and_utc()
                .timestamp_millis(),
            open: pair(&p["openPrice"]),
            high: pair(&p["highPrice"]),
            low: pair(&p["lowPrice"]),
            close: pair(&p["closePrice"]),
            volume: dec(&p["lastTradedVolume"]),
        })
        .collect()
}

fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// v3 bars of `res` from `from` to the newest (the forming one), all on one page.
async fn v3(c: &Raw, epic: &str, res: &str, from: i64) -> Vec<WireBar> {
    let r = c
        .get(
            &format!(
                "/prices/{epic}?resolution={res}&from={}&pageSize=0",
                iso(from)
            ),
            3,
        )
        .await;
    assert!(r.status.is_success(), "{res}: {} {}", r.status, r.body);
    bars(&r.body, "snapshotTimeUTC", "%Y-%m-%dT%H:%M:%S")
}

/// The fine bars merged into the coarse bar each starts in (the last coarse bar starting at
/// or before it).
fn merge_into(coarse: &[WireBar], fine: &[WireBar]) -> Vec<WireBar> {
    let mut out: Vec<WireBar> = Vec::new();
    for f in fine {
        let owner = coarse.iter().rposition(|c| c.start <= f.start).unwrap();
        let start = coarse[owner].start;
        match out.last_mut() {
            Some(b) if b.start == start => {
                b.high = (b.high.0.max(f.high.0), b.high.1.max(f.high.1));
                b.low = (b.low.0.min(f.low.0), b.low.1.min(f.low.1));
                b.close = f.close;
                b.volume += f.volume;
            }
            _ => out.push(WireBar { start, ..f.clone() }),
        }
    }
    out
}

#[tokio::test]
async fn every_resolution_is_the_aggregate_of_the_finer_ones() {
    let sb = start_with(SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        warmup: Duration::from_secs(30 * 60),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut c = Raw::new(&sb);
    c.login().await;
    // Two simulated minutes of live ticks after the warm-up: the forming bars hold them.
    let eurusd = scalper_model::Epic::new(EURUSD).unwrap();
    let quotes = sb.step(Some(&eurusd), 400).unwrap();
    let now = quotes.last().unwrap().ts.millis();
    // (coarse, fine, how far back the coarse bars start)
    let pairs: &[(&str, &str, i64)] = &[
        ("MONTH", "DAY", 100 * DAY),
        ("WEEK", "DAY", 40 * DAY),
        ("DAY", "HOUR", 15 * DAY),
        ("HOUR_4", "HOUR", 4 * DAY),
        ("HOUR_3", "HOUR", 4 * DAY),
        ("HOUR_2", "HOUR", 4 * DAY),
        ("HOUR", "MINUTE_30", 2 * DAY),
        ("MINUTE_30", "MINUTE_15", DAY),
        ("MINUTE_15", "MINUTE_5", DAY),
        ("MINUTE_10", "MINUTE_5", DAY),
        ("MINUTE_5", "MINUTE", 6 * HOUR),
        ("MINUTE_3", "MINUTE", 3 * HOUR),
        ("MINUTE_2", "MINUTE", 3 * HOUR),
        ("MINUTE", "SECOND", 40 * MIN),
    ];
    for epic in [EURUSD, DAX] {
        let mut checked = 0;
        for &(coarse, fine, back) in pairs {
            let big = v3(&c, epic, coarse, now - back).await;
            if big.is_empty() {
                continue;
            }
            let small = v3(&c, epic, fine, big[0].start).await;
            let merged = merge_into(&big, &small);
            assert_eq!(merged.len(), big.len(), "{epic}: {fine} into {coarse}");
            for (m, b) in merged.iter().zip(&big) {
                assert_eq!(m, b, "{epic}: {fine} into {coarse}");
                assert!(b.volume > Decimal::ZERO);
            }
            checked += big.len();
        }
        assert!(checked > 100, "{epic}: {checked} bars checked");
    }
    // The forming minute bars are the stepped ticks (those after the first whole minute).
    let minutes = v3(&c, EURUSD, "MINUTE", now - 3 * MIN).await;
    let first = quotes[0].ts.millis();
    let mut compared = 0;
    for b in minutes.iter().filter(|b| b.start > first) {
        let ticks: Vec<_> = quotes
            .iter()
            .filter(|q| q.ts.millis() >= b.start && q.ts.millis() < b.start + MIN)
            .map(|q| (q.bid.value(), q.offer.value()))
            .collect();
        let bid_hi = ticks.iter().map(|t| t.0).max().unwrap();
        let ask_lo = ticks.iter().map(|t| t.1).min().unwrap();
        assert_eq!(b.open, ticks[0]);
        assert_eq!(b.close, *ticks.last().unwrap());
        assert_eq!((b.high.0, b.low.1), (bid_hi, ask_lo));
        assert_eq!(b.volume, Decimal::from(ticks.len()));
        compared += 1;
    }
    assert!(compared >= 1, "a whole stepped minute");
    // v1 and v2 answer the same bars as v3.
    let days = v3(&c, EURUSD, "DAY", now - 10 * DAY).await;
    let fmt = |ms: i64, f: &str| {
        DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format(f)
            .to_string()
    };
    let (a, b) = (days[0].start, days[days.len() - 1].start);
    let r = c
        .get(
            &format!(
                "/prices/{EURUSD}/DAY/{}/{}",
                fmt(a, "%Y-%m-%d %H:%M:%S"),
                fmt(b, "%Y-%m-%d %H:%M:%S")
            ),
            2,
        )
        .await;
    assert_eq!(bars(&r.body, "snapshotTime", "%Y/%m/%d %H:%M:%S"), days);
    let r = c
        .get(
            &format!(
                "/prices/{EURUSD}/DAY?startdate={}&enddate={}",
                fmt(a, "%Y:%m:%d-%H:%M:%S"),
                fmt(b, "%Y:%m:%d-%H:%M:%S")
            ),
            1,
        )
        .await;
    assert_eq!(bars(&r.body, "snapshotTime", "%Y:%m:%d-%H:%M:%S"), days);
    sb.shutdown().await;
}

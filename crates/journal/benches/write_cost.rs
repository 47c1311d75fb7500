//! Journal write cost per trade (intent + confirm + close, three fsynced transactions with
//! `Durability::Full`), in microseconds, for both durability settings.
//! Run: `cargo bench -p scalper-journal` (set `JOURNAL_BENCH_DIR` to measure another disk).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use scalper_journal::{
    reconcile, BrokerPosition, BrokerView, Close, ConfirmOutcome, Durability, Intent, Journal,
    OpenOptions,
};
use scalper_model::{
    DealId, DealReference, Direction, Epic, Money, OrderType, Price, Size, Timestamp,
};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn run(durability: Durability, trades: u32, leave_open: u32) -> (Vec<Duration>, tempfile::TempDir) {
    let base = std::env::var_os("JOURNAL_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let opts = OpenOptions {
        durability,
        ..OpenOptions::default()
    };
    let mut j = Journal::open(dir.path().join("bench.sqlite"), &opts).unwrap();
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let mut samples = Vec::with_capacity(trades as usize);
    for i in 0..trades {
        let t = Timestamp::from_millis(1_795_687_200_000 + i64::from(i) * 1000);
        let r = DealReference::new(format!("BENCH-{i:08}")).unwrap();
        let intent = Intent {
            ts: t,
            deal_reference: r.clone(),
            epic: epic.clone(),
            direction: Direction::Buy,
            size: Size::new(dec("1.5")),
            order_type: OrderType::Market,
            level: None,
            stop_level: Some(Price::new(dec("1.08000"))),
            limit_level: Some(Price::new(dec("1.08300"))),
            paper: false,
            strategy: Some("ema".into()),
        };
        let confirm = ConfirmOutcome::Accepted {
            deal_id: DealId::new(format!("DI{i:010}")).unwrap(),
            level: Some(Price::new(dec("1.08120"))),
        };
        let close = Close {
            ts: t.plus_millis(500),
            level: Price::new(dec("1.08150")),
            pnl: Money::new(dec("4.50")),
            fees: Money::new(dec("0.10")),
            reason: "target".into(),
        };
        let start = Instant::now();
        j.record_intent(&intent).unwrap();
        j.record_confirm(&r, t.plus_millis(10), &confirm).unwrap();
        if i + leave_open < trades {
            j.record_close(&r, &close).unwrap();
        }
        samples.push(start.elapsed());
    }
    (samples, dir)
}

/// Restart cost after a kill: open (integrity check, lock), read open trades, reconcile against
/// a broker holding the same positions, apply and journal the report.
fn recovery(dir: &std::path::Path) -> Duration {
    let start = Instant::now();
    let mut j = Journal::open(dir.join("bench.sqlite"), &OpenOptions::default()).unwrap();
    let open = j.trades_to_reconcile().unwrap();
    let positions = open
        .iter()
        .map(|t| BrokerPosition {
            deal_id: t.deal_id.clone().unwrap(),
            deal_reference: Some(t.deal_reference.clone()),
            epic: t.epic.clone(),
            direction: t.direction,
            size: t.size,
            level: t.open_level.unwrap(),
            stop_level: t.stop_level,
            limit_level: t.limit_level,
        })
        .collect();
    let view = BrokerView {
        positions,
        ..BrokerView::default()
    };
    let report = reconcile(&open, &view);
    j.apply_reconciliation(Timestamp::from_millis(0), &report)
        .unwrap();
    let _ = j
        .day_stats(Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX))
        .unwrap();
    assert_eq!(
        report.count(scalper_journal::ReconClass::Matched),
        report.items.len()
    );
    start.elapsed()
}

fn main() {
    let trades: u32 = std::env::var("JOURNAL_BENCH_TRADES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    for (name, d) in [("FULL", Durability::Full), ("NORMAL", Durability::Normal)] {
        let (mut s, dir) = run(d, trades, 5);
        s.sort();
        let us = |x: Duration| x.as_secs_f64() * 1e6;
        let mean = s.iter().map(|x| us(*x)).sum::<f64>() / s.len() as f64;
        let p = |q: f64| us(s[((s.len() - 1) as f64 * q) as usize]);
        println!(
            "journal write per trade (intent+confirm+close), synchronous={name}, {trades} trades: \
             mean {mean:.1} us, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            p(0.5),
            p(0.99),
            p(1.0)
        );
        println!(
            "recovery after a kill ({trades} trades, 5 open): open + reconcile + journal report {:.2} ms",
            recovery(dir.path()).as_secs_f64() * 1e3
        );
    }
}

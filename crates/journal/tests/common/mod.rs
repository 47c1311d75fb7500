//! Shared builders for the journal's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::str::FromStr;

use scalper_journal::{Intent, Journal, OpenOptions};
use scalper_model::{DealReference, Direction, Epic, OrderType, Price, Size, Timestamp};

pub const EURUSD: &str = "CS.D.EURUSD.CFD.IP";
/// 2026-11-26T10:00:00Z.
pub const T0: i64 = 1_795_687_200_000;

pub fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

pub fn dref(s: &str) -> DealReference {
    DealReference::new(s).unwrap()
}

pub fn d(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str(s).unwrap()
}

pub fn fast() -> OpenOptions {
    OpenOptions {
        busy_timeout: std::time::Duration::from_millis(50),
        ..OpenOptions::default()
    }
}

pub fn open(path: &Path) -> Journal {
    Journal::open(path, &fast()).unwrap()
}

pub fn intent(reference: &str, dir: Direction, size: &str, at: i64) -> Intent {
    Intent {
        ts: ts(at),
        deal_reference: dref(reference),
        epic: Epic::new(EURUSD).unwrap(),
        direction: dir,
        size: Size::new(d(size)),
        order_type: OrderType::Market,
        level: None,
        stop_level: Some(Price::new(d("1.08000"))),
        limit_level: Some(Price::new(d("1.08300"))),
        paper: false,
        strategy: Some("ema".into()),
    }
}

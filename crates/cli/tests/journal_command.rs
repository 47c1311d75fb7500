//! `scalper journal` and `scalper report` through the real binary on a small journal.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use common::Dir;
use rust_decimal_macros::dec;
use scalper_journal::{Close, Fill, Intent, Journal, OpenOptions, SystemEvent};
use scalper_model::{
    DealId, DealReference, Direction, Epic, Money, OrderType, Price, Size, Timestamp,
};

fn write_journal(path: &std::path::Path) {
    let mut j = Journal::open(path, &OpenOptions::default()).unwrap();
    j.record_event(
        Timestamp::from_millis(1_767_599_999_000),
        &SystemEvent::EngineStart {
            mode: "live".into(),
            currency: Some("EUR".into()),
            setup: None,
        },
    )
    .unwrap();
    let r = DealReference::new("SCALP-test-000001").unwrap();
    j.record_intent(&Intent {
        ts: Timestamp::from_millis(1_767_600_000_000),
        deal_reference: r.clone(),
        epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        direction: Direction::Buy,
        size: Size::new(dec!(1)),
        order_type: OrderType::Market,
        level: None,
        stop_level: None,
        limit_level: None,
        paper: false,
        strategy: Some("scalper".into()),
    })
    .unwrap();
    j.record_fill(
        &r,
        &Fill {
            ts: Timestamp::from_millis(1_767_600_000_100),
            deal_id: DealId::new("DIAAAA1").unwrap(),
            level: Price::new(dec!(1.08120)),
            size: Size::new(dec!(1)),
            stop_level: None,
            limit_level: None,
        },
    )
    .unwrap();
    j.record_close(
        &r,
        &Close {
            ts: Timestamp::from_millis(1_767_600_060_000),
            level: Price::new(dec!(1.08150)),
            pnl: Money::new(dec!(30)),
            fees: Money::new(dec!(0)),
            reason: "target".into(),
        },
    )
    .unwrap();
}

#[test]
fn list_show_export_and_report() {
    let d = Dir::new();
    std::fs::create_dir_all(d.path().join("data")).unwrap();
    write_journal(&d.path().join("data/journal.sqlite"));

    let r = d.run(&["journal", "list", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["deal_reference"], "SCALP-test-000001");

    let r = d.run(&["journal", "list"], &[]);
    assert!(r.stdout.contains("in EUR, the account's currency"), "{r:?}");

    let r = d.run(&["journal", "show", "SCALP-test-000001"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("SCALP-test-000001"), "{r:?}");
    let r = d.run(&["journal", "show", "999"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no trade 999"), "{r:?}");

    let r = d.run(&["journal", "export", "--csv"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 2, "header and one trade: {r:?}");

    let r = d.run(&["report", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["total"]["trades"], 1, "{r:?}");
    assert_eq!(r.json()["currency"], "EUR", "{r:?}");
    let r = d.run(&["report"], &[]);
    assert!(
        r.stdout
            .starts_with("report: all closed trades (amounts in EUR)"),
        "{r:?}"
    );
    let r = d.run(&["report", "--from", "2030-01-01T00:00:00Z", "--json"], &[]);
    assert_eq!(r.json()["total"]["trades"], 0, "{r:?}");
    let r = d.run(&["report", "--from", "yesterday"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn missing_journal_is_a_clear_error_and_is_not_created() {
    let d = Dir::new();
    let r = d.run(&["journal", "list"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("data/journal.sqlite"), "{r:?}");
    assert!(!d.path().join("data/journal.sqlite").exists());
    // The config file can move it.
    d.write("scalper.toml", "[journal]\npath = \"elsewhere.sqlite\"\n");
    let r = d.run(&["report"], &[]);
    assert!(r.stderr.contains("elsewhere.sqlite"), "{r:?}");
}

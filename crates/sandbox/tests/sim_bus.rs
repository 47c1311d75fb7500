//! The simulator through the server: ticking at speed onto the bus, quote-CSV replay, TRADE
//! events for deals, the weekend schedule, and config errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start, start_with, Raw, EURUSD};
use rust_decimal_macros::dec;
use scalper_model::{Epic, Timestamp};
use scalper_sandbox::bus::{BusEvent, TradeKind};
use scalper_sandbox::{
    MarketHoliday, MarketSchedule, Replay, Sandbox, SandboxConfig, SandboxError,
};
use serde_json::json;

#[tokio::test]
async fn running_simulator_publishes_prices_on_the_bus() {
    let sb = start_with(SandboxConfig {
        speed: 50.0,
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut rx = sb.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    let mut last_ts = Timestamp::from_millis(0);
    while seen < 5 {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("prices flow")
            .unwrap();
        if let BusEvent::Price {
            epic,
            bid,
            offer,
            ts,
            status,
        } = ev
        {
            if epic.as_str() == EURUSD {
                assert!(offer > bid);
                assert!(ts >= last_ts);
                assert!(status.is_tradeable());
                last_ts = ts;
                seen += 1;
            }
        }
    }
    assert!(sb.state().sim_time > Timestamp::from_millis(1_767_225_600_000));
    sb.shutdown().await;
}

#[tokio::test]
async fn deals_publish_confirms_and_position_updates() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let mut rx = sb.subscribe();
    let r = c
        .open(EURUSD, "BUY", "1", json!({"dealReference": "BUS-1"}))
        .await;
    let mut kinds = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let BusEvent::Trade {
            account,
            kind,
            json,
        } = ev
        {
            assert_eq!(account.as_str(), "SANDBOX-CFD");
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["dealReference"], r);
            kinds.push(kind);
        }
    }
    assert!(
        kinds.contains(&TradeKind::Opu) && kinds.contains(&TradeKind::Confirms),
        "{kinds:?}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn replays_a_quote_csv() {
    let path = std::env::temp_dir().join(format!("sandbox-replay-{}.csv", std::process::id()));
    std::fs::write(
        &path,
        "ts_ms,bid,ask\n1000,10800.1,10800.7\n1250,10801.0,10801.5\n1900,10799.9,10800.4\n",
    )
    .unwrap();
    let epic = Epic::new(EURUSD).unwrap();
    let cfg = SandboxConfig {
        replay: Some(Replay {
            epic: epic.clone(),
            path: path.clone(),
        }),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let q = sb.step(Some(&epic), 2).unwrap();
    assert_eq!(
        (q[0].bid.value(), q[0].offer.value()),
        (dec!(10801.0), dec!(10801.5))
    );
    assert_eq!(
        (q[1].bid.value(), q[1].offer.value()),
        (dec!(10799.9), dec!(10800.4))
    );
    assert_eq!(q[1].ts.since(q[0].ts), 650, "recorded spacing is kept");
    sb.shutdown().await;
    std::fs::write(&path, "ts_ms,bid,ask\n1000,abc,1\n").unwrap();
    let bad = Sandbox::start(SandboxConfig {
        replay: Some(Replay {
            epic,
            path: path.clone(),
        }),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap_err();
    assert!(matches!(bad, SandboxError::Replay(_)));
    assert!(bad.to_string().contains("line 2"), "{bad}");
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn weekend_schedule_closes_markets() {
    // 2026-11-28 12:00 UTC is a Saturday.
    let cfg = SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(Timestamp::from_millis(1_795_867_200_000)),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(r.body["snapshot"]["marketStatus"], "CLOSED");
    let reference = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(c.confirm(&reference).await["reason"], "MARKET_CLOSED");
    sb.shutdown().await;
}

const GER40: &str = "IX.D.DAX.IFMM.IP";
const GOLD: &str = "CS.D.CFDGOLD.CFDGC.IP";

/// Wednesday 2027-01-06 at `hh:mm` UTC (London is on GMT, Frankfurt on CET, New York on EST).
fn wed_utc(hh: i64, mm: i64) -> Timestamp {
    Timestamp::from_millis(1_799_193_600_000 + (hh * 60 + mm) * 60_000)
}

#[tokio::test]
async fn each_market_keeps_its_own_hours_in_details_status_and_dealing() {
    assert_eq!(
        wed_utc(0, 0).to_datetime().unwrap().to_rfc3339(),
        "2027-01-06T00:00:00+00:00"
    );
    // 22:30 UTC: FX is open, Germany 40 (01:15-22:00 Frankfurt = 00:15-21:00 UTC) closed, gold
    // in its daily break (17:00-18:00 New York = 22:00-23:00 UTC).
    let cfg = SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(wed_utc(22, 30)),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let fx = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(fx.body["snapshot"]["marketStatus"], "TRADEABLE");
    // FX trades around the clock on its days: no daily windows, as IG gives it.
    assert!(
        fx.body["instrument"]["openingHours"].is_null(),
        "{}",
        fx.body
    );
    let ger = c.get(&format!("/markets/{GER40}"), 3).await;
    assert_eq!(ger.body["snapshot"]["marketStatus"], "CLOSED");
    assert_eq!(ger.body["instrument"]["type"], "INDICES");
    // Its hours as IG gives them: the day's windows in London time.
    assert_eq!(
        ger.body["instrument"]["openingHours"]["marketTimes"],
        json!([{"openTime": "00:15", "closeTime": "21:00"}])
    );
    let gold = c.get(&format!("/markets/{GOLD}"), 3).await;
    assert_eq!(gold.body["snapshot"]["marketStatus"], "CLOSED");
    assert_eq!(
        gold.body["instrument"]["openingHours"]["marketTimes"],
        json!([{"openTime": "23:00", "closeTime": "22:00"}])
    );
    // Dealing follows: Germany 40 is refused MARKET_CLOSED, EUR/USD fills.
    let reference = c.open(GER40, "BUY", "1", json!({})).await;
    assert_eq!(c.confirm(&reference).await["reason"], "MARKET_CLOSED");
    let reference = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(c.confirm(&reference).await["dealStatus"], "ACCEPTED");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_configured_holiday_closes_only_its_markets() {
    let cfg = SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(wed_utc(10, 0)),
        holidays: vec![MarketHoliday::parse("2027-01-06=GER40").unwrap()],
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let ger = c.get(&format!("/markets/{GER40}"), 3).await;
    assert_eq!(ger.body["snapshot"]["marketStatus"], "CLOSED");
    // Its usual hours; the holiday shows in its status.
    assert_eq!(
        ger.body["instrument"]["openingHours"]["marketTimes"],
        json!([{"openTime": "00:15", "closeTime": "21:00"}])
    );
    let fx = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(fx.body["snapshot"]["marketStatus"], "TRADEABLE");
    let reference = c.open(GER40, "SELL", "1", json!({})).await;
    assert_eq!(c.confirm(&reference).await["reason"], "MARKET_CLOSED");
    sb.shutdown().await;
}

#[tokio::test]
async fn bad_config_is_refused_with_a_clear_error() {
    let e = Sandbox::start(SandboxConfig {
        currency: "XYZ".into(),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("unsupported account currency"),
        "{e}"
    );
    let e = SandboxConfig::parse_faults("http500:two").unwrap_err();
    assert!(e.to_string().contains("http500:two"), "{e}");
}

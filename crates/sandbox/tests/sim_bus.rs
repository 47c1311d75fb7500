//! The simulator through the server: ticking at speed onto the bus, quote-CSV replay, TRADE
//! events for deals, the weekend schedule, and config errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start, start_with, Raw, EURUSD};
use rust_decimal_macros::dec;
use scalper_model::{Epic, Timestamp};
use scalper_sandbox::bus::{BusEvent, TradeKind};
use scalper_sandbox::{MarketSchedule, Replay, Sandbox, SandboxConfig, SandboxError};
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
        schedule: MarketSchedule::WeekdaysFx,
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

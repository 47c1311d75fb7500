//! Raw-HTTP tests of IG's special stops in the sandbox: trailing stops that IG moves (and that
//! the account's preference and IG's request rules govern), guaranteed stops with their
//! minimum distance, exact fill and premium, and partial closes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{start, Raw, EURUSD};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::Epic;
use serde_json::json;

fn d(v: &serde_json::Value) -> Decimal {
    v.to_string().trim_matches('"').parse().unwrap()
}

#[tokio::test]
async fn a_trailing_stop_follows_the_price_in_whole_steps_and_closes_the_position() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let r = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"trailingStop": true, "stopDistance": "10", "trailingStopIncrement": "2"}),
        )
        .await;
    let conf = c.confirm(&r).await;
    assert_eq!(conf["dealStatus"], "ACCEPTED", "{conf}");
    assert_eq!(d(&conf["stopLevel"]), dec!(10790.6));
    let positions = c.get("/positions", 2).await;
    let pos = &positions.body["positions"][0]["position"];
    assert_eq!(d(&pos["trailingStopDistance"]), dec!(10));
    assert_eq!(d(&pos["trailingStep"]), dec!(2));
    // Bid 10805: 14.4 points above the stop, 4.4 beyond the distance: two 2-point steps.
    sb.set_price(&epic, dec!(10805.0), dec!(10805.6)).unwrap();
    let stop = |st: &scalper_sandbox::StateSnapshot| {
        st.account("SANDBOX-CFD").unwrap().positions[0].stop_level
    };
    assert_eq!(stop(&sb.state()), Some(dec!(10794.6)));
    // Less than a step more: it stays; a fall never moves it back.
    sb.set_price(&epic, dec!(10806.5), dec!(10807.1)).unwrap();
    assert_eq!(stop(&sb.state()), Some(dec!(10794.6)));
    sb.set_price(&epic, dec!(10799.0), dec!(10799.6)).unwrap();
    assert_eq!(stop(&sb.state()), Some(dec!(10794.6)));
    // The bid falls through the trailed stop: closed at the market there, 5.6 points lower.
    sb.set_price(&epic, dec!(10794.0), dec!(10794.6)).unwrap();
    let st = sb.state();
    let acc = st.account("SANDBOX-CFD").unwrap();
    assert!(acc.positions.is_empty());
    // -6.6 points × $10 = -$66 = -£52.14
    assert_eq!(acc.ledger.last().unwrap().amount, dec!(-52.14));
    sb.shutdown().await;
}

#[tokio::test]
async fn trailing_stop_requests_follow_igs_rules() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let base = json!({
        "epic": EURUSD, "expiry": "-", "direction": "BUY", "size": "1", "orderType": "MARKET",
        "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false, "trailingStop": true,
    });
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, code) in [
        (
            json!({"stopLevel": "10700", "trailingStopIncrement": "1"}),
            "invalid.request.trailingStop.stopLevel-not-allowed",
        ),
        (
            json!({"stopDistance": "10"}),
            "invalid.request.trailingStop.distance-and-increment-required",
        ),
        (
            json!({"stopDistance": "10", "trailingStopIncrement": "1", "guaranteedStop": true}),
            "invalid.request.trailingStop.guaranteedStop-not-allowed",
        ),
    ] {
        let r = c.post("/positions/otc", 2, with(extra.clone())).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, code),
            "{extra}"
        );
    }
    // An increment under the market's minimum step is a dealing rejection.
    let r = c
        .post(
            "/positions/otc",
            2,
            with(json!({"stopDistance": "10", "trailingStopIncrement": "0.1"})),
        )
        .await;
    let conf = c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    assert_eq!(conf["dealStatus"], "REJECTED");
    assert_eq!(conf["reason"], "ATTACHED_ORDER_TRAILING_STOP_ERROR");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_guaranteed_stop_keeps_its_minimum_fills_at_its_level_and_charges_the_premium() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    let details = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(details.body["instrument"]["controlledRiskAllowed"], true);
    let min = d(&details.body["dealingRules"]["minControlledRiskStopDistance"]["value"]);
    let premium = d(&details.body["instrument"]["limitedRiskPremium"]["value"]);
    assert_eq!((min, premium), (dec!(10), dec!(1)));
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    // Nearer than the guaranteed minimum (but beyond the normal one): rejected.
    let r = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"guaranteedStop": true, "stopDistance": "5"}),
        )
        .await;
    let conf = c.confirm(&r).await;
    assert_eq!(
        (conf["dealStatus"].as_str(), conf["reason"].as_str()),
        (Some("REJECTED"), Some("ATTACHED_ORDER_LEVEL_ERROR"))
    );
    let r = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"guaranteedStop": true, "stopDistance": "10"}),
        )
        .await;
    assert_eq!(c.confirm(&r).await["dealStatus"], "ACCEPTED");
    let positions = c.get("/positions", 2).await;
    let pos = &positions.body["positions"][0]["position"];
    assert_eq!(pos["controlledRisk"], true);
    assert_eq!(d(&pos["limitedRiskPremium"]), dec!(1));
    // The price gaps 30 points through the stop at 10790.6: filled there, not at 10770.
    sb.set_price(&epic, dec!(10770.0), dec!(10770.6)).unwrap();
    let st = sb.state();
    let acc = st.account("SANDBOX-CFD").unwrap();
    assert!(acc.positions.is_empty());
    let n = acc.ledger.len();
    // -10 points × $10 = -$100 = -£79.00, then the 1-point premium: -$10 = -£7.90.
    assert_eq!(acc.ledger[n - 2].amount, dec!(-79.00));
    assert_eq!(acc.ledger[n - 1].amount, dec!(-7.90));
    assert!(acc.ledger[n - 1].description.starts_with("CRPREM"));
    sb.shutdown().await;
}

#[tokio::test]
async fn a_partial_close_keeps_the_deal_open_with_the_rest() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let r = c.open(EURUSD, "BUY", "3", json!({})).await;
    let deal_id = c.confirm(&r).await["dealId"].as_str().unwrap().to_string();
    sb.set_price(&epic, dec!(10810.6), dec!(10811.2)).unwrap();
    let body = json!({"dealId": deal_id, "direction": "SELL", "size": "1", "orderType": "MARKET"});
    let r = c
        .call(
            Method::POST,
            "/positions/otc",
            1,
            Some(body),
            &[("_method", "DELETE")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let conf = c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    assert_eq!(conf["dealStatus"], "ACCEPTED");
    assert_eq!(conf["status"], "PARTIALLY_CLOSED");
    assert_eq!(conf["affectedDeals"][0]["dealId"], deal_id.as_str());
    assert_eq!(conf["affectedDeals"][0]["status"], "PARTIALLY_CLOSED");
    let positions = c.get("/positions", 2).await;
    let pos = &positions.body["positions"][0]["position"];
    assert_eq!(pos["dealId"], deal_id.as_str());
    assert_eq!(d(&pos["size"]), dec!(2));
    sb.shutdown().await;
}

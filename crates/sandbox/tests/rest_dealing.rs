//! Raw-HTTP tests of markets and dealing: market details, prices, open/confirm/close, partial
//! close, stops and working orders triggered by forced prices, IG reject reasons, history, and
//! the versions the dealing, account and session calls answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{start, Raw, EURUSD};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::{Epic, MarketStatus};
use serde_json::json;

fn d(v: &serde_json::Value) -> Decimal {
    v.to_string().trim_matches('"').parse().unwrap()
}

#[tokio::test]
async fn market_details_v3_multi_markets_and_prices() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["instrument"]["valueOfOnePip"], "10");
    assert_eq!(r.body["instrument"]["onePipMeans"], "0.0001 USD/EUR");
    assert_eq!(r.body["dealingRules"]["minDealSize"]["value"], json!(0.5));
    assert_eq!(r.body["snapshot"]["marketStatus"], "TRADEABLE");
    assert!(d(&r.body["snapshot"]["offer"]) > d(&r.body["snapshot"]["bid"]));
    let r = c.get("/markets/CS.D.NOPE.CFD.IP", 3).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "error.public-api.epic-not-found")
    );
    let r = c
        .get("/markets?epics=CS.D.EURUSD.CFD.IP,CS.D.GBPUSD.TODAY.IP", 2)
        .await;
    assert_eq!(r.body["marketDetails"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["marketDetails"][1]["instrument"]["expiry"], "DFB");
    let r = c
        .get(&format!("/prices/{EURUSD}?resolution=MINUTE&max=3"), 3)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["prices"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["metadata"]["allowance"]["remainingAllowance"], 9997);
    let p = &r.body["prices"][0];
    assert!(d(&p["highPrice"]["bid"]) >= d(&p["lowPrice"]["bid"]));
    let r = c
        .get(&format!("/prices/{EURUSD}?resolution=FORTNIGHT"), 3)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .get(
            &format!("/prices/{EURUSD}?from=2026-01-02T00:00:00&to=2026-01-01T00:00:00"),
            3,
        )
        .await;
    assert_eq!(r.code(), "error.invalid.daterange");
    sb.shutdown().await;
}

#[tokio::test]
async fn open_confirm_partial_and_full_close() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let reference = c
        .open(EURUSD, "BUY", "2", json!({"dealReference": "MYREF-1"}))
        .await;
    assert_eq!(reference, "MYREF-1");
    let conf = c.confirm(&reference).await;
    assert_eq!(conf["dealStatus"], "ACCEPTED");
    assert_eq!(conf["reason"], "SUCCESS");
    assert_eq!(d(&conf["level"]), dec!(10800.6), "a buy fills at the offer");
    let deal_id = conf["dealId"].as_str().unwrap().to_string();
    let r = c.get("/positions", 2).await;
    assert_eq!(
        r.body["positions"][0]["position"]["dealReference"],
        "MYREF-1"
    );
    assert_eq!(d(&r.body["positions"][0]["position"]["size"]), dec!(2));
    let r = c.get(&format!("/positions/{deal_id}"), 2).await;
    assert_eq!(r.status, StatusCode::OK);
    // Price rises 10 points: closing 0.5 at the bid 10810.6 realises 10 pts * 0.5 * $10 = $50 = £39.50.
    sb.set_price(&epic, dec!(10810.6), dec!(10811.2)).unwrap();
    let r = c.call(Method::POST, "/positions/otc", 1, Some(json!({"dealId": deal_id, "direction": "SELL", "size": "0.5", "orderType": "MARKET"})), &[("_method", "DELETE")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let conf = c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    assert_eq!(conf["status"], "PARTIALLY_CLOSED");
    assert_eq!(d(&conf["profit"]), dec!(39.50));
    assert_eq!(conf["profitCurrency"], "GBP");
    // Closing in the same direction is refused.
    let r = c.call(Method::POST, "/positions/otc", 1, Some(json!({"dealId": deal_id, "direction": "BUY", "size": "1.5", "orderType": "MARKET"})), &[("_method", "DELETE")]).await;
    assert_eq!(
        c.confirm(r.body["dealReference"].as_str().unwrap()).await["reason"],
        "POSITION_NOT_AVAILABLE_TO_CLOSE"
    );
    // Full close by epic + expiry with a real DELETE.
    let r = c.call(Method::DELETE, "/positions/otc", 1, Some(json!({"epic": EURUSD, "expiry": "-", "direction": "SELL", "size": "1.5", "orderType": "MARKET"})), &[]).await;
    let conf = c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    assert_eq!(conf["status"], "CLOSED");
    assert_eq!(d(&conf["profit"]), dec!(118.50));
    let st = sb.state();
    let acc = st.account("SANDBOX-CFD").unwrap();
    assert!(acc.positions.is_empty());
    assert_eq!(acc.balance, dec!(10158.00));
    assert_eq!(acc.ledger.len(), 2);
    let r = c.get("/history/transactions", 2).await;
    assert_eq!(r.body["transactions"].as_array().unwrap().len(), 2);
    let r = c.get("/history/activity", 3).await;
    assert!(r.body["activities"].as_array().unwrap().len() >= 3);
    assert_eq!(
        c.get("/confirms/UNKNOWNREF", 1).await.code(),
        "error.confirms.deal-not-found"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn stop_and_limit_trigger_on_simulated_prices() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let r1 = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"stopDistance": "10", "limitDistance": "20"}),
        )
        .await;
    let conf = c.confirm(&r1).await;
    assert_eq!(d(&conf["stopLevel"]), dec!(10790.6));
    assert_eq!(d(&conf["limitLevel"]), dec!(10820.6));
    let r2 = c
        .open(EURUSD, "SELL", "1", json!({"stopLevel": "10815"}))
        .await;
    assert_eq!(c.confirm(&r2).await["dealStatus"], "ACCEPTED");
    // The bid falls through the buy's stop; the sell stays open.
    sb.set_price(&epic, dec!(10790.0), dec!(10790.6)).unwrap();
    let st = sb.state();
    let acc = st.account("SANDBOX-CFD").unwrap();
    assert_eq!(acc.positions.len(), 1);
    assert_eq!(acc.positions[0].direction, scalper_model::Direction::Sell);
    // -10.6 points * $10 = -$106 = -£83.74
    assert_eq!(acc.ledger[0].amount, dec!(-83.74));
    // The offer rises through the sell's stop.
    sb.set_price(&epic, dec!(10815.0), dec!(10815.6)).unwrap();
    assert!(sb
        .state()
        .account("SANDBOX-CFD")
        .unwrap()
        .positions
        .is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn working_order_triggers_and_can_be_amended_and_deleted() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let order = |ty: &str, dir: &str, level: &str| {
        json!({
            "epic": EURUSD, "expiry": "-", "direction": dir, "size": "1", "level": level, "type": ty,
            "currencyCode": "USD", "timeInForce": "GOOD_TILL_CANCELLED", "guaranteedStop": false, "stopDistance": "15",
        })
    };
    let r = c
        .post("/workingorders/otc", 2, order("LIMIT", "BUY", "10810"))
        .await;
    assert_eq!(
        c.confirm(r.body["dealReference"].as_str().unwrap()).await["reason"],
        "LIMIT_ORDER_WRONG_SIDE_OF_MARKET"
    );
    let r = c
        .post("/workingorders/otc", 2, order("LIMIT", "BUY", "10795"))
        .await;
    let limit_id = c.confirm(r.body["dealReference"].as_str().unwrap()).await["dealId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post("/workingorders/otc", 2, order("STOP", "BUY", "10830"))
        .await;
    let stop_id = c.confirm(r.body["dealReference"].as_str().unwrap()).await["dealId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.get("/workingorders", 2).await;
    assert_eq!(r.body["workingOrders"].as_array().unwrap().len(), 2);
    let r = c
        .call(
            Method::PUT,
            &format!("/workingorders/otc/{stop_id}"),
            2,
            Some(json!({"level": "10840", "type": "STOP", "timeInForce": "GOOD_TILL_CANCELLED"})),
            &[],
        )
        .await;
    assert_eq!(
        c.confirm(r.body["dealReference"].as_str().unwrap()).await["status"],
        "AMENDED"
    );
    // The offer drops to 10794.6: the buy limit fills with its stop 15 points away.
    sb.set_price(&epic, dec!(10794.0), dec!(10794.6)).unwrap();
    let st = sb.state();
    let acc = st.account("SANDBOX-CFD").unwrap();
    assert_eq!(acc.positions.len(), 1);
    assert_eq!(acc.positions[0].deal_id, limit_id);
    assert_eq!(acc.positions[0].stop_level, Some(dec!(10779.6)));
    assert_eq!(acc.working_orders.len(), 1);
    let r = c
        .call(
            Method::POST,
            &format!("/workingorders/otc/{stop_id}"),
            2,
            None,
            &[("_method", "DELETE")],
        )
        .await;
    assert_eq!(
        c.confirm(r.body["dealReference"].as_str().unwrap()).await["status"],
        "DELETED"
    );
    assert!(c.get("/workingorders", 2).await.body["workingOrders"]
        .as_array()
        .unwrap()
        .is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn ig_reject_reasons_and_validation_errors() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let epic = Epic::new(EURUSD).unwrap();
    let reason = |conf: serde_json::Value| conf["reason"].as_str().unwrap().to_string();
    let r = c.open(EURUSD, "BUY", "0.1", json!({})).await;
    assert_eq!(reason(c.confirm(&r).await), "MINIMUM_ORDER_SIZE_ERROR");
    let r = c
        .open(EURUSD, "BUY", "1", json!({"stopDistance": "1"}))
        .await;
    assert_eq!(reason(c.confirm(&r).await), "ATTACHED_ORDER_LEVEL_ERROR");
    let r = c.open(EURUSD, "BUY", "1", json!({"expiry": "DFB"})).await;
    assert_eq!(
        reason(c.confirm(&r).await),
        "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT"
    );
    let r = c.open(EURUSD, "BUY", "500", json!({})).await;
    assert_eq!(reason(c.confirm(&r).await), "INSUFFICIENT_FUNDS");
    sb.set_market_status(&epic, Some(MarketStatus::Closed))
        .unwrap();
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(reason(c.confirm(&r).await), "MARKET_CLOSED");
    sb.set_market_status(&epic, None).unwrap();
    // HTTP-level errors.
    let r = c.post("/positions/otc", 2, json!({"epic": "CS.D.NOPE.CFD.IP", "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET", "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false})).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::NOT_FOUND,
            "error.trading.otc.instrument-not-found"
        )
    );
    let r = c.post("/positions/otc", 2, json!({"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET", "currencyCode": "USD", "forceOpen": false, "guaranteedStop": false, "stopDistance": 10})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid.request.forceOpen")
    );
    let r = c.call(Method::POST, "/positions/otc", 2, None, &[]).await;
    assert_eq!(r.code(), "invalid.input");
    for (field, value) in [
        ("size", "79228162514264337593543950335"),
        ("size", "-1"),
        ("stopDistance", "1e30"),
    ] {
        let mut body = json!({"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": "1", "orderType": "MARKET", "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false});
        body[field] = json!(value);
        let r = c.post("/positions/otc", 2, body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{field}={value}: {:?}",
            r.body
        );
    }
    // A CFD order on the spread-bet account.
    let r = c
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "SANDBOX-SB"})),
            &[],
        )
        .await;
    c.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().into());
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(
        reason(c.confirm(&r).await),
        "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT"
    );
    let r = c
        .open(
            "CS.D.EURUSD.TODAY.IP",
            "BUY",
            "1",
            json!({"expiry": "DFB", "currencyCode": "GBP"}),
        )
        .await;
    assert_eq!(c.confirm(&r).await["dealStatus"], "ACCEPTED");
    sb.shutdown().await;
}

#[tokio::test]
async fn netting_spread_bet_pnl_v1_shape_and_good_till_date_expiry() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "SANDBOX-SB"})),
            &[],
        )
        .await;
    c.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().into());
    let sbet = "CS.D.EURUSD.TODAY.IP";
    let epic = Epic::new(sbet).unwrap();
    sb.set_price(&epic, dec!(10800.0), dec!(10800.6)).unwrap();
    let gbp = json!({"expiry": "DFB", "currencyCode": "GBP"});
    let r = c.open(sbet, "BUY", "2", gbp.clone()).await;
    assert_eq!(c.confirm(&r).await["status"], "OPEN");
    let r = c.get("/positions", 1).await;
    let p = &r.body["positions"][0]["position"];
    assert_eq!(
        (d(&p["dealSize"]), d(&p["openLevel"])),
        (dec!(2), dec!(10800.6))
    );
    assert!(
        p.get("size").is_none() && p.get("dealReference").is_none(),
        "v1 shape"
    );
    // An opposite order without forceOpen nets the position: +5.4 points * £2 = £10.80.
    sb.set_price(&epic, dec!(10806.0), dec!(10806.6)).unwrap();
    let r = c
        .open(
            sbet,
            "SELL",
            "2",
            json!({"expiry": "DFB", "currencyCode": "GBP", "forceOpen": false}),
        )
        .await;
    let conf = c.confirm(&r).await;
    assert_eq!(conf["status"], "CLOSED");
    assert_eq!(d(&conf["profit"]), dec!(10.80));
    let st = sb.state();
    assert_eq!(st.account("SANDBOX-SB").unwrap().balance, dec!(10010.80));
    assert!(st.account("SANDBOX-SB").unwrap().positions.is_empty());
    // A good-till-date order expires as simulated time passes.
    let r = c.post("/workingorders/otc", 2, json!({
        "epic": sbet, "expiry": "DFB", "direction": "BUY", "size": "1", "level": "9000", "type": "LIMIT",
        "currencyCode": "GBP", "timeInForce": "GOOD_TILL_DATE", "goodTillDate": "2026/01/01 00:00:02", "guaranteedStop": false,
    })).await;
    assert_eq!(
        c.confirm(r.body["dealReference"].as_str().unwrap()).await["dealStatus"],
        "ACCEPTED"
    );
    assert_eq!(
        sb.state()
            .account("SANDBOX-SB")
            .unwrap()
            .working_orders
            .len(),
        1
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !sb
        .state()
        .account("SANDBOX-SB")
        .unwrap()
        .working_orders
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "order never expired"
        );
        sb.step(Some(&epic), 10).unwrap();
    }
    let r = c.get("/markets?searchTerm=EUR/USD", 1).await;
    let epics: Vec<&str> = r.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["epic"].as_str())
        .collect();
    assert_eq!(
        epics,
        [
            "CS.D.EURUSD.CFD.IP",
            "CS.D.EURUSD.MINI.IP",
            "CS.D.EURUSD.TODAY.IP"
        ]
    );
    sb.shutdown().await;
}

/// IG routes by path and version: the dealing, account and session calls answer the versions
/// IG serves (the ones third-party clients send) and nothing else.
#[tokio::test]
async fn dealing_account_and_session_calls_answer_only_the_versions_ig_serves() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    // (method, path, served versions); one unserved version must be `invalid.url`.
    let calls: [(Method, &str, &[u8]); 12] = [
        (Method::GET, "/accounts", &[1]),
        (Method::GET, "/positions", &[1, 2]),
        (Method::GET, "/positions/DIAAAANOPE", &[1, 2]),
        (Method::GET, "/workingorders", &[1, 2]),
        (Method::GET, "/confirms/NOPE", &[1]),
        (Method::GET, "/session", &[1]),
        (Method::GET, "/session/encryptionKey", &[1]),
        (Method::POST, "/positions/otc", &[1, 2]),
        (Method::PUT, "/positions/otc/DIAAAANOPE", &[1, 2]),
        (Method::POST, "/workingorders/otc", &[1, 2]),
        (Method::PUT, "/workingorders/otc/DIAAAANOPE", &[1, 2]),
        (Method::DELETE, "/workingorders/otc/DIAAAANOPE", &[1, 2]),
    ];
    for (method, path, served) in calls {
        let body = (method != Method::GET).then(|| json!({}));
        for v in 1..=4u8 {
            let r = c.call(method.clone(), path, v, body.clone(), &[]).await;
            if served.contains(&v) {
                assert_ne!(
                    r.code(),
                    "invalid.url",
                    "{method} {path} v{v}: {:?}",
                    r.body
                );
            } else {
                assert_eq!(
                    (r.status, r.code()),
                    (StatusCode::NOT_FOUND, "invalid.url"),
                    "{method} {path} v{v}"
                );
            }
        }
    }
    // A close is v1 only; a login v1 to v3.
    let close = [("_method", "DELETE")];
    let r = c
        .call(Method::POST, "/positions/otc", 2, Some(json!({})), &close)
        .await;
    assert_eq!(r.code(), "invalid.url");
    let r = c
        .call(Method::POST, "/positions/otc", 1, Some(json!({})), &close)
        .await;
    assert_ne!(r.code(), "invalid.url", "{:?}", r.body);
    let login = json!({"identifier": "sandbox", "password": "sandbox-pass"});
    for v in 1..=3 {
        assert_eq!(
            c.post("/session", v, login.clone()).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(c.post("/session", 4, login).await.code(), "invalid.url");
}

/// A confirm says whether the position's stop is guaranteed or trailing, as IG's does.
#[tokio::test]
async fn an_open_confirm_says_whether_its_stop_is_guaranteed_or_trailing() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let plain = c
        .open(EURUSD, "BUY", "1", json!({"stopDistance": "20"}))
        .await;
    let trailing = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"stopDistance": "20", "trailingStop": true, "trailingStopIncrement": "2"}),
        )
        .await;
    let guaranteed = c
        .open(
            EURUSD,
            "BUY",
            "1",
            json!({"stopDistance": "20", "guaranteedStop": true}),
        )
        .await;
    for (reference, g, t) in [
        (plain, false, false),
        (trailing, false, true),
        (guaranteed, true, false),
    ] {
        let confirm = c.confirm(&reference).await;
        assert_eq!(confirm["dealStatus"], "ACCEPTED", "{confirm}");
        assert_eq!(
            (&confirm["guaranteedStop"], &confirm["trailingStop"]),
            (&json!(g), &json!(t)),
            "{confirm}"
        );
    }
}

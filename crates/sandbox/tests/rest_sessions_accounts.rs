//! Raw-HTTP tests of every endpoint family for each kind of session and account: v2 (CST and
//! X-SECURITY-TOKEN) and v3 (bearer token and `IG-ACCOUNT-ID`), the CFD user and the
//! spread-bet user. Each case runs the same calls and checks content that depends on the
//! account: its id, currency, epics, expiries and the deals it made.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{start, Raw};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// One session kind: who logs in, how, and what that account trades.
struct Case {
    user: &'static str,
    version: &'static str,
    account: &'static str,
    account_type: &'static str,
    epic: &'static str,
    expiry: &'static str,
    currency: &'static str,
    /// The other account's epic: refused with IG's reason for the wrong product.
    foreign_epic: &'static str,
    foreign_expiry: &'static str,
    foreign_reason: &'static str,
}

const CASES: &[Case] = &[
    Case {
        user: "sandbox",
        version: "2",
        account: "SANDBOX-CFD",
        account_type: "CFD",
        epic: "CS.D.EURUSD.CFD.IP",
        expiry: "-",
        currency: "USD",
        foreign_epic: "CS.D.EURUSD.TODAY.IP",
        foreign_expiry: "DFB",
        foreign_reason: "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT",
    },
    Case {
        user: "sandbox",
        version: "3",
        account: "SANDBOX-CFD",
        account_type: "CFD",
        epic: "CS.D.EURUSD.CFD.IP",
        expiry: "-",
        currency: "USD",
        foreign_epic: "CS.D.EURUSD.TODAY.IP",
        foreign_expiry: "DFB",
        foreign_reason: "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT",
    },
    Case {
        user: "sandbox-sb",
        version: "2",
        account: "SANDBOX-SB",
        account_type: "SPREADBET",
        epic: "CS.D.EURUSD.TODAY.IP",
        expiry: "DFB",
        currency: "GBP",
        foreign_epic: "CS.D.EURUSD.CFD.IP",
        foreign_expiry: "-",
        foreign_reason: "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT",
    },
    Case {
        user: "sandbox-sb",
        version: "3",
        account: "SANDBOX-SB",
        account_type: "SPREADBET",
        epic: "CS.D.EURUSD.TODAY.IP",
        expiry: "DFB",
        currency: "GBP",
        foreign_epic: "CS.D.EURUSD.CFD.IP",
        foreign_expiry: "-",
        foreign_reason: "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT",
    },
];

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

fn ok(r: &common::Reply, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {:?}", r.body);
}

async fn logged_in(sb: &scalper_sandbox::SandboxHandle, c: &Case) -> Raw {
    let mut raw = Raw::new(sb);
    let landed = raw.login_as(c.user, c.version).await;
    assert_eq!(landed, c.account, "{} v{}", c.user, c.version);
    raw
}

async fn session_and_accounts(raw: &Raw, c: &Case) {
    let session = raw.get("/session", 1).await;
    ok(&session, "GET /session");
    assert_eq!(session.body["accountId"], c.account);
    let listed = raw.get("/accounts", 1).await;
    ok(&listed, "GET /accounts");
    let accounts = listed.body["accounts"].as_array().unwrap();
    let mine = accounts
        .iter()
        .find(|x| x["accountId"] == c.account)
        .unwrap();
    assert_eq!(mine["preferred"], true, "{mine}");
    assert_eq!(mine["accountType"], c.account_type, "{mine}");
    // Both accounts are in the sandbox's account currency (`SandboxConfig::currency`).
    assert_eq!(mine["currency"], "GBP", "{mine}");
    let set = raw
        .call(
            Method::PUT,
            "/accounts/preferences",
            1,
            Some(json!({"trailingStopsEnabled": true})),
            &[],
        )
        .await;
    ok(&set, "PUT /accounts/preferences");
    let prefs = raw.get("/accounts/preferences", 1).await;
    assert_eq!(prefs.body["trailingStopsEnabled"], true);
    let apps = raw.get("/operations/application", 1).await;
    ok(&apps, "GET /operations/application");
    assert_eq!(apps.body[0]["apiKey"], common::KEY);
}

async fn markets_and_prices(raw: &Raw, c: &Case) {
    let m = raw.get(&format!("/markets/{}", c.epic), 3).await;
    ok(&m, "GET /markets/{epic}");
    assert_eq!(m.body["instrument"]["epic"], c.epic);
    assert_eq!(m.body["instrument"]["expiry"], c.expiry);
    let currencies: Vec<&str> = m.body["instrument"]["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["code"].as_str())
        .collect();
    assert!(currencies.contains(&c.currency), "{currencies:?}");
    let many = raw
        .get(&format!("/markets?epics={},{}", c.epic, c.foreign_epic), 2)
        .await;
    assert_eq!(len(&many.body["marketDetails"]), 2);
    let found = raw.get("/markets?searchTerm=EUR/USD", 1).await;
    assert!(
        found.body["markets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["epic"] == c.epic),
        "{:?}",
        found.body
    );
    let top = raw.get("/marketnavigation", 1).await;
    ok(&top, "GET /marketnavigation");
    assert!(len(&top.body["nodes"]) >= 3);
    let p = raw
        .get(&format!("/prices/{}?resolution=MINUTE&max=5", c.epic), 3)
        .await;
    ok(&p, "GET /prices v3");
    assert_eq!(len(&p.body["prices"]), 5);
    assert!(p.body["metadata"]["allowance"]["remainingAllowance"].is_number());
    let p2 = raw.get(&format!("/prices/{}/MINUTE/3", c.epic), 2).await;
    assert_eq!(len(&p2.body["prices"]), 3);
    let s = raw.get("/clientsentiment/EURUSD", 1).await;
    let long = s.body["longPositionPercentage"].as_f64().unwrap();
    let short = s.body["shortPositionPercentage"].as_f64().unwrap();
    assert!((long + short - 100.0).abs() < 1e-9, "{:?}", s.body);
}

async fn confirm(raw: &Raw, r: &common::Reply) -> Value {
    ok(r, "deal request");
    let reference = r.body["dealReference"].as_str().unwrap();
    raw.confirm(reference).await
}

/// Opens, amends and closes a position and creates and deletes a working order; returns the
/// position's deal id.
async fn dealing(raw: &Raw, c: &Case) -> String {
    let open = |epic: &str, expiry: &str| {
        json!({
            "epic": epic, "expiry": expiry, "direction": "BUY", "size": "1",
            "orderType": "MARKET", "currencyCode": c.currency, "forceOpen": true,
            "guaranteedStop": false,
        })
    };
    let r = raw
        .post("/positions/otc", 2, open(c.foreign_epic, c.foreign_expiry))
        .await;
    let refused = confirm(raw, &r).await;
    assert_eq!(refused["dealStatus"], "REJECTED", "{refused}");
    assert_eq!(refused["reason"], c.foreign_reason, "{refused}");

    let r = raw.post("/positions/otc", 2, open(c.epic, c.expiry)).await;
    let opened = confirm(raw, &r).await;
    assert_eq!(opened["dealStatus"], "ACCEPTED", "{opened}");
    let deal = opened["dealId"].as_str().unwrap().to_string();
    let level = opened["level"].as_f64().unwrap();
    let one = raw.get(&format!("/positions/{deal}"), 2).await;
    ok(&one, "GET /positions/{dealId}");
    assert_eq!(one.body["position"]["currency"], c.currency);
    assert_eq!(one.body["market"]["expiry"], c.expiry);
    for v in [1, 2] {
        let all = raw.get("/positions", v).await;
        assert_eq!(len(&all.body["positions"]), 1, "v{v}: {:?}", all.body);
    }
    let r = raw
        .call(
            Method::PUT,
            &format!("/positions/otc/{deal}"),
            2,
            Some(json!({"stopLevel": level - 100.0, "limitLevel": level + 100.0})),
            &[],
        )
        .await;
    let amended = confirm(raw, &r).await;
    assert_eq!(amended["dealStatus"], "ACCEPTED", "{amended}");
    let one = raw.get(&format!("/positions/{deal}"), 2).await;
    assert_eq!(
        one.body["position"]["stopLevel"].as_f64(),
        Some(level - 100.0)
    );

    let order = json!({
        "epic": c.epic, "expiry": c.expiry, "direction": "BUY", "size": "1",
        "level": level - 300.0, "type": "LIMIT", "currencyCode": c.currency,
        "timeInForce": "GOOD_TILL_CANCELLED", "guaranteedStop": false, "forceOpen": true,
    });
    let r = raw.post("/workingorders/otc", 2, order).await;
    let placed = confirm(raw, &r).await;
    assert_eq!(placed["dealStatus"], "ACCEPTED", "{placed}");
    let order_id = placed["dealId"].as_str().unwrap().to_string();
    let orders = raw.get("/workingorders", 2).await;
    let wo = &orders.body["workingOrders"][0];
    assert_eq!(wo["workingOrderData"]["dealId"], order_id.as_str());
    assert_eq!(wo["workingOrderData"]["currencyCode"], c.currency);
    let r = raw
        .call(
            Method::DELETE,
            &format!("/workingorders/otc/{order_id}"),
            2,
            None,
            &[],
        )
        .await;
    assert_eq!(confirm(raw, &r).await["dealStatus"], "ACCEPTED");
    assert_eq!(
        len(&raw.get("/workingorders", 2).await.body["workingOrders"]),
        0
    );

    let r = raw
        .call(
            Method::POST,
            "/positions/otc",
            1,
            Some(json!({"dealId": deal, "direction": "SELL", "size": "1", "orderType": "MARKET"})),
            &[("_method", "DELETE")],
        )
        .await;
    let closed = confirm(raw, &r).await;
    assert_eq!(closed["dealStatus"], "ACCEPTED", "{closed}");
    assert_eq!(closed["affectedDeals"][0]["dealId"], deal.as_str());
    assert_eq!(len(&raw.get("/positions", 2).await.body["positions"]), 0);
    deal
}

async fn history(raw: &Raw, c: &Case, deal: &str) {
    let acts = raw
        .get(&format!("/history/activity?dealId={deal}&detailed=true"), 3)
        .await;
    ok(&acts, "GET /history/activity v3");
    let list = acts.body["activities"].as_array().unwrap();
    assert!(list.len() >= 3, "open, amend, close: {list:?}");
    assert!(list
        .iter()
        .all(|a| a["dealId"] == deal && a["epic"] == c.epic));
    // Activity details and transactions are in the account's currency (GBP), transactions
    // with its symbol, as IG prints them.
    assert!(
        list.iter().all(|a| a["details"]["currency"] == "GBP"),
        "{list:?}"
    );
    let opened = list
        .iter()
        .find(|a| a["details"]["actions"][0]["actionType"] == "POSITION_OPENED")
        .unwrap();
    assert_eq!(opened["details"]["direction"], "BUY");
    assert_eq!(opened["period"], c.expiry);
    let v2 = raw.get("/history/activity?maxSpanSeconds=3600", 2).await;
    // The refused open, the open, the amend, the order, its deletion and the close.
    assert!(len(&v2.body["activities"]) >= 5, "{:?}", v2.body);
    let t = raw
        .get("/history/transactions?type=ALL_DEAL&maxSpanSeconds=3600", 2)
        .await;
    let txs = t.body["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 1, "{txs:?}");
    assert_eq!(txs[0]["currency"], "£");
    assert_eq!(txs[0]["period"], c.expiry);
}

/// The open (BUY 1) and the close (SELL 1) are in the repeat-dealing windows for 30 s of
/// simulated time; the refused deal and the other epic are not.
async fn repeat_dealing_window(sb: &scalper_sandbox::SandboxHandle, raw: &Raw, c: &Case) {
    let r = raw.get("/repeat-dealing-window", 1).await;
    ok(&r, "GET /repeat-dealing-window");
    let windows = r.body["repeatDealingWindows"].as_array().unwrap();
    let sides: Vec<(&str, &str, f64)> = windows
        .iter()
        .map(|w| {
            assert_eq!(w["entries"].as_array().unwrap().len(), 1, "{w}");
            (
                w["epic"].as_str().unwrap(),
                w["direction"].as_str().unwrap(),
                w["entries"][0]["size"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sides, [(c.epic, "BUY", 1.0), (c.epic, "SELL", 1.0)]);
    assert_eq!(windows[0]["currency"], c.currency);
    let other = raw
        .get(
            &format!("/repeat-dealing-window?epic={}", c.foreign_epic),
            1,
        )
        .await;
    assert_eq!(other.body["repeatDealingWindows"], json!([]));
    let now = sb.state().sim_time;
    sb.jump(scalper_model::Timestamp::from_millis(now.millis() + 31_000))
        .unwrap();
    let later = raw.get("/repeat-dealing-window", 1).await;
    assert_eq!(later.body["repeatDealingWindows"], json!([]));
}

async fn watchlists(raw: &Raw, c: &Case) {
    let made = raw
        .post(
            "/watchlists",
            1,
            json!({"name": format!("{} v{}", c.user, c.version), "epics": [c.epic]}),
        )
        .await;
    ok(&made, "POST /watchlists");
    let id = made.body["watchlistId"].as_str().unwrap().to_string();
    let r = raw
        .call(
            Method::PUT,
            &format!("/watchlists/{id}"),
            1,
            Some(json!({"epic": c.foreign_epic})),
            &[],
        )
        .await;
    ok(&r, "PUT /watchlists/{id}");
    let read = raw.get(&format!("/watchlists/{id}"), 1).await;
    let epics: Vec<&str> = read.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["epic"].as_str())
        .collect();
    assert_eq!(epics, [c.epic, c.foreign_epic]);
    let r = raw
        .call(Method::DELETE, &format!("/watchlists/{id}"), 1, None, &[])
        .await;
    ok(&r, "DELETE /watchlists/{id}");
}

#[tokio::test]
async fn every_family_for_v2_and_v3_sessions_on_cfd_and_spread_bet_accounts() {
    for c in CASES {
        let sb = start().await;
        let raw = logged_in(&sb, c).await;
        session_and_accounts(&raw, c).await;
        markets_and_prices(&raw, c).await;
        let deal = dealing(&raw, c).await;
        history(&raw, c, &deal).await;
        repeat_dealing_window(&sb, &raw, c).await;
        watchlists(&raw, c).await;
        let out = raw.call(Method::DELETE, "/session", 1, None, &[]).await;
        assert_eq!(
            out.status,
            StatusCode::NO_CONTENT,
            "{} v{}",
            c.user,
            c.version
        );
        let after = raw.get("/session", 1).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        sb.shutdown().await;
    }
}

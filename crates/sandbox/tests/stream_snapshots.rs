//! New MERGE subscriptions on the real sandbox start with a snapshot that agrees with REST:
//! PRICE with the market's price and day statistics, ACCOUNT with the account's funds, even
//! when no price has moved since the sandbox started (a paused simulator).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use scalper_sandbox::SandboxConfig;
use serde_json::Value;
use tokio::time::Instant;

const FORM: &str = "application/x-www-form-urlencoded";
const DEADLINE: Duration = Duration::from_secs(10);

/// Reads the streaming response until a line starting with `prefix` arrives.
async fn line_starting(resp: &mut reqwest::Response, buf: &mut String, prefix: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(line) = buf.lines().find(|l| l.starts_with(prefix)) {
            let line = line.to_string();
            let cut = buf.find(&line).unwrap() + line.len();
            buf.drain(..cut);
            return line;
        }
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("stream ended or timed out waiting for {prefix}: {other:?}; {buf:?}"),
        }
    }
}

fn dec(v: &Value) -> Decimal {
    v.to_string().trim_matches('"').parse().unwrap()
}

fn field(update: &str, i: usize) -> Decimal {
    // U,<sub>,<item>,v1|v2|...
    let values = update.splitn(4, ',').nth(3).unwrap();
    values.split('|').nth(i).unwrap().parse().unwrap()
}

#[tokio::test]
async fn merge_subscriptions_start_with_snapshots_that_agree_with_rest() {
    for (user, account, epic, version) in [
        ("sandbox", "SANDBOX-CFD", "CS.D.EURUSD.CFD.IP", "2"),
        ("sandbox-sb", "SANDBOX-SB", "CS.D.EURUSD.TODAY.IP", "3"),
    ] {
        let sb = common::start_with(SandboxConfig::for_tests()).await;
        let mut raw = common::Raw::new(&sb);
        assert_eq!(raw.login_as(user, version).await, account);
        let (cst, xst) = if version == "3" {
            raw.fetch_session_tokens().await
        } else {
            (raw.cst.clone().unwrap(), raw.xst.clone().unwrap())
        };
        let market = raw.get(&format!("/markets/{epic}"), 3).await.body;
        let snap = &market["snapshot"];
        let accounts = raw.get("/accounts", 1).await.body;
        let acc = accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["accountId"] == account)
            .unwrap()
            .clone();

        let http = reqwest::Client::new();
        let base = format!("{}/lightstreamer", sb.stream_url());
        let mut stream = http
            .post(format!("{base}/create_session.txt?LS_protocol=TLCP-2.4.0"))
            .header("Content-Type", FORM)
            .body(format!(
                "LS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg&LS_password=CST-{cst}%7CXST-{xst}"
            ))
            .send()
            .await
            .unwrap();
        let mut buf = String::new();
        let conok = line_starting(&mut stream, &mut buf, "CONOK,").await;
        let session = conok.split(',').nth(1).unwrap().to_string();
        let control = |body: String| {
            let http = http.clone();
            let url = format!("{base}/control.txt?LS_protocol=TLCP-2.4.0&LS_session={session}");
            async move {
                let r = http
                    .post(url)
                    .header("Content-Type", FORM)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                r.text().await.unwrap()
            }
        };
        let ok = control(format!(
            "LS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE&LS_group=PRICE:{account}:{epic}\
             &LS_schema=BIDPRICE1%20ASKPRICE1%20MID_OPEN%20HIGH%20LOW%20NET_CHG\
             &LS_data_adapter=Pricing&LS_snapshot=true"
        ))
        .await;
        assert!(ok.starts_with("REQOK,1"), "{ok}");
        let price = line_starting(&mut stream, &mut buf, "U,1,1,").await;
        assert_eq!(field(&price, 0), dec(&snap["bid"]), "{price} vs {snap}");
        assert_eq!(field(&price, 1), dec(&snap["offer"]), "{price} vs {snap}");
        assert_eq!(field(&price, 3), dec(&snap["high"]), "{price} vs {snap}");
        assert_eq!(field(&price, 4), dec(&snap["low"]), "{price} vs {snap}");
        assert_eq!(
            field(&price, 5),
            dec(&snap["netChange"]),
            "{price} vs {snap}"
        );

        let ok = control(format!(
            "LS_reqId=2&LS_op=add&LS_subId=2&LS_mode=MERGE&LS_group=ACCOUNT:{account}\
             &LS_schema=FUNDS%20MARGIN%20PNL%20AVAILABLE_TO_DEAL&LS_snapshot=true"
        ))
        .await;
        assert!(ok.starts_with("REQOK,2"), "{ok}");
        let funds = line_starting(&mut stream, &mut buf, "U,2,1,").await;
        assert_eq!(field(&funds, 0), dec(&acc["balance"]["balance"]), "{funds}");
        assert_eq!(field(&funds, 1), Decimal::ZERO, "{funds}");
        assert_eq!(field(&funds, 2), Decimal::ZERO, "{funds}");
        assert_eq!(
            field(&funds, 3),
            dec(&acc["balance"]["available"]),
            "{funds}"
        );

        // A candle's snapshot is the forming bar as /prices has it (ticks before the
        // subscription included), not the last tick alone.
        let bar = raw
            .get(&format!("/prices/{epic}?resolution=MINUTE&max=1"), 3)
            .await
            .body;
        let bar = &bar["prices"][0];
        let ok = control(format!(
            "LS_reqId=4&LS_op=add&LS_subId=4&LS_mode=MERGE&LS_group=CHART:{epic}:1MINUTE\
             &LS_schema=BID_OPEN%20BID_HIGH%20BID_LOW%20OFR_CLOSE%20CONS_TICK_COUNT&LS_snapshot=true"
        ))
        .await;
        assert!(ok.starts_with("REQOK,4"), "{ok}");
        let candle = line_starting(&mut stream, &mut buf, "U,4,1,").await;
        let want = [
            dec(&bar["openPrice"]["bid"]),
            dec(&bar["highPrice"]["bid"]),
            dec(&bar["lowPrice"]["bid"]),
            dec(&bar["closePrice"]["ask"]),
            dec(&bar["lastTradedVolume"]),
        ];
        assert!(want[4] > Decimal::ONE, "several ticks in the minute: {bar}");
        for (i, w) in want.iter().enumerate() {
            assert_eq!(field(&candle, i), *w, "{candle} vs {bar}");
        }

        // TRADE (DISTINCT) has no snapshot: only the end of it.
        let ok = control(format!(
            "LS_reqId=3&LS_op=add&LS_subId=3&LS_mode=DISTINCT&LS_group=TRADE:{account}\
             &LS_schema=CONFIRMS%20OPU%20WOU&LS_snapshot=true"
        ))
        .await;
        assert!(ok.starts_with("REQOK,3"), "{ok}");
        line_starting(&mut stream, &mut buf, "EOS,3,1").await;
        assert!(!buf.contains("U,3,"), "{buf}");
        let _ = raw.call(Method::DELETE, "/session", 1, None, &[]).await;
        sb.shutdown().await;
    }
}

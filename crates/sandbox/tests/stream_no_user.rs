//! IG identifies a stream login by its CST/XST; clients such as trading_ig's stream service send
//! no `LS_user`. The sandbox accepts such a login for the tokens' account (and only for it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scalper_sandbox::{Sandbox, SandboxConfig};

const FORM: &str = "application/x-www-form-urlencoded";

async fn create(http: &reqwest::Client, base: &str, body: String) -> String {
    http.post(format!(
        "{base}/lightstreamer/create_session.txt?LS_protocol=TLCP-2.4.0"
    ))
    .header("Content-Type", FORM)
    .body(body)
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap()
}

#[tokio::test]
async fn login_without_user_takes_the_tokens_account() {
    let h = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{}/session", h.rest_url()))
        .header("X-IG-API-KEY", "sandbox-api-key")
        .header("Version", "2")
        .json(&serde_json::json!({"identifier": "sandbox", "password": "sandbox-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cst = login.headers()["CST"].to_str().unwrap().to_string();
    let xst = login.headers()["X-SECURITY-TOKEN"]
        .to_str()
        .unwrap()
        .to_string();
    let base = h.stream_url();
    let polling =
        "LS_polling=true&LS_polling_millis=0&LS_idle_millis=0&LS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg";

    // No LS_user: accepted, and the session belongs to the tokens' account.
    let body = create(
        &http,
        &base,
        format!("{polling}&LS_password=CST-{cst}%7CXST-{xst}"),
    )
    .await;
    let conok = body.lines().next().unwrap();
    assert!(conok.starts_with("CONOK,"), "{body}");
    let session = conok.split(',').nth(1).unwrap();
    let own = http
        .post(format!("{base}/lightstreamer/control.txt?LS_protocol=TLCP-2.4.0"))
        .header("Content-Type", FORM)
        .body(format!(
            "LS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE&LS_group=PRICE:SANDBOX-CFD:CS.D.EURUSD.CFD.IP\
             &LS_schema=BIDPRICE1%20ASKPRICE1&LS_data_adapter=Pricing&LS_session={session}"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(own.starts_with("REQOK,1"), "{own}");
    let other = http
        .post(format!("{base}/lightstreamer/control.txt?LS_protocol=TLCP-2.4.0"))
        .header("Content-Type", FORM)
        .body(format!(
            "LS_reqId=2&LS_op=add&LS_subId=2&LS_mode=MERGE&LS_group=PRICE:SANDBOX-SB:CS.D.EURUSD.CFD.IP\
             &LS_schema=BIDPRICE1%20ASKPRICE1&LS_data_adapter=Pricing&LS_session={session}"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(other.starts_with("REQERR,2,-1,"), "{other}");

    // A user that is not the tokens' account, or bad tokens: refused.
    let wrong_user = create(
        &http,
        &base,
        format!("{polling}&LS_user=SANDBOX-SB&LS_password=CST-{cst}%7CXST-{xst}"),
    )
    .await;
    assert!(wrong_user.starts_with("CONERR,1,"), "{wrong_user}");
    let bad = create(
        &http,
        &base,
        format!("{polling}&LS_password=CST-{cst}%7CXST-nope"),
    )
    .await;
    assert!(bad.starts_with("CONERR,1,"), "{bad}");
    h.shutdown().await;
}

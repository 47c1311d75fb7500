//! The sandbox's TLCP HTTP-streaming transport as an official Lightstreamer client drives it:
//! polling create, streaming bind, control.txt requests, CONERR answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stream_server;

use std::time::Duration;

use stream_server::{epic, server, DEADLINE};
use tokio::time::Instant;

const FORM: &str = "application/x-www-form-urlencoded";

async fn post(url: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", FORM)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Reads the streaming response until a line starting with `prefix` arrives.
async fn read_until(resp: &mut reqwest::Response, buf: &mut String, prefix: &str) -> String {
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
            other => {
                panic!("stream ended or timed out waiting for {prefix}: {other:?}; buffer {buf:?}")
            }
        }
    }
}

#[tokio::test]
async fn http_streaming_session_with_control_requests() {
    let h = server(Duration::from_millis(200)).await;
    let base = format!("{}/lightstreamer", h.endpoint);

    // Wrong password: CONERR 1.
    let body = post(
        &format!("{base}/create_session.txt?LS_protocol=TLCP-2.4.0"),
        "LS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg&LS_user=ABC123&LS_password=CST-bad%7CXST-bad",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(body.starts_with("CONERR,1,"), "{body}");

    // Polling create (what official clients do before switching to WebSocket): CONOK ... LOOP.
    let body = post(
        &format!("{base}/create_session.txt?LS_protocol=TLCP-2.4.0"),
        "LS_polling=true&LS_polling_millis=0&LS_idle_millis=0&LS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg\
         &LS_user=ABC123&LS_password=CST-cst1%7CXST-xst1",
    )
    .await
    .text()
    .await
    .unwrap();
    let conok = body.lines().next().unwrap();
    assert!(conok.starts_with("CONOK,"), "{body}");
    assert!(body.trim_end().ends_with("LOOP,0"), "{body}");
    let session = conok.split(',').nth(1).unwrap().to_string();

    // Streaming bind, then subscribe through control.txt.
    let mut stream = post(
        &format!("{base}/bind_session.txt?LS_protocol=TLCP-2.4.0"),
        &format!("LS_session={session}&LS_content_length=100000"),
    )
    .await;
    let mut buf = String::new();
    read_until(&mut stream, &mut buf, "CONOK,").await;
    let e = epic("CS.D.EURUSD.CFD.IP");
    let reply = post(
        &format!("{base}/control.txt?LS_protocol=TLCP-2.4.0&LS_session={session}"),
        "LS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE&LS_group=PRICE%3AABC123%3ACS.D.EURUSD.CFD.IP\
         &LS_schema=BIDPRICE1%20ASKPRICE1%20TIMESTAMP&LS_data_adapter=Pricing&LS_snapshot=true\r\n\
         LS_reqId=2&LS_op=add&LS_subId=2&LS_mode=MERGE&LS_group=MARKET%3ACS.D.EURUSD.CFD.IP&LS_schema=BID%20NOPE",
    )
    .await
    .text()
    .await
    .unwrap();
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines[0], "REQOK,1");
    assert!(lines[1].starts_with("REQERR,2,-1,"), "{reply}");
    assert_eq!(
        read_until(&mut stream, &mut buf, "SUBOK,").await,
        "SUBOK,1,1,3"
    );
    h.price(&e, "1.08123", "1.08131", 1_700_000_000_001);
    assert_eq!(
        read_until(&mut stream, &mut buf, "U,1,1,").await,
        "U,1,1,1.08123|1.08131|1700000000001"
    );
    // Only the bid changes: the rest is sent as "unchanged".
    h.price(&e, "1.08124", "1.08131", 1_700_000_000_001);
    assert_eq!(
        read_until(&mut stream, &mut buf, "U,1,1,").await,
        "U,1,1,1.08124|^2"
    );
    // Idle: keep-alive PROBEs.
    read_until(&mut stream, &mut buf, "PROBE").await;
    let reply = post(
        &format!("{base}/control.txt"),
        &format!("LS_session={session}&LS_reqId=3&LS_op=delete&LS_subId=1"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(reply.trim(), "REQOK,3");
    assert_eq!(read_until(&mut stream, &mut buf, "UNSUB,").await, "UNSUB,1");

    // Unknown session: CONERR 20.
    let body = post(&format!("{base}/bind_session.txt"), "LS_session=Snope")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.starts_with("CONERR,20,"), "{body}");
}

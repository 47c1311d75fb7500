//! Request bodies that a handler has no use for (IG's DELETE endpoints, `_method: DELETE`,
//! `DELETE /session`) are read by the connection layer, so the next request on the same
//! keep-alive connection is served. One TCP connection carries a whole session here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(10);

/// A minimal HTTP/1.1 client on one connection (Content-Length bodies only, which is what the
/// sandbox's REST answers carry).
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
    host: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    async fn open(sb: &scalper_sandbox::SandboxHandle) -> Self {
        Self {
            tcp: TcpStream::connect(sb.addr()).await.unwrap(),
            buf: Vec::new(),
            host: sb.addr().to_string(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) {
        let mut req = format!(
            "{method} /gateway/deal{path} HTTP/1.1\r\nHost: {}\r\nX-IG-API-KEY: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            self.host,
            common::KEY,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.tcp.write_all(req.as_bytes()).await.unwrap();
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(DEADLINE, self.tcp.read(&mut chunk))
            .await
            .expect("an answer within the deadline")
            .unwrap();
        assert!(n > 0, "the sandbox closed the keep-alive connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    async fn answer(&mut self) -> Answer {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        while self.buf.len() < head_end + 4 + len {
            self.fill().await;
        }
        let body: Vec<u8> = self
            .buf
            .drain(..head_end + 4 + len)
            .skip(head_end + 4)
            .collect();
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        self.send(method, path, headers, body).await;
        self.answer().await
    }
}

#[tokio::test]
async fn unread_bodies_do_not_break_keep_alive() {
    let sb = common::start().await;
    let mut c = Conn::open(&sb).await;
    let login = c
        .call(
            "POST",
            "/session",
            &[("Version", "2")],
            &json!({"identifier": "sandbox", "password": "sandbox-pass"}).to_string(),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let cst = login.header("CST").unwrap().to_string();
    let xst = login.header("X-SECURITY-TOKEN").unwrap().to_string();
    let auth = |v: &'static str| {
        [
            ("Version", v),
            ("CST", cst.as_str()),
            ("X-SECURITY-TOKEN", xst.as_str()),
        ]
    };
    let junk = json!({"note": "x".repeat(1_500_000)}).to_string();

    // A GET with a body.
    let r = c.call("GET", "/accounts", &auth("1"), &junk).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["accounts"][0]["accountId"], "SANDBOX-CFD");

    // DELETE /workingorders/otc/{id} with a body the endpoint does not read.
    let bid = c
        .call("GET", "/markets/CS.D.EURUSD.CFD.IP", &auth("3"), "")
        .await
        .body["snapshot"]["bid"]
        .as_f64()
        .unwrap();
    let order = json!({
        "epic": "CS.D.EURUSD.CFD.IP", "expiry": "-", "direction": "BUY", "size": "1",
        "level": bid - 300.0, "type": "LIMIT", "currencyCode": "USD",
        "timeInForce": "GOOD_TILL_CANCELLED", "guaranteedStop": false, "forceOpen": true,
    });
    let r = c
        .call("POST", "/workingorders/otc", &auth("2"), &order.to_string())
        .await;
    let reference = r.body["dealReference"].as_str().unwrap().to_string();
    let conf = c
        .call("GET", &format!("/confirms/{reference}"), &auth("1"), "")
        .await;
    let order_id = conf.body["dealId"].as_str().unwrap().to_string();
    let r = c
        .call(
            "DELETE",
            &format!("/workingorders/otc/{order_id}"),
            &auth("2"),
            &junk,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c.call("GET", "/workingorders", &auth("2"), "").await;
    assert_eq!(r.body["workingOrders"], json!([]));

    // POST with `_method: DELETE` (close a position), then read on.
    let open = json!({
        "epic": "CS.D.EURUSD.CFD.IP", "expiry": "-", "direction": "BUY", "size": "1",
        "orderType": "MARKET", "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false,
    });
    let r = c
        .call("POST", "/positions/otc", &auth("2"), &open.to_string())
        .await;
    let reference = r.body["dealReference"].as_str().unwrap().to_string();
    let conf = c
        .call("GET", &format!("/confirms/{reference}"), &auth("1"), "")
        .await;
    let deal = conf.body["dealId"].as_str().unwrap().to_string();
    let mut close_headers = auth("1").to_vec();
    close_headers.push(("_method", "DELETE"));
    let close = json!({"dealId": deal, "direction": "SELL", "size": "1", "orderType": "MARKET"});
    let r = c
        .call("POST", "/positions/otc", &close_headers, &close.to_string())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c.call("GET", "/positions", &auth("2"), "").await;
    assert_eq!(r.body["positions"], json!([]));

    // Two requests written back to back (pipelined), the first with an unread body.
    c.send("DELETE", "/watchlists/nope", &auth("1"), &junk)
        .await;
    c.send("GET", "/session", &auth("1"), "").await;
    assert_eq!(c.answer().await.status, 404);
    let r = c.answer().await;
    assert_eq!(r.body["accountId"], "SANDBOX-CFD");

    // DELETE /session with a body, then the same connection sees the session gone.
    let r = c.call("DELETE", "/session", &auth("1"), &junk).await;
    assert_eq!(r.status, 204);
    let r = c.call("GET", "/session", &auth("1"), "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["errorCode"], "error.security.client-token-invalid");

    // A body over the limit: 413, and the connection is closed after it.
    let huge = "x".repeat(3 * 1024 * 1024);
    let r = c.call("POST", "/session", &[("Version", "2")], &huge).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["errorCode"], "invalid.input.body-too-large");
    assert_eq!(r.header("connection"), Some("close"));
    sb.shutdown().await;
}

//! The sandbox holds up like a server: silent and idle connections are closed, a flood of idle
//! sockets cannot lock real clients out, counters and session tables stay bounded, and the
//! admin API refuses cross-site requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start_with, Raw};
use reqwest::{Method, StatusCode};
use scalper_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `deadline` passes: `None`).
async fn read_until_closed(tcp: &mut TcpStream, deadline: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(out)
}

/// Sends `request` on a fresh connection and returns everything the server answered.
async fn raw_request(sb: &SandboxHandle, request: &str) -> String {
    let mut tcp = TcpStream::connect(sb.addr()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let out = read_until_closed(&mut tcp, Duration::from_secs(10))
        .await
        .expect("the server answers and closes");
    String::from_utf8_lossy(&out).into_owned()
}

fn short_timeouts() -> SandboxConfig {
    SandboxConfig {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..SandboxConfig::for_tests()
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let sb = start_with(short_timeouts()).await;
    let mut tcp = TcpStream::connect(sb.addr()).await.unwrap();
    let started = std::time::Instant::now();
    let got = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert_eq!(got, Some(Vec::new()), "closed without an answer");
    assert!(started.elapsed() >= Duration::from_millis(250));
    sb.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let sb = start_with(short_timeouts()).await;
    let mut tcp = TcpStream::connect(sb.addr()).await.unwrap();
    tcp.write_all(b"GET /sandbox/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let out = read_until_closed(&mut tcp, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    sb.shutdown().await;
}

#[tokio::test]
async fn idle_sockets_beyond_the_cap_do_not_lock_real_clients_out() {
    let sb = start_with(SandboxConfig {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(60),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(sb.addr()).await.unwrap());
    }
    let mut c = Raw::new(&sb);
    c.login().await;
    assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    // The oldest idle sockets were closed to make room.
    let first = read_until_closed(&mut idle[0], Duration::from_secs(5)).await;
    assert_eq!(first, Some(Vec::new()));
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_methods_share_one_counter() {
    let sb = start_with(SandboxConfig::for_tests()).await;
    let http = reqwest::Client::new();
    for i in 0..300 {
        let m = Method::from_bytes(format!("M{i:04}X").as_bytes()).unwrap();
        let _ = http
            .request(m, format!("{}/session", sb.rest_url()))
            .send()
            .await
            .unwrap();
        let _ = http
            .get(format!("{}/markets/EPIC{i}", sb.rest_url()))
            .send()
            .await
            .unwrap();
    }
    let st = sb.state();
    assert!(st.requests.len() <= 4, "{:?}", st.requests);
    assert!(st
        .requests
        .keys()
        .all(|k| !k.contains("M0") && !k.contains("EPIC")));
    assert_eq!(
        st.requests.get("GET /gateway/deal/markets/{epic}"),
        Some(&300)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn sessions_and_tokens_are_capped() {
    let sb = start_with(SandboxConfig {
        max_sessions: 20,
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut last = Raw::new(&sb);
    for _ in 0..60 {
        last = Raw::new(&sb);
        last.login().await;
        let v3 = Raw::new(&sb)
            .post(
                "/session",
                3,
                json!({"identifier": "sandbox", "password": "sandbox-pass"}),
            )
            .await;
        assert_eq!(v3.status, StatusCode::OK);
    }
    let st = sb.state();
    assert!(st.sessions <= 20, "{} sessions kept", st.sessions);
    assert!(st.oauth_tokens <= 20, "{} tokens kept", st.oauth_tokens);
    assert_eq!(st.logins.get("v2"), Some(&60));
    // The newest session still works.
    assert_eq!(last.get("/accounts", 1).await.status, StatusCode::OK);
    sb.shutdown().await;
}

#[tokio::test]
async fn expired_sessions_are_pruned() {
    let sb = start_with(SandboxConfig {
        token_idle_ttl: Duration::from_nanos(1),
        ..SandboxConfig::for_tests()
    })
    .await;
    for _ in 0..30 {
        Raw::new(&sb).login().await;
    }
    assert!(sb.state().sessions <= 1, "{}", sb.state().sessions);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_refuses_cross_site_requests() {
    let sb = start_with(SandboxConfig::for_tests()).await;
    let port = sb.addr().port();
    let body = r#"{"spec":"http500:1"}"#;
    let post = |host: &str, extra: &str, ctype: &str| {
        format!(
            "POST /sandbox/faults HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: {ctype}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let text_plain = raw_request(&sb, &post(&format!("127.0.0.1:{port}"), "", "text/plain")).await;
    assert!(text_plain.starts_with("HTTP/1.1 415"), "{text_plain}");
    let foreign_origin = raw_request(
        &sb,
        &post(
            &format!("127.0.0.1:{port}"),
            "Origin: http://evil.example\r\n",
            "application/json",
        ),
    )
    .await;
    assert!(
        foreign_origin.starts_with("HTTP/1.1 403"),
        "{foreign_origin}"
    );
    let rebinding = raw_request(
        &sb,
        &post(&format!("evil.example:{port}"), "", "application/json"),
    )
    .await;
    assert!(rebinding.starts_with("HTTP/1.1 403"), "{rebinding}");
    let get_foreign = raw_request(
        &sb,
        &format!(
            "GET /sandbox/state HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(get_foreign.starts_with("HTTP/1.1 403"), "{get_foreign}");
    assert_eq!(sb.state().faults_armed, 0, "nothing was armed");

    // Same-origin and plain tool requests still work.
    let own = raw_request(
        &sb,
        &post(
            &format!("localhost:{port}"),
            &format!("Origin: http://localhost:{port}\r\n"),
            "application/json; charset=utf-8",
        ),
    )
    .await;
    assert!(own.starts_with("HTTP/1.1 204"), "{own}");
    let r = reqwest::Client::new()
        .post(format!("{}/invalidate-tokens", sb.admin_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    sb.shutdown().await;
}

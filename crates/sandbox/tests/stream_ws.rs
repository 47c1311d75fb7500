//! The TLCP WebSocket server at `/lightstreamer` seen by an independent WebSocket client
//! (tokio-tungstenite): the subprotocol is echoed, `wsok`, a session and a subscription,
//! ping/pong, an unsupported request, the close handshake, and refused upgrades.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use scalper_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const DEADLINE: Duration = Duration::from_secs(10);

fn ws_url(h: &SandboxHandle) -> String {
    format!(
        "{}/lightstreamer",
        h.stream_url().replacen("http://", "ws://", 1)
    )
}

async fn connect(h: &SandboxHandle, protocol: Option<&str>) -> (Ws, Option<String>) {
    let mut req = ws_url(h).into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let (ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    let chosen = res
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string());
    (ws, chosen)
}

/// The next message from the server, within the deadline.
async fn next(ws: &mut Ws) -> Message {
    tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("the server answers in time")
        .expect("the connection stays open")
        .unwrap()
}

/// Reads text messages until one has a line starting with `prefix` (within the deadline, as
/// keep-alive `PROBE`s keep coming); returns that line.
async fn line_starting(ws: &mut Ws, prefix: &str) -> String {
    let find = async {
        loop {
            if let Message::Text(t) = next(ws).await {
                if let Some(l) = t.lines().find(|l| l.starts_with(prefix)) {
                    return l.to_string();
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, find)
        .await
        .unwrap_or_else(|_| panic!("no line starting with {prefix}"))
}

async fn tokens(h: &SandboxHandle) -> (String, String) {
    let login = reqwest::Client::new()
        .post(format!("{}/session", h.rest_url()))
        .header("X-IG-API-KEY", "sandbox-api-key")
        .header("Version", "2")
        .json(&serde_json::json!({"identifier": "sandbox", "password": "sandbox-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let header = |n: &str| login.headers()[n].to_str().unwrap().to_string();
    (header("CST"), header("X-SECURITY-TOKEN"))
}

#[tokio::test]
async fn a_tlcp_session_over_the_websocket() {
    let h = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let (cst, xst) = tokens(&h).await;
    let (mut ws, chosen) = connect(&h, Some("TLCP-2.5.0.lightstreamer.com")).await;
    assert_eq!(chosen.as_deref(), Some("TLCP-2.5.0.lightstreamer.com"));

    ws.send(Message::text("wsok")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("WSOK\r\n"));
    ws.send(Message::text(format!(
        "create_session\r\nLS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg&LS_user=SANDBOX-CFD\
         &LS_password=CST-{cst}%7CXST-{xst}"
    )))
    .await
    .unwrap();
    let conok = line_starting(&mut ws, "CONOK,").await;
    let session = conok.split(',').nth(1).unwrap().to_string();
    ws.send(Message::text(format!(
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE\
         &LS_group=PRICE:SANDBOX-CFD:CS.D.EURUSD.CFD.IP&LS_schema=BIDPRICE1%20ASKPRICE1\
         &LS_data_adapter=Pricing&LS_session={session}"
    )))
    .await
    .unwrap();
    assert_eq!(line_starting(&mut ws, "REQOK,").await, "REQOK,1");
    assert_eq!(line_starting(&mut ws, "SUBOK,").await, "SUBOK,1,1,2");

    // Pings are answered; an unknown request is refused with TLCP's error 61.
    ws.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .unwrap();
    ws.send(Message::text("frobnicate")).await.unwrap();
    let mut pong = false;
    let error = loop {
        match next(&mut ws).await {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"still there?");
                pong = true;
            }
            Message::Text(t) if t.starts_with("ERROR,61") => break t.to_string(),
            _ => {}
        }
    };
    assert!(pong, "the pong comes before the later request's answer");
    assert!(error.contains("frobnicate"), "{error}");

    // The close handshake: the server echoes the client's code.
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    })))
    .await
    .unwrap();
    let echoed = loop {
        match tokio::time::timeout(DEADLINE, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(c))) => break c,
            Some(Ok(_)) => {}
            other => panic!("expected the close echo, got {other:?}"),
        }
    };
    assert_eq!(echoed.map(|c| c.code), Some(CloseCode::Normal));
    h.shutdown().await;
}

#[tokio::test]
async fn upgrades_without_tlcp_or_without_websocket() {
    let h = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    // A client naming no subprotocol is served; none is named back.
    let (mut ws, chosen) = connect(&h, None).await;
    assert_eq!(chosen, None);
    ws.send(Message::text("wsok")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("WSOK\r\n"));
    // The server's preference decides among several offered.
    let (_, chosen) = connect(
        &h,
        Some("TLCP-2.5.0.lightstreamer.com, TLCP-2.4.0.lightstreamer.com"),
    )
    .await;
    assert_eq!(chosen.as_deref(), Some("TLCP-2.4.0.lightstreamer.com"));
    // A plain GET is not an upgrade.
    let plain = reqwest::get(format!("{}/lightstreamer", h.stream_url()))
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    h.shutdown().await;
}

//! The stream client against a scripted TLCP WebSocket server: the exact requests it sends
//! (subprotocol, create_session login, bind, control adds) and the CONERR 20 path (rebind
//! refused -> new session, subscription ids restart, everything resubscribed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use scalper_ig::stream::{
    SecretString, StreamClient, StreamConfig, StreamCredentialSource, StreamEvent, StreamStatus,
    Subscription,
};
use scalper_ig::{IgError, StreamCredentials};
use scalper_model::{AccountId, Epic};
use tokio::time::Instant;

#[derive(Default)]
struct Script {
    /// Every request text received, prefixed with the connection number.
    requests: Mutex<Vec<String>>,
    protocols: Mutex<Vec<String>>,
    connections: AtomicU32,
    sessions: AtomicU32,
}

#[allow(clippy::needless_pass_by_value)] // axum hands the headers over by value
fn upgrade(ws: WebSocketUpgrade, headers: HeaderMap, script: Arc<Script>) -> Response {
    let proto = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    script.protocols.lock().unwrap().push(proto);
    ws.protocols(["TLCP-2.4.0.lightstreamer.com"])
        .on_upgrade(move |socket| serve(socket, script))
}

async fn send(socket: &mut WebSocket, line: &str) {
    let _ = socket
        .send(Message::Text(format!("{line}\r\n").into()))
        .await;
}

fn param<'a>(text: &'a str, key: &str) -> &'a str {
    text.split(['\n', '&'])
        .find_map(|kv| kv.trim().strip_prefix(&format!("{key}=")))
        .unwrap_or("")
}

async fn serve(mut socket: WebSocket, script: Arc<Script>) {
    let conn = script.connections.fetch_add(1, Ordering::SeqCst) + 1;
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Text(text) = msg else { continue };
        let text = text.to_string();
        script
            .requests
            .lock()
            .unwrap()
            .push(format!("{conn}:{text}"));
        let name = text.lines().next().unwrap_or("").trim().to_string();
        match name.as_str() {
            "wsok" => send(&mut socket, "WSOK").await,
            "create_session" => {
                let n = script.sessions.fetch_add(1, Ordering::SeqCst) + 1;
                send(&mut socket, &format!("CONOK,S{n},50000,5000,*")).await;
                send(&mut socket, "SERVNAME,Scripted").await;
            }
            "bind_session" => send(&mut socket, "CONERR,20,Session%20not%20found").await,
            "control" => {
                let (req, sub) = (param(&text, "LS_reqId"), param(&text, "LS_subId"));
                send(&mut socket, &format!("REQOK,{req}")).await;
                send(&mut socket, &format!("SUBOK,{sub},1,4")).await;
                send(
                    &mut socket,
                    &format!("U,{sub},1,1.1|1.2|170000000000{conn}|DEAL%20"),
                )
                .await;
                if conn == 1 {
                    // Drop the first connection abruptly after one update.
                    return;
                }
            }
            _ => {}
        }
    }
}

struct Creds(String);

impl StreamCredentialSource for Creds {
    async fn credentials(&self) -> Result<StreamCredentials, IgError> {
        Ok(StreamCredentials {
            endpoint: self.0.clone(),
            account_id: AccountId::new("ABC123").unwrap(),
            cst: SecretString::from("c t"),
            xst: SecretString::from("x|y"),
        })
    }
    async fn force_relogin(&self) -> Result<(), IgError> {
        Ok(())
    }
}

async fn next_event(rx: &mut scalper_ig::stream::StreamReceivers) -> StreamEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.events.recv())
        .await
        .expect("timed out waiting for a stream event")
        .expect("event channel closed")
}

#[tokio::test]
async fn conerr_20_on_rebind_creates_a_new_session_and_resubscribes() {
    let script = Arc::new(Script::default());
    let s2 = script.clone();
    let app = axum::Router::new().route(
        "/lightstreamer",
        axum::routing::get(move |ws: WebSocketUpgrade, h: HeaderMap| {
            std::future::ready(upgrade(ws, h, s2.clone()))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let cfg = StreamConfig {
        initial_backoff: Duration::from_millis(10),
        silence_grace: Duration::from_millis(500),
        ..StreamConfig::default()
    };
    let (client, mut rx) = StreamClient::start(
        cfg,
        Arc::new(Creds(endpoint)),
        [Subscription::Price(epic.clone())],
    );

    // Collect statuses until the second session is connected.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut statuses = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no second session; saw {statuses:?}"
        );
        if let StreamEvent::Status(s) = next_event(&mut rx).await {
            let done =
                matches!(&s, StreamStatus::Connected { session_id, .. } if session_id == "S2");
            statuses.push(s);
            if done {
                break;
            }
        }
    }
    assert!(
        matches!(&statuses[0], StreamStatus::Connected { session_id, rebound: false, keepalive_ms: 5000 } if session_id == "S1"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, StreamStatus::Gap { .. })),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, StreamStatus::SessionRefused { code: 20, .. })),
        "{statuses:?}"
    );
    assert!(matches!(
        statuses.last(),
        Some(StreamStatus::Connected { rebound: false, .. })
    ));

    // The quote of the third connection (the new session) arrives: timestamp ...0003.
    let q = loop {
        let q = tokio::time::timeout_at(deadline, rx.quotes.recv())
            .await
            .expect("timed out waiting for the new session's quote")
            .unwrap();
        if q.ts.millis() == 1_700_000_000_003 {
            break q;
        }
    };
    assert_eq!(q.epic, epic);
    assert_eq!(q.bid.to_string(), "1.1");

    let requests = script.requests.lock().unwrap().clone();
    let protocols = script.protocols.lock().unwrap().clone();
    assert!(
        protocols
            .iter()
            .all(|p| p == "TLCP-2.4.0.lightstreamer.com"),
        "{protocols:?}"
    );
    let find =
        |prefix: &str| -> Vec<&String> { requests.iter().filter(|r| r.contains(prefix)).collect() };
    let creates = find("create_session");
    assert_eq!(creates.len(), 2, "{requests:#?}");
    assert!(
        creates[0]
            .starts_with("1:create_session\r\nLS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg&LS_user=ABC123"),
        "{}",
        creates[0]
    );
    // `|` and the space inside the tokens are percent-encoded.
    assert!(
        creates[0].contains("&LS_password=CST-c%20t%7CXST-x%7Cy"),
        "{}",
        creates[0]
    );
    let binds = find("bind_session");
    assert_eq!(binds.len(), 1, "{requests:#?}");
    assert!(
        binds[0].starts_with("2:bind_session\r\nLS_session=S1"),
        "{}",
        binds[0]
    );
    let adds = find("LS_op=add");
    assert_eq!(adds.len(), 2, "{requests:#?}");
    for add in &adds {
        // Subscription ids restart at 1 in each session.
        assert!(
            add.contains("&LS_subId=1&LS_mode=MERGE&LS_group=PRICE%3AABC123%3ACS.D.EURUSD.CFD.IP"),
            "{add}"
        );
        assert!(
            add.contains("&LS_data_adapter=Pricing&LS_snapshot=true"),
            "{add}"
        );
    }
    assert!(adds[1].starts_with("3:control"), "{}", adds[1]);
    client.shutdown().await;
}

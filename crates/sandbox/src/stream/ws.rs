//! The TLCP WebSocket transport at `/lightstreamer`: `wsok`, `create_session`,
//! `bind_session`, `control` (batched), `heartbeat`; forwards the bound session's lines.

use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::mpsc;

use scalper_ig_wire::tlcp::{parse_ws_request, Message};

use super::session::{Out, SINK_CAPACITY};
use super::Registry;

/// Accepts TLCP 2.x subprotocols (and clients that name none).
pub(crate) async fn upgrade(ws: WebSocketUpgrade, State(reg): State<Arc<Registry>>) -> Response {
    ws.protocols([
        "TLCP-2.4.0.lightstreamer.com",
        "TLCP-2.5.0.lightstreamer.com",
        "TLCP-2.3.0.lightstreamer.com",
    ])
    .on_upgrade(move |socket| serve(socket, reg))
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Out>>) -> Option<Out> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn send_line(socket: &mut WebSocket, line: &str) -> bool {
    socket
        .send(WsMessage::Text(format!("{line}\r\n").into()))
        .await
        .is_ok()
}

async fn serve(mut socket: WebSocket, reg: Arc<Registry>) {
    reg.start_listener();
    let mut session: Option<String> = None;
    let mut rx: Option<mpsc::Receiver<Out>> = None;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(WsMessage::Text(t))) => t.to_string(),
                    Some(Ok(WsMessage::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let req = parse_ws_request(&text);
                let form = req.forms.first().cloned().unwrap_or_default();
                let mut replies: Vec<Message> = Vec::new();
                match req.name.as_str() {
                    "wsok" => replies.push(Message::WsOk),
                    "create_session" | "bind_session" => {
                        let (tx, new_rx) = mpsc::channel(SINK_CAPACITY);
                        let res = if req.name == "create_session" {
                            reg.create(&form, tx).await
                        } else {
                            reg.bind(&form, tx).await
                        };
                        match res {
                            Ok(id) => {
                                session = Some(id);
                                rx = Some(new_rx);
                            }
                            Err(line) => replies.push(line),
                        }
                    }
                    "control" => {
                        for form in req.forms {
                            let id = form
                                .get("LS_session")
                                .map(str::to_string)
                                .or_else(|| session.clone())
                                .unwrap_or_default();
                            if let Err(line) = reg.control(&id, form, None).await {
                                replies.push(line);
                            }
                        }
                    }
                    "heartbeat" | "msg" => {
                        if let Some(r) = form.number("LS_reqId") {
                            replies.push(Message::ReqOk { req_id: Some(r) });
                        }
                    }
                    other => replies.push(Message::Error {
                        code: 61,
                        message: format!("Unsupported request {other}"),
                    }),
                }
                for r in replies {
                    if !send_line(&mut socket, &r.to_string()).await {
                        return;
                    }
                }
            }
            out = recv_opt(&mut rx) => match out {
                Some(Out::Line(l)) => {
                    if !send_line(&mut socket, &l).await {
                        return;
                    }
                }
                // Abrupt drop: no close frame.
                Some(Out::Close) => return,
                // Unbound (LOOP, or rebound elsewhere): the socket may bind again.
                None => rx = None,
            },
        }
    }
}

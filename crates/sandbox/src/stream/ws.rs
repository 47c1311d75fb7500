//! The TLCP WebSocket transport at `/lightstreamer`: `wsok`, `create_session`,
//! `bind_session`, `control` (batched), `heartbeat`; forwards the bound session's lines.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::mpsc;

use super::proto::{encode_text, parse_ws_request};
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
        .send(Message::Text(format!("{line}\r\n").into()))
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
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let req = parse_ws_request(&text);
                let form = req.forms.first().cloned().unwrap_or_default();
                let mut replies: Vec<String> = Vec::new();
                match req.name.as_str() {
                    "wsok" => replies.push("WSOK".into()),
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
                        if let Some(r) = form.get("LS_reqId") {
                            replies.push(format!("REQOK,{r}"));
                        }
                    }
                    other => replies.push(format!(
                        "ERROR,61,{}",
                        encode_text(&format!("Unsupported request {other}"))
                    )),
                }
                for r in replies {
                    if !send_line(&mut socket, &r).await {
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

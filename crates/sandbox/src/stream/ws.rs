//! The TLCP WebSocket transport at `/lightstreamer`: `wsok`, `create_session`,
//! `bind_session`, `control` (batched), `heartbeat`; forwards the bound session's lines.
//! The WebSocket itself is [`super::websocket`] on the connection hyper hands over.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use scalper_ig_wire::tlcp::{parse_ws_request, Message};

use super::session::{Out, SINK_CAPACITY};
use super::websocket::{self, FrameReader, Incoming, OpCode, WsError, MAX_MESSAGE};
use super::Registry;

/// The TLCP 2.x subprotocols, in order of preference; a client naming none is served too.
const PROTOCOLS: [&str; 3] = [
    "TLCP-2.4.0.lightstreamer.com",
    "TLCP-2.5.0.lightstreamer.com",
    "TLCP-2.3.0.lightstreamer.com",
];

/// How many client messages may wait for the connection's loop.
const INCOMING_CAPACITY: usize = 16;

/// Answers the upgrade request (`101` with the chosen subprotocol) and serves the connection
/// once hyper hands it over.
pub(crate) async fn upgrade(State(reg): State<Arc<Registry>>, mut req: Request) -> Response {
    let accepted = match websocket::handshake(req.method(), req.headers(), &PROTOCOLS) {
        Ok(a) => a,
        Err(e) => return (e.status(), e.to_string()).into_response(),
    };
    let Ok(accept) = HeaderValue::from_str(&accepted.accept) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(TokioIo::new(upgraded), reg).await,
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(p) = accepted.protocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
    }
    res
}

/// Aborts the connection's reader task when the connection ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads client messages in a task of their own (a frame read is not cancel-safe) and hands
/// them over; the last one handed over is a close or an error.
fn spawn_reader<R: AsyncRead + Unpin + Send + 'static>(
    read: R,
) -> (AbortOnDrop, mpsc::Receiver<Result<Incoming, WsError>>) {
    let (tx, rx) = mpsc::channel(INCOMING_CAPACITY);
    let task = tokio::spawn(async move {
        let mut frames = FrameReader::new(read, MAX_MESSAGE);
        loop {
            let msg = frames.next().await;
            let last = matches!(msg, Err(_) | Ok(Incoming::Close(_)));
            if tx.send(msg).await.is_err() || last {
                return;
            }
        }
    });
    (AbortOnDrop(task), rx)
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Out>>) -> Option<Out> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Sends one TLCP line as a text frame, written and flushed at once.
async fn send_line<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> bool {
    websocket::write_frame(w, OpCode::Text, format!("{line}\r\n").as_bytes())
        .await
        .is_ok()
}

/// The connection's TLCP state: the bound session and its lines.
#[derive(Default)]
struct Binding {
    session: Option<String>,
    rx: Option<mpsc::Receiver<Out>>,
}

async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(io: S, reg: Arc<Registry>) {
    reg.start_listener();
    let (read, mut write) = tokio::io::split(io);
    let (_reader, mut incoming) = spawn_reader(read);
    let mut bound = Binding::default();
    loop {
        tokio::select! {
            msg = incoming.recv() => {
                let text = match msg {
                    Some(Ok(Incoming::Text(t))) => t,
                    Some(Ok(Incoming::Ping(p))) => {
                        if websocket::write_frame(&mut write, OpCode::Pong, &p).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(Incoming::Pong(_) | Incoming::Binary(_))) => continue,
                    Some(Ok(Incoming::Close(c))) => {
                        // Echo the client's status code, then end the connection.
                        let _ = match c {
                            Some((code, _)) => websocket::write_close(&mut write, code, "").await,
                            None => websocket::write_frame(&mut write, OpCode::Close, &[]).await,
                        };
                        return;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "WebSocket connection ended");
                        if let Some(code) = e.close_code() {
                            let _ = websocket::write_close(&mut write, code, &e.to_string()).await;
                        }
                        return;
                    }
                    None => return,
                };
                for r in answer(&reg, &text, &mut bound).await {
                    if !send_line(&mut write, &r.to_string()).await {
                        return;
                    }
                }
            }
            out = recv_opt(&mut bound.rx) => match out {
                Some(Out::Line(l)) => {
                    if !send_line(&mut write, &l).await {
                        return;
                    }
                }
                // Abrupt drop: no close frame.
                Some(Out::Close) => return,
                // Unbound (LOOP, or rebound elsewhere): the socket may bind again.
                None => bound.rx = None,
            },
        }
    }
}

/// Carries out one TLCP request and returns the lines that answer it directly (a session's
/// own lines come through its receiver).
async fn answer(reg: &Arc<Registry>, text: &str, bound: &mut Binding) -> Vec<Message> {
    let req = parse_ws_request(text);
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
                    bound.session = Some(id);
                    bound.rx = Some(new_rx);
                }
                Err(line) => replies.push(line),
            }
        }
        "control" => {
            for form in req.forms {
                let id = form
                    .get("LS_session")
                    .map(str::to_string)
                    .or_else(|| bound.session.clone())
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
    replies
}

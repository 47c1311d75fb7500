//! The TLCP HTTP-streaming transport: `POST /lightstreamer/create_session.txt` and
//! `bind_session.txt` answer with a long-lived stream of lines (ending with `LOOP` after
//! `LS_content_length` bytes or at once for `LS_polling=true`); `control.txt` answers each
//! request line with REQOK/REQERR.

use std::sync::Arc;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

use scalper_ig_wire::tlcp::{parse_body_forms, Form, Message};

use super::session::{Out, SINK_CAPACITY};
use super::Registry;

const CONTENT_TYPE: &str = "text/enriched; charset=UTF-8";

fn form_of(query: Option<&str>, body: &str) -> Form {
    let mut form = parse_body_forms(body)
        .into_iter()
        .next()
        .unwrap_or_default();
    form.merge(&Form::parse(query.unwrap_or("")));
    form
}

fn text(lines: &str) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], lines.to_string()).into_response()
}

struct StreamState {
    rx: mpsc::Receiver<Out>,
    sent: u64,
    limit: Option<u64>,
    done: bool,
}

fn streaming(rx: mpsc::Receiver<Out>, limit: Option<u64>) -> Response {
    let state = StreamState {
        rx,
        sent: 0,
        limit,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let line = match st.rx.recv().await {
            Some(Out::Line(l)) => l,
            Some(Out::Close) | None => return None,
        };
        let mut chunk = format!("{line}\r\n");
        st.sent += chunk.len() as u64;
        if st.limit.is_some_and(|l| st.sent >= l) {
            // Content length reached: tell the client to rebind, then end (which unbinds).
            chunk.push_str(&Message::Loop { delay_ms: 0 }.to_string());
            chunk.push_str("\r\n");
            st.done = true;
        }
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(chunk)), st))
    });
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        Body::from_stream(stream),
    )
        .into_response()
}

pub(crate) async fn create_session(
    State(reg): State<Arc<Registry>>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let form = form_of(query.as_deref(), &body);
    let (tx, rx) = mpsc::channel(SINK_CAPACITY);
    match reg.create(&form, tx).await {
        Ok(_) => streaming(rx, form.number("LS_content_length")),
        Err(refusal) => text(&format!("{refusal}\r\n")),
    }
}

pub(crate) async fn bind_session(
    State(reg): State<Arc<Registry>>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let form = form_of(query.as_deref(), &body);
    let (tx, rx) = mpsc::channel(SINK_CAPACITY);
    match reg.bind(&form, tx).await {
        Ok(_) => streaming(rx, form.number("LS_content_length")),
        Err(refusal) => text(&format!("{refusal}\r\n")),
    }
}

pub(crate) async fn control(
    State(reg): State<Arc<Registry>>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let query = Form::parse(query.as_deref().unwrap_or(""));
    let mut out = String::new();
    for mut form in parse_body_forms(&body) {
        form.merge(&query);
        let id = form.get("LS_session").unwrap_or("").to_string();
        let (tx, rx) = oneshot::channel();
        let line = match reg.control(&id, form, Some(tx)).await {
            Ok(()) => rx.await.unwrap_or_else(|_| {
                Message::Error {
                    code: 20,
                    message: "Session ended".into(),
                }
                .to_string()
            }),
            Err(refusal) => refusal.to_string(),
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    text(&out)
}

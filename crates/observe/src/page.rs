//! The live status page at `/`: one HTML document served from the binary (no CDN, no external
//! script or style) that follows `/api/events`, a server-sent-events stream of the status JSON
//! sent each time the run publishes a snapshot (at most every 250 ms, at least every second),
//! with the run's last log lines when they changed. The page draws today's equity curve from
//! `/api/equity` and extends it with each event's `pnl.day_total`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::Stream;
use scalper_live::{StatusSnapshot, TelemetryView};

/// The page (HTML, CSS and JavaScript in one file).
pub const PAGE: &str = include_str!("page.html");

pub async fn index() -> Response {
    (
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        )],
        Html(PAGE),
    )
        .into_response()
}

/// `text/event-stream`: the status JSON now and after every new snapshot, with the last log
/// lines (`log`) in the first event and whenever a record was added since the previous one.
pub fn events(view: &TelemetryView) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = view.subscribe();
    let start = (rx, view.clone(), None::<u64>);
    let stream = futures_util::stream::unfold(start, |(mut rx, view, sent_seq)| async move {
        if sent_seq.is_some() && rx.changed().await.is_err() {
            return None;
        }
        let snapshot: Arc<StatusSnapshot> = rx.borrow_and_update().clone();
        let mut body = crate::http::status_json(&snapshot);
        let seq = view.log_seq();
        if sent_seq != Some(seq) {
            if let Some(obj) = body.as_object_mut() {
                obj.insert("log".into(), serde_json::json!(view.log_lines()));
            }
        }
        let event = Event::default().event("status").data(body.to_string());
        Some((Ok(event), (rx, view, Some(seq))))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

//! The live status page at `/`: one HTML document served from the binary (no CDN, no external
//! script or style) that follows `/api/events`, a server-sent-events stream of the status JSON
//! sent each time the run publishes a snapshot (at most every 250 ms, at least every second).

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

/// `text/event-stream`: the status JSON now and after every new snapshot.
pub fn events(view: &TelemetryView) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = view.subscribe();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let snapshot: Arc<StatusSnapshot> = rx.borrow_and_update().clone();
        let event = Event::default()
            .event("status")
            .data(crate::http::status_json(&snapshot).to_string());
        Some((Ok(event), (rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

//! Fakes for the alert channels' tests: an HTTP server (webhook, Slack, Telegram) answering a
//! scripted list of statuses, and a polling wait with a deadline.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Router;
use tokio::sync::watch;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub body: String,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
    open: watch::Receiver<bool>,
}

/// A fake HTTP endpoint on 127.0.0.1:0.
pub struct FakeHttp {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    gate: watch::Sender<bool>,
}

impl FakeHttp {
    /// Answers each request with the next `(status, body)` of `script`, then 200 `{"ok":true}`.
    pub async fn start(script: Vec<(u16, &str)>) -> Self {
        let (gate, open) = watch::channel(true);
        let shared = Shared {
            hits: Arc::default(),
            script: Arc::new(Mutex::new(
                script
                    .into_iter()
                    .map(|(s, b)| (s, b.to_string()))
                    .collect(),
            )),
            open,
        };
        let hits = shared.hits.clone();
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, hits, gate }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Holds every answer until [`FakeHttp::open`].
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    pub fn open(&self) {
        self.gate.send_replace(true);
    }
}

async fn handle(State(s): State<Shared>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    s.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let mut open = s.open.clone();
    let _ = open.wait_for(|o| *o).await;
    let next = s.script.lock().unwrap().pop_front();
    let (status, body) = next.unwrap_or((200, "{\"ok\":true}".into()));
    (StatusCode::from_u16(status).unwrap(), body)
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after 20 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

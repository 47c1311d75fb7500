//! One TLCP WebSocket connection: open with the TLCP subprotocol, send requests, read
//! notification lines (a WebSocket message may carry several CRLF-separated lines).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use scalper_ig_wire::tlcp::encode_request;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Transport-level failures (all of them lead to a reconnect).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    #[error("bad stream endpoint {endpoint:?}: {detail}")]
    BadEndpoint { endpoint: String, detail: String },
    #[error("could not open the stream WebSocket: {0}")]
    Connect(String),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("stream WebSocket error: {0}")]
    Io(String),
    #[error("the server closed the stream WebSocket")]
    Closed,
}

/// The WebSocket URL for an IG `lightstreamerEndpoint` (or a CONOK control link host).
pub fn ws_url(endpoint: &str, control_link: Option<&str>) -> Result<url::Url, ConnError> {
    let bad = |detail: &str| ConnError::BadEndpoint {
        endpoint: endpoint.to_string(),
        detail: detail.to_string(),
    };
    let mut url = url::Url::parse(endpoint.trim()).map_err(|e| bad(&e.to_string()))?;
    let scheme = match url.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        _ => return Err(bad("scheme must be http, https, ws or wss")),
    };
    url.set_scheme(scheme)
        .map_err(|()| bad("cannot switch to a WebSocket scheme"))?;
    if let Some(link) = control_link
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "*")
    {
        // A control link is a host, optionally with a port.
        let (host, port) = match link.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, p.parse::<u16>().ok()),
            _ => (link, None),
        };
        url.set_host(Some(host)).map_err(|e| bad(&e.to_string()))?;
        if port.is_some() {
            url.set_port(port)
                .map_err(|()| bad("bad control link port"))?;
        }
    }
    url.set_path("/lightstreamer");
    url.set_query(None);
    Ok(url)
}

/// Largest WebSocket message or frame read from the stream server. TLCP messages are lines
/// of a few hundred bytes; a broken or hostile server cannot make the client buffer more.
pub const MAX_WS_MESSAGE: usize = 4 * 1024 * 1024;

fn ws_limits() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
}

/// An open TLCP WebSocket.
#[derive(Debug)]
pub struct Conn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pending: VecDeque<String>,
}

impl Conn {
    /// Connects with subprotocol `TLCP-<version>.lightstreamer.com` and completes `wsok`.
    pub async fn open(
        url: &url::Url,
        protocol: &str,
        timeout: Duration,
    ) -> Result<Self, ConnError> {
        let mut req = url
            .as_str()
            .into_client_request()
            .map_err(|e| ConnError::Connect(e.to_string()))?;
        let proto = HeaderValue::from_str(&format!("{protocol}.lightstreamer.com"))
            .map_err(|e| ConnError::Connect(e.to_string()))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", proto);
        // Nagle off: an update or a control message must not wait for the peer's delayed ACK.
        let connect = tokio_tungstenite::connect_async_with_config(req, Some(ws_limits()), true);
        let (ws, _resp) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ConnError::Timeout("opening the stream WebSocket"))?
            .map_err(|e| ConnError::Connect(e.to_string()))?;
        let mut conn = Self {
            ws,
            pending: VecDeque::new(),
        };
        conn.send("wsok", None).await?;
        loop {
            let line = tokio::time::timeout(timeout, conn.next_line())
                .await
                .map_err(|_| ConnError::Timeout("waiting for WSOK"))??;
            if line == "WSOK" {
                return Ok(conn);
            }
        }
    }

    /// Sends `<name>\r\n<body>` (or just `<name>`).
    pub async fn send(&mut self, name: &str, body: Option<&str>) -> Result<(), ConnError> {
        self.ws
            .send(WsMessage::text(encode_request(name, body)))
            .await
            .map_err(|e| ConnError::Io(e.to_string()))
    }

    /// The next notification line.
    pub async fn next_line(&mut self) -> Result<String, ConnError> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Ok(line);
            }
            match self.ws.next().await {
                None | Some(Ok(WsMessage::Close(_))) => return Err(ConnError::Closed),
                Some(Err(e)) => return Err(ConnError::Io(e.to_string())),
                Some(Ok(WsMessage::Text(t))) => {
                    self.pending.extend(
                        t.as_str()
                            .split("\r\n")
                            .flat_map(|l| l.split('\n'))
                            .filter(|l| !l.is_empty())
                            .map(str::to_string),
                    );
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes politely (best effort).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ws_url("https://demo-apd.marketdatasystems.com", None).unwrap();
        assert_eq!(
            u.as_str(),
            "wss://demo-apd.marketdatasystems.com/lightstreamer"
        );
        let u = ws_url("http://127.0.0.1:8080/", None).unwrap();
        assert_eq!(u.as_str(), "ws://127.0.0.1:8080/lightstreamer");
        let u = ws_url(
            "https://demo-apd.marketdatasystems.com",
            Some("apd245f.marketdatasystems.com"),
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "wss://apd245f.marketdatasystems.com/lightstreamer"
        );
        let u = ws_url("http://127.0.0.1:8080", Some("*")).unwrap();
        assert_eq!(u.as_str(), "ws://127.0.0.1:8080/lightstreamer");
        let u = ws_url("http://127.0.0.1:8080", Some("localhost:9")).unwrap();
        assert_eq!(u.as_str(), "ws://localhost:9/lightstreamer");
        assert!(ws_url("ftp://x", None).is_err());
        assert!(ws_url("not a url", None).is_err());
    }
}

//! A small server-side WebSocket (RFC 6455) for the TLCP transport: the opening handshake
//! (`Sec-WebSocket-Accept`, subprotocol choice), masked client frames, text/binary/close/
//! ping/pong, fragmented messages and size limits. No extensions (no compression).
//!
//! Reading and writing are separate: [`FrameReader`] runs in its own task (a frame read is not
//! cancel-safe, so it is never raced against anything), [`write_frame`] sends one frame with a
//! single write straight to the socket, so a streamed line is never held back in a buffer.

use axum::http::{header, HeaderMap, HeaderValue, Method};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest message (all fragments together) the server accepts. TLCP requests are short
/// lines; a control batch of a thousand subscriptions stays well below this.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: u8 = 125;

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Why an upgrade request was refused, with the HTTP status it is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("a WebSocket upgrade must be a GET")]
    NotGet,
    #[error("`Connection` header does not contain `upgrade`")]
    Connection,
    #[error("`Upgrade` header is not `websocket`")]
    Upgrade,
    #[error("`Sec-WebSocket-Version` is not 13")]
    Version,
    #[error("`Sec-WebSocket-Key` is missing")]
    Key,
}

impl HandshakeError {
    pub(crate) fn status(self) -> axum::http::StatusCode {
        match self {
            Self::NotGet => axum::http::StatusCode::METHOD_NOT_ALLOWED,
            Self::Version => axum::http::StatusCode::UPGRADE_REQUIRED,
            _ => axum::http::StatusCode::BAD_REQUEST,
        }
    }
}

/// What the `101 Switching Protocols` answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub accept: String,
    /// The first of the server's `protocols` that the client offered; `None` when the client
    /// offered none of them (the answer then names no subprotocol).
    pub protocol: Option<&'static str>,
}

/// Checks an upgrade request and chooses the subprotocol: the first of `protocols` (in the
/// server's order of preference) that the client lists in `Sec-WebSocket-Protocol`.
pub(crate) fn handshake(
    method: &Method,
    headers: &HeaderMap,
    protocols: &[&'static str],
) -> Result<Accepted, HandshakeError> {
    if method != Method::GET {
        return Err(HandshakeError::NotGet);
    }
    let tokens = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if !tokens(header::CONNECTION)
        .iter()
        .any(|t| t.eq_ignore_ascii_case("upgrade"))
    {
        return Err(HandshakeError::Connection);
    }
    if !tokens(header::UPGRADE)
        .iter()
        .any(|t| t.eq_ignore_ascii_case("websocket"))
    {
        return Err(HandshakeError::Upgrade);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        return Err(HandshakeError::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(HandshakeError::Key)?;
    let offered = tokens(header::SEC_WEBSOCKET_PROTOCOL);
    let protocol = protocols
        .iter()
        .copied()
        .find(|p| offered.iter().any(|o| o == p));
    Ok(Accepted {
        accept: accept_key(key.as_bytes()),
        protocol,
    })
}

/// Frame opcodes (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(b: u8) -> Option<Self> {
        Some(match b {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The client's close frame: its status code and reason, when it sent them.
    Close(Option<(u16, String)>),
}

/// Why the connection cannot go on; [`WsError::close_code`] is the code to close it with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WsError {
    #[error("connection read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("text message is not UTF-8")]
    Utf8,
    #[error("message of more than {MAX_MESSAGE} bytes")]
    TooBig,
}

impl WsError {
    /// The close status for the error (RFC 6455 §7.4.1); `None` when the socket is gone.
    pub(crate) fn close_code(&self) -> Option<u16> {
        match self {
            Self::Io(_) => None,
            Self::Protocol(_) => Some(1002),
            Self::Utf8 => Some(1007),
            Self::TooBig => Some(1009),
        }
    }
}

/// Reads client frames and assembles them into messages.
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    io: R,
    max_message: usize,
    /// The data message being assembled from fragments: its opcode and the payload so far.
    partial: Option<(OpCode, Vec<u8>)>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(io: R, max_message: usize) -> Self {
        Self {
            io,
            max_message,
            partial: None,
        }
    }

    /// The next complete message. Not cancel-safe: call it from a task that only reads.
    pub(crate) async fn next(&mut self) -> Result<Incoming, WsError> {
        loop {
            let (fin, op, payload) = self.frame().await?;
            if op.is_control() {
                return control(op, payload);
            }
            let (op, data) = match (op, self.partial.take()) {
                (OpCode::Continuation, None) => {
                    return Err(WsError::Protocol("continuation without a message"))
                }
                (OpCode::Continuation, Some((op, mut data))) => {
                    data.extend_from_slice(&payload);
                    (op, data)
                }
                (_, Some(_)) => {
                    return Err(WsError::Protocol("new message inside a fragmented one"))
                }
                (op, None) => (op, payload),
            };
            if !fin {
                self.partial = Some((op, data));
                continue;
            }
            return match op {
                OpCode::Text => String::from_utf8(data)
                    .map(Incoming::Text)
                    .map_err(|_| WsError::Utf8),
                _ => Ok(Incoming::Binary(data)),
            };
        }
    }

    /// One frame: `(fin, opcode, unmasked payload)`, checked against RFC 6455's rules for
    /// frames from a client and against the size limit (fragments so far included).
    async fn frame(&mut self) -> Result<(bool, OpCode, Vec<u8>), WsError> {
        let mut head = [0u8; 2];
        self.io.read_exact(&mut head).await?;
        let fin = head[0] & 0x80 != 0;
        if head[0] & 0x70 != 0 {
            return Err(WsError::Protocol("reserved bits set without an extension"));
        }
        let op = OpCode::from_bits(head[0] & 0x0F).ok_or(WsError::Protocol("unknown opcode"))?;
        if head[1] & 0x80 == 0 {
            return Err(WsError::Protocol("client frame not masked"));
        }
        let len = match head[1] & 0x7F {
            126 => u64::from(self.io.read_u16().await?),
            127 => self.io.read_u64().await?,
            n => u64::from(n),
        };
        if op.is_control() && (!fin || len > u64::from(MAX_CONTROL)) {
            return Err(WsError::Protocol("fragmented or oversized control frame"));
        }
        let so_far = self.partial.as_ref().map_or(0, |(_, d)| d.len());
        let len = usize::try_from(len).map_err(|_| WsError::TooBig)?;
        if !op.is_control() && so_far.saturating_add(len) > self.max_message {
            return Err(WsError::TooBig);
        }
        let mut mask = [0u8; 4];
        self.io.read_exact(&mut mask).await?;
        let mut payload = vec![0u8; len];
        self.io.read_exact(&mut payload).await?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        Ok((fin, op, payload))
    }
}

fn control(op: OpCode, payload: Vec<u8>) -> Result<Incoming, WsError> {
    Ok(match op {
        OpCode::Ping => Incoming::Ping(payload),
        OpCode::Pong => Incoming::Pong(payload),
        _ => match payload.len() {
            0 => Incoming::Close(None),
            1 => return Err(WsError::Protocol("close frame of one byte")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec()).map_err(|_| WsError::Utf8)?;
                Incoming::Close(Some((code, reason)))
            }
        },
    })
}

/// Writes one unmasked, unfragmented frame in a single write (header and payload together).
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    io: &mut W,
    op: OpCode,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(payload.len() + 10);
    buf.push(0x80 | op.bits());
    // Payload length: 7 bits up to 125, else 126 + 16 bits, else 127 + 64 bits.
    let len = payload.len();
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(n), _) if n <= MAX_CONTROL => buf.push(n),
        (_, Ok(n)) => {
            buf.push(126);
            buf.extend_from_slice(&n.to_be_bytes());
        }
        _ => {
            buf.push(127);
            buf.extend_from_slice(&u64::try_from(len).unwrap_or(u64::MAX).to_be_bytes());
        }
    }
    buf.extend_from_slice(payload);
    io.write_all(&buf).await?;
    io.flush().await
}

/// Writes a close frame with `code` and a short reason.
pub(crate) async fn write_close<W: AsyncWrite + Unpin>(
    io: &mut W,
    code: u16,
    reason: &str,
) -> std::io::Result<()> {
    let mut payload = code.to_be_bytes().to_vec();
    // A close payload is a control frame: at most 125 bytes.
    payload.extend(reason.bytes().take(usize::from(MAX_CONTROL) - 2));
    write_frame(io, OpCode::Close, &payload).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

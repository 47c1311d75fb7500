//! The handshake, the frame reader's rules for client frames, and the frame writer.

use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: masked (unless `masked` is false), with the shortest length encoding
/// unless `long` forces the 64-bit one.
fn frame_with(fin: bool, op: u8, payload: &[u8], masked: bool, long: bool) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | op];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n <= 125 && !long => out.push(m | u8::try_from(n).unwrap()),
        n if n <= 0xFFFF && !long => {
            out.push(m | 0x7E);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
        n => {
            out.push(m | 0x7F);
            out.extend_from_slice(&u64::try_from(n).unwrap().to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(fin, op, payload, true, false)
}

/// Every message the reader yields from `bytes`, then the error that ended it.
async fn read_all(bytes: Vec<u8>, max: usize) -> (Vec<Incoming>, WsError) {
    let mut r = FrameReader::new(&bytes[..], max);
    let mut got = Vec::new();
    loop {
        match r.next().await {
            Ok(m) => got.push(m),
            Err(e) => return (got, e),
        }
    }
}

#[test]
fn accept_key_is_rfc_6455s_example() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn handshake_checks_the_request_and_chooses_the_servers_preferred_protocol() {
    const OURS: &[&str] = &[
        "TLCP-2.4.0.lightstreamer.com",
        "TLCP-2.5.0.lightstreamer.com",
    ];
    let req = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    };
    let base = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        req(&all)
    };
    let ok = handshake(&Method::GET, &with(&[]), OURS).unwrap();
    assert_eq!(ok.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(ok.protocol, None, "no protocol offered, none named");
    let h = with(&[("sec-websocket-protocol", "TLCP-2.5.0.lightstreamer.com")]);
    assert_eq!(
        handshake(&Method::GET, &h, OURS).unwrap().protocol,
        Some("TLCP-2.5.0.lightstreamer.com")
    );
    // Several offered (in one header or several): the server's order decides.
    let h = with(&[
        ("sec-websocket-protocol", "x, TLCP-2.5.0.lightstreamer.com"),
        ("sec-websocket-protocol", "TLCP-2.4.0.lightstreamer.com"),
    ]);
    assert_eq!(
        handshake(&Method::GET, &h, OURS).unwrap().protocol,
        Some("TLCP-2.4.0.lightstreamer.com")
    );
    let h = with(&[("sec-websocket-protocol", "chat")]);
    assert_eq!(handshake(&Method::GET, &h, OURS).unwrap().protocol, None);

    assert_eq!(
        handshake(&Method::POST, &with(&[]), OURS).unwrap_err(),
        HandshakeError::NotGet
    );
    let without = |name: &str| {
        req(&base
            .iter()
            .copied()
            .filter(|(k, _)| *k != name)
            .collect::<Vec<_>>())
    };
    for (name, err) in [
        ("connection", HandshakeError::Connection),
        ("upgrade", HandshakeError::Upgrade),
        ("sec-websocket-version", HandshakeError::Version),
        ("sec-websocket-key", HandshakeError::Key),
    ] {
        assert_eq!(
            handshake(&Method::GET, &without(name), OURS).unwrap_err(),
            err,
            "{name}"
        );
    }
    let mut old = without("sec-websocket-version");
    old.insert("sec-websocket-version", HeaderValue::from_static("8"));
    assert_eq!(
        handshake(&Method::GET, &old, OURS).unwrap_err(),
        HandshakeError::Version
    );
    assert_eq!(
        HandshakeError::Version.status(),
        axum::http::StatusCode::UPGRADE_REQUIRED
    );
}

#[tokio::test]
async fn masked_messages_of_every_length_encoding_are_read() {
    let mid = "m".repeat(300);
    let mut bytes = frame(true, 0x1, b"wsok");
    bytes.extend(frame(true, 0x1, mid.as_bytes()));
    bytes.extend(frame_with(true, 0x2, b"\x00\x01", true, true));
    bytes.extend(frame(true, 0x1, b""));
    let (got, end) = read_all(bytes, MAX_MESSAGE).await;
    assert_eq!(
        got,
        vec![
            Incoming::Text("wsok".into()),
            Incoming::Text(mid),
            Incoming::Binary(vec![0, 1]),
            Incoming::Text(String::new()),
        ]
    );
    assert!(matches!(end, WsError::Io(_)), "ends at EOF: {end:?}");
    assert_eq!(end.close_code(), None);
}

#[tokio::test]
async fn fragments_are_assembled_and_control_frames_may_come_between_them() {
    let mut bytes = frame(false, 0x1, b"control\r\nLS_");
    bytes.extend(frame(true, 0x9, b"are you there"));
    bytes.extend(frame(false, 0x0, "reqId=1 é".as_bytes()));
    bytes.extend(frame(true, 0x0, b"\r\n"));
    bytes.extend(frame(true, 0x8, b"\x03\xe8bye"));
    let (got, _) = read_all(bytes, MAX_MESSAGE).await;
    assert_eq!(
        got,
        vec![
            Incoming::Ping(b"are you there".to_vec()),
            Incoming::Text("control\r\nLS_reqId=1 é\r\n".into()),
            Incoming::Close(Some((1000, "bye".into()))),
        ]
    );
    let (got, _) = read_all(frame(true, 0x8, b""), MAX_MESSAGE).await;
    assert_eq!(got, vec![Incoming::Close(None)]);
    let (got, _) = read_all(frame(true, 0xA, b"p"), MAX_MESSAGE).await;
    assert_eq!(got, vec![Incoming::Pong(b"p".to_vec())]);
}

#[tokio::test]
async fn frames_breaking_the_rules_end_the_connection_with_the_right_code() {
    struct Case {
        name: &'static str,
        bytes: Vec<u8>,
        code: u16,
    }
    let mut two_starts = frame(false, 0x1, b"a");
    two_starts.extend(frame(true, 0x1, b"b"));
    let mut too_big_in_parts = frame(false, 0x1, &[b'a'; 60]);
    too_big_in_parts.extend(frame(true, 0x0, &[b'a'; 60]));
    let cases = [
        Case {
            name: "unmasked",
            bytes: frame_with(true, 0x1, b"wsok", false, false),
            code: 1002,
        },
        Case {
            name: "reserved bit",
            bytes: {
                let mut f = frame(true, 0x1, b"x");
                f[0] |= 0x40;
                f
            },
            code: 1002,
        },
        Case {
            name: "unknown opcode",
            bytes: frame(true, 0x3, b"x"),
            code: 1002,
        },
        Case {
            name: "continuation first",
            bytes: frame(true, 0x0, b"x"),
            code: 1002,
        },
        Case {
            name: "new message inside a fragmented one",
            bytes: two_starts,
            code: 1002,
        },
        Case {
            name: "fragmented ping",
            bytes: frame(false, 0x9, b"x"),
            code: 1002,
        },
        Case {
            name: "oversized ping",
            bytes: frame(true, 0x9, &[0; 126]),
            code: 1002,
        },
        Case {
            name: "close of one byte",
            bytes: frame(true, 0x8, b"\x03"),
            code: 1002,
        },
        Case {
            name: "text not UTF-8",
            bytes: frame(true, 0x1, b"\xff\xfe"),
            code: 1007,
        },
        Case {
            name: "one frame too big",
            bytes: frame(true, 0x1, &[b'a'; 101]),
            code: 1009,
        },
        Case {
            name: "too big in parts",
            bytes: too_big_in_parts,
            code: 1009,
        },
        Case {
            name: "absurd 64-bit length",
            bytes: {
                let mut f = vec![0x81, 0x80 | 127];
                f.extend_from_slice(&u64::MAX.to_be_bytes());
                f
            },
            code: 1009,
        },
    ];
    for c in cases {
        let (got, end) = read_all(c.bytes, 100).await;
        assert_eq!(got, vec![], "{}", c.name);
        assert_eq!(end.close_code(), Some(c.code), "{}: {end}", c.name);
    }
}

#[tokio::test]
async fn written_frames_are_unmasked_with_the_shortest_length() {
    for (len, header) in [
        (0usize, vec![0x81, 0]),
        (125, vec![0x81, 125]),
        (126, vec![0x81, 126, 0, 126]),
        (65_535, vec![0x81, 126, 0xFF, 0xFF]),
        (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let payload = vec![b'x'; len];
        let mut out = Vec::new();
        write_frame(&mut out, OpCode::Text, &payload).await.unwrap();
        assert_eq!(out[..header.len()], header[..], "{len}");
        assert_eq!(out[header.len()..], payload[..], "{len}");
    }
    let mut out = Vec::new();
    write_close(&mut out, 1002, "protocol error").await.unwrap();
    assert_eq!(out[..4], [0x88, 16, 0x03, 0xEA]);
    assert_eq!(&out[4..], b"protocol error");
    let mut out = Vec::new();
    write_close(&mut out, 1000, &"r".repeat(200)).await.unwrap();
    assert_eq!(out[1], 125, "a close frame stays a control frame");
}

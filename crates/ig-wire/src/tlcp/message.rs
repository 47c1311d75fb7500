//! Server notifications (`CONOK`, `U`, `REQERR`...): [`parse_line`] decodes one line into a
//! [`Message`] (the client), `Display` encodes a [`Message`] into its line (the sandbox).
//! Pure: no I/O, no state; a malformed line gives a [`DecodeError`], never a panic.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use super::DecodeError;

/// One notification from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `WSOK`: the WebSocket is ready for requests.
    WsOk,
    /// `CONOK,<session>,<requestLimit>,<keepAliveMs>,<controlLink>`.
    ConOk {
        session_id: String,
        request_limit: u64,
        keepalive_ms: u64,
        control_link: String,
    },
    /// `CONERR,<code>,<message>`: the create/bind was refused.
    ConErr { code: i32, message: String },
    /// `END,<cause>,<message>`: the session is closed for good.
    End { cause: i32, message: String },
    /// `LOOP,<delayMs>`: rebind the session now.
    Loop { delay_ms: u64 },
    /// `ERROR,<code>,<message>`: a request on the connection was malformed.
    Error { code: i32, message: String },
    /// `PROBE`: keep-alive.
    Probe,
    /// `NOOP,...`: ignore.
    Noop,
    /// `SYNC,<seconds since session start>`.
    Sync { seconds: u64 },
    /// `SERVNAME,<name>`.
    ServName(String),
    /// `CLIENTIP,<ip>`.
    ClientIp(String),
    /// `CONS,<bandwidth>|unlimited|unmanaged`.
    Cons(String),
    /// `PROG,<count of data notifications so far>`.
    Prog { count: u64 },
    /// `REQOK,<reqId>` (a reqId may be missing for some server-originated requests).
    ReqOk { req_id: Option<u64> },
    /// `REQERR,<reqId>,<code>,<message>`: a control request was refused (IG uses -1).
    ReqErr {
        req_id: u64,
        code: i32,
        message: String,
    },
    /// `SUBOK,<subId>,<items>,<fields>`.
    SubOk {
        sub_id: u64,
        items: usize,
        fields: usize,
    },
    /// `SUBCMD,...` (COMMAND mode, unused by IG) reduced to its sub id and sizes.
    SubCmd {
        sub_id: u64,
        items: usize,
        fields: usize,
    },
    /// `UNSUB,<subId>`.
    Unsub { sub_id: u64 },
    /// `EOS,<subId>,<item>`: end of snapshot.
    Eos { sub_id: u64, item: usize },
    /// `CS,<subId>,<item>`: clear snapshot.
    Cs { sub_id: u64, item: usize },
    /// `OV,<subId>,<item>,<lost>`: the server dropped `lost` updates.
    Ov { sub_id: u64, item: usize, lost: u64 },
    /// `CONF,<subId>,<maxFreq>,filtered|unfiltered`.
    Conf {
        sub_id: u64,
        max_frequency: String,
        filtered: bool,
    },
    /// `U,<subId>,<item>,<v1|v2|...>` with the raw, still encoded values.
    Update {
        sub_id: u64,
        item: usize,
        values: String,
    },
    /// `MSGDONE`/`MSGFAIL`/`CLIENTIP`-like lines this client does not use, and unknown tags.
    Other(String),
}

/// Characters escaped in a free-text argument: controls (CR, LF), `%`, `,` and `|`.
const TEXT: &AsciiSet = &CONTROLS.add(b'%').add(b',').add(b'|');

/// Percent-encodes a free-text argument (messages, names, control links).
pub fn encode_text(s: &str) -> String {
    utf8_percent_encode(s, TEXT).to_string()
}

/// Percent-decodes a text argument (messages, names), replacing bad UTF-8.
pub fn decode_text(s: &str) -> String {
    match percent_decode_str(s).decode_utf8_lossy() {
        Cow::Borrowed(b) => b.to_string(),
        Cow::Owned(o) => o,
    }
}

fn field<'a>(
    parts: &[&'a str],
    i: usize,
    tag: &'static str,
    line: &str,
) -> Result<&'a str, DecodeError> {
    parts
        .get(i)
        .copied()
        .ok_or_else(|| DecodeError::MissingField {
            tag,
            line: snippet(line),
        })
}

fn num<T: std::str::FromStr>(
    parts: &[&str],
    i: usize,
    tag: &'static str,
    name: &'static str,
    line: &str,
) -> Result<T, DecodeError> {
    field(parts, i, tag, line)?
        .trim()
        .parse()
        .map_err(|_| DecodeError::BadNumber {
            tag,
            field: name,
            line: snippet(line),
        })
}

/// The first 200 characters of a line, for error messages.
fn snippet(line: &str) -> String {
    line.chars().take(200).collect()
}

/// Parses one notification line (without its CRLF).
pub fn parse_line(line: &str) -> Result<Message, DecodeError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (tag, _) = line.split_once(',').unwrap_or((line, ""));
    if tag == "U" {
        // Values may contain commas only percent-encoded, but keep everything after the
        // third comma intact regardless.
        let mut it = line.splitn(4, ',');
        let parts: Vec<&str> = (&mut it).collect();
        let sub_id = num(&parts, 1, "U", "subscription id", line)?;
        let item = num(&parts, 2, "U", "item index", line)?;
        let values = field(&parts, 3, "U", line)?.to_string();
        return Ok(Message::Update {
            sub_id,
            item,
            values,
        });
    }
    let parts: Vec<&str> = line.split(',').collect();
    // Free-text arguments are the rest of the line after a fixed number of commas.
    let rest = |n: usize| -> String {
        line.splitn(n + 1, ',')
            .nth(n)
            .map(decode_text)
            .unwrap_or_default()
    };
    let msg = match tag {
        "WSOK" => Message::WsOk,
        "CONOK" => Message::ConOk {
            session_id: field(&parts, 1, "CONOK", line)?.to_string(),
            request_limit: num(&parts, 2, "CONOK", "request limit", line)?,
            keepalive_ms: num(&parts, 3, "CONOK", "keep-alive", line)?,
            control_link: decode_text(field(&parts, 4, "CONOK", line)?),
        },
        "CONERR" => Message::ConErr {
            code: num(&parts, 1, "CONERR", "code", line)?,
            message: rest(2),
        },
        "END" => Message::End {
            cause: num(&parts, 1, "END", "cause", line)?,
            message: rest(2),
        },
        "ERROR" => Message::Error {
            code: num(&parts, 1, "ERROR", "code", line)?,
            message: rest(2),
        },
        "LOOP" => Message::Loop {
            delay_ms: if parts.len() > 1 {
                num(&parts, 1, "LOOP", "delay", line)?
            } else {
                0
            },
        },
        "PROBE" => Message::Probe,
        "NOOP" => Message::Noop,
        "SYNC" => Message::Sync {
            seconds: num(&parts, 1, "SYNC", "seconds", line)?,
        },
        "SERVNAME" => Message::ServName(rest(1)),
        "CLIENTIP" => Message::ClientIp(rest(1)),
        "CONS" => Message::Cons(rest(1)),
        "PROG" => Message::Prog {
            count: num(&parts, 1, "PROG", "count", line)?,
        },
        "REQOK" => Message::ReqOk {
            req_id: match parts.get(1) {
                Some(_) => Some(num(&parts, 1, "REQOK", "request id", line)?),
                None => None,
            },
        },
        "REQERR" => Message::ReqErr {
            req_id: num(&parts, 1, "REQERR", "request id", line)?,
            code: num(&parts, 2, "REQERR", "code", line)?,
            message: rest(3),
        },
        "SUBOK" | "SUBCMD" => {
            let sub_id = num(&parts, 1, "SUBOK", "subscription id", line)?;
            let items = num(&parts, 2, "SUBOK", "item count", line)?;
            let fields = num(&parts, 3, "SUBOK", "field count", line)?;
            if tag == "SUBOK" {
                Message::SubOk {
                    sub_id,
                    items,
                    fields,
                }
            } else {
                Message::SubCmd {
                    sub_id,
                    items,
                    fields,
                }
            }
        }
        "UNSUB" => Message::Unsub {
            sub_id: num(&parts, 1, "UNSUB", "subscription id", line)?,
        },
        "EOS" => Message::Eos {
            sub_id: num(&parts, 1, "EOS", "subscription id", line)?,
            item: num(&parts, 2, "EOS", "item index", line)?,
        },
        "CS" => Message::Cs {
            sub_id: num(&parts, 1, "CS", "subscription id", line)?,
            item: num(&parts, 2, "CS", "item index", line)?,
        },
        "OV" => Message::Ov {
            sub_id: num(&parts, 1, "OV", "subscription id", line)?,
            item: num(&parts, 2, "OV", "item index", line)?,
            lost: num(&parts, 3, "OV", "lost count", line)?,
        },
        "CONF" => Message::Conf {
            sub_id: num(&parts, 1, "CONF", "subscription id", line)?,
            max_frequency: field(&parts, 2, "CONF", line)?.to_string(),
            filtered: parts.get(3).is_some_and(|f| *f == "filtered"),
        },
        _ => Message::Other(snippet(line)),
    };
    Ok(msg)
}

/// The notification line (without CRLF) for a message: what a server sends. Free text is
/// percent-encoded so that [`parse_line`] gives the same message back.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WsOk => f.write_str("WSOK"),
            Self::ConOk {
                session_id,
                request_limit,
                keepalive_ms,
                control_link,
            } => write!(
                f,
                "CONOK,{session_id},{request_limit},{keepalive_ms},{}",
                encode_text(control_link)
            ),
            Self::ConErr { code, message } => write!(f, "CONERR,{code},{}", encode_text(message)),
            Self::End { cause, message } => write!(f, "END,{cause},{}", encode_text(message)),
            Self::Loop { delay_ms } => write!(f, "LOOP,{delay_ms}"),
            Self::Error { code, message } => write!(f, "ERROR,{code},{}", encode_text(message)),
            Self::Probe => f.write_str("PROBE"),
            Self::Noop => f.write_str("NOOP"),
            Self::Sync { seconds } => write!(f, "SYNC,{seconds}"),
            Self::ServName(s) => write!(f, "SERVNAME,{}", encode_text(s)),
            Self::ClientIp(s) => write!(f, "CLIENTIP,{}", encode_text(s)),
            Self::Cons(s) => write!(f, "CONS,{}", encode_text(s)),
            Self::Prog { count } => write!(f, "PROG,{count}"),
            Self::ReqOk { req_id: Some(id) } => write!(f, "REQOK,{id}"),
            Self::ReqOk { req_id: None } => f.write_str("REQOK"),
            Self::ReqErr {
                req_id,
                code,
                message,
            } => write!(f, "REQERR,{req_id},{code},{}", encode_text(message)),
            Self::SubOk {
                sub_id,
                items,
                fields,
            } => write!(f, "SUBOK,{sub_id},{items},{fields}"),
            Self::SubCmd {
                sub_id,
                items,
                fields,
            } => write!(f, "SUBCMD,{sub_id},{items},{fields}"),
            Self::Unsub { sub_id } => write!(f, "UNSUB,{sub_id}"),
            Self::Eos { sub_id, item } => write!(f, "EOS,{sub_id},{item}"),
            Self::Cs { sub_id, item } => write!(f, "CS,{sub_id},{item}"),
            Self::Ov { sub_id, item, lost } => write!(f, "OV,{sub_id},{item},{lost}"),
            Self::Conf {
                sub_id,
                max_frequency,
                filtered,
            } => write!(
                f,
                "CONF,{sub_id},{max_frequency},{}",
                if *filtered { "filtered" } else { "unfiltered" }
            ),
            Self::Update {
                sub_id,
                item,
                values,
            } => write!(f, "U,{sub_id},{item},{values}"),
            Self::Other(line) => f.write_str(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lines_parse() {
        let cases: Vec<(&str, Message)> = vec![
            ("WSOK", Message::WsOk),
            (
                "CONOK,S98d4a1b2c3,50000,5000,apd245f.marketdatasystems.com",
                Message::ConOk {
                    session_id: "S98d4a1b2c3".into(),
                    request_limit: 50000,
                    keepalive_ms: 5000,
                    control_link: "apd245f.marketdatasystems.com".into(),
                },
            ),
            (
                "CONOK,Sx,50000,5000,*\r\n",
                Message::ConOk {
                    session_id: "Sx".into(),
                    request_limit: 50000,
                    keepalive_ms: 5000,
                    control_link: "*".into(),
                },
            ),
            (
                "CONERR,1,User%2Fpassword check failed",
                Message::ConErr {
                    code: 1,
                    message: "User/password check failed".into(),
                },
            ),
            (
                "CONERR,65,Unsupported protocol version: 2.5.0",
                Message::ConErr {
                    code: 65,
                    message: "Unsupported protocol version: 2.5.0".into(),
                },
            ),
            (
                "END,48,Maximum session duration reached",
                Message::End {
                    cause: 48,
                    message: "Maximum session duration reached".into(),
                },
            ),
            ("LOOP,0", Message::Loop { delay_ms: 0 }),
            ("LOOP", Message::Loop { delay_ms: 0 }),
            ("PROBE", Message::Probe),
            ("NOOP,keepalive", Message::Noop),
            ("SYNC,42", Message::Sync { seconds: 42 }),
            (
                "SERVNAME,Lightstreamer HTTPS NSE Listener",
                Message::ServName("Lightstreamer HTTPS NSE Listener".into()),
            ),
            ("CLIENTIP,10.1.2.3", Message::ClientIp("10.1.2.3".into())),
            ("CONS,unlimited", Message::Cons("unlimited".into())),
            ("PROG,1234", Message::Prog { count: 1234 }),
            ("REQOK,7", Message::ReqOk { req_id: Some(7) }),
            ("REQOK", Message::ReqOk { req_id: None }),
            (
                "REQERR,3,-1,Invalid account type",
                Message::ReqErr {
                    req_id: 3,
                    code: -1,
                    message: "Invalid account type".into(),
                },
            ),
            (
                "REQERR,4,-1,Insufficient%20permissions, really",
                Message::ReqErr {
                    req_id: 4,
                    code: -1,
                    message: "Insufficient permissions, really".into(),
                },
            ),
            (
                "SUBOK,1,1,4",
                Message::SubOk {
                    sub_id: 1,
                    items: 1,
                    fields: 4,
                },
            ),
            ("UNSUB,1", Message::Unsub { sub_id: 1 }),
            ("EOS,2,1", Message::Eos { sub_id: 2, item: 1 }),
            ("CS,2,1", Message::Cs { sub_id: 2, item: 1 }),
            (
                "OV,2,1,17",
                Message::Ov {
                    sub_id: 2,
                    item: 1,
                    lost: 17,
                },
            ),
            (
                "CONF,1,20.0,filtered",
                Message::Conf {
                    sub_id: 1,
                    max_frequency: "20.0".into(),
                    filtered: true,
                },
            ),
            (
                "CONF,1,unlimited,unfiltered",
                Message::Conf {
                    sub_id: 1,
                    max_frequency: "unlimited".into(),
                    filtered: false,
                },
            ),
            (
                "U,1,1,1700000000123|1.08123|1.08131|DEAL%20",
                Message::Update {
                    sub_id: 1,
                    item: 1,
                    values: "1700000000123|1.08123|1.08131|DEAL%20".into(),
                },
            ),
            (
                "U,3,1,{\"a\":1,\"b\":2}||#",
                Message::Update {
                    sub_id: 3,
                    item: 1,
                    values: "{\"a\":1,\"b\":2}||#".into(),
                },
            ),
            ("MSGDONE,*,1", Message::Other("MSGDONE,*,1".into())),
        ];
        for (line, want) in cases {
            let got = parse_line(line).unwrap();
            assert_eq!(got, want, "line {line:?}");
            // Encoding gives a line that decodes to the same message.
            assert_eq!(parse_line(&got.to_string()).unwrap(), want, "line {line:?}");
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for line in [
            "CONOK,S1,abc,5000,*",
            "CONOK,S1",
            "CONERR",
            "CONERR,x,msg",
            "SUBOK,1,1",
            "U,1",
            "U,x,1,a",
            "U,1,1",
            "REQERR,1",
            "OV,1,1",
            "LOOP,soon",
        ] {
            assert!(parse_line(line).is_err(), "{line:?} should not parse");
        }
    }
}

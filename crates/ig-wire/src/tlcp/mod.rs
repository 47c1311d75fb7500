//! The Lightstreamer text protocol (TLCP) as IG speaks it, both directions: server
//! notifications ([`message`]), the field values of updates ([`values`]) and client request
//! forms ([`form`]). The IG client decodes notifications and encodes requests; the sandbox's
//! stream server does the opposite with the same code, so the two cannot drift apart.

pub mod form;
pub mod message;
pub mod values;

pub use form::{
    encode_form_value, encode_request, parse_body_forms, parse_ws_request, Form, Request,
};
pub use message::{decode_text, encode_text, parse_line, Message};
pub use values::{encode_update, ItemValues, Value};

/// The `LS_cid` every custom TLCP client sends (fixed by the protocol specification).
pub const LS_CID: &str = "mgQkwtwdysogQz2BJ4Ji kOj2Bg";

/// A notification or update that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("TLCP {tag} line has too few fields (line: {line:?})")]
    MissingField { tag: &'static str, line: String },
    #[error("TLCP {tag} line has a bad {field} (line: {line:?})")]
    BadNumber {
        tag: &'static str,
        field: &'static str,
        line: String,
    },
    #[error("update carries {got} field values but the subscription has {expected} fields")]
    FieldCount { expected: usize, got: usize },
    #[error("update token {token:?} is not a valid `^N` run of unchanged fields")]
    BadRun { token: String },
    #[error(
        "update token {token:?} is a JSON-patch/TLCP-diff, which this client does not support"
    )]
    UnsupportedDiff { token: String },
    #[error("update value is not valid percent-encoded UTF-8: {token:?}")]
    BadEncoding { token: String },
}

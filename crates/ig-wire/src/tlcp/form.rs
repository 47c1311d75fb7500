//! Client requests: form-encoded parameter lists (`LS_user=...&LS_password=...`) and the
//! `<name>\r\n<form>[\r\n<form>...]` shape of a request on the WebSocket. The client encodes
//! ([`encode_form_value`], [`Form`]'s `Display`, [`encode_request`]); the sandbox decodes
//! ([`Form::parse`], [`parse_ws_request`], [`parse_body_forms`]).

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters is percent-encoded in TLCP form values.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a TLCP request parameter value (`|` -> `%7C`, space -> `%20`).
pub fn encode_form_value(v: &str) -> String {
    utf8_percent_encode(v, FORM).to_string()
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// One request form (`LS_x=value&...`), in order, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.0.push((key.to_string(), value.to_string()));
        self
    }

    /// Parses `a=1&b=x%20y` (also accepts `+` for space, as HTML forms send it).
    pub fn parse(s: &str) -> Self {
        Self(
            s.trim()
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(kv), String::new()),
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds the parameters of `other` that this form lacks (query string under body).
    pub fn merge(&mut self, other: &Form) {
        for (k, v) in &other.0 {
            if self.get(k).is_none() {
                self.0.push((k.clone(), v.clone()));
            }
        }
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }

    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The encoded form, `k=v&k2=v2`, every key and value percent-encoded.
impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{}={}", encode_form_value(k), encode_form_value(v))?;
        }
        Ok(())
    }
}

/// A WebSocket request: its name and one or more forms (control requests can be batched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub forms: Vec<Form>,
}

/// The text of a WebSocket request: `name`, then the encoded `body` on the next line.
pub fn encode_request(name: &str, body: Option<&str>) -> String {
    match body {
        Some(b) => format!("{name}\r\n{b}"),
        None => name.to_string(),
    }
}

/// Splits a WebSocket text message into a request.
pub fn parse_ws_request(text: &str) -> Request {
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let name = lines.next().unwrap_or_default().trim().to_string();
    let forms = lines
        .filter(|l| !l.trim().is_empty())
        .map(Form::parse)
        .collect();
    Request { name, forms }
}

/// Parses the lines of an HTTP request body into forms.
pub fn parse_body_forms(body: &str) -> Vec<Form> {
    body.split("\r\n")
        .flat_map(|l| l.split('\n'))
        .filter(|l| !l.trim().is_empty())
        .map(Form::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_requests() {
        let f = Form::parse("LS_user=ABC&LS_password=CST-a%7CXST-b&LS_cid=mgQ+x&flag");
        assert_eq!(f.get("LS_password"), Some("CST-a|XST-b"));
        assert_eq!(f.get("LS_cid"), Some("mgQ x"));
        assert_eq!(f.get("flag"), Some(""));
        let r = parse_ws_request("control\r\nLS_reqId=1&LS_op=add\r\nLS_reqId=2&LS_op=delete");
        assert_eq!(r.name, "control");
        assert_eq!(r.forms.len(), 2);
        assert_eq!(r.forms[1].number("LS_reqId"), Some(2));
        assert_eq!(parse_ws_request("wsok").forms.len(), 0);
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_form_value("CST-a|XST-b c"), "CST-a%7CXST-b%20c");
        let f = Form::new()
            .with("LS_user", "ABC123")
            .with("LS_password", "CST-a|XST-b")
            .with("LS_reqId", 7);
        assert_eq!(
            f.to_string(),
            "LS_user=ABC123&LS_password=CST-a%7CXST-b&LS_reqId=7"
        );
        assert_eq!(Form::parse(&f.to_string()), f);
        let text = encode_request("control", Some(&f.to_string()));
        assert_eq!(
            parse_ws_request(&text),
            Request {
                name: "control".into(),
                forms: vec![f]
            }
        );
        assert_eq!(encode_request("wsok", None), "wsok");
    }
}

//! TLCP request parsing for the sandbox server: form-encoded parameter lists and the
//! `<name>\r\n<form>[\r\n<form>...]` shape of WebSocket requests.

use percent_encoding::percent_decode_str;

/// One decoded request form (`LS_x=value&...`), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

impl Form {
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
}

/// A WebSocket request: its name and one or more forms (control requests can be batched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub forms: Vec<Form>,
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

/// Percent-encodes free text for a notification argument (messages after the last comma).
pub fn encode_text(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::CONTROLS.add(b'%').add(b',').add(b'|');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
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
        assert_eq!(encode_text("a,b|c"), "a%2Cb%7Cc");
    }
}

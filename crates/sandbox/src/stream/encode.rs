//! TLCP update encoding for the sandbox server: each field against the value last sent on the
//! connection (empty = unchanged, `^N` = N unchanged, `#` = null, `$` = empty, percent-encoding).

use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::items::Value;

/// Characters escaped in update values (always), besides leading `#`, `$`, `^`.
const VALUE: &AsciiSet = &CONTROLS.add(b'%').add(b'|').add(b',').add(b'+');

fn encode_value(v: &str) -> String {
    let enc = utf8_percent_encode(v, VALUE).to_string();
    match enc.as_bytes().first() {
        Some(b'#') => format!("%23{}", &enc[1..]),
        Some(b'$') => format!("%24{}", &enc[1..]),
        Some(b'^') => format!("%5E{}", &enc[1..]),
        _ => enc,
    }
}

/// Encodes `row` against `last` (the values last sent on this connection; `None` when
/// nothing was sent yet, so every field is explicit). Updates `last`.
pub fn encode_update(row: &[Value], last: &mut Option<Vec<Value>>) -> String {
    let mut out = String::new();
    let mut run = 0usize;
    let flush = |out: &mut String, run: &mut usize| {
        match *run {
            0 => {}
            1 => out.push('|'),
            n => {
                let _ = write!(out, "^{n}|");
            }
        }
        *run = 0;
    };
    for (i, v) in row.iter().enumerate() {
        let same = last.as_ref().and_then(|l| l.get(i)).is_some_and(|p| p == v);
        if same {
            run += 1;
            continue;
        }
        flush(&mut out, &mut run);
        match v {
            None => out.push('#'),
            Some(s) if s.is_empty() => out.push('$'),
            Some(s) => out.push_str(&encode_value(s)),
        }
        out.push('|');
    }
    // A trailing run: `^N` or, for one field, an empty token.
    match run {
        0 => {
            out.pop();
        }
        1 => {}
        n => {
            let _ = write!(out, "^{n}");
        }
    }
    if row.is_empty() {
        out.clear();
    }
    *last = Some(row.to_vec());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unnecessary_wraps)]
    fn v(s: &str) -> Value {
        Some(s.to_string())
    }

    #[test]
    fn encoding_uses_every_special_token() {
        let mut last = None;
        assert_eq!(
            encode_update(&[v("1.1"), None, v(""), v("#x"), v("a|b")], &mut last),
            "1.1|#|$|%23x|a%7Cb"
        );
        assert_eq!(
            encode_update(&[v("1.2"), None, v(""), v("#x"), v("a|b")], &mut last),
            "1.2|^4"
        );
        assert_eq!(
            encode_update(&[v("1.2"), v("q"), v(""), v("#x"), v("c")], &mut last),
            "|q|^2|c"
        );
        assert_eq!(
            encode_update(&[v("1.2"), v("q"), v(""), v("#x"), v("d")], &mut last),
            "^4|d"
        );
        assert_eq!(
            encode_update(&[v("1.3"), v("q"), v(""), v("#x"), v("d")], &mut last),
            "1.3|^4"
        );
        assert_eq!(
            encode_update(&[v("1.4"), v("q"), v(""), v("#x"), v("e")], &mut last),
            "1.4|^3|e"
        );
        assert_eq!(
            encode_update(&[v("1.4"), v("r")], &mut Some(vec![v("1.4"), v("q")])),
            "|r"
        );
        assert_eq!(
            encode_update(&[v("1.5"), v("r")], &mut Some(vec![v("1.4"), v("r")])),
            "1.5|"
        );
    }
}

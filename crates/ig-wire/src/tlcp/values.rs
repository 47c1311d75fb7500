//! The `|`-separated field values of a `U` update, each relative to the item's previous values:
//! empty = unchanged, `#` = null, `$` = empty string, `^N` = N unchanged fields, anything else
//! percent-encoded. [`encode_update`] writes them (the sandbox), [`ItemValues::apply`] reads
//! them (the client). Pure and table-tested.

use std::fmt::Write as _;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use super::DecodeError;

/// One field value: `None` is null.
pub type Value = Option<String>;

/// The current field values of one item (`None` = null or never received).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemValues {
    values: Vec<Value>,
}

impl ItemValues {
    /// An item with `fields` fields, all null.
    pub fn new(fields: usize) -> Self {
        Self {
            values: vec![None; fields],
        }
    }

    /// The value of field `i` (0-based).
    pub fn get(&self, i: usize) -> Option<&str> {
        self.values.get(i).and_then(|v| v.as_deref())
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Forgets every value (a `CS` clear-snapshot notification).
    pub fn clear(&mut self) {
        self.values.iter_mut().for_each(|v| *v = None);
    }

    /// Applies the encoded values of one `U` line. Returns, per field, whether this update
    /// carried a value for it (even one equal to the old value). On error the item is left
    /// unchanged.
    pub fn apply(&mut self, encoded: &str) -> Result<Vec<bool>, DecodeError> {
        let n = self.values.len();
        let mut next: Vec<Option<Option<String>>> = Vec::with_capacity(n);
        for token in encoded.split('|') {
            if let Some(run) = token.strip_prefix('^') {
                if run.starts_with('P') || run.starts_with('T') {
                    return Err(DecodeError::UnsupportedDiff {
                        token: token.chars().take(40).collect(),
                    });
                }
                let count: usize = match run.parse() {
                    Ok(c) if c > 0 => c,
                    _ => {
                        return Err(DecodeError::BadRun {
                            token: token.chars().take(40).collect(),
                        })
                    }
                };
                if next.len().saturating_add(count) > n {
                    return Err(DecodeError::FieldCount {
                        expected: n,
                        got: next.len().saturating_add(count),
                    });
                }
                next.extend(std::iter::repeat_n(None, count));
                continue;
            }
            if next.len() >= n {
                return Err(DecodeError::FieldCount {
                    expected: n,
                    got: encoded.split('|').count(),
                });
            }
            next.push(match token {
                "" => None,
                "#" => Some(None),
                "$" => Some(Some(String::new())),
                t => Some(Some(
                    percent_decode_str(t)
                        .decode_utf8()
                        .map_err(|_| DecodeError::BadEncoding {
                            token: t.chars().take(40).collect(),
                        })?
                        .into_owned(),
                )),
            });
        }
        if next.len() != n {
            return Err(DecodeError::FieldCount {
                expected: n,
                got: next.len(),
            });
        }
        let mut changed = vec![false; n];
        for (i, v) in next.into_iter().enumerate() {
            if let Some(v) = v {
                self.values[i] = v;
                changed[i] = true;
            }
        }
        Ok(changed)
    }
}

/// Characters escaped in update values (always), besides a leading `#`, `$` or `^`.
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

/// Encodes `row` against `last` (the values last sent for this item on this connection;
/// `None` when nothing was sent yet, so every field is explicit), using the shortest tokens:
/// unchanged fields are empty, runs of them `^N`. Updates `last`.
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

    fn vals(item: &ItemValues) -> Vec<Option<&str>> {
        (0..item.len()).map(|i| item.get(i)).collect()
    }

    #[test]
    fn special_tokens_table() {
        // (previous values, encoded update, expected values, expected changed mask)
        type Case = (
            Vec<Option<&'static str>>,
            &'static str,
            Vec<Option<&'static str>>,
            Vec<bool>,
        );
        let cases: Vec<Case> = vec![
            // first snapshot: all explicit
            (
                vec![None, None, None, None],
                "1700000000123|1.08123|1.08131|DEAL%20",
                vec![
                    Some("1700000000123"),
                    Some("1.08123"),
                    Some("1.08131"),
                    Some("DEAL "),
                ],
                vec![true; 4],
            ),
            // empty = unchanged
            (
                vec![Some("t"), Some("1"), Some("2"), Some("DEAL")],
                "t2|||",
                vec![Some("t2"), Some("1"), Some("2"), Some("DEAL")],
                vec![true, false, false, false],
            ),
            // # = null, $ = empty
            (
                vec![Some("a"), Some("b"), Some("c")],
                "#|$|",
                vec![None, Some(""), Some("c")],
                vec![true, true, false],
            ),
            // ^N = N unchanged
            (
                vec![Some("a"), Some("b"), Some("c"), Some("d")],
                "^3|z",
                vec![Some("a"), Some("b"), Some("c"), Some("z")],
                vec![false, false, false, true],
            ),
            (
                vec![Some("a"), Some("b"), Some("c"), Some("d")],
                "x|^2|y",
                vec![Some("x"), Some("b"), Some("c"), Some("y")],
                vec![true, false, false, true],
            ),
            (
                vec![Some("a"), Some("b")],
                "^2",
                vec![Some("a"), Some("b")],
                vec![false, false],
            ),
            // percent-encoded specials are literal content
            (
                vec![None, None, None, None],
                "%23|%24|%5E2|a%7Cb",
                vec![Some("#"), Some("$"), Some("^2"), Some("a|b")],
                vec![true; 4],
            ),
            // `#` and `$` only special as the whole token
            (
                vec![None, None],
                "#1|$x",
                vec![Some("#1"), Some("$x")],
                vec![true, true],
            ),
            // JSON of a TRADE field, percent-encoded as IG's server would
            (
                vec![None, None, None],
                "%7B%22dealReference%22%3A%22R1%22%2C%22level%22%3A1.1%7D|#|#",
                vec![Some("{\"dealReference\":\"R1\",\"level\":1.1}"), None, None],
                vec![true, true, true],
            ),
            // UTF-8
            (vec![None], "%E2%82%AC", vec![Some("€")], vec![true]),
        ];
        for (prev, encoded, want, want_changed) in cases {
            let mut item = ItemValues::new(prev.len());
            for (i, p) in prev.iter().enumerate() {
                item.values[i] = p.map(str::to_string);
            }
            let changed = item.apply(encoded).unwrap();
            assert_eq!(vals(&item), want, "update {encoded:?}");
            assert_eq!(changed, want_changed, "update {encoded:?}");
        }
    }

    #[test]
    fn bad_updates_are_errors_and_leave_state() {
        let cases = [
            (
                "a|b|c",
                DecodeError::FieldCount {
                    expected: 2,
                    got: 3,
                },
            ),
            (
                "a",
                DecodeError::FieldCount {
                    expected: 2,
                    got: 1,
                },
            ),
            (
                "^3",
                DecodeError::FieldCount {
                    expected: 2,
                    got: 3,
                },
            ),
            ("^0|a|b", DecodeError::BadRun { token: "^0".into() }),
            ("^x|a", DecodeError::BadRun { token: "^x".into() }),
            ("^|a", DecodeError::BadRun { token: "^".into() }),
            (
                "^P[]|a",
                DecodeError::UnsupportedDiff {
                    token: "^P[]".into(),
                },
            ),
            (
                "^Tabc|a",
                DecodeError::UnsupportedDiff {
                    token: "^Tabc".into(),
                },
            ),
            (
                "%FF|a",
                DecodeError::BadEncoding {
                    token: "%FF".into(),
                },
            ),
        ];
        for (encoded, want) in cases {
            let mut item = ItemValues::new(2);
            item.apply("x|y").unwrap();
            assert_eq!(item.apply(encoded).unwrap_err(), want, "{encoded:?}");
            assert_eq!(vals(&item), vec![Some("x"), Some("y")], "{encoded:?}");
        }
    }

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

    #[test]
    fn clear_snapshot() {
        let mut item = ItemValues::new(2);
        item.apply("a|b").unwrap();
        item.clear();
        assert_eq!(vals(&item), vec![None, None]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(line in ".{0,200}", fields in 0usize..8) {
            let _ = super::super::parse_line(&line);
            let mut item = ItemValues::new(fields);
            let _ = item.apply(&line);
        }

        #[test]
        fn arbitrary_tokens_never_panic(tokens in proptest::collection::vec("[#$^0-9a-zA-Z%PT]{0,6}", 0..10), fields in 0usize..8) {
            let encoded = tokens.join("|");
            let mut item = ItemValues::new(fields);
            let _ = item.apply(&encoded);
            let _ = super::super::parse_line(&format!("U,1,1,{encoded}"));
        }
    }
}

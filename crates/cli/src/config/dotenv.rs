//! A small, strict dotenv parser: `KEY=VALUE` lines, `#` comments, `export ` prefixes, single
//! quotes (literal) and double quotes (with `\n \t \" \\ \$` escapes). Errors give the line
//! number but never echo a value, since values are usually secrets.

use std::fmt;

use secrecy::SecretString;

/// One `KEY=VALUE` assignment of an env file.
pub struct Entry {
    pub key: String,
    pub value: SecretString,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &"[redacted]")
            .field("line", &self.line)
            .finish()
    }
}

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses env-file text. Later assignments of the same key win, as in shells.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Entry> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let err = |message: String| ParseError {
            line: line_no,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, rest)) = line.split_once('=') else {
            return Err(err(
                "expected KEY=VALUE (a variable name, `=`, then the value)".into(),
            ));
        };
        let key = key.trim_end();
        if !is_valid_key(key) {
            // Not echoed: on a malformed line (`IG_PASSWORD s3cr=t`, a missing `=` before a
            // value holding one) the text before `=` may hold the secret.
            return Err(err(
                "invalid variable name before `=` (not shown, it may hold a value): use letters, \
                 digits and `_`, not starting with a digit"
                    .into(),
            ));
        }
        let value = parse_value(rest.trim_start()).map_err(|m| err(format!("{key}: {m}")))?;
        out.retain(|e| e.key != key);
        out.push(Entry {
            key: key.to_string(),
            value: SecretString::from(value),
            line: line_no,
        });
    }
    Ok(out)
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(rest: &str) -> Result<String, String> {
    if let Some(body) = rest.strip_prefix('\'') {
        let Some(end) = body.find('\'') else {
            return Err("unterminated single quote (multi-line values are not supported)".into());
        };
        check_trailing(&body[end + 1..])?;
        return Ok(body[..end].to_string());
    }
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    check_trailing(&body[i + 1..])?;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, e @ ('"' | '\\' | '$' | '\''))) => value.push(e),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => break,
                },
                _ => value.push(c),
            }
        }
        return Err("unterminated double quote (multi-line values are not supported)".into());
    }
    // Unquoted: an inline comment starts at ` #`.
    let value = match rest.find(" #").or_else(|| rest.find("\t#")) {
        Some(pos) => &rest[..pos],
        None => rest,
    };
    let value = value.trim_end();
    if value.contains(['"', '\'']) {
        return Err("quotes inside an unquoted value: quote the whole value".into());
    }
    Ok(value.to_string())
}

fn check_trailing(after: &str) -> Result<(), String> {
    let after = after.trim();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn one(text: &str) -> (String, String) {
        let v = parse(text).unwrap();
        assert_eq!(v.len(), 1, "{text}");
        (v[0].key.clone(), v[0].value.expose_secret().to_string())
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            ("A=b", "A", "b"),
            ("  A = b  ", "A", "b"),
            ("export A=b", "A", "b"),
            ("export\tA=b", "A", "b"),
            ("A=", "A", ""),
            ("A=b # comment", "A", "b"),
            ("A=b#c", "A", "b#c"),
            ("A='x # y'", "A", "x # y"),
            ("A='it\\n'", "A", "it\\n"),
            ("A=\"a\\\"b\\n\" # c", "A", "a\"b\n"),
            ("A=\"p@ss w=rd\"", "A", "p@ss w=rd"),
            ("\u{feff}A=1\r", "A", "1"),
            ("exported=1", "exported", "1"),
        ];
        for (text, k, v) in cases {
            assert_eq!(one(text), (k.to_string(), v.to_string()), "{text:?}");
        }
    }

    #[test]
    fn comments_blank_lines_and_last_wins() {
        let v = parse("# c\n\nA=1\n  # x\nB=2\nA=3\n").unwrap();
        let got: Vec<_> = v
            .iter()
            .map(|e| (e.key.as_str(), e.value.expose_secret().to_string(), e.line))
            .collect();
        assert_eq!(got, vec![("B", "2".into(), 5), ("A", "3".into(), 6)]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let cases = [
            ("A=1\nthis is not valid", 2, "expected KEY=VALUE"),
            ("1A=x", 1, "invalid variable name"),
            ("A B=x", 1, "invalid variable name"),
            ("\n\nA='secretvalue", 3, "unterminated single quote"),
            ("A=\"secretvalue", 1, "unterminated double quote"),
            ("A=\"secretvalue\" trailing", 1, "after the closing quote"),
            ("A=sec\"retvalue", 1, "quotes inside"),
        ];
        for (text, line, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.to_string().contains(msg), "{text:?}: {e}");
            assert!(!e.to_string().contains("secretvalue"), "{e}");
        }
    }

    #[test]
    fn debug_redacts_values() {
        let v = parse("IG_PASSWORD=fake-pass-hunter2").unwrap();
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC*(\n\\PC*){0,5}") {
            let _ = parse(&text);
        }

        #[test]
        fn simple_assignments_round_trip(
            key in "[A-Z_][A-Z0-9_]{0,20}",
            value in "[A-Za-z0-9@%+=:/.,!-]{0,40}",
            quote in 0usize..3,
        ) {
            let line = match quote {
                0 => format!("{key}={value}"),
                1 => format!("export {key}='{value}'"),
                _ => format!("{key}=\"{value}\" # note"),
            };
            let v = parse(&line).unwrap();
            proptest::prop_assert_eq!(v.len(), 1);
            proptest::prop_assert_eq!(&v[0].key, &key);
            proptest::prop_assert_eq!(v[0].value.expose_secret(), value.as_str());
        }
    }
}

//! Env-file parsing (`.env.scalper`, `.env`, `--env-file`): any text. Errors must never echo a
//! value (values are usually secrets) nor the text of a malformed line: a marker placed there
//! must not appear in the error message. (A marker inside a well-formed variable name may.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalper_cli::config::dotenv;

const MARKER: &str = "XSECRETX";

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The marker is on `line` somewhere it must never be echoed from: in a value (after the first
/// `=`), on a line without `=`, or before the `=` of a line whose name is malformed (it may be a
/// value whose own `=` was forgotten).
fn marker_is_secret(line: &str) -> bool {
    let Some(m) = line.find(MARKER) else {
        return false;
    };
    match line.find('=') {
        None => true,
        Some(eq) if eq < m => true,
        Some(eq) => {
            let name = line[..eq].trim();
            let name = match name.strip_prefix("export") {
                Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
                _ => name,
            };
            !is_valid_key(name.trim_end())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = dotenv::parse(text) {
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        let line = body
            .lines()
            .nth(e.line - 1)
            .expect("the error names a line of the file");
        let msg = e.to_string();
        assert!(
            !(marker_is_secret(line) && msg.contains(MARKER)),
            "error echoes a value: {msg}"
        );
    }
});

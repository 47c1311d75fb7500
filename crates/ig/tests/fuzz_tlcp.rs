//! Fuzzing of the Lightstreamer (TLCP) decoding path: `tlcp::parse_line` on arbitrary lines,
//! `ItemValues::apply` / `ItemState::apply` on arbitrary update values (escape sequences, `^N`
//! runs with huge declared counts, huge field counts), and the TRADE JSON decoders on
//! arbitrary and mutated JSON. No panic, and output bounded by input: a line never makes the
//! decoder allocate in proportion to a number it declares.
//!
//! `SCALPER_FUZZ_CASES=100000 cargo test -p scalper-ig --test fuzz_tlcp` runs longer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use scalper_ig::stream::convert::{ItemState, Output};
use scalper_ig::stream::trade::{parse_confirm, parse_position_update, parse_working_order_update};
use scalper_ig::stream::{ChartScale, StreamEvent, Subscription};
use scalper_ig_wire::tlcp::{
    decode_text, encode_form_value, parse_line, DecodeError, ItemValues, Message,
};
use scalper_model::{AccountId, Epic, Timestamp};

fn cases(default: u32) -> u32 {
    std::env::var("SCALPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

fn subscriptions() -> Vec<Subscription> {
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    vec![
        Subscription::Price(epic.clone()),
        Subscription::Market(epic.clone()),
        Subscription::ChartTick(epic.clone()),
        Subscription::Chart(epic.clone(), ChartScale::Second),
        Subscription::Chart(epic, ChartScale::Hour),
        Subscription::Trade,
        Subscription::Account,
    ]
}

/// The sizes of a decoded message's variable parts: never more than the line itself
/// (percent-decoding only shrinks; `\u{FFFD}` replacement may triple a byte).
fn message_len(m: &Message) -> usize {
    match m {
        Message::ConOk {
            session_id,
            control_link,
            ..
        } => session_id.len() + control_link.len(),
        Message::ConErr { message, .. }
        | Message::End { message, .. }
        | Message::Error { message, .. }
        | Message::ReqErr { message, .. } => message.len(),
        Message::ServName(s) | Message::ClientIp(s) | Message::Cons(s) | Message::Other(s) => {
            s.len()
        }
        Message::Conf { max_frequency, .. } => max_frequency.len(),
        Message::Update { values, .. } => values.len(),
        _ => 0,
    }
}

fn error_len(e: &DecodeError) -> usize {
    e.to_string().len()
}

/// Decodes a line the way the stream runner does: the line, then (for updates) every
/// subscription's item state. Checks that the output is bounded by the input.
fn decode(line: &str) {
    match parse_line(line) {
        Ok(m) => {
            assert!(
                message_len(&m) <= 3 * line.len(),
                "message larger than its line: {line:?}"
            );
            if let Message::Update { values, .. } = &m {
                apply_everywhere(values);
            }
        }
        Err(e) => assert!(error_len(&e) < 600, "unbounded error text: {e}"),
    }
}

fn apply_everywhere(values: &str) {
    let account = AccountId::new("ABC123").unwrap();
    for sub in subscriptions() {
        let n = sub.fields().len();
        let mut item = ItemState::new(sub);
        match item.apply(values, &account, Timestamp::from_millis(1_700_000_000_000)) {
            Ok(outputs) => {
                assert_eq!(item.values.len(), n, "field count changed");
                assert!(outputs.len() <= n + 2, "more outputs than fields");
                for o in outputs {
                    if let Output::Event(ev) = o {
                        let _ = ev.engine_event();
                        if let StreamEvent::Confirm(c) = *ev {
                            let _ = c.to_confirmation();
                        }
                    }
                }
            }
            Err(e) => {
                assert!(error_len(&e) < 600, "unbounded error text: {e}");
                assert_eq!(item.values.len(), n);
            }
        }
    }
}

/// Resident-set peak of this process in KiB (Linux), for the allocation checks.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn huge_declared_counts_do_not_allocate() {
    let before = peak_rss_kib();
    // `^N` runs declaring far more fields than the item has, sub/item ids and counts at the
    // integer limits, and a line with a million fields.
    let mut lines = vec![
        "U,1,1,^18446744073709551615".to_string(),
        "U,1,1,^4294967296|a".to_string(),
        "U,1,1,^1000000000".to_string(),
        "U,18446744073709551615,18446744073709551615,a|b".to_string(),
        "U,18446744073709551616,1,a".to_string(),
        "SUBOK,1,18446744073709551615,18446744073709551615".to_string(),
        "SUBCMD,1,4294967296,4294967296,1,2".to_string(),
        "OV,1,1,18446744073709551615".to_string(),
        "PROG,18446744073709551615".to_string(),
        "LOOP,18446744073709551615".to_string(),
        format!("U,1,1,{}", "^1|".repeat(200_000)),
        format!("U,1,1,{}", "|".repeat(1_000_000)),
        format!("CONOK,{},1,1,*", ",".repeat(1_000_000)),
        format!("REQERR,1,-1,{}", "%41".repeat(300_000)),
    ];
    lines.push(format!("U,1,1,{}", "^99999999999|".repeat(1000)));
    for line in &lines {
        decode(line);
    }
    let mut item = ItemValues::new(4);
    assert_eq!(
        item.apply("^18446744073709551615"),
        Err(DecodeError::FieldCount {
            expected: 4,
            got: usize::MAX
        })
    );
    assert!(matches!(
        item.apply("^1000000000"),
        Err(DecodeError::FieldCount { expected: 4, .. })
    ));
    assert!(matches!(
        item.apply(&"|".repeat(1_000_000)),
        Err(DecodeError::FieldCount { expected: 4, .. })
    ));
    assert_eq!(item.len(), 4);
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        // The inputs above total ~6 MB; a decoder that allocated per declared field would
        // need gigabytes.
        assert!(
            a.saturating_sub(b) < 256 * 1024,
            "peak RSS grew by {} KiB decoding bounded lines",
            a.saturating_sub(b)
        );
    }
}

#[test]
fn candles_beyond_decimal_range_are_dropped_not_a_panic() {
    let max = "79228162514264337593543950335";
    let account = AccountId::new("ABC123").unwrap();
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let now = Timestamp::from_millis(0);
    // Bid + offer overflows the mid price; offer - bid overflows the spread.
    for (bid, ofr) in [
        (max.to_string(), max.to_string()),
        (format!("-{max}"), max.to_string()),
    ] {
        let mut item = ItemState::new(Subscription::Chart(epic.clone(), ChartScale::Minute));
        let line = format!("1700000000000|{bid}|{bid}|{bid}|{bid}|{ofr}|{ofr}|{ofr}|{ofr}|1|1|3");
        let out = item.apply(&line, &account, now).unwrap();
        assert!(out.is_empty(), "{out:?}");
        // An ordinary candle still comes out.
        let out = item
            .apply(
                "1700000060000|1.1|1.2|1.0|1.1|1.1002|1.2002|1.0002|1.1002|1|1|3",
                &account,
                now,
            )
            .unwrap();
        assert!(
            matches!(out.as_slice(), [Output::Event(ev)] if matches!(**ev, StreamEvent::Candle { .. })),
            "{out:?}"
        );
    }
}

#[test]
fn escapes_round_trip_through_the_update_decoder() {
    // Whatever a value holds, IG's encoding of it decodes back to it.
    for v in ["#", "$", "^2", "a|b", "%", "%%41", "€", "x,y", "\u{0}", " "] {
        let mut item = ItemValues::new(2);
        let changed = item.apply(&format!("{}|#", encode_form_value(v))).unwrap();
        assert_eq!(changed, vec![true, true]);
        assert_eq!(item.get(0), Some(v));
        assert_eq!(item.get(1), None);
        assert_eq!(decode_text(&encode_form_value(v)), v);
    }
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("#".to_string()),
        Just("$".to_string()),
        (0u64..12).prop_map(|n| format!("^{n}")),
        any::<u64>().prop_map(|n| format!("^{n}")),
        Just("^P[{\"op\":\"add\"}]".to_string()),
        Just("^T@@ -1 +1 @@".to_string()),
        "%[0-9A-Fa-f]{0,2}".prop_map(|s| s),
        "(%[0-9A-Fa-f]{2}){1,6}".prop_map(|s| s),
        "-?[0-9]{1,30}(\\.[0-9]{0,30})?".prop_map(|s| s),
        "\\PC{0,12}".prop_map(|s| encode_form_value(&s)),
        "[^|]{0,12}".prop_map(|s| s),
    ]
}

/// TRADE field JSON with numbers that stress decimal parsing and conversion.
fn trade_json() -> impl Strategy<Value = String> {
    let num = prop_oneof![
        Just("1.08123".to_string()),
        Just("79228162514264337593543950335".to_string()),
        Just("-79228162514264337593543950336".to_string()),
        Just("1e400".to_string()),
        Just("\"1e28\"".to_string()),
        Just("null".to_string()),
        Just("\"\"".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    let s = prop_oneof![
        Just("\"BUY\"".to_string()),
        Just("\"SELL\"".to_string()),
        Just("\"\"".to_string()),
        Just("null".to_string()),
        Just("\"DIAAAAA1\"".to_string()),
        Just("\"CS.D.EURUSD.CFD.IP\"".to_string()),
        "\\PC{0,16}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    (
        s.clone(),
        s.clone(),
        s.clone(),
        s.clone(),
        num.clone(),
        num.clone(),
        num.clone(),
        num,
        s,
    )
        .prop_map(|(r, id, epic, dir, level, size, stop, profit, status)| {
            format!(
                "{{\"dealReference\":{r},\"dealId\":{id},\"epic\":{epic},\"direction\":{dir},\
                 \"level\":{level},\"size\":{size},\"stopLevel\":{stop},\"profit\":{profit},\
                 \"status\":{status},\"dealStatus\":{status},\
                 \"affectedDeals\":[{{\"dealId\":{id},\"status\":{status}}}]}}"
            )
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_lines_never_panic(line in "\\PC{0,300}") {
        decode(&line);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn tagged_lines_with_arbitrary_fields_never_panic(
        tag in prop_oneof![
            Just("U"), Just("CONOK"), Just("CONERR"), Just("END"), Just("ERROR"), Just("LOOP"),
            Just("SYNC"), Just("SERVNAME"), Just("CLIENTIP"), Just("CONS"), Just("PROG"),
            Just("REQOK"), Just("REQERR"), Just("SUBOK"), Just("SUBCMD"), Just("UNSUB"),
            Just("EOS"), Just("CS"), Just("OV"), Just("CONF"), Just("PROBE"), Just("NOOP"),
            Just("WSOK"), Just("MSGDONE"),
        ],
        fields in proptest::collection::vec(
            prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{15,40}".prop_map(|s| s),
                "\\PC{0,10}".prop_map(|s| s),
                "(%[0-9A-Fa-f]{2}|%|[a-z]){0,10}".prop_map(|s| s),
            ],
            0..8,
        ),
        crlf in any::<bool>(),
    ) {
        let mut line = std::iter::once(tag.to_string()).chain(fields).collect::<Vec<_>>().join(",");
        if crlf {
            line.push_str("\r\n");
        }
        decode(&line);
    }

    #[test]
    fn update_token_sequences_never_panic(
        tokens in proptest::collection::vec(token(), 0..40),
        fields in 0usize..64,
    ) {
        let encoded = tokens.join("|");
        let mut item = ItemValues::new(fields);
        let before = item.clone();
        if let Ok(changed) = item.apply(&encoded) {
            prop_assert_eq!(changed.len(), fields);
        } else {
            prop_assert_eq!(&item, &before, "a failed update changed the item");
        }
        decode(&format!("U,1,1,{encoded}"));
    }

    #[test]
    fn trade_json_never_panics(json in trade_json(), cut in any::<usize>()) {
        for text in [json.as_str(), &json[..json.char_indices().map(|(i, _)| i).nth(cut % (json.chars().count() + 1)).unwrap_or(json.len())]] {
            if let Ok(c) = parse_confirm(text) {
                let _ = c.to_confirmation();
            }
            let _ = parse_position_update(text);
            let _ = parse_working_order_update(text);
            // And the same JSON as the streamed TRADE item carries it.
            let enc = encode_form_value(text);
            decode(&format!("U,1,1,{enc}|{enc}|{enc}"));
        }
    }

    #[test]
    fn candle_and_account_numbers_never_panic(
        vals in proptest::collection::vec(
            prop_oneof![
                Just("79228162514264337593543950335".to_string()),
                Just("-79228162514264337593543950335".to_string()),
                Just("9223372036854775807".to_string()),
                Just("-9223372036854775808".to_string()),
                Just("1".to_string()),
                Just("#".to_string()),
                "-?[0-9]{1,29}(\\.[0-9]{1,28})?".prop_map(|s| s),
            ],
            12,
        ),
    ) {
        decode(&format!("U,1,1,{}", vals.join("|")));
    }
}

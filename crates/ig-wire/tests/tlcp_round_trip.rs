//! The TLCP codec's two directions agree: every notification the sandbox can encode decodes to
//! the same message in the client, every sequence of update rows decodes to the same values
//! (whatever the encoder chose to leave out as unchanged), and every request form the client
//! encodes is read back by the sandbox as sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use scalper_ig_wire::tlcp::{
    encode_form_value, encode_request, encode_update, parse_line, parse_ws_request, Form,
    ItemValues, Message, Value,
};

/// Free text: any printable or control character, commas, pipes and percent signs included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,30}",
        "[ ,|%#$^\\r\\n\\t+a-z0-9]{0,20}",
        Just(String::new()),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let id = "[A-Za-z0-9]{1,24}";
    prop_oneof![
        Just(Message::WsOk),
        Just(Message::Probe),
        Just(Message::Noop),
        (id, any::<u64>(), any::<u64>(), text()).prop_map(|(s, r, k, c)| Message::ConOk {
            session_id: s,
            request_limit: r,
            keepalive_ms: k,
            control_link: c,
        }),
        (any::<i32>(), text()).prop_map(|(code, message)| Message::ConErr { code, message }),
        (any::<i32>(), text()).prop_map(|(cause, message)| Message::End { cause, message }),
        (any::<i32>(), text()).prop_map(|(code, message)| Message::Error { code, message }),
        any::<u64>().prop_map(|delay_ms| Message::Loop { delay_ms }),
        any::<u64>().prop_map(|seconds| Message::Sync { seconds }),
        text().prop_map(Message::ServName),
        text().prop_map(Message::ClientIp),
        text().prop_map(Message::Cons),
        any::<u64>().prop_map(|count| Message::Prog { count }),
        proptest::option::of(any::<u64>()).prop_map(|req_id| Message::ReqOk { req_id }),
        (any::<u64>(), any::<i32>(), text()).prop_map(|(req_id, code, message)| {
            Message::ReqErr {
                req_id,
                code,
                message,
            }
        }),
        (any::<u64>(), any::<usize>(), any::<usize>()).prop_map(|(sub_id, items, fields)| {
            Message::SubOk {
                sub_id,
                items,
                fields,
            }
        }),
        any::<u64>().prop_map(|sub_id| Message::Unsub { sub_id }),
        (any::<u64>(), any::<usize>()).prop_map(|(sub_id, item)| Message::Eos { sub_id, item }),
        (any::<u64>(), any::<usize>()).prop_map(|(sub_id, item)| Message::Cs { sub_id, item }),
        (any::<u64>(), any::<usize>(), any::<u64>()).prop_map(|(sub_id, item, lost)| Message::Ov {
            sub_id,
            item,
            lost
        }),
        (any::<u64>(), "[0-9]{1,3}\\.[0-9]|unlimited", any::<bool>()).prop_map(
            |(sub_id, max_frequency, filtered)| Message::Conf {
                sub_id,
                max_frequency,
                filtered,
            }
        ),
        (any::<u64>(), any::<usize>(), rows(4, 1)).prop_map(|(sub_id, item, rows)| {
            Message::Update {
                sub_id,
                item,
                values: encode_update(&rows[0], &mut None),
            }
        }),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        3 => "[0-9.]{1,8}".prop_map(Some),
        2 => "[#$^|,%+ ]{1,3}[a-z0-9]{0,3}".prop_map(Some),
        2 => "\\PC{1,12}".prop_map(Some),
    ]
}

/// `count` rows of `width` fields, each row a small change of the previous one so that the
/// encoder's "unchanged" and `^N` tokens come up often.
fn rows(width: usize, count: usize) -> impl Strategy<Value = Vec<Vec<Value>>> {
    let first = proptest::collection::vec(value(), width);
    let changes = proptest::collection::vec(
        proptest::collection::vec(proptest::option::weighted(0.3, value()), width),
        count.saturating_sub(1),
    );
    (first, changes).prop_map(|(first, changes)| {
        let mut rows = vec![first];
        for change in changes {
            let mut next = rows[rows.len() - 1].clone();
            for (slot, c) in next.iter_mut().zip(change) {
                if let Some(v) = c {
                    *slot = v;
                }
            }
            rows.push(next);
        }
        rows
    })
}

fn form() -> impl Strategy<Value = Form> {
    proptest::collection::vec(("LS_[a-z_]{1,12}", "\\PC{0,20}"), 1..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .fold(Form::new(), |f, (k, v)| f.with(&k, v))
    })
}

proptest! {
    #[test]
    fn notifications_round_trip(m in message()) {
        let line = m.to_string();
        prop_assert!(!line.contains(['\r', '\n']), "one line: {line:?}");
        prop_assert_eq!(parse_line(&line).unwrap(), m.clone());
        // Framing: the CRLF a server appends is not part of the message.
        prop_assert_eq!(parse_line(&format!("{line}\r\n")).unwrap(), m);
    }

    #[test]
    fn update_values_round_trip(
        rows in (1usize..8, 1usize..12).prop_flat_map(|(width, count)| rows(width, count)),
    ) {
        let width = rows[0].len();
        let mut last = None;
        let mut item = ItemValues::new(width);
        for row in &rows {
            let before: Vec<Value> = (0..width).map(|i| item.get(i).map(str::to_string)).collect();
            let encoded = encode_update(row, &mut last);
            let line = Message::Update { sub_id: 1, item: 1, values: encoded.clone() }.to_string();
            let Message::Update { values, .. } = parse_line(&line).unwrap() else {
                panic!("not an update: {line:?}");
            };
            prop_assert_eq!(&values, &encoded);
            let carried = item.apply(&values).unwrap();
            let now: Vec<Value> = (0..width).map(|i| item.get(i).map(str::to_string)).collect();
            prop_assert_eq!(&now, row, "encoded {:?}", encoded);
            // Only fields that changed need to travel.
            for i in 0..width {
                if before[i] != row[i] {
                    prop_assert!(carried[i], "field {} changed but was not sent: {:?}", i, encoded);
                }
            }
        }
    }

    #[test]
    fn request_forms_round_trip(forms in proptest::collection::vec(form(), 1..4), name in "[a-z_]{1,16}") {
        let body: Vec<String> = forms.iter().map(ToString::to_string).collect();
        for (f, text) in forms.iter().zip(&body) {
            prop_assert_eq!(&Form::parse(text), f);
        }
        let text = encode_request(&name, Some(&body.join("\r\n")));
        let request = parse_ws_request(&text);
        prop_assert_eq!(request.name, name);
        prop_assert_eq!(request.forms, forms);
    }

    #[test]
    fn form_values_survive_percent_encoding(v in "\\PC{0,40}") {
        let f = Form::parse(&format!("LS_x={}", encode_form_value(&v)));
        prop_assert_eq!(f.get("LS_x"), Some(v.as_str()));
    }

    #[test]
    fn arbitrary_lines_never_panic(line in "\\PC{0,200}", width in 0usize..8) {
        let _ = parse_line(&line);
        let _ = ItemValues::new(width).apply(&line);
        let _ = parse_ws_request(&line);
    }
}

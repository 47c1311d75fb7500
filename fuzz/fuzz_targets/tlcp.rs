//! Lightstreamer TLCP: any bytes as notification lines; update lines go through every
//! subscription's item state (value decoding, quotes, candles, TRADE JSON, account).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalper_ig::stream::convert::ItemState;
use scalper_ig::stream::{ChartScale, Subscription};
use scalper_ig_wire::tlcp::{parse_line, Message};
use scalper_model::{AccountId, Epic, Timestamp};

fuzz_target!(|data: &[u8]| {
    let (Ok(epic), Ok(account)) = (Epic::new("CS.D.EURUSD.CFD.IP"), AccountId::new("ABC123"))
    else {
        return;
    };
    let subs = [
        Subscription::Price(epic.clone()),
        Subscription::Market(epic.clone()),
        Subscription::ChartTick(epic.clone()),
        Subscription::Chart(epic, ChartScale::Minute),
        Subscription::Trade,
        Subscription::Account,
    ];
    let mut items: Vec<ItemState> = subs.into_iter().map(ItemState::new).collect();
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        if let Ok(Message::Update { values, .. }) = parse_line(line) {
            for item in &mut items {
                if let Ok(out) = item.apply(&values, &account, Timestamp::from_millis(0)) {
                    assert!(out.len() <= item.values.len() + 2);
                }
            }
        }
    }
});

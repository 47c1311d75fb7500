//! Decode throughput of the TLCP stream decoder (line parsing + field decoding + conversion to
//! quotes). A benchmark, not a check: run with
//! `cargo test -p scalper-ig --release --test stream_decode_bench -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use scalper_ig::stream::convert::{ItemState, Output};
use scalper_ig::stream::Subscription;
use scalper_ig_wire::tlcp::{parse_line, Message};
use scalper_model::{AccountId, Epic, Timestamp};

#[test]
#[ignore = "benchmark: run in --release with --ignored --nocapture"]
fn decode_throughput() {
    let account = AccountId::new("ABC123").unwrap();
    let mut state = ItemState::new(Subscription::Price(
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
    ));
    state
        .apply(
            "1.08123|1.08131|1700000000000|DEAL%20",
            &account,
            Timestamp::from_millis(0),
        )
        .unwrap();
    // Recorded-looking mix: both sides move, one side moves, only the timestamp moves.
    let lines: Vec<String> = (0..1000)
        .map(|i| match i % 3 {
            0 => format!(
                "U,1,1,1.08{:03}|1.08{:03}|17000000{i:05}|",
                100 + i % 50,
                110 + i % 50
            ),
            1 => format!("U,1,1,1.08{:03}||17000000{i:05}|", 100 + i % 50),
            _ => format!("U,1,1,^2|17000000{i:05}|"),
        })
        .collect();
    let n = 1_000_000usize;
    let start = Instant::now();
    let mut quotes = 0usize;
    for i in 0..n {
        let Message::Update { values, .. } = parse_line(&lines[i % lines.len()]).unwrap() else {
            panic!("not an update")
        };
        for out in state
            .apply(&values, &account, Timestamp::from_millis(0))
            .unwrap()
        {
            if matches!(out, Output::Quote(_)) {
                quotes += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(quotes, n);
    println!(
        "decoded {n} PRICE updates in {secs:.3} s: {:.0} updates/s ({:.0} ns/update)",
        n as f64 / secs,
        secs * 1e9 / n as f64
    );
}

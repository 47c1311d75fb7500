//! The control endpoints against a trading run: a missing or wrong token is refused (401) and
//! changes nothing; with the right one, halt stops new entries (risk refuses them as `halted`
//! and no opening request is sent), resume lets them through again, flatten closes every
//! position; each action is journaled with its source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)] // metric values compared are small integers

mod common;

use scalper_journal::{Journal, OpenOptions};
use scalper_model::Timestamp;

const TOKEN: &str = "correct-horse-battery-staple";

fn opens(m: &common::Metrics) -> f64 {
    m.value("scalper_orders_sent_total", "kind=\"open\"")
}

fn halted_refusals(m: &common::Metrics) -> f64 {
    m.get("scalper_risk_refusals_total", "rule=\"halted\"")
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_resume_and_flatten_need_the_token_and_take_effect() {
    let demo = common::start_demo(7, Some(TOKEN)).await;
    let bearer = format!("Bearer {TOKEN}");
    demo.wait_status("trading with an entry sent", 90, |s| {
        s["phase"] == "trading" && s["orders"]["sent"]["open"].as_u64().unwrap_or(0) >= 1
    })
    .await;

    // Refused without the right token, and nothing changes; a source that keeps failing is
    // refused before its token is looked at (429), other sources are not.
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut attempts = 0;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Basic Y29ycmVjdC1ob3JzZQ=="),
        Some(TOKEN),
    ] {
        for path in ["/api/halt", "/api/flatten", "/api/resume"] {
            let (code, body, retry_after) = demo.post_from(attacker, path, auth).await;
            attempts += 1;
            if attempts <= scalper_observe::control::MAX_FAILURES {
                assert_eq!(code, 401, "{path} with {auth:?}: {body}");
            } else {
                assert_eq!(
                    code, 429,
                    "{path} with {auth:?} (attempt {attempts}): {body}"
                );
                let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
                assert!((1..=60).contains(&secs), "{secs}");
            }
            assert!(
                !body.to_string().contains(TOKEN),
                "the token is never echoed"
            );
        }
    }
    let (code, body, _) = demo.post_from(attacker, "/api/halt", Some(&bearer)).await;
    assert_eq!(
        code, 429,
        "even the right token waits out the throttle: {body}"
    );
    let s = demo.status().await;
    assert!(
        s["halted"].is_null(),
        "a refused request did nothing: {s:#}"
    );

    // Halt: no new entries.
    let (code, reply) = demo.post("/api/halt", Some(&bearer)).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["action"], "halt");
    assert_eq!(reply["halted"], "kill switch");
    let s = demo.status().await;
    assert_eq!(
        s["halted"], "kill switch",
        "the status shows the halt at once"
    );
    let (code, body) = demo.get("/health/ready").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("halted: kill switch"), "{body}");
    let m = demo.metrics().await;
    assert_eq!(m.value("scalper_halted", ""), 1.0);
    let opens_at_halt = opens(&m);
    let refused_at_halt = halted_refusals(&m);
    // The strategy keeps asking; risk refuses every entry as halted, and none is sent.
    let m = demo
        .wait_metrics("entries refused while halted", 90, |m| {
            halted_refusals(m) >= refused_at_halt + 3.0
        })
        .await;
    assert_eq!(opens(&m), opens_at_halt, "no opening request while halted");

    // Resume: entries go out again.
    let (code, reply) = demo.post("/api/resume", Some(&bearer)).await;
    assert_eq!(code, 200, "{reply}");
    assert!(reply["halted"].is_null(), "{reply}");
    demo.wait_metrics("an entry after resume", 90, |m| opens(m) > opens_at_halt)
        .await;

    // Flatten: every position closed (and entries halted).
    demo.wait_status("an open position", 90, |s| {
        s["positions"].as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    let (code, reply) = demo.post("/api/flatten", Some(&bearer)).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["halted"], "kill switch");
    demo.wait_status("no position left", 30, |s| {
        s["positions"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let state = demo.sandbox.state();
    let open_at_broker: usize = state.accounts.iter().map(|a| a.positions.len()).sum();
    assert_eq!(open_at_broker, 0, "the broker holds nothing after flatten");

    let journal = demo.journal.clone();
    let (report, _dir) = demo.stop().await;
    assert_eq!(report.open_positions, 0);
    // Each accepted action is journaled with its source; refused ones are not.
    let j = Journal::open(&journal, &OpenOptions::default()).unwrap();
    let events = j
        .events(
            Timestamp::from_millis(0),
            Timestamp::from_millis(i64::MAX),
            Some("control"),
        )
        .unwrap();
    let actions: Vec<_> = events
        .iter()
        .map(|e| e.detail["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["halt", "resume", "flatten"], "{events:?}");
    for e in &events {
        let source = e.detail["source"].as_str().unwrap();
        assert!(source.starts_with("http 127.0.0.1:"), "{source}");
    }
}

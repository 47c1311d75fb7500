//! The HTTP channels against local fakes: every event reaches the webhook, Slack and Telegram
//! fakes in order; a failed first attempt is retried; delivery gives up after its bound; a
//! refusal is not retried; a full queue drops and counts; no secret reaches a channel or an
//! error; `test_channels` reports each channel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{eventually, FakeHttp};
use rust_decimal::Decimal;
use scalper_alerts::{
    test_channels, Alerts, AlertsConfig, ChannelConfig, Delivery, Event, Redactor, WatchConfig,
};
use scalper_live::AlertTally;
use scalper_model::Money;
use secrecy::SecretString;

const TOKEN: &str = "123456:TESTtokenTESTtokenTESTtoken";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn config(channels: Vec<ChannelConfig>, attempts: u32, queue: usize) -> AlertsConfig {
    AlertsConfig {
        source: "test-run".into(),
        channels,
        delivery: Delivery {
            queue,
            attempts,
            backoff: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        },
        watch: WatchConfig::default(),
    }
}

fn redactor(cfg: &AlertsConfig) -> Redactor {
    let mut r = Redactor::new();
    for c in &cfg.channels {
        match c {
            ChannelConfig::Webhook { url } | ChannelConfig::Slack { url } => r.add(url),
            ChannelConfig::Telegram { token, .. } => r.add(token),
            ChannelConfig::Email(e) => {
                if let Some(p) = &e.password {
                    r.add(p);
                }
            }
        }
    }
    r
}

fn every_event() -> Vec<Event> {
    let gbp = Some("GBP".to_string());
    vec![
        Event::Started {
            mode: "demo".into(),
            environment: "SANDBOX".into(),
            instruments: vec!["CS.D.EURUSD.CFD.IP".into()],
        },
        Event::Halted {
            reason: "kill switch".into(),
        },
        Event::Resumed,
        Event::DailyLossLock {
            day_pnl: Money::new(Decimal::from(-500)),
            currency: gbp.clone(),
        },
        Event::BrokerFailure {
            detail: "HTTP 503".into(),
        },
        Event::PaperFallback {
            detail: "HTTP 503".into(),
        },
        Event::LoginRefused {
            detail: "invalid details".into(),
        },
        Event::Unresolved {
            trades: 1,
            for_s: 31,
        },
        Event::Reconciliation {
            detail: "1 close booked".into(),
        },
        Event::StreamSilent {
            for_s: 61,
            state: "reconnecting".into(),
        },
        Event::JournalFailure {
            detail: "disk full".into(),
        },
        Event::DailySummary {
            day: "2026-01-05".into(),
            trades: 4,
            pnl: Money::new(Decimal::new(1234, 2)),
            currency: gbp.clone(),
            open_positions: 0,
        },
        Event::Stopped {
            ended: "duration".into(),
            trades: 4,
            pnl: Money::new(Decimal::new(1234, 2)),
            currency: gbp,
            open_positions: 0,
            paper_fallback: false,
        },
    ]
}

#[tokio::test]
async fn every_event_reaches_every_http_channel_in_order() {
    let hook = FakeHttp::start(vec![]).await;
    let slack = FakeHttp::start(vec![]).await;
    let tg = FakeHttp::start(vec![]).await;
    let cfg = config(
        vec![
            ChannelConfig::Webhook {
                url: secret(&hook.url("/hook/abc")),
            },
            ChannelConfig::Slack {
                url: secret(&slack.url("/services/T0/B0/xyz")),
            },
            ChannelConfig::Telegram {
                base_url: tg.url(""),
                token: secret(TOKEN),
                chat_id: "-100777".into(),
            },
        ],
        3,
        64,
    );
    let tally = Arc::new(AlertTally::default());
    let (alerts, dispatcher) = Alerts::start(&cfg, tally.clone(), redactor(&cfg)).unwrap();
    let events = every_event();
    for e in &events {
        alerts.notify(e);
    }
    let n = events.len();
    eventually("every delivery", || tally.counts().sent == 3 * n as u64).await;
    drop(alerts);
    assert!(dispatcher.finish(Duration::from_secs(5)).await.is_empty());

    let kinds: Vec<String> = hook
        .hits()
        .iter()
        .map(|h| h.json()["event"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds, want);
    let first = hook.hits()[0].json();
    assert_eq!(first["source"], "test-run");
    assert_eq!(first["severity"], "info");
    assert_eq!(first["title"], "started (demo)");
    assert!(hook.hits().iter().all(|h| h.path == "/hook/abc"));
    let lock = &hook.hits()[3].json();
    assert_eq!(lock["severity"], "warning");
    assert!(
        lock["text"].as_str().unwrap().contains("-500.00 GBP"),
        "{lock}"
    );

    for (hit, generic) in slack.hits().iter().zip(hook.hits()) {
        let j = hit.json();
        assert_eq!(j.as_object().unwrap().len(), 1, "Slack gets only text: {j}");
        let text = j["text"].as_str().unwrap();
        assert!(text.starts_with("[test-run] "), "{text}");
        let title = generic.json()["title"].as_str().unwrap().to_string();
        assert!(text.contains(&title), "{text} lacks {title}");
    }
    assert_eq!(slack.hits().len(), n);
    for hit in tg.hits() {
        assert_eq!(hit.path, format!("/bot{TOKEN}/sendMessage"));
        let j = hit.json();
        assert_eq!(j["chat_id"], "-100777");
        assert!(j["text"].as_str().unwrap().starts_with("[test-run]"));
    }
    let summary = tg.hits()[11].json();
    assert!(
        summary["text"]
            .as_str()
            .unwrap()
            .contains("4 trade(s), realised P&L 12.34 GBP"),
        "{summary}"
    );
    assert_eq!(tally.counts().failed, 0);
    assert_eq!(tally.counts().dropped, 0);
}

#[tokio::test]
async fn a_failed_first_attempt_is_retried() {
    let hook = FakeHttp::start(vec![(500, "oops")]).await;
    let cfg = config(
        vec![ChannelConfig::Webhook {
            url: secret(&hook.url("/h")),
        }],
        3,
        8,
    );
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), Redactor::new()).unwrap();
    alerts.notify(&Event::Resumed);
    eventually("the retry delivered", || tally.counts().sent == 1).await;
    assert_eq!(hook.hits().len(), 2, "one failure, one success");
    assert_eq!(tally.counts().failed, 0);
}

#[tokio::test]
async fn delivery_gives_up_after_its_bound() {
    let hook = FakeHttp::start(vec![(503, ""); 10]).await;
    let cfg = config(
        vec![ChannelConfig::Webhook {
            url: secret(&hook.url("/h")),
        }],
        3,
        8,
    );
    let tally = Arc::new(AlertTally::default());
    let (alerts, d) = Alerts::start(&cfg, tally.clone(), Redactor::new()).unwrap();
    alerts.notify(&Event::Resumed);
    eventually("the give-up", || tally.counts().failed == 1).await;
    drop(alerts);
    assert!(d.finish(Duration::from_secs(5)).await.is_empty());
    assert_eq!(hook.hits().len(), 3, "exactly the bound");
    assert_eq!(tally.counts().sent, 0);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_says_what_to_check() {
    let tg = FakeHttp::start(vec![(
        401,
        r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
    )])
    .await;
    let cfg = config(
        vec![ChannelConfig::Telegram {
            base_url: tg.url(""),
            token: secret(TOKEN),
            chat_id: "1".into(),
        }],
        5,
        8,
    );
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), redactor(&cfg)).unwrap();
    alerts.notify(&Event::Resumed);
    eventually("the refusal", || tally.counts().failed == 1).await;
    assert_eq!(tg.hits().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_waiting() {
    let hook = FakeHttp::start(vec![]).await;
    hook.hold();
    let cfg = config(
        vec![ChannelConfig::Webhook {
            url: secret(&hook.url("/h")),
        }],
        1,
        1,
    );
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), Redactor::new()).unwrap();
    for _ in 0..5 {
        alerts.notify(&Event::Resumed);
    }
    // At most one in flight and one queued: the rest are dropped at once.
    assert!(tally.counts().dropped >= 3, "{:?}", tally.counts());
    hook.open();
    eventually("the queue drained", || {
        let c = tally.counts();
        c.sent + c.dropped == 5
    })
    .await;
    assert!(tally.counts().sent >= 1);
}

#[tokio::test]
async fn no_secret_reaches_a_channel_or_an_error() {
    let smtp_pass = "smtp-Pa55word-xyz";
    let hook = FakeHttp::start(vec![]).await;
    // The fake echoes the token back in its refusal, as some servers quote the URL.
    let refusal = format!(r#"{{"description":"bad request for /bot{TOKEN}/sendMessage"}}"#);
    let tg = FakeHttp::start(vec![(400, refusal.as_str()), (400, refusal.as_str())]).await;
    let hook_url = hook.url("/hooks/SECRETHOOKPATH");
    let cfg = config(
        vec![
            ChannelConfig::Webhook {
                url: secret(&hook_url),
            },
            ChannelConfig::Telegram {
                base_url: tg.url(""),
                token: secret(TOKEN),
                chat_id: "1".into(),
            },
        ],
        1,
        8,
    );
    let mut r = redactor(&cfg);
    r.add(&secret(smtp_pass));
    let tally = Arc::new(AlertTally::default());
    let (alerts, _d) = Alerts::start(&cfg, tally.clone(), r.clone()).unwrap();
    alerts.notify(&Event::BrokerFailure {
        detail: format!(
            "POST {}/bot{TOKEN}/sendMessage failed; smtp login {smtp_pass} refused; webhook {hook_url}; \
             IG said {{\"password\":\"ig-secret-pw\"}} with Bearer abc.def.ghi",
            tg.url("")
        ),
    });
    eventually("both attempts", || {
        let c = tally.counts();
        c.sent + c.failed == 2
    })
    .await;
    let bodies: Vec<String> = hook
        .hits()
        .iter()
        .chain(tg.hits().iter())
        .map(|h| h.body.clone())
        .collect();
    assert_eq!(bodies.len(), 2);
    for b in &bodies {
        for s in [
            TOKEN,
            "TESTtoken",
            smtp_pass,
            "SECRETHOOKPATH",
            "ig-secret-pw",
            "abc.def.ghi",
        ] {
            assert!(!b.contains(s), "{s} leaked into {b}");
        }
        assert!(b.contains("[redacted]"), "{b}");
    }
    // The refusal's text (which quoted the token) is scrubbed too.
    let report = test_channels(&cfg, &r).await.unwrap();
    let (_, tg_result) = &report[1];
    let e = tg_result.as_ref().unwrap_err();
    assert!(!e.message.contains("TESTtoken"), "{}", e.message);
    assert!(e.message.contains("HTTP 400"), "{}", e.message);
    assert!(e.message.contains("chat_id"), "the hint: {}", e.message);
}

#[tokio::test]
async fn test_channels_reports_each_channel() {
    let ok = FakeHttp::start(vec![]).await;
    let bad = FakeHttp::start(vec![(404, "no such hook")]).await;
    let cfg = config(
        vec![
            ChannelConfig::Webhook {
                url: secret(&ok.url("/ok")),
            },
            ChannelConfig::Slack {
                url: secret(&bad.url("/services/gone")),
            },
        ],
        3,
        8,
    );
    let report = test_channels(&cfg, &Redactor::new()).await.unwrap();
    assert_eq!(report.len(), 2);
    assert_eq!(report[0].0, "webhook");
    assert!(report[0].1.is_ok());
    assert_eq!(report[1].0, "slack");
    let e = report[1].1.as_ref().unwrap_err();
    assert!(e.message.contains("HTTP 404"), "{}", e.message);
    assert!(
        e.message.contains("SCALPER_ALERTS_SLACK_URL"),
        "{}",
        e.message
    );
    assert!(!e.retryable);
    assert_eq!(ok.hits()[0].json()["event"], "test");
    assert_eq!(bad.hits().len(), 1, "one attempt each");
}

#[tokio::test]
async fn an_unreachable_channel_is_a_retryable_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = config(
        vec![ChannelConfig::Webhook {
            url: secret(&format!("http://{addr}/h?token=zzzSECRET")),
        }],
        1,
        8,
    );
    let report = test_channels(&cfg, &Redactor::new()).await.unwrap();
    let e = report[0].1.as_ref().unwrap_err();
    assert!(e.retryable);
    assert!(e.message.contains("cannot connect"), "{}", e.message);
    assert!(!e.message.contains("zzzSECRET"), "{}", e.message);
}

//! The watcher on a real run: `scalper_live::run` trades against the in-process sandbox with
//! telemetry, the watcher reads its `TelemetryView`, and a fake webhook receives what the
//! snapshots show: the stream silenced by a sandbox fault (and its return), a halt through
//! the control channel and its lifting. Nothing on the event loop knows about alerts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{eventually, FakeHttp};
use rust_decimal::Decimal;
use scalper_alerts::{Alerts, AlertsConfig, ChannelConfig, Delivery, Redactor, WatchConfig};
use scalper_engine::{EngineConfig, RiskPerTrade};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_live::{ControlAction, Interrupts, RunOptions, RunPhase};
use scalper_model::{Epic, Money};
use scalper_sandbox::bus::StreamFault;
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};
use secrecy::SecretString;

fn kinds(hook: &FakeHttp) -> Vec<String> {
    hook.hits()
        .iter()
        .map(|h| h.json()["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_alerts_what_a_real_run_shows() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 5,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let creds = sandbox.credentials().clone();
    let client = IgClient::new(
        IgConfig::new(
            Environment::Demo,
            creds.username.clone(),
            creds.password.clone(),
            creds.api_key.clone(),
        )
        .with_api_url(sandbox.rest_url())
        .with_session_version(SessionVersion::V3),
    )
    .unwrap();
    let hook = FakeHttp::start(vec![]).await;
    let cfg = AlertsConfig {
        source: "run-test".into(),
        channels: vec![ChannelConfig::Webhook {
            url: SecretString::from(hook.url("/hook")),
        }],
        delivery: Delivery {
            backoff: Duration::from_millis(5),
            ..Delivery::default()
        },
        watch: WatchConfig {
            stream_silent: Duration::from_secs(2),
            tick: Duration::from_millis(200),
            ..WatchConfig::default()
        },
    };
    let (telemetry, view) = scalper_live::telemetry();
    let (alerts, dispatcher) = Alerts::start(&cfg, view.alerts(), Redactor::new()).unwrap();
    let watcher = scalper_alerts::watch::spawn(&view, alerts.clone(), cfg.watch);
    let intr = Interrupts::manual();
    let kill = intr.kill_switch();
    let dir = tempfile::tempdir().unwrap();
    let mut engine_cfg = EngineConfig {
        seed: 5,
        ..EngineConfig::default()
    };
    engine_cfg.risk.risk_per_trade = RiskPerTrade::Amount(Decimal::from(15));
    let opts = RunOptions {
        duration: Some(Duration::from_secs(120)),
        equity: Money::new(Decimal::from(10_000)),
        journal: Some(dir.path().join("journal.sqlite")),
        durable_journal: false,
        interrupts: Some(intr),
        telemetry: Some(telemetry),
        ..RunOptions::default()
    };
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let run = tokio::spawn(scalper_live::run(client, engine_cfg, vec![epic], opts));

    eventually("quotes while trading", || {
        let s = view.status();
        s.phase == RunPhase::Trading && s.stream.quotes > 0
    })
    .await;
    sandbox.stream_fault(StreamFault::Silence { millis: 6_000 });
    eventually("the stream-silent alert", || {
        kinds(&hook).contains(&"stream_silent".to_string())
    })
    .await;
    eventually("the stream-resumed alert", || {
        kinds(&hook).contains(&"stream_resumed".to_string())
    })
    .await;

    let reply = view
        .control(ControlAction::Halt, "test".into())
        .await
        .unwrap();
    assert_eq!(reply.halted.as_deref(), Some("kill switch"));
    eventually("the halt alert", || {
        kinds(&hook).contains(&"halt".to_string())
    })
    .await;
    view.control(ControlAction::Resume, "test".into())
        .await
        .unwrap();
    eventually("the resume alert", || {
        kinds(&hook).contains(&"resume".to_string())
    })
    .await;

    kill.press();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.ended, "interrupted");
    watcher.finish().await;
    drop(alerts);
    assert!(dispatcher.finish(Duration::from_secs(10)).await.is_empty());
    sandbox.shutdown().await;

    let k = kinds(&hook);
    let at = |name: &str| k.iter().position(|e| e == name).unwrap();
    assert!(at("stream_silent") < at("stream_resumed"), "{k:?}");
    assert!(at("halt") < at("resume"), "{k:?}");
    let silent = &hook.hits()[at("stream_silent")].json();
    assert_eq!(silent["severity"], "warning");
    assert!(
        silent["title"]
            .as_str()
            .unwrap()
            .starts_with("no quote for "),
        "{silent}"
    );
    assert_eq!(view.alerts().counts().dropped, 0);
    assert_eq!(view.alerts().counts().failed, 0);
}

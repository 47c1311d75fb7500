//! The live runner against the sandbox: token expiry and injected token errors do not stop
//! trading (and never switch to paper); the paper
//! broker and the IG broker make the same decisions on the same quotes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::client_for;
use rust_decimal::Decimal;
use scalper_engine::{
    sim, Action, Broker, BrokerCommand, BrokerEvent, CloseCause, Engine, EngineConfig, EngineEvent,
    EngineInit, RiskPerTrade, SimBroker, SimConfig,
};
use scalper_ig::{IgBroker, SessionVersion};
use scalper_live::{QuoteClock, RunOptions};
use scalper_model::{DealState, Direction, Epic, Money, Quote};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

/// Polls the sandbox's state until `cond` holds (10 s deadline).
async fn wait_for(
    sandbox: &scalper_sandbox::SandboxHandle,
    what: &str,
    cond: impl Fn(&scalper_sandbox::StateSnapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if cond(&sandbox.state()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn eurusd() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

fn engine_config() -> EngineConfig {
    let mut cfg = EngineConfig {
        seed: 7,
        ..EngineConfig::default()
    };
    cfg.risk.risk_per_trade = RiskPerTrade::Amount(Decimal::from(15));
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_tokens_and_injected_token_errors_keep_trading_without_paper() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 11,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        oauth_expires_in: Duration::from_secs(5),
        token_idle_ttl: Duration::from_secs(5),
        token_max_age: Duration::from_secs(5),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        duration: Some(Duration::from_secs(14)),
        paper: false,
        status_line: false,
        stream: scalper_ig::stream::StreamConfig::default(),
        equity: Money::new(Decimal::from(10_000)),
        journal: Some(dir.path().join("journal.sqlite")),
        durable_journal: false,
        ..RunOptions::default()
    };
    let client = client_for(&sandbox, SessionVersion::V3);
    // Token errors while the engine trades (IG's mid-session expiry), on top of tokens that
    // expire every 5 seconds: one at a time, each after the previous one was recovered.
    let inject = async {
        wait_for(&sandbox, "the first position", |s| {
            s.account("SANDBOX-CFD")
                .is_some_and(|a| !a.positions.is_empty() || !a.ledger.is_empty())
        })
        .await;
        for n in 1..=3u64 {
            // Counted before the error is armed: the failed request, the refresh and the
            // resent request all come after it, however fast the recovery is.
            let before = sandbox.state().requests.values().sum::<u64>();
            sandbox.inject_faults("token-invalid:1").unwrap();
            wait_for(&sandbox, "the token error", |s| {
                s.faults_fired.get("token-invalid").copied().unwrap_or(0) >= n
            })
            .await;
            // The refresh and the resent request pass before the next error is armed.
            wait_for(&sandbox, "the recovery", |s| {
                s.requests.values().sum::<u64>() >= before + 3
            })
            .await;
        }
    };
    let run = scalper_live::run(client, engine_config(), vec![eurusd()], opts);
    tokio::pin!(run);
    // The run ends on its own (14 s); the injector stops with it.
    let report = tokio::select! {
        r = &mut run => r,
        () = inject => run.await,
    }
    .unwrap();
    let state = sandbox.state();
    sandbox.shutdown().await;

    assert!(!report.paper_fallback, "{report:?}");
    assert!(!report.paper);
    assert!(report.refreshes > 0, "no refresh in {report:?}");
    assert!(
        report.token_errors_recovered > 0,
        "no recovered token error: {report:?}"
    );
    assert!(report.trades > 0, "no trade in {report:?}");
    assert_eq!(report.exit_code, 0);
    // Every trade the engine counts was really made at the sandbox and closed there.
    let account = state.account("SANDBOX-CFD").unwrap();
    // Deal confirms came from the TRADE stream: REST /confirms was at most a fallback.
    let dealing = state.requests_matching("/positions/otc");
    let rest_confirms = state.requests_matching("/confirms");
    assert!(dealing > 0);
    assert!(
        rest_confirms < dealing,
        "{rest_confirms} REST confirms for {dealing} dealing requests: {:?}",
        state.requests
    );
    assert!(account.positions.is_empty(), "positions left: {account:?}");
    assert_eq!(account.ledger.len() as u64, report.trades, "{account:?}");
    // The engine's P&L (stops and limits the broker filled included) is the ledger's, to the
    // cent, and the summary reports the broker's own balance change too.
    assert_eq!(
        Some(report.pnl.value()),
        report.broker_balance_change.map(Money::value),
        "{report:?}"
    );
    assert_eq!(
        report.broker_balance_change.map(Money::value),
        Some(account.balance - Decimal::from(10_000)),
        "{report:?}"
    );
}

/// The same quotes through the engine with the paper broker and with the IG broker on the
/// sandbox (whose prices are set to those quotes) give the same orders and the same fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_and_ig_brokers_make_the_same_decisions() {
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let epic = eurusd();
    // A fixed quote path from the sandbox's own simulator.
    let quotes: Vec<Quote> = sandbox.step(Some(&epic), 600).unwrap();
    assert!(quotes.len() >= 600);

    let client = client_for(&sandbox, SessionVersion::V2);
    let market = client.market(&epic).await.unwrap();
    let instruments = vec![market.instrument.clone()];
    let mut cfg = engine_config();
    cfg.risk.stale_quote_ms = i64::MAX / 4;
    let init = EngineInit::default();

    // Paper: fills on the triggering quote, like a market order at the sandbox.
    let mut paper_engine = Engine::new(cfg.clone(), instruments.clone(), init.clone()).unwrap();
    let mut paper = SimBroker::new(
        SimConfig {
            latency_ms: Some(0),
            ..SimConfig::default()
        },
        instruments.clone(),
    );
    let mut paper_orders = Vec::new();
    let mut actions = Vec::new();
    for q in &quotes {
        actions.clear();
        sim::step(
            &mut paper_engine,
            &mut paper,
            EngineEvent::Quote(q.clone()),
            &mut actions,
        );
        paper_orders.extend(actions.iter().filter_map(order_of));
    }

    // IG: the sandbox's price is set to each quote before the engine sees it.
    let clock = QuoteClock::default();
    let mut ig = IgBroker::new(client.clone(), Arc::new(clock.clone()));
    let mut ig_engine = Engine::new(cfg, instruments, init).unwrap();
    let mut ig_orders = Vec::new();
    for q in &quotes {
        sandbox
            .set_price(&epic, q.bid.value(), q.offer.value())
            .unwrap();
        clock.observe(q.ts);
        let mut queue = std::collections::VecDeque::new();
        // A stop or limit the sandbox triggered on this price: what the stream's OPU DELETED
        // tells the live runner.
        let held: Vec<String> = sandbox
            .state()
            .account("SANDBOX-CFD")
            .map(|a| a.positions.iter().map(|p| p.deal_id.clone()).collect())
            .unwrap_or_default();
        for t in ig_engine.trades() {
            if let (DealState::Open, Some(id)) = (t.state, &t.deal_id) {
                if !held.iter().any(|h| h == id.as_str()) {
                    let level = match t.direction {
                        Direction::Buy => q.bid,
                        Direction::Sell => q.offer,
                    };
                    queue.push_back(EngineEvent::Broker(BrokerEvent::PositionClosed {
                        deal_id: id.clone(),
                        level,
                        pnl: None,
                        cause: CloseCause::Stop,
                        at: q.ts,
                    }));
                }
            }
        }
        queue.push_back(EngineEvent::Quote(q.clone()));
        while let Some(ev) = queue.pop_front() {
            for a in ig_engine.process(ev) {
                if let Some(o) = order_of(&a) {
                    ig_orders.push(o);
                }
                if let Action::Broker(cmd) = a {
                    for e in ig.execute(cmd).await {
                        queue.push_back(EngineEvent::Broker(e));
                    }
                }
            }
        }
    }
    sandbox.shutdown().await;

    assert!(!paper_orders.is_empty(), "the strategy made no order");
    assert_eq!(paper_orders, ig_orders);
    let paper_trades: Vec<_> = paper_engine
        .closed_trades()
        .iter()
        .map(|t| (t.direction, t.size, t.entry_price))
        .collect();
    let ig_trades: Vec<_> = ig_engine
        .closed_trades()
        .iter()
        .map(|t| (t.direction, t.size, t.entry_price))
        .collect();
    assert_eq!(paper_trades, ig_trades);
}

/// What an order decides: open (epic, direction, size) or close (direction, size).
fn order_of(a: &Action) -> Option<String> {
    match a {
        Action::Broker(BrokerCommand::Open(o)) => {
            Some(format!("open {} {} {}", o.epic, o.direction, o.size))
        }
        Action::Broker(BrokerCommand::Close(c)) => {
            Some(format!("close {} {}", c.direction, c.size))
        }
        _ => None,
    }
}

/// Without a streamed confirm, a dealing call falls back to REST `/confirms` after the wait.
#[tokio::test]
async fn streamed_confirm_missing_falls_back_to_rest() {
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let client = client_for(&sandbox, SessionVersion::V2);
    let hub = scalper_ig::ConfirmHub::default();
    assert!(client.use_stream_confirms(hub.clone(), Duration::from_millis(50)));
    let req = scalper_ig::OpenRequest::market(
        eurusd(),
        Direction::Buy,
        scalper_model::Size::new(Decimal::ONE),
        "USD",
    );
    let out = client.open_position(&req).await.unwrap();
    assert!(out.is_accepted(), "{out:?}");
    assert_eq!(sandbox.state().requests_matching("/confirms"), 1);
    // With the confirm delivered (as the stream reader does), no REST confirm is needed.
    let mut req2 = req.clone();
    let r2 = scalper_model::DealReference::new("HUB-TEST-2").unwrap();
    req2.deal_reference = Some(r2.clone());
    let c = client.confirm(&out.deal_reference().clone()).await.unwrap();
    hub.deliver(scalper_ig::Confirmation {
        deal_reference: r2,
        ..c
    });
    let out2 = client.open_position(&req2).await.unwrap();
    assert!(out2.is_accepted(), "{out2:?}");
    assert_eq!(
        sandbox.state().requests_matching("/confirms"),
        2,
        "only the explicit lookup"
    );
    sandbox.shutdown().await;
}

/// The daily loss limit holds across a restart: the second run reads the day's losses back from
/// the journal and makes no entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_loss_limit_survives_a_restart() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 5,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine_config();
    cfg.risk.daily_loss_limit = Some(Decimal::ONE);
    let opts = |secs| RunOptions {
        duration: Some(Duration::from_secs(secs)),
        paper: false,
        status_line: false,
        stream: scalper_ig::stream::StreamConfig::default(),
        equity: Money::new(Decimal::from(10_000)),
        journal: Some(dir.path().join("journal.sqlite")),
        durable_journal: false,
        ..RunOptions::default()
    };
    let first = scalper_live::run(
        client_for(&sandbox, SessionVersion::V2),
        cfg.clone(),
        vec![eurusd()],
        opts(10),
    )
    .await
    .unwrap();
    assert!(first.pnl.value() < -Decimal::ONE, "{first:?}");
    assert_eq!(first.halted.as_deref(), Some("daily loss limit reached"));
    let deals_before = sandbox
        .state()
        .requests_matching("POST /gateway/deal/positions/otc");

    let second = scalper_live::run(
        client_for(&sandbox, SessionVersion::V2),
        cfg,
        vec![eurusd()],
        opts(4),
    )
    .await
    .unwrap();
    let deals_after = sandbox
        .state()
        .requests_matching("POST /gateway/deal/positions/otc");
    sandbox.shutdown().await;
    assert_eq!(second.trades, 0, "{second:?}");
    assert_eq!(second.halted.as_deref(), Some("daily loss limit reached"));
    assert!(second.quotes > 0, "the second run saw no quote: {second:?}");
    // No opening request reached the broker (POSTs are opens; closes are sent as DELETE).
    assert_eq!(deals_after, deals_before);
}

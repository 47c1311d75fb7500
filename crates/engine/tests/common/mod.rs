//! Shared fixtures for the engine's integration tests: an EUR/USD instrument, a scripted
//! strategy whose intents the test queues, and a harness that feeds events.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{
    Action, BrokerEvent, CloseCause, DealRefGen, Engine, EngineConfig, EngineEvent, EngineInit,
    Entry, Intent, Strategy, StrategyContext,
};
use scalper_model::{
    DealId, DealReference, DealingRules, Direction, Epic, Instrument, Money, Points, Price, Quote,
    Size, Timestamp,
};

/// 2024-01-02 (a Tuesday) 08:00:00 UTC.
pub const T0: i64 = 1_704_182_400_000;

pub fn epic() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

pub fn epic2() -> Epic {
    Epic::new("CS.D.GBPUSD.CFD.IP").unwrap()
}

pub fn instrument_for(epic: Epic) -> Instrument {
    Instrument {
        epic,
        name: "EUR/USD".into(),
        point_size: dec!(0.0001),
        value_per_point: dec!(10),
        currency: "USD".into(),
        account_currency: String::new(),
        account_rate: Decimal::ONE,
        expiry: "-".into(),
        rules: DealingRules {
            min_deal_size: Size::new(dec!(0.5)),
            size_step: dec!(0.01),
            min_stop_distance: Points::new(dec!(2)),
            max_stop_distance: Some(Points::new(dec!(500))),
            guaranteed_stop: None,
            trailing_stops: false,
            min_trailing_step: None,
        },
        kind: scalper_model::ProductKind::Cfd,
        contract_size: Some(dec!(100000)),
        margin: scalper_model::MarginRules::default(),
    }
}

pub fn instrument() -> Instrument {
    instrument_for(epic())
}

pub fn p(d: Decimal) -> Price {
    Price::new(d)
}

pub fn pts(d: Decimal) -> Points {
    Points::new(d)
}

pub fn money(d: Decimal) -> Money {
    Money::new(d)
}

pub fn size(d: Decimal) -> Size {
    Size::new(d)
}

pub fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

pub fn did(n: u32) -> DealId {
    DealId::new(format!("D{n}")).unwrap()
}

/// The `n`th (1-based) deal reference an engine with prefix `T` and seed 0 issues.
pub fn r(n: u64) -> DealReference {
    let mut g = DealRefGen::new("T", 0).unwrap();
    let mut last = g.next_ref();
    for _ in 1..n {
        last = g.next_ref();
    }
    last
}

pub fn quote_on(epic: Epic, offset_ms: i64, bid: Decimal, offer: Decimal) -> EngineEvent {
    EngineEvent::Quote(Quote {
        epic,
        bid: p(bid),
        offer: p(offer),
        ts: ts(offset_ms),
    })
}

pub fn quote(offset_ms: i64, bid: Decimal, offer: Decimal) -> EngineEvent {
    quote_on(epic(), offset_ms, bid, offer)
}

pub fn timer(offset_ms: i64) -> EngineEvent {
    EngineEvent::Timer(ts(offset_ms))
}

pub fn accepted(n: u64, deal: u32, level: Decimal, sz: Decimal, offset_ms: i64) -> EngineEvent {
    EngineEvent::Broker(BrokerEvent::Accepted {
        deal_ref: r(n),
        deal_id: did(deal),
        level: p(level),
        size: size(sz),
        stop_level: None,
        limit_level: None,
        at: ts(offset_ms),
    })
}

pub fn closed(deal: u32, level: Decimal, cause: CloseCause, offset_ms: i64) -> EngineEvent {
    EngineEvent::Broker(BrokerEvent::PositionClosed {
        deal_id: did(deal),
        level: p(level),
        pnl: None,
        cause,
        at: ts(offset_ms),
    })
}

/// An entry with a stop (and optional target), sized by risk.
pub fn enter(direction: Direction, stop: Decimal, limit: Option<Decimal>) -> Intent {
    Intent::Enter(Entry {
        direction,
        size: None,
        stop_distance: Some(pts(stop)),
        limit_distance: limit.map(pts),
        trailing_distance: None,
        max_hold_ms: None,
        reason: "test".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    })
}

pub type Queue = Arc<Mutex<VecDeque<Vec<Intent>>>>;

/// Returns queued intents, one batch per quote, candle or timer.
#[derive(Debug, Clone, Default)]
pub struct Scripted(pub Queue);

impl Scripted {
    fn next(&self) -> Vec<Intent> {
        self.0.lock().unwrap().pop_front().unwrap_or_default()
    }
}

impl Strategy for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn on_quote(&mut self, _q: &Quote, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        self.next()
    }
    fn on_timer(&mut self, _now: Timestamp, _ctx: &StrategyContext<'_>) -> Vec<Intent> {
        self.next()
    }
}

/// An engine with scripted strategies on EUR/USD (and GBP/USD when `two`).
pub struct Harness {
    pub engine: Engine,
    pub queues: Vec<Queue>,
}

pub fn test_config() -> EngineConfig {
    let mut cfg = EngineConfig {
        deal_ref_prefix: "T".into(),
        ..EngineConfig::default()
    };
    // A fixed amount keeps sizes independent of earlier P&L (percent sizing is tested apart).
    cfg.risk.risk_per_trade = scalper_engine::RiskPerTrade::Amount(dec!(50));
    cfg
}

impl Harness {
    pub fn new(cfg: EngineConfig) -> Self {
        Self::build(cfg, EngineInit::default(), false)
    }

    pub fn build(cfg: EngineConfig, init: EngineInit, two: bool) -> Self {
        let mut epics = vec![epic()];
        if two {
            epics.push(epic2());
        }
        let mut queues = Vec::new();
        let markets = epics
            .into_iter()
            .map(|e| {
                let q = Queue::default();
                queues.push(q.clone());
                (
                    instrument_for(e),
                    Box::new(Scripted(q)) as Box<dyn Strategy>,
                )
            })
            .collect();
        let engine = Engine::with_strategies(cfg, markets, init).unwrap();
        Self { engine, queues }
    }

    /// Queues intents for the next strategy call on market `i`.
    pub fn script(&self, i: usize, intents: Vec<Intent>) {
        self.queues[i].lock().unwrap().push_back(intents);
    }

    pub fn send(&mut self, ev: EngineEvent) -> Vec<Action> {
        self.engine.process(ev)
    }

    /// Sends a quote on EUR/USD after queuing `intents` for it.
    pub fn quote_with(
        &mut self,
        offset_ms: i64,
        bid: Decimal,
        offer: Decimal,
        intents: Vec<Intent>,
    ) -> Vec<Action> {
        self.script(0, intents);
        self.send(quote(offset_ms, bid, offer))
    }
}

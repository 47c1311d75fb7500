//! Skipping timer events that [`Engine::timer_has_work`] says nothing needs (as backtests do)
//! changes no trade: random quote streams with one-second timers are run twice through the
//! sim broker, once with every timer and once with only the timers that have work, and the
//! opened and closed trades must be identical, in order, at the same times and prices.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default,
    dead_code
)]

mod common;

use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use scalper_engine::strategy::{EmaCross, EmaCrossConfig};
use scalper_engine::{
    step, step_quote, Action, Engine, EngineEvent, EngineInit, Intent, SimBroker, SimConfig,
    Strategy, StrategyContext,
};
use scalper_model::{Epic, Price, Quote, Timestamp};

/// Flips like `ema-cross`, but each entry has a max hold time: its trades need timers.
#[derive(Debug)]
struct HeldFlips {
    inner: EmaCross,
    hold_ms: i64,
}

impl Strategy for HeldFlips {
    fn name(&self) -> &'static str {
        "held-flips"
    }
    fn on_quote(&mut self, quote: &Quote, ctx: &StrategyContext<'_>) -> Vec<Intent> {
        let mut intents = self.inner.on_quote(quote, ctx);
        for i in &mut intents {
            if let Intent::Enter(e) = i {
                e.max_hold_ms = Some(self.hold_ms);
            }
        }
        intents
    }
    fn uses_timer(&self) -> bool {
        false
    }
}

fn ema(fast: u32, slow: u32) -> EmaCross {
    EmaCross::new(EmaCrossConfig {
        fast,
        slow,
        size: Decimal::ONE,
    })
}

/// A random walk: (gap before the quote in ms, move in tenths of a pip, spread in tenths);
/// some gaps span several timer periods.
fn walk() -> impl proptest::strategy::Strategy<Value = Vec<(i64, i64, i64)>> {
    let gap = prop_oneof![8 => 1i64..900, 1 => 900i64..5_000];
    proptest::collection::vec((gap, -30i64..=30, 1i64..20), 20..400)
}

/// The trades opened and closed, as text, when `quotes` run with one-second timers; all of
/// them, or only those the engine has work for.
fn trades(
    strategy: Box<dyn Strategy>,
    quotes: &[(i64, i64, i64)],
    skip_idle_timers: bool,
) -> Vec<String> {
    let inst = instrument();
    let epic: Epic = inst.epic.clone();
    // A small daily loss limit, so that some runs halt and resume at the session day's end.
    let mut cfg = test_config();
    cfg.risk.daily_loss_limit = Some(Decimal::new(5, 1));
    let mut engine =
        Engine::with_strategies(cfg, vec![(inst.clone(), strategy)], EngineInit::default())
            .unwrap();
    let mut broker = SimBroker::new(
        SimConfig {
            latency_ms: Some(0),
            ..SimConfig::default()
        },
        vec![inst],
    );
    // Three minutes before a UTC midnight (a session day's end): most walks cross it.
    let day = 86_400_000;
    let (mut now, mut mid) = ((ts(0).millis() / day + 1) * day - 180_000, 110_000i64);
    let mut next_timer = (now / 1000 + 1) * 1000;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for &(gap, step_tenths, spread) in quotes {
        now += gap;
        mid += step_tenths;
        while next_timer < now {
            if !skip_idle_timers || engine.timer_has_work() {
                let ev = EngineEvent::Timer(Timestamp::from_millis(next_timer));
                step(&mut engine, &mut broker, ev, &mut out);
            }
            next_timer += 1000;
        }
        let q = Quote {
            epic: epic.clone(),
            bid: Price::new(Decimal::new(mid - spread / 2, 5)),
            offer: Price::new(Decimal::new(mid + spread - spread / 2, 5)),
            ts: Timestamp::from_millis(now),
        };
        step_quote(&mut engine, &mut broker, &q, &mut out);
        for a in out.drain(..) {
            if matches!(a, Action::TradeOpened(_) | Action::TradeClosed(_)) {
                seen.push(format!("{a:?}"));
            }
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SCALPER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
    ))]

    #[test]
    fn skipping_idle_timers_changes_no_trade(
        quotes in walk(),
        fast in 2u32..6,
        extra in 1u32..10,
        hold_ms in 500i64..20_000,
        held in any::<bool>(),
    ) {
        let build = || -> Box<dyn Strategy> {
            let inner = ema(fast, fast + extra);
            if held {
                Box::new(HeldFlips { inner, hold_ms })
            } else {
                Box::new(inner)
            }
        };
        let all = trades(build(), &quotes, false);
        let skipped = trades(build(), &quotes, true);
        prop_assert_eq!(all, skipped);
    }
}

#[test]
fn timers_have_work_only_with_timed_duties() {
    let quotes: Vec<(i64, i64, i64)> = (0..60)
        .map(|i| (400, if i % 7 < 3 { 20 } else { -20 }, 4))
        .collect();
    // Held trades need timers while they are open (and max hold closes some of them).
    let held = trades(
        Box::new(HeldFlips {
            inner: ema(2, 5),
            hold_ms: 1_500,
        }),
        &quotes,
        true,
    );
    assert!(
        held.iter()
            .any(|t| t.contains("MaxHold") || t.contains("max hold")),
        "no trade was closed by its max hold time: {held:#?}"
    );
    // Without held trades and with a strategy that ignores timers, nothing needs them.
    let inst = instrument();
    let engine = Engine::with_strategies(
        test_config(),
        vec![(inst, Box::new(ema(2, 5)) as Box<dyn Strategy>)],
        EngineInit::default(),
    )
    .unwrap();
    assert!(!engine.timer_has_work());
    // A strategy that does not say it ignores timers gets them.
    assert!(Harness::new(test_config()).engine.timer_has_work());
}

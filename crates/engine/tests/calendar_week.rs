//! A simulated week of the calendar's rules at once, through the engine and the sim broker:
//! Monday 9 to Tuesday 17 March 2026, the week the US has changed its clocks and the UK has
//! not (FX closes Friday 21:00 UTC, an hour before London's usual 22:00), a holiday closing
//! Germany 40 on Wednesday, a US news event on Friday and a Monday-to-Thursday rollover
//! flatten. An EMA 2/5 cross on both markets wants to trade all the time, quotes keep coming
//! when markets are closed, and the checks use windows written out by hand in UTC (London is
//! on GMT all that span), not the calendar's own code.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_wrap,
    clippy::field_reassign_with_default
)]

mod common;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::calendar::HolidayConfig;
use scalper_engine::news::{Impact, NewsEvent};
use scalper_engine::schedule::FlattenAt;
use scalper_engine::{
    step, Action, BrokerCommand, Command, Engine, EngineConfig, EngineEvent, EngineInit, SimBroker,
    SimConfig, StrategyConfig,
};
use scalper_model::catalogue;
use scalper_model::{Epic, Money, Price, PriceScale, ProductKind, Quote, Timestamp};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-03-09 00:00 UTC.
const MON: i64 = 1_773_014_400_000;

fn at(day: i64, h: i64, m: i64) -> i64 {
    MON + day * DAY + h * HOUR + m * MIN
}

fn ger() -> Epic {
    Epic::new("IX.D.DAX.IFMM.IP").unwrap()
}

/// `[from, to)` intervals (ms) in which no entry may be sent on a market.
fn no_entry_eur() -> Vec<(i64, i64)> {
    let mut v = vec![
        // Friday close 21:00 UTC (17:00 New York): no entries from the flatten at 20:55,
        // closed until Sunday 21:00 UTC.
        (at(4, 20, 55), at(6, 21, 0)),
        // The news event, Friday 12:30 UTC: 10 minutes before to 5 after.
        (at(4, 12, 20), at(4, 12, 35)),
    ];
    // The rollover flatten 21:55 London = UTC, Monday to Thursday both weeks, until 10
    // minutes after.
    for d in [0, 1, 2, 3, 7] {
        v.push((at(d, 21, 55), at(d, 22, 5)));
    }
    v
}

/// Germany 40 trades 08:00-16:30 London (IG's window within Frankfurt's 01:15-22:00), not on
/// the Wednesday holiday nor the weekend.
fn ger_open_for_entries() -> Vec<(i64, i64)> {
    [0, 1, 3, 4, 7, 8]
        .iter()
        .map(|&d| (at(d, 8, 0), at(d, 16, 25)))
        .collect()
}

/// Instants no position may be held across: the weekend close, and a minute after each
/// rollover flatten (its close orders go at 21:55 and fill at the next quote).
fn long_closes_eur() -> Vec<i64> {
    let mut v = vec![at(4, 21, 0)];
    v.extend([0, 1, 2, 3, 7].iter().map(|&d| at(d, 21, 56)));
    v
}

fn long_closes_ger() -> Vec<i64> {
    [0, 1, 3, 4, 7].iter().map(|&d| at(d, 16, 30)).collect()
}

fn quotes(seed: u64, epic: &Epic, start_mid: i64, tick: i64, offset_ms: i64) -> Vec<Quote> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut mid = start_mid;
    let mut out = Vec::new();
    let mut t = MON + offset_ms;
    while t < at(8, 12, 0) {
        mid += rng.gen_range(-3..=3) * tick;
        out.push(Quote {
            epic: epic.clone(),
            bid: Price::new(Decimal::new(mid - tick, 5)),
            offer: Price::new(Decimal::new(mid + tick, 5)),
            ts: Timestamp::from_millis(t),
        });
        t += 10_000;
    }
    out
}

#[test]
fn a_week_with_a_clock_change_a_holiday_and_news_keeps_every_rule() {
    let eur = epic();
    let mut cfg = EngineConfig {
        strategy: StrategyConfig::from_name("ema-cross").unwrap(),
        ..EngineConfig::default()
    };
    cfg.strategy.set("fast", "2").unwrap();
    cfg.strategy.set("slow", "5").unwrap();
    cfg.strategy.set("size", "1").unwrap();
    cfg.risk.max_trades_per_day = 1_000_000;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.reject_cooldown_ms = 0;
    cfg.risk.max_spread_points = None;
    cfg.risk.daily_loss_limit = None;
    cfg.risk.max_open_per_instrument = 1;
    // Entries until the flatten 5 minutes before a close (the calendar's no-entry buffer is
    // shorter), so positions are open when the flattens come.
    cfg.calendar.no_entries_before_close_min = 2;
    cfg.calendar.holidays = vec![HolidayConfig {
        date: NaiveDate::from_ymd_opt(2026, 3, 11).unwrap(),
        early_close: None,
        instruments: vec!["GER40".into()],
        name: Some("test holiday".into()),
    }];
    cfg.news.before_min = 10;
    cfg.news.after_min = 5;
    cfg.news.events = vec![NewsEvent {
        at: Timestamp::from_millis(at(4, 12, 30)),
        scope: "USD".into(),
        impact: Impact::High,
        title: "Non-farm payrolls".into(),
    }];
    cfg.schedule = vec![FlattenAt {
        name: Some("rollover".into()),
        at: "21:55".parse().unwrap(),
        timezone: "Europe/London".into(),
        days: vec![
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
        ],
        instruments: vec!["EUR_USD".into()],
        no_entries_before_min: 0,
        no_entries_after_min: 10,
    }];
    let ger_inst = catalogue::by_name("GER40")
        .unwrap()
        .instrument(ProductKind::Cfd, PriceScale::Ig, "USD", Some(Decimal::ONE))
        .unwrap();
    let instruments = vec![instrument(), ger_inst];
    let init = EngineInit {
        equity: Money::new(dec!(10_000_000)),
        ..EngineInit::default()
    };
    let mut engine = Engine::new(cfg, instruments.clone(), init).unwrap();
    let mut broker = SimBroker::new(SimConfig::default(), instruments);
    let mut actions = Vec::new();
    // The broker's hours: none for EUR/USD (FX), 08:00-16:30 London for Germany 40.
    for (epic, times) in [
        (eur.clone(), vec![]),
        (ger(), vec![("08:00".to_string(), "16:30".to_string())]),
    ] {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::TradingHours {
                epic,
                times,
                at: Timestamp::from_millis(MON),
            },
            &mut actions,
        );
    }
    let mut all: Vec<Quote> = quotes(7, &eur, 108_000, 1, 0);
    all.extend(quotes(8, &ger(), 1_850_000_000, 10_000, 5_000));
    all.sort_by_key(|q| q.ts);

    let mut opens: Vec<(Epic, i64)> = Vec::new();
    let mut trades: Vec<scalper_engine::ClosedTrade> = Vec::new();
    let mut refusals: BTreeMap<&'static str, u64> = BTreeMap::new();
    for q in &all {
        actions.clear();
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Quote(q.clone()),
            &mut actions,
        );
        for a in &actions {
            match a {
                Action::Broker(BrokerCommand::Open(o)) => {
                    opens.push((o.epic.clone(), q.ts.millis()));
                }
                Action::Refused { reason, .. } => *refusals.entry(reason.rule()).or_default() += 1,
                Action::TradeClosed(t) => trades.push(t.clone()),
                _ => {}
            }
        }
    }
    actions.clear();
    step(
        &mut engine,
        &mut broker,
        EngineEvent::Command(Command::CloseAll),
        &mut actions,
    );
    for ev in broker.finish() {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Broker(ev),
            &mut actions,
        );
    }
    trades.extend(actions.iter().filter_map(|a| match a {
        Action::TradeClosed(t) => Some(t.clone()),
        _ => None,
    }));

    // Trades happened on both markets, and every rule refused something.
    let eur_opens = opens.iter().filter(|(e, _)| *e == eur).count();
    let ger_opens = opens.iter().filter(|(e, _)| *e == ger()).count();
    eprintln!(
        "week: {eur_opens} EUR/USD and {ger_opens} Germany 40 entries; refusals {refusals:?}"
    );
    assert!(eur_opens > 1_000, "{eur_opens} EUR/USD entries");
    assert!(ger_opens > 300, "{ger_opens} Germany 40 entries");
    for rule in [
        "market_closed",
        "market_closing",
        "news_blackout",
        "scheduled_flatten",
    ] {
        assert!(
            refusals.get(rule).copied().unwrap_or(0) > 0,
            "{rule}: {refusals:?}"
        );
    }

    // No entry inside a no-entry window.
    for (epic, t) in &opens {
        if *epic == eur {
            for (from, to) in no_entry_eur() {
                assert!(
                    !(from <= *t && *t < to),
                    "EUR/USD entry at {} inside [{}, {})",
                    Timestamp::from_millis(*t),
                    Timestamp::from_millis(from),
                    Timestamp::from_millis(to)
                );
            }
        } else {
            assert!(
                ger_open_for_entries()
                    .iter()
                    .any(|(from, to)| from <= t && t < to),
                "Germany 40 entry at {} outside its hours",
                Timestamp::from_millis(*t)
            );
        }
    }
    // Flat at every close: no trade is held across one.
    assert_eq!(
        trades.len(),
        eur_opens + ger_opens,
        "every entry filled and closed"
    );
    for t in &trades {
        let closes = if t.epic == eur {
            long_closes_eur()
        } else {
            long_closes_ger()
        };
        for c in closes {
            assert!(
                !(t.entry_time.millis() < c && c < t.exit_time.millis()),
                "trade #{} on {} held across the close at {}: {} .. {}",
                t.trade_id,
                t.epic,
                Timestamp::from_millis(c),
                t.entry_time,
                t.exit_time
            );
        }
    }
    // The closes before them are the calendar's and the schedule's.
    let by_reason = |prefix: &str, epic: &Epic| {
        trades
            .iter()
            .filter(|t| t.reason.starts_with(prefix) && t.epic == *epic)
            .count()
    };
    let before_close = "scheduled flatten (before the market closes";
    assert!(
        by_reason(before_close, &eur) >= 1,
        "EUR/USD before the weekend"
    );
    assert!(
        by_reason(before_close, &ger()) >= 3,
        "Germany 40 before its closes"
    );
    assert!(by_reason("scheduled flatten (rollover)", &eur) >= 3);
}

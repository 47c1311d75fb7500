//! A simulated trading week through the whole stack: the sandbox keeping market hours with
//! IG's allowances enforced, a holiday closing Germany 40 early, the week the US has changed
//! its clocks and the UK has not (FX closes Friday 21:00 UTC, an hour before London's usual
//! 22:00), a US news event, a daily rollover flatten and Germany 40's daily close, all while
//! the engine wants to trade as often as it can on EUR/USD and Germany 40.
//!
//! The sandbox runs from Thursday 12 March 2026 13:15 UTC to Sunday 21:10 UTC: two simulated
//! minutes per second around every scheduled time, jumping over the quiet hours between. Checked
//! afterwards from the journal (when entries were sent and positions closed), the sandbox's
//! books and request log, and the process's log lines: no entry inside a blackout or a closed
//! market, every position flat at each scheduled time, no close refused or held back for
//! allowance.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use scalper_engine::calendar::{FlattenBefore, HolidayConfig};
use scalper_engine::news::{Impact, NewsEvent};
use scalper_engine::schedule::FlattenAt;
use scalper_engine::{EngineConfig, StrategyConfig};
use scalper_ig::SessionVersion;
use scalper_journal::{Journal, OpenOptions, TradeFilter};
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{DealState, Epic, Timestamp};
use scalper_sandbox::{MarketHoliday, MarketSchedule, RateLimits, Sandbox, SandboxConfig};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// Thursday 2026-03-12 00:00 UTC.
const THU: i64 = 1_773_273_600_000;

/// `day` days after Thursday, at `h:m` UTC (London is on GMT all that span).
fn at(day: i64, h: i64, m: i64) -> i64 {
    THU + day * 24 * HOUR + h * HOUR + m * MIN
}

fn eur() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

fn ger() -> Epic {
    Epic::new("IX.D.DAX.IFMM.IP").unwrap()
}

/// The scheduled times: what happens, for which market, when (UTC ms).
struct Scheduled {
    what: &'static str,
    epic: Epic,
    at: i64,
    /// Entries are refused on `epic` in `[no_entry_from, no_entry_to)`.
    no_entry_from: i64,
    no_entry_to: i64,
    /// Every position on `epic` opened before `at` is closed by `flat_by`.
    flat_by: Option<i64>,
}

fn scheduled() -> Vec<Scheduled> {
    vec![
        // US CPI, 13:30 UTC: no entries from 10 minutes before to 5 after, flattened first.
        Scheduled {
            what: "news",
            epic: eur(),
            at: at(0, 13, 30),
            no_entry_from: at(0, 13, 20),
            no_entry_to: at(0, 13, 35),
            flat_by: Some(at(0, 13, 21)),
        },
        // Germany 40's daily close, 21:00 UTC (22:00 Frankfurt), reopening 00:15 UTC.
        Scheduled {
            what: "Germany 40 daily close",
            epic: ger(),
            at: at(0, 21, 0),
            no_entry_from: at(0, 20, 50),
            no_entry_to: at(1, 0, 15),
            flat_by: Some(at(0, 21, 0)),
        },
        // The rollover flatten, 21:55 London, then no entries for 10 minutes.
        Scheduled {
            what: "rollover",
            epic: eur(),
            at: at(0, 21, 55),
            no_entry_from: at(0, 21, 55),
            no_entry_to: at(0, 22, 5),
            flat_by: Some(at(0, 21, 56)),
        },
        // The holiday: Germany 40 closes at 12:00 Frankfurt (11:00 UTC) on Friday, reopening
        // Monday 00:15 UTC.
        Scheduled {
            what: "Germany 40 holiday early close",
            epic: ger(),
            at: at(1, 11, 0),
            no_entry_from: at(1, 10, 50),
            no_entry_to: at(4, 0, 15),
            flat_by: Some(at(1, 11, 0)),
        },
        // FX's weekend close in the gap week: 17:00 New York is 21:00 UTC; reopens Sunday
        // 21:00 UTC.
        Scheduled {
            what: "FX weekend close",
            epic: eur(),
            at: at(1, 21, 0),
            no_entry_from: at(1, 20, 50),
            no_entry_to: at(3, 21, 0),
            flat_by: Some(at(1, 21, 0)),
        },
        Scheduled {
            what: "FX reopens",
            epic: eur(),
            at: at(3, 21, 0),
            no_entry_from: at(3, 21, 0),
            no_entry_to: at(3, 21, 0),
            flat_by: None,
        },
    ]
}

fn config() -> EngineConfig {
    let mut cfg = common::busy_ema_config(11, 4);
    cfg.strategy = StrategyConfig::from_name("ema-cross").unwrap();
    cfg.strategy.set("fast", "2").unwrap();
    cfg.strategy.set("slow", "4").unwrap();
    cfg.strategy.set("size", "1").unwrap();
    cfg.risk.max_open_per_instrument = 1;
    cfg.kill_switch.close_positions = true;
    cfg.calendar.flatten_before = FlattenBefore::EveryClose;
    cfg.calendar.holidays = vec![HolidayConfig {
        date: NaiveDate::from_ymd_opt(2026, 3, 13).unwrap(),
        early_close: Some("12:00".parse().unwrap()),
        instruments: vec!["GER40".into()],
        name: Some("test holiday".into()),
    }];
    cfg.news.before_min = 10;
    cfg.news.after_min = 5;
    cfg.news.flatten = true;
    cfg.news.events = vec![NewsEvent {
        at: Timestamp::from_millis(at(0, 13, 30)),
        scope: "USD".into(),
        impact: Impact::High,
        title: "US CPI".into(),
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
    cfg
}

/// The spans simulated minute by minute (at [`SPEED`]): from 15 minutes before each
/// scheduled time to a few minutes after. The sandbox jumps over the hours in between.
fn windows() -> Vec<(i64, i64)> {
    let mut w: Vec<(i64, i64)> = scheduled()
        .iter()
        .map(|s| {
            (
                s.at - 15 * MIN,
                s.at + if s.flat_by.is_some() { 4 } else { 10 } * MIN,
            )
        })
        .collect();
    w.sort_unstable();
    // Merge overlapping spans (Germany 40's close and the rollover are an hour apart).
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in w {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Simulated seconds per real second inside the windows.
const SPEED: f64 = 120.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_closes_holidays_news_and_rollovers_through_the_whole_stack() {
    let logs = common::Logs::install();
    let windows = windows();
    let start = Timestamp::from_millis(windows[0].0);
    let end = windows.last().unwrap().1;
    let sandbox = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(start),
        speed: SPEED,
        warmup: Duration::from_secs(600),
        holidays: vec![MarketHoliday::parse("2026-03-13@12:00=GER40").unwrap()],
        // IG's allowances per simulated minute: the sandbox counts them per real minute, and
        // a real minute here is `SPEED` simulated ones.
        rate_limits: Some(RateLimits {
            app_non_trading_per_min: 60 * SPEED as u32,
            account_trading_per_min: 100 * SPEED as u32,
            account_non_trading_per_min: 30 * SPEED as u32,
            ..RateLimits::default()
        }),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let run = tokio::spawn(scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        config(),
        vec![eur(), ger()],
        RunOptions {
            duration: Some(Duration::from_secs(300)),
            journal: Some(journal.clone()),
            durable_journal: false,
            interrupts: Some(interrupts),
            ..RunOptions::default()
        },
    ));
    // Drive the clock: minute by minute inside the windows, a jump over the hours between.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let now = sandbox.state().sim_time.millis();
        if now >= end || run.is_finished() || tokio::time::Instant::now() > deadline {
            break;
        }
        if !windows.iter().any(|(a, b)| (*a..*b).contains(&now)) {
            if let Some((next, _)) = windows.iter().find(|(a, _)| *a > now) {
                sandbox.jump(Timestamp::from_millis(*next)).unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reached = sandbox.state().sim_time.millis();
    assert!(
        reached >= end,
        "the week was simulated to Sunday 21:10 UTC (reached {})",
        Timestamp::from_millis(reached)
    );
    // The kill switch stops entries and closes what is open; once the books are flat, a
    // second press ends the run.
    kill.press();
    let flat_by = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < flat_by
        && !sandbox
            .state()
            .account("SANDBOX-CFD")
            .unwrap()
            .positions
            .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill.press();
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();

    let j = Journal::open(
        &journal,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let trades = j.trades(&TradeFilter::default()).unwrap();
    let opened: Vec<_> = trades.iter().filter(|t| t.opened_at.is_some()).collect();
    let per = |e: &Epic| opened.iter().filter(|t| t.epic == *e).count();
    let mut states = std::collections::BTreeMap::new();
    for t in &trades {
        *states.entry(format!("{:?}", t.state)).or_insert(0) += 1;
    }
    eprintln!("journal states {states:?}; report {report:?}");
    eprintln!(
        "week soak: {} trades ({} EUR/USD, {} Germany 40), refusals {:?}",
        opened.len(),
        per(&eur()),
        per(&ger()),
        report
            .refusals_by_rule
            .iter()
            .map(|(k, v)| (k.clone(), v.count))
            .collect::<Vec<_>>()
    );
    for s in scheduled() {
        // A position held or opened in the ten minutes before: the flatten had work to do.
        if s.flat_by.is_some() {
            let held = opened.iter().any(|t| {
                t.epic == s.epic
                    && t.opened_at.is_some_and(|o| o.millis() < s.no_entry_from)
                    && t.closed_at
                        .is_none_or(|c| c.millis() > s.no_entry_from - 10 * MIN)
            });
            assert!(held, "{}: a position in the minutes before", s.what);
        }
        for t in trades.iter().filter(|t| t.epic == s.epic) {
            let sent = t.created_at.millis();
            assert!(
                !(s.no_entry_from..s.no_entry_to).contains(&sent),
                "{}: entry sent at {} inside [{}, {}): {t}",
                s.what,
                t.created_at,
                Timestamp::from_millis(s.no_entry_from),
                Timestamp::from_millis(s.no_entry_to)
            );
            let (Some(flat_by), Some(open)) = (s.flat_by, t.opened_at) else {
                continue;
            };
            if open.millis() < s.no_entry_from {
                let closed = t.closed_at.map_or(i64::MAX, Timestamp::millis);
                assert!(
                    closed <= flat_by || closed < s.no_entry_from,
                    "{}: position open at {} still open after {}: {t}",
                    s.what,
                    open,
                    Timestamp::from_millis(flat_by)
                );
            }
        }
    }
    // EUR/USD traded again after the weekend.
    assert!(
        opened
            .iter()
            .any(|t| t.epic == eur() && t.created_at.millis() > at(3, 21, 0)),
        "EUR/USD traded after Sunday's reopening"
    );
    assert!(
        trades
            .iter()
            .all(|t| matches!(t.state, DealState::Closed | DealState::Rejected)),
        "nothing left open at the end"
    );
    let state = sandbox.state();
    let account = state.account("SANDBOX-CFD").unwrap();
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    // No close was refused for allowance or held back by the planner; the planner was on.
    let text = logs.text();
    assert!(
        text.contains("IG allowances read"),
        "the planner had IG's budgets"
    );
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("allowance exceeded") && l.contains("positions/otc"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let held: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("allowance: sent after waiting") && l.contains("protect"))
        .collect();
    assert!(held.is_empty(), "closes waited for allowance: {held:?}");
    eprintln!(
        "week soak: requests {:?}",
        state
            .requests
            .iter()
            .filter(|(k, _)| k.contains("positions"))
            .collect::<Vec<_>>()
    );
    sandbox.shutdown().await;
}

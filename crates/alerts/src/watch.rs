//! Events derived from the run's status snapshots ([`scalper_live::TelemetryView`]), so the
//! event loop does nothing for alerts: halts and their lifting, the daily-loss lock, broker
//! failure and paper fallback, journal failures and reconciliation differences (from the
//! snapshot's latest errors), outcomes unresolved too long, a silent stream, and the daily
//! summary. [`Watch`] is the pure part (snapshots in, events out); [`spawn`] runs it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scalper_engine::HaltReason;
use scalper_live::telemetry::{notes, ErrorNote};
use scalper_live::{RunPhase, StatusSnapshot, TelemetryView};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::WatchConfig;
use crate::event::Event;
use crate::queue::Alerts;

/// What the watcher remembers between snapshots.
#[derive(Debug)]
pub struct Watch {
    cfg: WatchConfig,
    halted: Option<String>,
    errors: VecDeque<(Option<i64>, String)>,
    unresolved_since: Option<Instant>,
    unresolved_alerted: bool,
    trading_since: Option<Instant>,
    silent_alerted: Option<Instant>,
    last_at_ms: Option<i64>,
}

const NOTE_RECONCILE: [&str; 2] = [notes::RECONCILIATION, notes::IN_RUN_RECONCILIATION];
const NOTE_STREAM_REFUSED: [&str; 2] = [notes::STREAM_REFUSED, notes::STREAM_CREDENTIALS];

impl Watch {
    pub fn new(cfg: WatchConfig) -> Self {
        Self {
            cfg,
            halted: None,
            errors: VecDeque::new(),
            unresolved_since: None,
            unresolved_alerted: false,
            trading_since: None,
            silent_alerted: None,
            last_at_ms: None,
        }
    }

    /// The events `s` shows since the previous snapshot, `now` being the wall time.
    pub fn observe(&mut self, s: &StatusSnapshot, now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        self.errors_in(s, &mut out);
        self.halt(s, &mut out);
        self.unresolved(s, now, &mut out);
        self.stream(s, now, &mut out);
        self.summary(s, &mut out);
        out
    }

    fn errors_in(&mut self, s: &StatusSnapshot, out: &mut Vec<Event>) {
        let key = |e: &ErrorNote| {
            (
                e.at.map(scalper_model::Timestamp::millis),
                e.message.clone(),
            )
        };
        // The snapshot keeps the latest errors: the new ones follow the last one already seen.
        let seen_last = self.errors.back().cloned();
        let start = seen_last
            .and_then(|last| s.last_errors.iter().rposition(|e| key(e) == last))
            .map_or(0, |i| i + 1);
        let start = if self.errors.is_empty() { 0 } else { start };
        for e in s.last_errors.iter().skip(start) {
            let m = &e.message;
            if let Some(detail) = m.strip_prefix(notes::PAPER_FALLBACK) {
                out.push(Event::PaperFallback {
                    detail: detail.to_string(),
                });
            } else if let Some(detail) = m.strip_prefix(notes::JOURNAL_FAILED) {
                out.push(Event::JournalFailure {
                    detail: detail.to_string(),
                });
            } else if NOTE_RECONCILE.iter().any(|p| m.starts_with(p)) {
                out.push(Event::Reconciliation { detail: m.clone() });
            } else if NOTE_STREAM_REFUSED.iter().any(|p| m.starts_with(p)) {
                out.push(Event::BrokerFailure { detail: m.clone() });
            }
        }
        self.errors = s.last_errors.iter().map(key).collect();
    }

    fn halt(&mut self, s: &StatusSnapshot, out: &mut Vec<Event>) {
        if s.halted == self.halted {
            return;
        }
        match &s.halted {
            None => out.push(Event::Resumed),
            Some(r) if *r == HaltReason::DailyLossLimit.to_string() => {
                out.push(Event::DailyLossLock {
                    day_pnl: s.pnl.day_realised,
                    currency: s.pnl.currency.clone(),
                });
            }
            Some(r) if *r == HaltReason::BrokerFailure.to_string() => {
                let detail = s
                    .last_errors
                    .back()
                    .map_or_else(|| "new entries halted".to_string(), |e| e.message.clone());
                out.push(Event::BrokerFailure {
                    detail: format!("new entries halted; latest error: {detail}"),
                });
            }
            Some(r) => out.push(Event::Halted { reason: r.clone() }),
        }
        self.halted.clone_from(&s.halted);
    }

    fn unresolved(&mut self, s: &StatusSnapshot, now: Instant, out: &mut Vec<Event>) {
        if s.unresolved == 0 {
            self.unresolved_since = None;
            self.unresolved_alerted = false;
            return;
        }
        let since = *self.unresolved_since.get_or_insert(now);
        let waited = now.saturating_duration_since(since);
        if !self.unresolved_alerted && waited >= self.cfg.unresolved_after {
            self.unresolved_alerted = true;
            out.push(Event::Unresolved {
                trades: s.unresolved,
                for_s: waited.as_secs(),
            });
        }
    }

    fn stream(&mut self, s: &StatusSnapshot, now: Instant, out: &mut Vec<Event>) {
        if s.phase != RunPhase::Trading {
            return;
        }
        let trading_since = *self.trading_since.get_or_insert(now);
        let last_quote = s
            .instruments
            .iter()
            .filter_map(|i| i.last_quote_wall)
            .max()
            .unwrap_or(trading_since);
        let silent = now.saturating_duration_since(last_quote);
        match self.silent_alerted {
            None if silent >= self.cfg.stream_silent => {
                self.silent_alerted = Some(last_quote);
                out.push(Event::StreamSilent {
                    for_s: silent.as_secs(),
                    state: s.stream.state.clone(),
                });
            }
            Some(before) if last_quote > before => {
                self.silent_alerted = None;
                out.push(Event::StreamResumed {
                    after_s: last_quote.saturating_duration_since(before).as_secs(),
                });
            }
            _ => {}
        }
    }

    fn summary(&mut self, s: &StatusSnapshot, out: &mut Vec<Event>) {
        let Some(at) = s.at.filter(|t| t.millis() > 0) else {
            return;
        };
        let prev = self.last_at_ms.replace(at.millis());
        let (Some(prev), Some(time)) = (prev, self.cfg.daily_summary_at) else {
            return;
        };
        let Some(now_dt) = at.to_datetime() else {
            return;
        };
        let boundary = now_dt
            .date_naive()
            .and_time(time)
            .and_utc()
            .timestamp_millis();
        if prev < boundary && at.millis() >= boundary {
            out.push(Event::DailySummary {
                day: now_dt.date_naive().to_string(),
                trades: s.pnl.day_trades,
                pnl: s.pnl.day_realised,
                currency: s.pnl.currency.clone(),
                open_positions: s.positions.len(),
            });
        }
    }
}

/// The running watcher; [`Watcher::finish`] looks at the last snapshot once more and stops.
#[derive(Debug)]
pub struct Watcher {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Watches `view` and notifies `alerts` of what it sees.
pub fn spawn(view: &TelemetryView, alerts: Alerts, cfg: WatchConfig) -> Watcher {
    let mut rx = view.subscribe();
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut watch = Watch::new(cfg);
        let mut tick = tokio::time::interval(cfg.tick.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let last = tokio::select! {
                r = rx.changed() => r.is_err(),
                _ = tick.tick() => false,
                _ = &mut stop_rx => true,
            };
            let s: Arc<StatusSnapshot> = rx.borrow_and_update().clone();
            for ev in watch.observe(&s, Instant::now()) {
                alerts.notify(&ev);
            }
            if last {
                break;
            }
        }
    });
    Watcher {
        stop: Some(stop_tx),
        task,
    }
}

impl Watcher {
    pub async fn finish(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_live::telemetry::InstrumentView;
    use scalper_model::{Money, Timestamp};

    fn cfg() -> WatchConfig {
        WatchConfig {
            stream_silent: Duration::from_secs(10),
            unresolved_after: Duration::from_secs(30),
            daily_summary_at: chrono::NaiveTime::from_hms_opt(21, 0, 0),
            tick: Duration::from_secs(1),
        }
    }

    fn trading(quote_at: Instant) -> StatusSnapshot {
        StatusSnapshot {
            phase: RunPhase::Trading,
            instruments: vec![InstrumentView {
                epic: "CS.D.EURUSD.CFD.IP".into(),
                quotes: 1,
                bid: None,
                offer: None,
                spread_points: None,
                last_quote_at: None,
                last_quote_wall: Some(quote_at),
            }],
            ..StatusSnapshot::default()
        }
    }

    fn note(s: &mut StatusSnapshot, ms: i64, m: &str) {
        s.last_errors.push_back(ErrorNote {
            at: Some(Timestamp::from_millis(ms)),
            message: m.into(),
        });
    }

    #[test]
    fn halts_locks_and_resumes_each_alert_once() {
        let t0 = Instant::now();
        let mut w = Watch::new(cfg());
        let mut s = trading(t0);
        assert!(w.observe(&s, t0).is_empty());
        s.halted = Some("kill switch".into());
        assert_eq!(
            w.observe(&s, t0),
            [Event::Halted {
                reason: "kill switch".into()
            }]
        );
        assert!(w.observe(&s, t0).is_empty(), "once per halt");
        s.halted = None;
        assert_eq!(w.observe(&s, t0), [Event::Resumed]);
        s.halted = Some(HaltReason::DailyLossLimit.to_string());
        s.pnl.day_realised = Money::new(rust_decimal::Decimal::from(-250));
        s.pnl.currency = Some("GBP".into());
        assert_eq!(
            w.observe(&s, t0),
            [Event::DailyLossLock {
                day_pnl: Money::new(rust_decimal::Decimal::from(-250)),
                currency: Some("GBP".into())
            }]
        );
    }

    #[test]
    fn new_error_notes_become_events_once() {
        let t0 = Instant::now();
        let mut w = Watch::new(cfg());
        let mut s = trading(t0);
        note(&mut s, 1, "stream gap: timeout");
        note(&mut s, 2, &format!("{}disk full", notes::JOURNAL_FAILED));
        assert_eq!(
            w.observe(&s, t0),
            [Event::JournalFailure {
                detail: "disk full".into()
            }]
        );
        assert!(w.observe(&s, t0).is_empty());
        note(&mut s, 3, &format!("{}HTTP 503", notes::PAPER_FALLBACK));
        note(
            &mut s,
            4,
            &format!("{}1 close(s) booked", notes::IN_RUN_RECONCILIATION),
        );
        s.last_errors.pop_front();
        let evs = w.observe(&s, t0);
        assert_eq!(evs.len(), 2, "{evs:?}");
        assert!(matches!(&evs[0], Event::PaperFallback { detail } if detail == "HTTP 503"));
        assert!(matches!(&evs[1], Event::Reconciliation { .. }));
    }

    #[test]
    fn unresolved_outcomes_alert_after_the_wait_and_again_after_clearing() {
        let t0 = Instant::now();
        let mut w = Watch::new(cfg());
        let mut s = trading(t0);
        s.phase = RunPhase::WindingDown; // no stream-silence alert in the way
        s.unresolved = 1;
        assert!(w.observe(&s, t0).is_empty());
        assert!(w.observe(&s, t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(
            w.observe(&s, t0 + Duration::from_secs(31)),
            [Event::Unresolved {
                trades: 1,
                for_s: 31
            }]
        );
        assert!(w.observe(&s, t0 + Duration::from_secs(60)).is_empty());
        s.unresolved = 0;
        assert!(w.observe(&s, t0 + Duration::from_secs(61)).is_empty());
        s.unresolved = 2;
        assert!(w.observe(&s, t0 + Duration::from_secs(62)).is_empty());
        assert_eq!(w.observe(&s, t0 + Duration::from_secs(92)).len(), 1);
    }

    #[test]
    fn a_silent_stream_alerts_once_and_its_return_is_told() {
        let t0 = Instant::now();
        let mut w = Watch::new(cfg());
        let s = trading(t0);
        assert!(w.observe(&s, t0 + Duration::from_secs(9)).is_empty());
        let evs = w.observe(&s, t0 + Duration::from_secs(11));
        assert!(
            matches!(&evs[..], [Event::StreamSilent { for_s: 11, .. }]),
            "{evs:?}"
        );
        assert!(w.observe(&s, t0 + Duration::from_secs(20)).is_empty());
        let s = trading(t0 + Duration::from_secs(21));
        assert_eq!(
            w.observe(&s, t0 + Duration::from_secs(21)),
            [Event::StreamResumed { after_s: 21 }]
        );
    }

    #[test]
    fn the_daily_summary_comes_when_the_run_clock_passes_its_time() {
        let t0 = Instant::now();
        let mut w = Watch::new(cfg());
        let mut s = trading(t0);
        let at = |h: u32, m: u32| {
            let dt = chrono::NaiveDate::from_ymd_opt(2026, 1, 5)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
                .and_utc();
            Some(Timestamp::from_datetime(dt))
        };
        s.pnl.day_trades = 3;
        s.pnl.day_realised = Money::new(rust_decimal::Decimal::new(4250, 2));
        s.pnl.currency = Some("EUR".into());
        s.at = at(20, 59);
        assert!(w.observe(&s, t0).is_empty());
        s.at = at(21, 1);
        let evs = w.observe(&s, t0);
        assert_eq!(
            evs,
            [Event::DailySummary {
                day: "2026-01-05".into(),
                trades: 3,
                pnl: Money::new(rust_decimal::Decimal::new(4250, 2)),
                currency: Some("EUR".into()),
                open_positions: 0
            }]
        );
        s.at = at(22, 0);
        assert!(w.observe(&s, t0).is_empty());
    }
}

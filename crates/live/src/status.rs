//! The one-line console status: time, quotes per second, open positions, P&L, session state
//! and token age, redrawn every second on stderr when it is a terminal. Log lines are written
//! above it (see [`crate::console`]).

use std::io::IsTerminal;
use std::time::Instant;

use scalper_engine::EngineSummary;
use scalper_ig::SessionStats;

/// Draws the status line; silent when disabled or when stderr is not a terminal.
#[derive(Debug)]
pub struct StatusLine {
    enabled: bool,
    started: Instant,
    window_start: Instant,
    window_quotes: u64,
    drawn: bool,
}

impl StatusLine {
    pub fn new(enabled: bool) -> Self {
        let now = Instant::now();
        Self {
            enabled: enabled && std::io::stderr().is_terminal(),
            started: now,
            window_start: now,
            window_quotes: 0,
            drawn: false,
        }
    }

    pub fn quote(&mut self) {
        self.window_quotes += 1;
    }

    pub fn print(&mut self, s: &EngineSummary, stats: &SessionStats, paper: bool) {
        let secs = self.window_start.elapsed().as_secs_f64().max(0.001);
        let qps = self.window_quotes as f64 / secs;
        self.window_start = Instant::now();
        self.window_quotes = 0;
        if !self.enabled {
            return;
        }
        let token_age = stats
            .token_age
            .map_or_else(|| "-".to_string(), |d| format!("{}s", d.as_secs()));
        let mode = if paper { " PAPER" } else { "" };
        let halted = s
            .halted
            .map_or_else(String::new, |h| format!(" HALTED({h})"));
        let line = format!(
            "[{:>5}s] {:>6.1} q/s | open {} | trades {} | P&L {} | session {} token {}{}{}",
            self.started.elapsed().as_secs(),
            qps,
            s.open_positions,
            s.trades,
            s.pnl.round_cents(),
            stats.state.as_str(),
            token_age,
            mode,
            halted,
        );
        // A terminal that cannot be written to has nothing to show the status on.
        let _ = crate::console::draw_status(&line);
        self.drawn = true;
    }

    /// Ends the line so later output starts on a fresh one.
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = crate::console::end_status();
            self.drawn = false;
        }
    }
}

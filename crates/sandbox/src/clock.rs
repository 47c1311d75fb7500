//! Wall-clock access: the one place the sandbox reads it (IG's date formats are in
//! `scalper_ig_wire::time`), and the simulator's clock: simulated time anchored at a real
//! instant and running at a speed that can change while the sandbox runs.

use chrono::Utc;
use scalper_model::Timestamp;
use tokio::time::Instant;

/// Wall-clock now; used only for the simulator's default start time.
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> Timestamp {
    Timestamp::from_datetime(Utc::now())
}

/// Simulated time: `sim` at the real instant `wall`, then `speed` simulated seconds per real
/// second (0: paused).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimClock {
    wall: Instant,
    sim: Timestamp,
    speed: f64,
}

impl SimClock {
    pub(crate) fn new(wall: Instant, sim: Timestamp, speed: f64) -> Self {
        Self { wall, sim, speed }
    }

    pub(crate) fn speed(&self) -> f64 {
        self.speed
    }

    /// The simulated time at the real instant `now`.
    pub(crate) fn at(&self, now: Instant) -> Timestamp {
        let real = now.saturating_duration_since(self.wall).as_secs_f64() * self.speed;
        self.sim.plus_millis((real * 1000.0) as i64)
    }

    /// From `now` on, runs at `speed`: simulated time goes on from where it is, without a jump.
    pub(crate) fn set_speed(&mut self, now: Instant, speed: f64) {
        self.sim = self.at(now);
        self.wall = now;
        self.speed = speed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_new_speed_goes_on_from_the_current_time() {
        let t0 = Instant::now();
        let secs = |s: u64| t0 + Duration::from_secs(s);
        let mut c = SimClock::new(t0, Timestamp::from_millis(1_000_000), 600.0);
        assert_eq!(c.at(secs(2)), Timestamp::from_millis(1_000_000 + 1_200_000));
        c.set_speed(secs(2), 1.0);
        assert_eq!(c.at(secs(2)), Timestamp::from_millis(2_200_000), "no jump");
        assert_eq!(
            c.at(secs(5)),
            Timestamp::from_millis(2_203_000),
            "real time"
        );
        c.set_speed(secs(5), 0.0);
        assert_eq!(c.at(secs(500)), Timestamp::from_millis(2_203_000), "paused");
        assert!(c.speed() <= 0.0, "paused");
    }
}

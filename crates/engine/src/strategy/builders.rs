//! Constructors for [`Entry`] and [`Intent`] that stay source-compatible when fields are
//! added: strategies outside the engine (the SDK, language bindings) build intents with these.

use scalper_model::{Direction, Points, Size};

use rust_decimal::Decimal;

use super::{Entry, Intent, StopKind};

impl Entry {
    /// An entry with no size (risk sizes it), no stop, limit, trail or hold limit.
    pub fn new(direction: Direction, reason: impl Into<String>) -> Self {
        Self {
            direction,
            size: None,
            stop_distance: None,
            limit_distance: None,
            trailing_distance: None,
            max_hold_ms: None,
            reason: reason.into(),
            stop_kind: StopKind::Normal,
        }
    }
    /// A fixed deal size.
    #[must_use]
    pub fn with_size(mut self, size: Size) -> Self {
        self.size = Some(size);
        self
    }
    /// A stop this many points away (widened to the market minimum by risk).
    #[must_use]
    pub fn with_stop(mut self, points: Points) -> Self {
        self.stop_distance = Some(points);
        self
    }
    /// A limit (target) this many points away (widened to the market minimum by risk).
    #[must_use]
    pub fn with_limit(mut self, points: Points) -> Self {
        self.limit_distance = Some(points);
        self
    }
    /// An engine-managed trailing stop this many points behind the best price.
    #[must_use]
    pub fn with_trailing(mut self, points: Points) -> Self {
        self.trailing_distance = Some(points);
        self
    }
    /// A guaranteed stop (filled at its level whatever the gap, for the market's premium);
    /// give its distance with [`Entry::with_stop`].
    #[must_use]
    pub fn with_guaranteed_stop(mut self) -> Self {
        self.stop_kind = StopKind::Guaranteed;
        self
    }
    /// A trailing stop kept by the broker, starting [`Entry::with_stop`]'s distance away and
    /// following the price in steps of `increment` points.
    #[must_use]
    pub fn with_broker_trailing(mut self, increment: Points) -> Self {
        self.stop_kind = StopKind::Trailing { increment };
        self
    }
    /// Close the position after this many milliseconds.
    #[must_use]
    pub fn with_max_hold_ms(mut self, ms: i64) -> Self {
        self.max_hold_ms = Some(ms);
        self
    }
}

impl Intent {
    /// Close this instrument's positions of `direction` (all when `None`).
    pub fn exit(direction: Option<Direction>, reason: impl Into<String>) -> Self {
        Self::Exit {
            direction,
            reason: reason.into(),
        }
    }

    /// Close `fraction` (0 < fraction < 1) of each position of `direction` (all when `None`).
    pub fn reduce(
        direction: Option<Direction>,
        fraction: Decimal,
        reason: impl Into<String>,
    ) -> Self {
        Self::Reduce {
            direction,
            fraction,
            reason: reason.into(),
        }
    }
}

//! The sandbox's internal event bus: what the REST side and the market simulator publish and the
//! streaming (Lightstreamer) side fans out to subscribers.

use scalper_model::{AccountId, Epic, MarketStatus, Price, Timestamp};
use tokio::sync::broadcast;

/// One thing that happened in the sandbox that streaming clients may want to see.
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// A new simulated top-of-book price.
    Price {
        epic: Epic,
        bid: Price,
        offer: Price,
        ts: Timestamp,
        status: MarketStatus,
    },
    /// A TRADE item update for one account; `json` is the IG-shaped JSON string of the field.
    Trade {
        account: AccountId,
        kind: TradeKind,
        json: String,
    },
    /// An ACCOUNT item update (IG's field names and string values).
    Account {
        account: AccountId,
        fields: Vec<(&'static str, String)>,
    },
    /// A fault instruction for the streaming side (drop, silence, LOOP, END, refuse).
    StreamFault(StreamFault),
}

/// Which field of the `TRADE:{account}` item an update belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeKind {
    Confirms,
    Opu,
    Wou,
}

/// Streaming faults that tests and `--faults` can inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFault {
    /// Close every streaming connection abruptly.
    DropConnections,
    /// Stop sending anything (no data, no PROBE) for this many milliseconds.
    Silence { millis: u64 },
    /// Send `LOOP` to every session (clients must rebind).
    ForceLoop,
    /// Send `END` to every session (clients must create a new session).
    End { cause: u32 },
    /// Refuse the next N subscription requests with `REQERR -1`.
    RefuseSubscriptions { count: u32 },
}

/// Capacity of the broadcast channel; slow stream sessions lag (and coalesce) rather than block
/// the simulator.
pub const BUS_CAPACITY: usize = 16_384;

/// Creates the bus.
pub fn channel() -> broadcast::Sender<BusEvent> {
    broadcast::channel(BUS_CAPACITY).0
}

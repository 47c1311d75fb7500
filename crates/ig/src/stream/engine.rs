//! Mapping of stream output onto the engine's market-data events (quotes, completed candles,
//! gaps, market status). Trade updates go to the broker layer instead.

use scalper_engine::EngineEvent;
use scalper_model::Quote;

use super::events::{StreamEvent, StreamStatus};

/// The engine event for a quote.
pub fn quote_event(quote: Quote) -> EngineEvent {
    EngineEvent::Quote(quote)
}

impl StreamEvent {
    /// The engine's view of a market-data or status event: a gap becomes
    /// `StreamGap { epic: None }` (all epics may be stale), a completed candle a `Candle`, a
    /// dealing-status change a `MarketStatus`. `None` for trade updates (broker events), forming
    /// candles, and status events the engine does not need.
    pub fn engine_event(&self) -> Option<EngineEvent> {
        match self {
            Self::Status(StreamStatus::Gap { at, .. }) => Some(EngineEvent::StreamGap {
                epic: None,
                at: *at,
            }),
            Self::Candle {
                candle,
                complete: true,
                ..
            } => Some(EngineEvent::Candle(candle.clone())),
            Self::MarketStatus { epic, status, at } => Some(EngineEvent::MarketStatus {
                epic: epic.clone(),
                status: status.clone(),
                at: *at,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_model::{Epic, MarketStatus, Timestamp};

    #[test]
    fn gaps_and_status_map_to_engine_events() {
        let at = Timestamp::from_millis(5);
        let gap = StreamEvent::Status(StreamStatus::Gap {
            at,
            reason: "x".into(),
        });
        assert_eq!(
            gap.engine_event(),
            Some(EngineEvent::StreamGap { epic: None, at })
        );
        let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let st = StreamEvent::MarketStatus {
            epic: epic.clone(),
            status: MarketStatus::Closed,
            at,
        };
        assert!(matches!(
            st.engine_event(),
            Some(EngineEvent::MarketStatus {
                status: MarketStatus::Closed,
                ..
            })
        ));
        assert_eq!(
            StreamEvent::Status(StreamStatus::Stopped).engine_event(),
            None
        );
    }
}

//! Positions the broker closes by itself (stop, limit, platform), seen as stream OPU `DELETED`
//! updates: an estimate from the last quote at once, then the level IG recorded for the closing
//! deal (`/history/activity`), looked up by the execution task off the event loop.

use scalper_engine::{BrokerEvent, CloseCause, Engine};
use scalper_ig::stream::{PositionUpdate, UpdateStatus};
use scalper_ig::IgClient;
use scalper_model::{DealState, Direction, Quote, Timestamp};

/// An OPU `DELETED` for a position the engine holds open (not one it is closing itself): the
/// broker closed it. The estimate's level is the last quote's closing side (IG fills a
/// triggered stop or limit at the market), its cause the level that quote crossed. Returns
/// the estimate and the position's direction.
pub fn broker_side_close(
    engine: &Engine,
    quote_for: impl Fn(&scalper_model::Epic) -> Option<Quote>,
    now: Timestamp,
    p: &PositionUpdate,
) -> Option<(BrokerEvent, Direction)> {
    if p.status != UpdateStatus::Deleted {
        return None;
    }
    let trade = engine
        .trades()
        .iter()
        .find(|t| t.deal_id.as_ref() == Some(&p.deal_id) && t.state == DealState::Open)?;
    let exit_side = quote_for(&trade.epic).map(|q| match trade.direction {
        Direction::Buy => q.bid,
        Direction::Sell => q.offer,
    });
    let (cause, level) = match (trade.direction, exit_side) {
        (Direction::Buy, Some(px)) if trade.stop_level.is_some_and(|s| px <= s) => {
            (CloseCause::Stop, px)
        }
        (Direction::Sell, Some(px)) if trade.stop_level.is_some_and(|s| px >= s) => {
            (CloseCause::Stop, px)
        }
        (Direction::Buy, Some(px)) if trade.limit_level.is_some_and(|l| px >= l) => {
            (CloseCause::Limit, px)
        }
        (Direction::Sell, Some(px)) if trade.limit_level.is_some_and(|l| px <= l) => {
            (CloseCause::Limit, px)
        }
        (_, Some(px)) => (CloseCause::Manual, px),
        (_, None) => (CloseCause::Manual, p.level.or(trade.entry_level)?),
    };
    Some((
        BrokerEvent::PositionClosed {
            deal_id: p.deal_id.clone(),
            level,
            pnl: None,
            cause,
            at: now,
        },
        trade.direction,
    ))
}

/// `estimate` with its level replaced by the level IG recorded for the closing deal
/// (`/history/activity?dealId=`), so the engine's P&L is the broker's; the estimate as it is
/// when the history does not say.
pub async fn value_close(
    client: &IgClient,
    mut estimate: BrokerEvent,
    direction: Direction,
) -> BrokerEvent {
    if let BrokerEvent::PositionClosed { deal_id, level, .. } = &mut estimate {
        if let Some((exact, _)) = crate::journaling::broker_close(client, deal_id, direction).await
        {
            *level = exact;
        } else {
            tracing::warn!(deal_id = %deal_id, "the close level is not in the activity history; using the last quote");
        }
    }
    estimate
}

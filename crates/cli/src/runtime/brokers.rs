//! [`ActiveBroker`]: the broker the runner is using now: IG, or paper (from the start with
//! `--paper`, or after a configured `on_broker_failure = "paper"` switch).

use scalper_engine::{Broker, BrokerCommand, BrokerEvent, SimBroker};
use scalper_model::Quote;

use super::IgBroker;

/// IG or paper; the runner switches from the first to the second only when configured to.
#[derive(Debug)]
pub enum ActiveBroker {
    Ig(IgBroker),
    Paper(Box<SimBroker>),
}

impl ActiveBroker {
    pub async fn execute(&mut self, cmd: BrokerCommand) -> Vec<BrokerEvent> {
        match self {
            Self::Ig(b) => b.execute(cmd).await,
            Self::Paper(b) => b.execute(cmd).await,
        }
    }

    pub fn on_quote(&mut self, quote: &Quote) -> Vec<BrokerEvent> {
        match self {
            Self::Ig(b) => b.on_quote(quote),
            Self::Paper(b) => b.on_quote(quote),
        }
    }

    pub fn is_paper(&self) -> bool {
        matches!(self, Self::Paper(_))
    }
}

//! The trade lifecycle as an explicit `(state, event) -> state` table.
//!
//! intent → submitted (deal reference) → accepted | rejected | unknown → open → closing → closed.
//! An impossible transition is an error, never a silent no-op.

use serde::{Deserialize, Serialize};

/// Where a trade is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealState {
    /// Approved by risk, not yet sent.
    Intent,
    /// The opening request was sent with our deal reference; no answer yet.
    Submitted,
    /// The broker confirmed the deal; the position is not yet seen.
    Accepted,
    /// The broker refused the deal (terminal).
    Rejected,
    /// The request timed out or failed in a way that hides the outcome; must be resolved
    /// (confirms, then positions) before anything is resent.
    Unknown,
    /// The position is open.
    Open,
    /// A close request was sent.
    Closing,
    /// The position is closed (terminal).
    Closed,
}

impl DealState {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Rejected | Self::Closed)
    }
    /// True while the broker may hold a position for this trade.
    pub fn may_hold_position(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::Accepted | Self::Unknown | Self::Open | Self::Closing
        )
    }
}

/// What happened to a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealEvent {
    /// The opening request went out.
    Submit,
    /// Confirm with `dealStatus: ACCEPTED`.
    Accept,
    /// Confirm with `dealStatus: REJECTED`, or resolution proved no deal exists.
    Reject,
    /// Timeout, 5xx, 405 or a lost response: the outcome is not known.
    OutcomeUnknown,
    /// The position was seen (position list, OPU or a fill).
    PositionSeen,
    /// A close request went out.
    SubmitClose,
    /// The close was confirmed, or the broker closed it (stop, limit, manual).
    Closed,
    /// The close request was refused; the position is still open.
    CloseRejected,
}

/// An event that makes no sense in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("impossible deal transition: {event:?} in state {state:?}")]
pub struct TransitionError {
    pub state: DealState,
    pub event: DealEvent,
}

impl DealState {
    /// Applies `event`, returning the next state or an error for an impossible transition.
    pub fn apply(self, event: DealEvent) -> Result<DealState, TransitionError> {
        use DealEvent as E;
        use DealState as S;
        let next = match (self, event) {
            (S::Intent, E::Submit) => S::Submitted,
            (S::Submitted | S::Unknown, E::Accept) => S::Accepted,
            // A refusal before sending (validation by the broker adapter), a confirm with
            // `REJECTED`, or a resolution that proved no deal exists.
            (S::Intent | S::Submitted | S::Unknown, E::Reject) => S::Rejected,
            (S::Submitted, E::OutcomeUnknown) => S::Unknown,
            // Odd but real: the stream's position update can arrive before the confirm, and
            // resolving an unknown outcome may find the position directly. Repeated sightings
            // of an open position are harmless, and a refused close leaves it open.
            (S::Submitted | S::Unknown | S::Accepted | S::Open, E::PositionSeen)
            | (S::Closing, E::CloseRejected) => S::Open,
            // A close whose outcome is unknown stays closing until resolved.
            (S::Open, E::SubmitClose) | (S::Closing, E::OutcomeUnknown) => S::Closing,
            // A stop or limit may close the position while our close request is in flight,
            // or before we ever asked; an accepted-but-unseen position can be stopped out too.
            (S::Open | S::Closing | S::Accepted, E::Closed) => S::Closed,
            (state, event) => return Err(TransitionError { state, event }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DealEvent as E;
    use DealState as S;

    #[test]
    fn happy_path() {
        let mut s = S::Intent;
        for e in [
            E::Submit,
            E::Accept,
            E::PositionSeen,
            E::SubmitClose,
            E::Closed,
        ] {
            s = s.apply(e).unwrap();
        }
        assert_eq!(s, S::Closed);
        assert!(s.is_terminal());
    }

    #[test]
    fn unknown_resolution_paths() {
        let s = S::Submitted.apply(E::OutcomeUnknown).unwrap();
        assert_eq!(s, S::Unknown);
        assert!(s.may_hold_position());
        assert_eq!(s.apply(E::Reject).unwrap(), S::Rejected);
        assert_eq!(s.apply(E::PositionSeen).unwrap(), S::Open);
        assert_eq!(s.apply(E::Accept).unwrap(), S::Accepted);
    }

    #[test]
    fn impossible_transitions_are_errors() {
        let table = [
            (S::Intent, E::Accept),
            (S::Rejected, E::Submit),
            (S::Closed, E::SubmitClose),
            (S::Open, E::Submit),
            (S::Unknown, E::Submit),
            (S::Closed, E::Closed),
        ];
        for (state, event) in table {
            assert_eq!(
                state.apply(event),
                Err(TransitionError { state, event }),
                "{state:?} + {event:?}"
            );
        }
    }

    #[test]
    fn terminal_states_accept_nothing() {
        let all = [
            E::Submit,
            E::Accept,
            E::Reject,
            E::OutcomeUnknown,
            E::PositionSeen,
            E::SubmitClose,
            E::Closed,
            E::CloseRejected,
        ];
        for s in [S::Rejected, S::Closed] {
            for e in all {
                assert!(s.apply(e).is_err(), "{s:?} + {e:?} should fail");
            }
        }
    }
}

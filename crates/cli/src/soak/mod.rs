//! Reliability tooling: the crash harness (engine child processes killed and restarted against
//! an in-process sandbox) and the invariants checked after it.

pub mod harness;
pub mod run;

pub use run::{soak, SoakOptions, SoakReport};

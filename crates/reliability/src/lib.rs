//! scalper-reliability: the harness that proves crash recovery. It runs the engine as a
//! `scalper run` child process (the caller names the binary) against an in-process sandbox,
//! SIGKILLs it at chosen moments and restarts it on the same journal, and checks at the end
//! that the journal matches the sandbox's books deal by deal. [`run_soak`] adds a seeded
//! schedule of IG's failure modes in simulated time; it is what `scalper soak` runs, and the
//! crash test drives [`Harness`] and [`kill_at`] directly.
//!
//! ```no_run
//! # async fn soak() -> Result<(), scalper_reliability::ReliabilityError> {
//! use scalper_reliability::{run_soak, SoakOptions};
//!
//! let report = run_soak(&SoakOptions {
//!     hours: 2.0,
//!     seed: 5,
//!     speed: 300.0,
//!     kills: 2,
//!     instruments: "EUR_USD,GBP_USD".into(),
//!     exe: "target/debug/scalper".into(),
//!     dir: "soak".into(),
//!     max_rss_mib: 256,
//!     min_positions_per_day: 1000,
//! })
//! .await?;
//! assert!(report.passed, "{:?}", report.violations);
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod harness;
pub mod invariants;
pub mod kill;
pub mod limit_close;
mod schedule;
pub mod soak;

pub use error::ReliabilityError;
pub use harness::{wait_until, EngineProcess, EngineSetup, Harness, ACCOUNT};
pub use invariants::{check, positions_per_epic, Invariants};
pub use kill::{dealing_requests, kill_at, KillMoment};
pub use limit_close::LimitCloseOutcome;
pub use soak::{run_soak, SoakOptions, SoakReport};

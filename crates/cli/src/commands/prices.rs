//! `scalper prices`: IG price history to CSV.

use std::process::ExitCode;

use crate::args::PricesArgs;
use crate::Context;

#[allow(clippy::unused_async)] // placeholder
pub async fn run(_args: &PricesArgs, _ctx: &Context) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`scalper prices` is not available yet")
}

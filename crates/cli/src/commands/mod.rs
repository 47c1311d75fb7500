//! The subcommands. Each takes its arguments and the [`Context`] and returns the exit code
//! (errors are mapped by [`crate::exit::exit_code_for`], which knows no command).

pub mod alerts;
pub mod config_check;
pub mod demo;
pub mod journal;
pub mod markets;
pub mod observe;
pub mod prices;
pub mod ray;
pub mod record;
pub mod replay;
pub mod research;
pub mod run;
pub mod sandbox;
pub mod soak;
pub mod status;
pub mod summary;
pub mod test;

use std::process::ExitCode;

use crate::args::{AlertsCommand, Command, ConfigCommand, MarketsCommand};
use crate::Context;

/// Runs one command.
pub async fn dispatch(command: &Command, ctx: &Context) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config(ConfigCommand::Check(args)) => config_check::run(args, ctx),
        Command::Test(args) => test::run(args, ctx).await,
        Command::Sandbox(args) => sandbox::run(args, ctx).await,
        Command::Run(args) => run::run(args, ctx).await,
        Command::Demo(args) => demo::run(args, ctx).await,
        Command::Record(args) => record::run(args, ctx).await,
        Command::Replay(args) => replay::run(args, ctx),
        Command::Backtest(args) => research::backtest(args, ctx),
        Command::Sweep(args) => research::sweep(args, ctx),
        Command::Synth(args) => research::synth(args, ctx),
        Command::Prices(args) => prices::run(args, ctx).await,
        Command::Markets(MarketsCommand::Search(args)) => markets::search(args, ctx).await,
        Command::Journal(cmd) => journal::run(cmd, ctx),
        Command::Report(args) => journal::report(args, ctx),
        Command::Soak(args) => soak::run(args).await,
        Command::Status(args) => status::run(args, ctx).await,
        Command::Alerts(AlertsCommand::Test(args)) => alerts::test(args, ctx).await,
    }
}

//! The `scalper` command-line program as a library: arguments, configuration, logging, exit
//! codes and the commands. `main.rs` only calls [`main_entry`]; a binary with its own
//! strategies calls [`main_with`].

/// `println!` that ignores a closed stdout (`scalper ... | head` must not panic).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

pub mod args;
pub mod commands;
pub mod config;
pub mod context;
pub mod entry;
pub mod exit;
pub mod logging;
pub mod output;

pub use context::Context;
pub use entry::{main_entry, main_with};

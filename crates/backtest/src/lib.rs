//! Backtesting: data loaders, binary cache, simulated broker runs, reports and sweeps.

//! Shared helpers of the backtest integration tests.
#![allow(dead_code)]

pub mod synth;

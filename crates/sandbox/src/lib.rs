//! An IG-compatible broker on loopback: REST, Lightstreamer streaming, a market simulator and
//! fault injection. Used by tests, benchmarks and `scalper demo`.

pub mod bus;
pub mod stream;

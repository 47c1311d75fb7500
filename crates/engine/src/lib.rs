//! scalper-engine

//! scalper-journal

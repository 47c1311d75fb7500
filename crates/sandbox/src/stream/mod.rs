//! Lightstreamer (TLCP) server for the sandbox.

//! IG Markets client: REST wire models, typed errors, session manager, rate limiting, dealing,
//! and the Lightstreamer (TLCP) streaming client.

pub mod stream;

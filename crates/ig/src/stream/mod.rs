//! Lightstreamer (TLCP) streaming client.

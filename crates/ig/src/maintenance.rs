//! Background session upkeep: refreshes v3 tokens before they expire, logs v2 sessions in again
//! before they reach the configured age, and re-validates a session that sat idle. Holds only a
//! weak reference, so it ends when the last client handle is dropped.

use std::sync::Weak;

use secrecy::ExposeSecret;

use crate::client::{needs_refresh, Inner};
use crate::http::Call;
use crate::session::Tokens;
use scalper_ig_wire::application::Application;

pub(crate) fn spawn(weak: Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    let interval = inner.cfg.maintenance_interval;
    drop(inner);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = weak.upgrade() else { return };
            inner.maintain().await;
        }
    });
}

impl Inner {
    async fn maintain(self: &std::sync::Arc<Self>) {
        let Some(s) = self.snapshot() else { return };
        match &s.tokens {
            Tokens::V3 { .. } => {
                if needs_refresh(&s) {
                    if let Err(e) = self.ensure_session().await {
                        tracing::warn!(error = %e, "proactive v3 refresh failed");
                    }
                }
            }
            Tokens::V2 { .. } => {
                if s.created.elapsed() >= self.cfg.max_session_age {
                    tracing::info!(
                        age_s = s.created.elapsed().as_secs(),
                        "IG session reached its maximum age; logging in again"
                    );
                    if let Err(e) = self
                        .relogin_if_generation(s.generation, "session age")
                        .await
                    {
                        tracing::warn!(error = %e, "proactive re-login failed");
                    }
                } else if self.idle_for() >= self.cfg.idle_revalidate_after {
                    tracing::info!("IG session idle; re-validating it");
                    if let Err(e) = self
                        .call(&Call::get("/session", 1, "validate session"))
                        .await
                    {
                        tracing::warn!(error = %e, "session re-validation failed");
                    }
                }
            }
        }
    }

    /// Replaces the default budgets with `/operations/application` values for our API key.
    pub(crate) async fn fetch_allowances(self: &std::sync::Arc<Self>) {
        let call = Call::get("/operations/application", 1, "application allowances");
        let apps: Result<Vec<Application>, _> = match self.call(&call).await {
            Ok(r) => r.json("application allowances"),
            Err(e) => Err(e),
        };
        match apps {
            Ok(apps) => {
                let key = self.cfg.api_key.expose_secret();
                let chosen = apps
                    .iter()
                    .find(|a| a.api_key.as_deref() == Some(key))
                    .or_else(|| if apps.len() == 1 { apps.first() } else { None });
                if let Some(app) = chosen {
                    let a = crate::convert::allowances(app);
                    tracing::info!(
                        trading_per_minute = a.trading_per_minute,
                        non_trading_per_minute = a.non_trading_per_minute,
                        "IG allowances read"
                    );
                    self.limiter.set_allowances(a).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read IG allowances; keeping defaults"),
        }
    }
}

//! systemd notifications (`Type=notify`): `READY=1` when the run is trading, `WATCHDOG=1` each
//! time the event loop's one-second timer fires (a stuck loop stops feeding the watchdog and
//! systemd restarts the service), `STOPPING=1` when it winds down. Silent outside systemd
//! (no `NOTIFY_SOCKET`).

use scalper_live::ServiceNotify;
use sd_notify::NotifyState;

/// Notifies systemd through `NOTIFY_SOCKET`.
#[derive(Debug, Default)]
pub struct Systemd {
    watchdog: bool,
}

impl Systemd {
    /// `None` when the process was not started by systemd with a notify socket.
    pub fn from_env() -> Option<Self> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = sd_notify::watchdog_enabled();
        if let Some(every) = watchdog {
            tracing::info!(
                watchdog_ms = every.as_millis(),
                "systemd watchdog: fed by the event loop every second"
            );
        }
        Some(Self {
            watchdog: watchdog.is_some(),
        })
    }

    fn send(what: &str, state: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(state) {
            tracing::warn!(error = %e, what, "cannot notify systemd");
        }
    }
}

impl ServiceNotify for Systemd {
    fn ready(&self) {
        Self::send(
            "ready",
            &[NotifyState::Ready, NotifyState::Status("trading")],
        );
    }

    fn alive(&self) {
        if self.watchdog {
            Self::send("watchdog", &[NotifyState::Watchdog]);
        }
    }

    fn stopping(&self) {
        Self::send(
            "stopping",
            &[NotifyState::Stopping, NotifyState::Status("winding down")],
        );
    }
}

//! Ctrl-C (SIGINT), SIGTERM (`systemctl stop`, `docker stop`), SIGHUP (the terminal went away)
//! and the programmatic kill switch all take one path: the first press stops new entries (the
//! kill switch), the second ends the run at once. Installed before the first network call, so
//! that a press during start-up (login, reconciliation) stops the start cleanly instead of
//! killing the process mid-write.

use std::sync::Arc;

use tokio::sync::watch;

use crate::LiveError;

/// Counts presses (SIGINTs and [`KillSwitch::press`]) from the moment it exists.
#[derive(Debug, Clone)]
pub struct Interrupts {
    rx: watch::Receiver<u32>,
    tx: Arc<watch::Sender<u32>>,
}

/// A handle that presses the kill switch of a run, like Ctrl-C (for services, bindings and
/// tests).
#[derive(Debug, Clone)]
pub struct KillSwitch {
    tx: Arc<watch::Sender<u32>>,
}

impl KillSwitch {
    /// One press: the first stops new entries, the second ends the run at once.
    pub fn press(&self) {
        self.tx.send_modify(|n| *n += 1);
    }
}

impl Interrupts {
    /// Presses come only from [`KillSwitch`] handles (no signal handler).
    pub fn manual() -> Self {
        let (tx, rx) = watch::channel(0u32);
        Self {
            rx,
            tx: Arc::new(tx),
        }
    }

    /// Registers the SIGINT, SIGTERM and SIGHUP handlers now (not at the first poll), so that
    /// none of these signals after this call takes its default action of ending the process
    /// with positions unmanaged. Must be called inside a tokio runtime.
    pub fn install() -> Result<Self, LiveError> {
        let me = Self::manual();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            for (kind, name) in [
                (SignalKind::interrupt(), "SIGINT (Ctrl-C)"),
                (SignalKind::terminate(), "SIGTERM"),
                (SignalKind::hangup(), "SIGHUP"),
            ] {
                let mut sig = signal(kind).map_err(LiveError::Signals)?;
                let switch = me.kill_switch();
                tokio::spawn(async move {
                    while sig.recv().await.is_some() {
                        tracing::warn!(signal = name, "signal received: pressing the kill switch");
                        switch.press();
                    }
                });
            }
        }
        #[cfg(not(unix))]
        {
            let switch = me.kill_switch();
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    switch.press();
                }
            });
        }
        Ok(me)
    }

    /// A handle that presses this kill switch.
    pub fn kill_switch(&self) -> KillSwitch {
        KillSwitch {
            tx: self.tx.clone(),
        }
    }

    /// Presses so far.
    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    /// Waits for the next press and returns the count.
    pub async fn next(&mut self) -> u32 {
        if self.rx.changed().await.is_err() {
            // Unreachable while `self` holds a sender; never resolve rather than spin.
            std::future::pending::<()>().await;
        }
        *self.rx.borrow_and_update()
    }

    /// Runs a start-up step unless a press comes first.
    pub async fn or_interrupt<T>(
        &mut self,
        stage: &str,
        step: impl std::future::Future<Output = Result<T, LiveError>>,
    ) -> Result<T, LiveError> {
        if self.count() > 0 {
            return Err(LiveError::Interrupted {
                stage: format!("before {stage}"),
            });
        }
        tokio::select! {
            r = step => r,
            _ = self.next() => Err(LiveError::Interrupted { stage: format!("while {stage}") }),
        }
    }
}

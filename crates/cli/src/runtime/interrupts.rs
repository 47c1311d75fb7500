//! Ctrl-C (SIGINT) for the runner, installed before the first network call: the first press is
//! the kill switch, the second ends the run at once. A press during start-up (login,
//! reconciliation) stops the start cleanly instead of killing the process mid-write.

use tokio::sync::watch;

/// Counts SIGINTs from the moment it is installed.
#[derive(Debug, Clone)]
pub struct Interrupts {
    rx: watch::Receiver<u32>,
}

impl Interrupts {
    /// Registers the handler now (not at the first poll), so that no SIGINT after this call
    /// takes the default action of ending the process.
    pub fn install() -> anyhow::Result<Self> {
        let (tx, rx) = watch::channel(0u32);
        #[cfg(unix)]
        {
            let mut sig =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
            tokio::spawn(async move {
                while sig.recv().await.is_some() {
                    tx.send_modify(|n| *n += 1);
                }
            });
        }
        #[cfg(not(unix))]
        {
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    tx.send_modify(|n| *n += 1);
                }
            });
        }
        Ok(Self { rx })
    }

    /// Presses so far.
    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    /// Waits for the next press and returns the count.
    pub async fn next(&mut self) -> u32 {
        if self.rx.changed().await.is_err() {
            // The listener is gone: never resolve.
            std::future::pending::<()>().await;
        }
        *self.rx.borrow_and_update()
    }

    /// Runs a start-up step unless Ctrl-C comes first.
    pub async fn or_interrupt<T>(
        &mut self,
        what: &str,
        step: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        if self.count() > 0 {
            anyhow::bail!("interrupted (Ctrl-C) during start-up, before {what}: nothing was sent");
        }
        tokio::select! {
            r = step => r,
            _ = self.next() => anyhow::bail!("interrupted (Ctrl-C) during start-up, while {what}: no order was sent"),
        }
    }
}

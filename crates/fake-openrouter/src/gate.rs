//! [`Gate`]: a one-shot latch a test opens to release a held-back reply.

use std::sync::Arc;

use tokio::sync::watch;

/// A latch shared between a test and a [`Reply::gated`](crate::Reply::gated) reply.
///
/// Clones share the same state. Once [`open`](Gate::open)ed it stays open; opening works
/// from sync code and from inside any runtime.
#[derive(Debug, Clone)]
pub struct Gate {
    state: Arc<watch::Sender<bool>>,
}

impl Gate {
    /// A new, closed gate.
    pub fn new() -> Gate {
        Gate {
            state: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Opens the gate, releasing every reply waiting on it (now and later).
    pub fn open(&self) {
        self.state.send_replace(true);
    }

    /// Whether [`open`](Gate::open) has been called.
    pub fn is_open(&self) -> bool {
        *self.state.borrow()
    }

    /// Resolves once the gate is open.
    pub(crate) async fn wait(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot see a closed channel.
        let _ = rx.wait_for(|open| *open).await;
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wait_blocks_until_open() {
        let gate = Gate::new();
        assert!(!gate.is_open());
        let waiting = tokio::time::timeout(Duration::from_millis(30), gate.wait()).await;
        assert!(waiting.is_err(), "a closed gate must not release");
        let clone = gate.clone();
        clone.open();
        assert!(gate.is_open());
        tokio::time::timeout(Duration::from_secs(1), gate.wait())
            .await
            .expect("an open gate releases at once");
    }
}

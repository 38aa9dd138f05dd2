//! How client calls served outside the session workers (facade calls) take part in a
//! graceful shutdown: each holds a [`CallGuard`], so the drain waits for it during the
//! grace period, and the guard's one signal says when the grace is over and the call must
//! end (a stream with its protocol's error event).

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::engine::Engine;

/// Held by an in-flight facade call until it is fully answered (for a stream: until the
/// body ends or the client leaves).
#[derive(Debug)]
pub struct CallGuard {
    _token: TaskTrackerToken,
    grace_over: CancellationToken,
}

impl CallGuard {
    /// Completes when the shutdown grace period is over: the call must end now.
    pub fn grace_over(&self) -> WaitForCancellationFutureOwned {
        self.grace_over.clone().cancelled_owned()
    }
}

impl Engine {
    /// A guard for one facade call: the drain waits for it (up to the grace period).
    pub fn track_call(&self) -> CallGuard {
        CallGuard {
            _token: self.inner.tasks.token(),
            grace_over: self.inner.grace_over.clone(),
        }
    }
}

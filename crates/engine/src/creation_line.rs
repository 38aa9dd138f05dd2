//! The order a session's inputs are created and queued in. Each submission takes a place
//! in its session's line before its run is created, and waits for the place before it
//! (that creation finished and its run was queued, or it gave up) before creating its
//! own. So, within this process, a session's runs reach its worker in the order they were
//! created: the worker never runs a younger run before an older one, which the run's
//! history depends on (a run created first in an empty session reads none) and which, on
//! a database shared by replicas, the turn check waits for (a younger run taken first
//! would wait for an older one queued behind it).
//!
//! No lock is held across an await: each place holds the receiving end of its
//! predecessor's signal, and the map keeps only the last place of each session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// Every session's line of creations in progress.
#[derive(Default)]
pub(crate) struct CreationLine {
    /// Per session, the last place taken: its id and the signal it sends when it leaves.
    last: Mutex<HashMap<String, (u64, oneshot::Receiver<()>)>>,
    next_id: AtomicU64,
}

/// One submission's place in its session's line; leaving it (dropping it) lets the next
/// one go.
pub(crate) struct Place {
    line: Arc<CreationLine>,
    session: String,
    id: u64,
    before: Option<oneshot::Receiver<()>>,
    /// Dropped with the place: the next place's wait ends.
    _done: oneshot::Sender<()>,
}

impl CreationLine {
    /// Takes the last place in `session`'s line.
    pub(crate) fn join(self: &Arc<Self>, session: &str) -> Place {
        let (done, signal) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let before = self
            .last
            .lock()
            .insert(session.to_owned(), (id, signal))
            .map(|(_, before)| before);
        Place {
            line: Arc::clone(self),
            session: session.to_owned(),
            id,
            before,
            _done: done,
        }
    }

    /// Whether a creation is in progress in `session`.
    pub(crate) fn is_busy(&self, session: &str) -> bool {
        self.last.lock().contains_key(session)
    }
}

impl Place {
    /// Waits until the place before this one was left.
    pub(crate) async fn wait(&mut self) {
        if let Some(before) = &mut self.before {
            // Sent or dropped: either way that submission is done. Taken only once it
            // ended, so a wait given up on keeps its place.
            let _ = before.await;
            self.before = None;
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut last = self.line.last.lock();
        if last
            .get(&self.session)
            .is_some_and(|(id, _)| *id == self.id)
        {
            last.remove(&self.session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn each_place_waits_for_the_one_before_and_the_line_empties() {
        let line = Arc::new(CreationLine::default());
        let mut first = line.join("s");
        let mut second = line.join("s");
        let mut other = line.join("t");
        first.wait().await;
        other.wait().await;
        // The second waits while the first is in line.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), second.wait())
                .await
                .is_err()
        );
        drop(first);
        second.wait().await;
        assert!(line.is_busy("s"));
        drop(second);
        assert!(!line.is_busy("s"));
        assert!(line.is_busy("t"));
        drop(other);
        assert!(line.last.lock().is_empty());
    }

    #[tokio::test]
    async fn a_place_left_early_does_not_hold_up_the_next() {
        let line = Arc::new(CreationLine::default());
        let first = line.join("s");
        let mut second = line.join("s");
        let mut third = line.join("s");
        drop(first);
        second.wait().await;
        drop(second);
        third.wait().await;
        drop(third);
        assert!(!line.is_busy("s"));
    }
}

//! The writer thread's mailbox: an unbounded first-in-first-out queue of messages from the
//! store's handles to the one writer thread, which sleeps on it when it is empty.
//!
//! It replaces `std::sync::mpsc` there for one reason. std's channel wakes a parked
//! receiver while it still holds its waker's lock; on a daemon pinned to one core the
//! woken writer runs at once, blocks on that lock, and the sender must wake it a second
//! time (`strace -k`: `SyncWaker::notify` → `SyncWaker::register` →
//! `Mutex::lock_contended` on every wake-up, two futex calls and a context switch more).
//! Here a sender pushes under the lock and wakes the receiver after releasing it.
//!
//! Semantics are the channel's: sending fails once the receiver is gone (the writer
//! thread exited), and receiving reports the sender gone once the queue is drained.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Why nothing was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Nothing arrived (in time).
    Waited,
    /// The sender is gone and the queue is drained: nothing will arrive.
    SenderGone,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    arrived: Condvar,
}

struct State<T> {
    queue: VecDeque<T>,
    receiver_gone: bool,
    sender_gone: bool,
}

/// The sending side (the store's writer handle holds the one there is).
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side, owned by the writer thread.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A new mailbox.
pub(crate) fn mailbox<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            receiver_gone: false,
            sender_gone: false,
        }),
        arrived: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Queues `message`; gives it back when the receiver is gone.
    pub(crate) fn send(&self, message: T) -> Result<(), T> {
        {
            let mut state = self.shared.state.lock();
            if state.receiver_gone {
                return Err(message);
            }
            state.queue.push_back(message);
        }
        // After the lock is released, so the woken receiver finds it free.
        self.shared.arrived.notify_one();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.state.lock().sender_gone = true;
        self.shared.arrived.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next message, waiting for one as long as it takes; `None` once the sender is
    /// gone and the queue is drained.
    pub(crate) fn recv(&self) -> Option<T> {
        self.wait(None).ok()
    }

    /// The next message if one is queued.
    pub(crate) fn try_recv(&self) -> Result<T, Empty> {
        let mut state = self.shared.state.lock();
        match state.queue.pop_front() {
            Some(message) => Ok(message),
            None if state.sender_gone => Err(Empty::SenderGone),
            None => Err(Empty::Waited),
        }
    }

    /// The next message, waiting for one at most `limit`.
    pub(crate) fn recv_timeout(&self, limit: Duration) -> Result<T, Empty> {
        self.wait(Some(Instant::now() + limit))
    }

    fn wait(&self, deadline: Option<Instant>) -> Result<T, Empty> {
        let mut state = self.shared.state.lock();
        loop {
            if let Some(message) = state.queue.pop_front() {
                return Ok(message);
            }
            if state.sender_gone {
                return Err(Empty::SenderGone);
            }
            match deadline {
                None => self.shared.arrived.wait(&mut state),
                Some(deadline) => {
                    if self
                        .shared
                        .arrived
                        .wait_until(&mut state, deadline)
                        .timed_out()
                    {
                        return state.queue.pop_front().ok_or(Empty::Waited);
                    }
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receiver_gone = true;
        // What was queued will never be taken; its replies end with their senders.
        state.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order() {
        let (tx, rx) = mailbox();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        tx.send(3).unwrap();
        assert_eq!(rx.recv(), Some(1));
        assert_eq!(
            [rx.try_recv(), rx.recv_timeout(Duration::ZERO)],
            [Ok(2), Ok(3)]
        );
        assert_eq!(rx.try_recv(), Err(Empty::Waited));
    }

    #[test]
    fn a_waiting_receiver_is_woken_by_a_send_from_another_thread() {
        let (tx, rx) = mailbox();
        let sender = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i).unwrap();
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        let got: Vec<i32> = (0..1000).map(|_| rx.recv().unwrap()).collect();
        sender.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        // The sender is gone and the queue is drained.
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_timed_wait_ends_empty_when_nothing_arrives() {
        let (tx, rx) = mailbox::<u8>();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(Empty::Waited)
        );
        drop(tx);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(60)),
            Err(Empty::SenderGone)
        );
    }

    #[test]
    fn queued_messages_outlive_their_sender_and_sends_fail_without_a_receiver() {
        let (tx, rx) = mailbox();
        tx.send("kept").unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Some("kept"));
        assert_eq!(rx.try_recv(), Err(Empty::SenderGone));

        let (tx, rx) = mailbox();
        drop(rx);
        assert_eq!(tx.send("lost"), Err("lost"));
    }
}

//! Live runs: the in-memory event log of every run that is queued or running, fanned out
//! to subscribers as events happen and persisted to the store in order.
//!
//! A subscriber first gets a replay of the events after its `Last-Event-ID` and then the
//! live tail, with no gap and no duplicate: the replay copy and the receiver are taken
//! under the same lock that `emit` holds while appending.
//!
//! Persistence is batched: events go to the store in groups (every [`FLUSH_EVERY`] events
//! or [`FLUSH_AFTER`] since the last flush), each one `append_events` call (carrying the
//! run's start when it is not stored yet) on a task the hub keeps; the rest, with the
//! terminal event, go in the run's `finish_run` ([`LiveRun::prepare`]), written after
//! those tasks ended. A short run thus writes its start, events and end in one
//! transaction; a crash can lose at most the last unflushed deltas of a run that is then
//! marked interrupted anyway.
//!
//! A hub also tells when its run is *under way* ([`LiveRun::under_way`]): it has done all
//! it could without waiting — its first model call handed to the transport, or it waits
//! in line behind its session's earlier run, or it ended. A session stream's handler
//! answers (headers and the events so far, in one write) only then, so that on a busy
//! core the client's writes queue behind the upstream request instead of ahead of it.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events buffered per live run for subscribers before they must catch up from the log.
pub const LIVE_BUFFER: usize = 32;

/// Flush to the store after this many unpersisted events.
pub const FLUSH_EVERY: usize = 64;
/// Flush to the store when this long has passed since the last flush.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);

use ferry_store::{NewEvent, Run, RunRepo, RunStart};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use ferry_types::{RunEvent, UsageObject};

use crate::cut_call::InFlight;

/// One run event as streamed over SSE (`id:` = seq, `event:` = its kind, `data:` = its
/// payload, serialised where it is sent).
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the run's event log, from 1.
    pub seq: u64,
    /// The event.
    pub event: Arc<RunEvent>,
}

impl Event {
    /// The event at `seq`.
    pub fn new(seq: u64, event: RunEvent) -> Event {
        Event {
            seq,
            event: Arc::new(event),
        }
    }

    /// Event name, e.g. `output.delta`.
    pub fn kind(&self) -> &'static str {
        self.event.kind()
    }

    /// Whether this event ends the run's stream.
    pub fn is_terminal(&self) -> bool {
        self.event.is_terminal()
    }
}

struct Log {
    events: Vec<Event>,
    finished: bool,
    /// Index of the first event not yet handed to the store.
    unpersisted: usize,
    last_flush: Instant,
    /// The run's start, once it started.
    start: Option<RunStart>,
    /// Whether the start was handed to the store.
    start_stored: bool,
    /// Batches on their way to the store.
    flushes: Vec<JoinHandle<()>>,
    /// The run as its end stored it, kept from the terminal event on (so a caller waiting
    /// for the end answers without reading it back).
    ended: Option<Arc<Run>>,
}

/// What the run's end writes with its final row ([`LiveRun::prepare`]).
pub struct Unstored {
    /// The run's start (stored again with the end, which keeps the first start time).
    pub(crate) start: Option<RunStart>,
    /// Events not stored yet, the terminal one last.
    pub(crate) events: Vec<NewEvent>,
    /// Batches still on their way: the end is written after they ended.
    pub(crate) flushes: Vec<JoinHandle<()>>,
}

/// How far a live run has got, in order: each state implies the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Progress {
    /// Queued or starting: it has not yet waited on anything outside the process.
    Starting,
    /// Under way ([`LiveRun::under_way`]).
    UnderWay,
    /// Its terminal event is in the log.
    Ended,
}

/// The hub of one live run.
pub struct LiveRun {
    /// The run id.
    pub run_id: String,
    /// The session the run belongs to.
    pub session_id: String,
    log: Mutex<Log>,
    tx: broadcast::Sender<Event>,
    /// How far the run has got: a caller that waits only for it to be under way (a
    /// stream's handler) or for its end (a non-streaming input) is woken once, not on
    /// every event.
    progress: watch::Sender<Progress>,
    /// Cancels the run (aborts the upstream request).
    pub cancel: CancellationToken,
    store: Arc<dyn RunRepo>,
    /// Usage and cost of the model calls (and tools) that finished so far, kept for a run
    /// that ends failed or cancelled.
    spent: Mutex<(Option<Arc<UsageObject>>, Option<f64>)>,
    /// The model call in flight, kept here so that a cancel, which drops the run's
    /// future, still finds what the call cost.
    call: Mutex<Option<InFlight>>,
}

/// What a subscriber receives: the replayed events, then a live receiver (None if the run
/// already finished, in which case the replay holds everything).
pub struct Subscription {
    /// Events after the requested seq that already happened.
    pub replay: Vec<Event>,
    /// Live events after the replay.
    pub live: Option<broadcast::Receiver<Event>>,
    /// The hub, to recover from a lagging receiver.
    pub hub: Arc<LiveRun>,
}

impl LiveRun {
    /// A fresh hub with an empty log.
    pub fn new(run_id: String, session_id: String, store: Arc<dyn RunRepo>) -> Arc<Self> {
        // tokio preallocates every slot; a subscriber that falls further behind recovers
        // the missed events from the log (`RecvError::Lagged`), so a small ring suffices.
        let (tx, _) = broadcast::channel(LIVE_BUFFER);
        Arc::new(LiveRun {
            run_id,
            session_id,
            log: Mutex::new(Log {
                events: Vec::new(),
                finished: false,
                unpersisted: 0,
                last_flush: Instant::now(),
                start: None,
                start_stored: false,
                flushes: Vec::new(),
                ended: None,
            }),
            tx,
            progress: watch::Sender::new(Progress::Starting),
            cancel: CancellationToken::new(),
            store,
            spent: Mutex::new((None, None)),
            call: Mutex::new(None),
        })
    }

    /// Appends an event and broadcasts it at once; it reaches the store with its batch.
    pub fn emit(&self, event: RunEvent) {
        let mut log = self.log.lock();
        let event = Event::new(log.events.len() as u64 + 1, event);
        log.events.push(event.clone());
        if log.events.len() - log.unpersisted >= FLUSH_EVERY
            || log.last_flush.elapsed() >= FLUSH_AFTER
        {
            self.flush(&mut log);
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    /// The run starts on `route` / `model`: stored with the next batch or the run's end.
    pub(crate) fn start(&self, route: &str, model: &str) {
        let mut log = self.log.lock();
        log.start = Some(RunStart {
            route: route.to_owned(),
            model_requested: model.to_owned(),
            started_at: time::OffsetDateTime::now_utc(),
        });
        log.start_stored = false;
    }

    /// The run as its end stored it, once the terminal event was published after a
    /// successful write.
    pub(crate) fn ended_run(&self) -> Option<Arc<Run>> {
        self.log.lock().ended.clone()
    }

    /// The run's start, once it started (stored or not yet).
    pub(crate) fn started(&self) -> Option<RunStart> {
        let log = self.log.lock();
        log.start.clone()
    }

    /// Makes the terminal event and hands over, with it, what the run's end must store:
    /// every unpersisted event, this one last, and the start. It is
    /// not published until [`LiveRun::publish`], after that write committed. Only the
    /// run's worker emits, so seqs stay dense.
    pub fn prepare(&self, event: RunEvent) -> (Event, Unstored) {
        let mut log = self.log.lock();
        let event = Event::new(log.events.len() as u64 + 1, event);
        let events = encode(&self.run_id, &log.events[log.unpersisted..], Some(&event));
        log.unpersisted = log.events.len();
        let unstored = Unstored {
            // Always with the end: a batch that carried it may have failed.
            start: log.start.clone(),
            events,
            flushes: std::mem::take(&mut log.flushes),
        };
        (event, unstored)
    }

    /// Publishes an event made by [`LiveRun::prepare`] to the log and the subscribers.
    pub fn publish(&self, event: Event) {
        self.publish_with(event, None);
    }

    /// Publishes the terminal event with the run as its end stored it.
    pub(crate) fn publish_end(&self, event: Event, run: Run) {
        self.publish_with(event, Some(Arc::new(run)));
    }

    fn publish_with(&self, event: Event, ended: Option<Arc<Run>>) {
        let mut log = self.log.lock();
        if ended.is_some() {
            log.ended = ended;
        }
        let terminal = event.is_terminal();
        if terminal {
            log.finished = true;
        }
        log.events.push(event.clone());
        log.unpersisted = log.events.len();
        let _ = self.tx.send(event);
        if terminal {
            self.progress.send_replace(Progress::Ended);
        }
    }

    /// The run is under way: it waits for something outside this process (its upstream
    /// call, its turn in the session, the store), or it ended. Idempotent.
    pub(crate) fn mark_under_way(&self) {
        self.progress.send_if_modified(|progress| {
            let starting = *progress == Progress::Starting;
            if starting {
                *progress = Progress::UnderWay;
            }
            starting
        });
    }

    /// Waits until the run is under way: its first model call was handed to the
    /// transport (the worker's first wait), it waits in line behind another run of its
    /// session, or it ended. At once for a hub that only replays a stored run.
    pub async fn under_way(&self) {
        self.reached(Progress::UnderWay).await;
    }

    /// Waits for the run's terminal event and returns it (at once when the run already
    /// ended). A waiter counts as a subscriber (see [`LiveRun::has_subscribers`]).
    pub(crate) async fn terminal(&self) -> Option<Event> {
        self.reached(Progress::Ended).await;
        let log = self.log.lock();
        log.events.iter().rev().find(|e| e.is_terminal()).cloned()
    }

    /// Hands the unpersisted events (and the start) to the store on a task of their own.
    fn flush(&self, log: &mut Log) {
        let events = encode(&self.run_id, &log.events[log.unpersisted..], None);
        log.unpersisted = log.events.len();
        log.last_flush = Instant::now();
        if events.is_empty() {
            return;
        }
        let start = take_unstored_start(log);
        let (store, run_id) = (Arc::clone(&self.store), self.run_id.clone());
        log.flushes.retain(|f| !f.is_finished());
        log.flushes.push(tokio::spawn(async move {
            if let Err(e) = store.append_events(&run_id, start, events).await {
                tracing::warn!(run = %run_id, error = %e, "run events not stored");
            }
        }));
    }

    /// Subscribes from just after `after_seq`.
    pub fn subscribe(self: &Arc<Self>, after_seq: u64) -> Subscription {
        let log = self.log.lock();
        let replay = events_after(&log.events, after_seq);
        let live = if log.finished {
            None
        } else {
            Some(self.tx.subscribe())
        };
        Subscription {
            replay,
            live,
            hub: self.clone(),
        }
    }

    /// Whether a client is subscribed to the run's live events (a session stream).
    pub(crate) fn has_event_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Whether anyone still follows the run: subscribed to its live events, or waiting
    /// on its progress (for its end, or for it to be under way).
    pub(crate) fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0 || self.progress.receiver_count() > 0
    }

    /// Waits until the run got at least as far as `at_least`. The sender lives in this
    /// hub, which the caller holds: the wait ends only with that progress, as a broadcast
    /// receiver's would with the event.
    async fn reached(&self, at_least: Progress) {
        let _ = self
            .progress
            .subscribe()
            .wait_for(|progress| *progress >= at_least)
            .await;
    }

    /// The seq of the last event in the log (0 when empty).
    pub(crate) fn last_seq(&self) -> u64 {
        self.log.lock().events.last().map_or(0, |e| e.seq)
    }

    /// Events after `after_seq` (used when a receiver lagged behind).
    pub fn events_after(&self, after_seq: u64) -> Vec<Event> {
        let log = self.log.lock();
        events_after(&log.events, after_seq)
    }

    /// Records the usage and cost of the steps finished so far.
    pub(crate) fn note_spent(&self, usage: Option<Arc<UsageObject>>, cost: Option<f64>) {
        *self.spent.lock() = (usage, cost);
    }

    /// Usage and cost of the steps finished so far.
    pub(crate) fn spent(&self) -> (Option<Arc<UsageObject>>, Option<f64>) {
        self.spent.lock().clone()
    }

    /// A model call starts (admitted with the admission in `call`).
    pub(crate) fn begin_call(&self, call: InFlight) {
        *self.call.lock() = Some(call);
    }

    /// Updates the model call in flight, if any.
    pub(crate) fn update_call(&self, f: impl FnOnce(&mut InFlight)) {
        if let Some(call) = self.call.lock().as_mut() {
            f(call);
        }
    }

    /// Takes the model call in flight: it ended, or the run did.
    pub(crate) fn end_call(&self) -> Option<InFlight> {
        self.call.lock().take()
    }

    /// Concatenated `output.delta` text so far (for cancelled runs' partial output).
    pub fn output_so_far(&self) -> String {
        let log = self.log.lock();
        log.events
            .iter()
            .filter_map(|e| match e.event.as_ref() {
                RunEvent::OutputDelta(d) => Some(d.text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// The start to hand to the store with the next write, once.
fn take_unstored_start(log: &mut Log) -> Option<RunStart> {
    if log.start_stored {
        return None;
    }
    log.start_stored = true;
    log.start.clone()
}

/// The events (and `extra`) as rows to store; one that cannot be encoded is logged and
/// left out.
fn encode(run_id: &str, events: &[Event], extra: Option<&Event>) -> Vec<NewEvent> {
    events
        .iter()
        .chain(extra)
        .filter_map(
            |e| // Stored rows keep the wire format: the kind and the payload's JSON.
        match NewEvent::new(e.seq, e.kind(), &e.event.payload()) {
            Ok(row) => Some(row),
            Err(err) => {
                tracing::warn!(run = %run_id, seq = e.seq, error = %err, "run event not stored");
                None
            }
        },
        )
        .collect()
}

fn events_after(events: &[Event], after_seq: u64) -> Vec<Event> {
    let start = (after_seq as usize).min(events.len());
    events[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use ferry_types::{ProblemCode, RunEnded, TextDelta};

    use super::*;

    #[tokio::test]
    async fn a_caller_waiting_for_the_end_follows_the_run_and_gets_its_terminal_event() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn RunRepo> = Arc::new(ferry_store::Store::open(dir.path()).unwrap());
        let hub = LiveRun::new("run_1".into(), "s".into(), store);
        assert!(!hub.has_subscribers());
        let waiter = tokio::spawn({
            let hub = Arc::clone(&hub);
            async move { hub.terminal().await }
        });
        for _ in 0..100 {
            if hub.has_subscribers() {
                break;
            }
            tokio::task::yield_now().await;
        }
        // A run another replica owns is relayed only while someone follows it.
        assert!(
            hub.has_subscribers(),
            "a caller waiting for the end follows the run"
        );
        hub.emit(RunEvent::OutputDelta(TextDelta { text: "hi".into() }));
        assert!(!waiter.is_finished());
        let (end, _) = hub.prepare(RunEvent::RunCancelled(RunEnded {
            code: ProblemCode::RunCancelled,
            message: "cancelled".into(),
            status: None,
            retryable: None,
        }));
        hub.publish(end);
        let got = waiter.await.unwrap().expect("the terminal event");
        assert_eq!((got.seq, got.kind()), (2, "run.cancelled"));
        // A run that already ended answers at once.
        assert_eq!(hub.terminal().await.map(|e| e.seq), Some(2));
        assert!(!hub.has_subscribers());
    }
}

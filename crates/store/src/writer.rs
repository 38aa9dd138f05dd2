//! The single writer: one thread drives the only read-write connection. Jobs arrive over
//! a channel ([`crate::mailbox`]); the thread takes every job waiting (up to
//! [`GROUP_CAP`]), runs them in one transaction with a savepoint per job (so one job's
//! error rolls back only that job; the group's first job needs none: its error rolls
//! back the transaction, which holds nothing else yet, and the rest make a group of
//! their own), commits once, and only then answers each job. Jobs with no one
//! waiting for an answer (fire-and-forget) travel the same channel, so they stay ordered
//! with everything after.
//!
//! Deferrable jobs (the spend ledger's rows: one per paid upstream call, written after the
//! call has answered) may wait up to [`DEFER_WINDOW`] for company: they go to a side queue
//! instead of the channel, and only the first one into an empty queue wakes the thread,
//! which then lingers that long before it commits — so a busy facade commits its ledger
//! rows tens at a time instead of one commit (and one fsync) per call, and wakes the thread
//! once per window instead of once per row (a wake per row cost two context switches per
//! facade call). Any job on the channel ends the wait at once and takes the queued rows
//! into its group; a reader that needs them committed first queues a [`Writer::barrier`].
//!
//! Light jobs (a run's creation that no client was told about, a run's mid-way event
//! batches) do not need their own fsync: a group made only of them is a light commit
//! ([`crate::wal_vfs::light`]: its WAL frames are written, not fsynced, as
//! `synchronous=NORMAL` would), which survives a killed process (the WAL is in the OS's
//! hands) but not a power cut until the next synced commit — the run's end, which is
//! fsynced, makes everything before it durable too. So a run costs one fsync, shared by
//! its group.
//!
//! A light job that finds the writer idle (nothing queued on the channel, the connection
//! free) runs in place instead: on the caller's thread, as a group of its own, taking the
//! write lock without waiting. It commits in tens of microseconds, where waking the parked
//! writer thread and being woken back cost ~160 µs at the median on a VM. It never
//! overtakes a job sent before it (those are counted until they settle), and it never
//! checkpoints on the caller's thread: the connection's WAL hook replaces SQLite's
//! auto-checkpoint, and a commit that leaves the WAL at [`CHECKPOINT_PAGES`] asks the
//! writer thread to checkpoint.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::mailbox::{self, Empty, Receiver, Sender};
use crate::wal_vfs;

/// Most jobs committed in one group.
pub(crate) const GROUP_CAP: usize = 256;

/// Longest a group of deferrable jobs waits for more jobs before it commits.
pub(crate) const DEFER_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

/// WAL pages after a commit from which the writer thread checkpoints (`PASSIVE`): SQLite's
/// own auto-checkpoint threshold. The writer's WAL hook replaces SQLite's auto-checkpoint,
/// so that a light job run in place never checkpoints on its caller's thread.
const CHECKPOINT_PAGES: c_int = 1000;

thread_local! {
    /// WAL pages after this thread's last commit on the write connection (its WAL hook).
    static WAL_PAGES: Cell<c_int> = const { Cell::new(0) };
}

/// The write connection's WAL hook: notes the WAL's size for [`checkpoint_due`].
fn note_wal_pages(_: &rusqlite::hooks::Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// Whether this thread's last commit left the WAL at [`CHECKPOINT_PAGES`] or more.
fn checkpoint_due() -> bool {
    WAL_PAGES.with(|p| p.replace(0)) >= CHECKPOINT_PAGES
}

/// Copies what it can of the WAL into the database without waiting for readers (SQLite's
/// auto-checkpoint, run on the writer thread).
fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "could not checkpoint the state database's WAL");
    }
}

/// What the writer thread and the handles share.
struct Shared {
    /// The write connection, `None` once the writer thread has stopped (and closed it).
    /// The writer thread holds it for each group; a light job may take it in place when
    /// the writer is idle.
    line: Mutex<Option<Connection>>,
    /// Jobs sent on the channel and not yet settled: a light job runs in place only when
    /// there is none, so it never overtakes a job sent before it.
    queued: AtomicUsize,
    /// Set when the writer is told to stop: nothing runs in place from then on.
    stopping: AtomicBool,
    counters: Counters,
}

/// One unit of work for the writer thread.
trait Job: Send {
    /// Runs the work on the write connection, inside the job's savepoint; returns
    /// whether it succeeded (so the savepoint is kept) or failed (so it is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Called once the group is settled: `Ok` if it committed, else SQLite's reason.
    fn settle(self: Box<Self>, group: Result<(), &str>);
    /// Whether the job's commit must be fsynced before it is answered.
    fn needs_sync(&self) -> bool {
        true
    }
    /// Whether the job runs in its own savepoint (so its failure undoes only its own
    /// statements). A one-statement job does not need one: SQLite undoes a failed
    /// statement by itself.
    fn isolated(&self) -> bool {
        true
    }
    /// Whether the job may commit ahead of the deferred jobs queued before it: it neither
    /// reads nor writes what they write (the spend ledger), so the order between them
    /// cannot matter. The writer then makes it its group's first job, which needs no
    /// savepoint.
    fn ahead_of_deferred(&self) -> bool {
        false
    }
}

enum Msg {
    Job(Box<dyn Job>),
    /// The side queue of deferred jobs was empty and now holds one.
    Deferred,
    /// A light job run in place left the WAL due for a checkpoint.
    Checkpoint,
    Stop,
}

/// Deferred jobs waiting for the writer's next group (see the module doc).
type DeferredQueue = Arc<Mutex<Vec<Box<dyn Job>>>>;

/// The handle to the writer thread.
pub(crate) struct Writer {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    deferred: DeferredQueue,
    thread: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// The counters of the writer (its thread and the jobs run in place).
#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    synced: AtomicU64,
    /// Messages taken from the channel (each may have woken the thread).
    messages: AtomicU64,
}

impl Writer {
    /// Starts the writer thread, handing it `conn`.
    pub(crate) fn spawn(conn: Connection, db_path: &Path) -> Result<Writer, StoreError> {
        // Replaces SQLite's auto-checkpoint: the writer thread checkpoints instead.
        conn.wal_hook(Some(note_wal_pages));
        let shared = Arc::new(Shared {
            line: Mutex::new(Some(conn)),
            queued: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let (tx, rx) = mailbox::mailbox();
        let deferred = DeferredQueue::default();
        let queue = Arc::clone(&deferred);
        let thread_shared = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("ferry-store-writer".into())
            .spawn(move || writer_loop(&thread_shared, &rx, &queue))
            .map_err(|source| StoreError::Io {
                action: "start the writer thread for",
                path: db_path.to_path_buf(),
                source,
            })?;
        Ok(Writer {
            tx,
            shared,
            deferred,
            thread: tokio::sync::Mutex::new(Some(thread)),
        })
    }

    /// Number of group commits so far.
    pub(crate) fn commit_count(&self) -> u64 {
        self.shared.counters.commits.load(Ordering::Relaxed)
    }

    /// Number of group commits made with `synchronous=FULL` (fsynced) so far.
    pub(crate) fn synced_count(&self) -> u64 {
        self.shared.counters.synced.load(Ordering::Relaxed)
    }

    /// Number of messages the thread has taken from its channel so far.
    pub(crate) fn message_count(&self) -> u64 {
        self.shared.counters.messages.load(Ordering::Relaxed)
    }

    /// Queues `work` and waits for its result, which arrives after its group committed.
    pub(crate) async fn submit<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(work, true, false).await
    }

    /// [`Writer::submit`] for a job that neither reads nor writes what deferred jobs write
    /// (the spend ledger): it may commit ahead of those queued before it, as its group's
    /// first job, without a savepoint ([`Job::ahead_of_deferred`]).
    pub(crate) async fn submit_ahead_of_deferred<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(work, true, true).await
    }

    /// [`Writer::submit`] for a light job: committed (visible, and surviving a killed
    /// process) but fsynced only with the next synced commit. When the writer is idle
    /// (no job queued, the connection free) the job runs in place, on the caller's
    /// thread, as a group of one: a light commit writes its WAL frames without an fsync
    /// (tens of microseconds), while waking the parked writer thread and being woken back
    /// cost two thread hand-offs (~160 µs at the median on a VM; docs/benchmarks.md).
    pub(crate) async fn submit_light<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        match self.run_in_place(work) {
            Ok(answer) => answer,
            Err(work) => self.enqueue(work, false, false).await,
        }
    }

    /// Runs a light job on this thread if the writer is idle; gives `work` back if not
    /// (a job is queued or running, the writer is stopping, or another connection holds
    /// the write lock: nothing waits here).
    fn run_in_place<T, F>(&self, work: F) -> Result<Result<T, StoreError>, F>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = &*self.shared;
        if shared.stopping.load(Ordering::Acquire) || shared.queued.load(Ordering::Acquire) != 0 {
            return Err(work);
        }
        let Some(line) = shared.line.try_lock() else {
            return Err(work);
        };
        // Again under the lock: a job sent in between goes first.
        if shared.queued.load(Ordering::Acquire) != 0 {
            return Err(work);
        }
        let Some(conn) = line.as_ref() else {
            return Err(work);
        };
        // The write lock is taken without waiting: when a maintenance connection holds
        // it, the job goes to the writer thread, which may wait.
        let begun = conn
            .busy_timeout(std::time::Duration::ZERO)
            .map_err(|e| e.to_string())
            .and_then(|()| control(conn, "BEGIN IMMEDIATE"));
        let restored = conn.busy_timeout(crate::connection::BUSY_TIMEOUT).is_ok();
        if begun.is_err() || !restored {
            roll_back(conn);
            return Err(work);
        }
        let (reply, mut answered) = oneshot::channel();
        let job = Answered {
            work: Some(work),
            outcome: None,
            reply,
            sync: false,
            ahead: false,
        };
        run_alone(conn, Box::new(job), false, &shared.counters);
        drop(line);
        if checkpoint_due() {
            // A send error means the writer is gone; nothing to checkpoint for.
            let _ = self.tx.send(Msg::Checkpoint);
        }
        // `run_alone` settled the job: its answer is waiting.
        Ok(answered.try_recv().unwrap_or(Err(StoreError::Closed)))
    }

    /// Queues `work` NOW and returns a future of its committed result.
    fn enqueue<T, F>(
        &self,
        work: F,
        sync: bool,
        ahead: bool,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Answered {
            work: Some(work),
            outcome: None,
            reply,
            sync,
            ahead,
        };
        let sent = self.send_job(Box::new(job));
        async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        }
    }

    /// Queues `work` without waiting; failures are logged.
    pub(crate) fn submit_nowait<F>(&self, work: F)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        if !self.send_job(Box::new(Unanswered::new(work))) {
            tracing::warn!("store is closed; dropped a fire-and-forget write");
        }
    }

    /// Sends `job` to the writer thread, counted as queued until it settles; false when
    /// the thread is gone.
    fn send_job(&self, job: Box<dyn Job>) -> bool {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(Msg::Job(job)).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Queues `work` without waiting, letting its commit wait up to [`DEFER_WINDOW`] to
    /// share a group with later jobs; failures are logged.
    pub(crate) fn submit_deferred<F>(&self, work: F)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let first = {
            let mut queue = self.deferred.lock();
            queue.push(Box::new(Unanswered::one_statement(work)));
            queue.len() == 1
        };
        // Only the first job into an empty queue wakes the thread; the others ride along.
        if first && self.tx.send(Msg::Deferred).is_err() {
            tracing::warn!("store is closed; a deferred write will not be committed");
        }
    }

    /// Waits until every job queued before this call has committed (deferred ones
    /// included: the barrier is a job that does not defer, so it ends their wait).
    pub(crate) async fn barrier(&self) -> Result<(), StoreError> {
        self.submit(|_| Ok(())).await
    }

    /// Lets the thread finish every job queued so far, then waits for it to exit.
    pub(crate) async fn close(&self) {
        let mut thread = self.thread.lock().await;
        self.shared.stopping.store(true, Ordering::Release);
        // A send error means the thread is already gone; joining still applies.
        let _ = self.tx.send(Msg::Stop);
        if let Some(handle) = thread.take() {
            match tokio::task::spawn_blocking(move || handle.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => tracing::error!("store writer thread panicked"),
                Err(e) => tracing::error!(error = %e, "could not wait for the store writer"),
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        let _ = self.tx.send(Msg::Stop);
        if let Some(handle) = self.thread.get_mut().take() {
            // The last handle may be dropped by a job on the writer thread itself; that
            // thread exits on its own after the Stop message.
            if handle.thread().id() != thread::current().id() && handle.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

fn writer_loop(shared: &Shared, rx: &Receiver<Msg>, deferred: &DeferredQueue) {
    let counters = &shared.counters;
    let mut batch: VecDeque<Box<dyn Job>> = VecDeque::with_capacity(GROUP_CAP);
    loop {
        let received = rx.recv();
        counters.messages.fetch_add(1, Ordering::Relaxed);
        let mut checkpoint_asked = false;
        let mut stop = match received {
            Some(Msg::Job(job)) => {
                batch.push_back(job);
                false
            }
            Some(Msg::Deferred) => false,
            Some(Msg::Checkpoint) => {
                checkpoint_asked = true;
                false
            }
            Some(Msg::Stop) | None => true,
        };
        while !stop && batch.len() < GROUP_CAP {
            let received = rx.try_recv();
            if received.is_ok() {
                counters.messages.fetch_add(1, Ordering::Relaxed);
            }
            match received {
                Ok(Msg::Job(job)) => batch.push_back(job),
                Ok(Msg::Deferred) => {}
                Ok(Msg::Checkpoint) => checkpoint_asked = true,
                Ok(Msg::Stop) | Err(Empty::SenderGone) => stop = true,
                Err(Empty::Waited) => break,
            }
        }
        if !stop && batch.is_empty() && !checkpoint_asked {
            stop = linger(rx, &mut batch, counters);
        }
        // The jobs from the channel, settled below.
        let taken = batch.len();
        // Deferred jobs commit with this group, ahead of its channel jobs: those queued
        // before a channel job was sent stay before it (so a barrier covers them), and a
        // deferred row depends on nothing queued after it.
        let queued = std::mem::take(&mut *deferred.lock());
        // A first channel job that may go ahead of them does (see `Job::ahead_of_deferred`).
        let lead = match batch.front() {
            Some(job) if job.ahead_of_deferred() && !queued.is_empty() => batch.pop_front(),
            _ => None,
        };
        for job in queued.into_iter().rev() {
            batch.push_front(job);
        }
        if let Some(job) = lead {
            batch.push_front(job);
        }
        let mut line = shared.line.lock();
        if let Some(conn) = line.as_ref() {
            while !batch.is_empty() {
                run_group(conn, &mut batch, counters);
            }
            if checkpoint_asked || checkpoint_due() {
                checkpoint(conn);
            }
        }
        shared.queued.fetch_sub(taken, Ordering::AcqRel);
        if stop {
            // Closes the database: nothing runs in place any more (`stopping` is set).
            *line = None;
            return;
        }
    }
}

/// Woken for deferred jobs only: waits up to [`DEFER_WINDOW`] for company (deferred jobs
/// arriving meanwhile do not wake the thread; a job on the channel ends the wait).
/// Returns whether the writer was told to stop.
fn linger(rx: &Receiver<Msg>, batch: &mut VecDeque<Box<dyn Job>>, counters: &Counters) -> bool {
    let deadline = std::time::Instant::now() + DEFER_WINDOW;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let received = rx.recv_timeout(left);
        if received.is_ok() {
            counters.messages.fetch_add(1, Ordering::Relaxed);
        }
        match received {
            Ok(Msg::Job(job)) => {
                batch.push_back(job);
                return false;
            }
            // A checkpoint waits for the group: it follows the group's commit anyway.
            Ok(Msg::Deferred | Msg::Checkpoint) => {}
            Ok(Msg::Stop) | Err(Empty::SenderGone) => return true,
            Err(Empty::Waited) => return false,
        }
    }
}

/// Runs jobs from the front of `pending` in one transaction and settles them. Normally
/// that takes every job; if SQLite aborts the whole transaction (disk full, I/O error)
/// the jobs run so far are settled as failed and the rest stay for a new group.
fn run_group(conn: &Connection, pending: &mut VecDeque<Box<dyn Job>>, counters: &Counters) {
    let sync = pending.iter().any(|j| j.needs_sync());
    if let Err(reason) = control(conn, "BEGIN IMMEDIATE") {
        for job in pending.drain(..) {
            job.settle(Err(&reason));
        }
        return;
    }
    if pending.len() == 1 {
        if let Some(job) = pending.pop_front() {
            return run_alone(conn, job, sync, counters);
        }
    }
    let mut ran = Vec::with_capacity(pending.len());
    // A first job that would need a savepoint runs without one: alone in the transaction
    // so far, it is undone by rolling the transaction back, and the rest then make a group
    // of their own (a savepoint copies every page its job changes into SQLite's
    // sub-journal). A one-statement job needs neither, and runs as below.
    if let Some(first) = pending.pop_front() {
        if !first.isolated() {
            pending.push_front(first);
        } else {
            match run_first(conn, first) {
                Some(first) => ran.push(first),
                None => return,
            }
        }
    }
    while let Some(mut job) = pending.pop_front() {
        let step = if job.isolated() {
            run_in_savepoint(conn, job.as_mut())
        } else {
            run_bare(conn, job.as_mut())
        };
        ran.push(job);
        if let Err(reason) = step {
            roll_back(conn);
            for job in ran {
                job.settle(Err(&reason));
            }
            return;
        }
    }
    commit(conn, ran, sync, counters);
}

/// Runs a job alone in its (open) transaction, without a savepoint: when it fails, the
/// transaction — its own writes only — is rolled back, and it is answered with its own
/// error (a savepoint costs two statements and a copy of every page the job changes).
fn run_alone(conn: &Connection, job: Box<dyn Job>, sync: bool, counters: &Counters) {
    if let Some(job) = run_first(conn, job) {
        commit(conn, vec![job], sync, counters);
    }
}

/// Runs the first job of an (open) transaction without a savepoint: the job when it ran
/// and the transaction goes on; `None` once it failed, its transaction rolled back (its
/// own writes only) and it settled with its own error.
fn run_first(conn: &Connection, mut job: Box<dyn Job>) -> Option<Box<dyn Job>> {
    let ok = job.run(conn);
    if conn.is_autocommit() {
        job.settle(Err("SQLite rolled back the group transaction"));
        return None;
    }
    if !ok {
        roll_back(conn);
        job.settle(Ok(()));
        return None;
    }
    Some(job)
}

/// Commits the open transaction (fsynced if `sync`, else as a light commit: see
/// [`crate::wal_vfs`]) and settles the jobs that ran in it.
fn commit(conn: &Connection, ran: Vec<Box<dyn Job>>, sync: bool, counters: &Counters) {
    let committed = if sync {
        control(conn, "COMMIT")
    } else {
        wal_vfs::light(|| control(conn, "COMMIT"))
    };
    match committed {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            if sync {
                counters.synced.fetch_add(1, Ordering::Relaxed);
            }
            for job in ran {
                job.settle(Ok(()));
            }
        }
        Err(reason) => {
            roll_back(conn);
            for job in ran {
                job.settle(Err(&reason));
            }
        }
    }
}

/// Rolls back the open transaction, if SQLite has not already.
fn roll_back(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = control(conn, "ROLLBACK");
    }
}

/// Runs a transaction-control statement (kept prepared: the writer runs a few per group).
fn control(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs a one-statement job without a savepoint; `Err` means the enclosing transaction is
/// lost.
fn run_bare(conn: &Connection, job: &mut dyn Job) -> Result<(), String> {
    job.run(conn);
    if conn.is_autocommit() {
        return Err("SQLite rolled back the group transaction".into());
    }
    Ok(())
}

/// Runs one job inside `SAVEPOINT job`; `Err` means the enclosing transaction is lost.
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) -> Result<(), String> {
    let exec = |sql: &str| control(conn, sql);
    exec("SAVEPOINT job")?;
    let ok = job.run(conn);
    if conn.is_autocommit() {
        return Err("SQLite rolled back the group transaction".into());
    }
    if !ok {
        exec("ROLLBACK TO job")?;
    }
    exec("RELEASE job")
}

/// A job whose caller awaits the result.
struct Answered<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    sync: bool,
    /// See [`Job::ahead_of_deferred`].
    ahead: bool,
}

impl<T, F> Job for Answered<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = run_catching(conn, work);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn settle(self: Box<Self>, group: Result<(), &str>) {
        let result = match (self.outcome, group) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(reason)) => Err(StoreError::GroupFailed {
                message: reason.to_owned(),
            }),
            (None, Ok(())) => Err(StoreError::GroupFailed {
                message: "the write was not run".to_owned(),
            }),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.reply.send(result);
    }

    fn needs_sync(&self) -> bool {
        self.sync
    }

    fn ahead_of_deferred(&self) -> bool {
        self.ahead
    }
}

/// A fire-and-forget job: nobody waits, failures go to the log.
struct Unanswered<F> {
    work: Option<F>,
    failed: bool,
    /// A deferred write is one statement and runs without a savepoint of its own.
    one_statement: bool,
}

impl<F> Unanswered<F> {
    fn new(work: F) -> Self {
        Unanswered {
            work: Some(work),
            failed: false,
            one_statement: false,
        }
    }

    fn one_statement(work: F) -> Self {
        Unanswered {
            one_statement: true,
            ..Unanswered::new(work)
        }
    }
}

impl<F> Job for Unanswered<F>
where
    F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        match run_catching(conn, work) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "fire-and-forget store write failed");
                self.failed = true;
                false
            }
        }
    }

    fn settle(self: Box<Self>, group: Result<(), &str>) {
        if let (Err(reason), false) = (group, self.failed) {
            tracing::warn!(reason, "fire-and-forget store write was not committed");
        }
    }

    fn isolated(&self) -> bool {
        !self.one_statement
    }
}

fn run_catching<T, F>(conn: &Connection, work: F) -> Result<T, StoreError>
where
    F: FnOnce(&Connection) -> Result<T, StoreError>,
{
    catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or(Err(StoreError::JobPanicked))
}

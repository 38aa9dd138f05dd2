//! Runs and their events: creating a run, its events while it runs, and its end — the
//! final row, its remaining events and its history messages in one transaction.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    Creation, InsertOutcome, NewEvent, NewRun, Run, RunEvent, RunFilter, RunFinish, RunStart,
};
use crate::{StoreError, UsageObject};

/// Runs, their events and their end.
#[async_trait]
pub trait RunRepo: Send + Sync {
    /// In one transaction: creates the run's session when missing and inserts the run
    /// (`queued`). With an idempotency key already used in the session, inserts nothing
    /// and returns the earlier run as [`InsertOutcome::Existing`]. Returns once committed
    /// (fsynced too when `new.acknowledged`): nothing of the run goes upstream before.
    async fn create_run(&self, new: NewRun) -> Result<InsertOutcome, StoreError>;

    /// [`RunRepo::create_run`] for a run planned for the session's pin `pin` (`None`:
    /// unpinned — as a new session is): in one transaction, creates the session when
    /// missing, then inserts the run only when the session, read under the lock that
    /// orders its creations, is pinned so; otherwise inserts nothing and answers
    /// [`Creation::PinMoved`] with the session as found, to plan again. Either way the
    /// answer carries the session's settings as the transaction found them, so a caller
    /// needs no read of its own before. An idempotency key already used in the session
    /// answers [`Creation::Existing`] whatever the pin. Committed (fsynced when
    /// `new.acknowledged`) when it returns.
    async fn create_run_planned(
        &self,
        new: NewRun,
        pin: Option<&str>,
    ) -> Result<Creation, StoreError>;

    /// In one transaction: records `start` (the run is `running` on that route and
    /// model; `started_at` keeps the first start) when given, and appends `events`
    /// (their seqs given by the caller). Refused for a run that already ended. Committed
    /// but not necessarily fsynced when it returns: the run's end makes it durable.
    async fn append_events(
        &self,
        run_id: &str,
        start: Option<RunStart>,
        events: Vec<NewEvent>,
    ) -> Result<(), StoreError>;

    /// In ONE transaction, all or nothing: records `fin.start` when given, sets the run's
    /// terminal status and result fields, appends `fin.events` (the events not stored
    /// yet, the terminal one last), appends `fin.messages` to the session's history (the
    /// next seqs of the session, assigned in the transaction) and bumps the session's
    /// `updated_at`. Refused unless `fin.status` is terminal and the run has not ended.
    /// Returns the run as stored by that transaction.
    /// Takes the end shared (`Arc`): the caller keeps it, to write a failed end in its
    /// place should this write fail, without copying it first.
    async fn finish_run(&self, fin: Arc<RunFinish>) -> Result<Run, StoreError>;

    /// Records what OpenRouter billed for a finished run.
    async fn set_billed_cost(&self, run_id: &str, billed: f64) -> Result<(), StoreError>;

    /// Replaces the usage and cost of a run that already ended (a cancelled run whose
    /// cut-short model call was priced afterwards). Refused for a run still going.
    async fn set_run_spend(
        &self,
        run_id: &str,
        usage: Option<UsageObject>,
        cost: Option<f64>,
    ) -> Result<(), StoreError>;

    /// The run with this id, if any.
    async fn get_run(&self, id: &str) -> Result<Option<Run>, StoreError>;

    /// The ids of runs as events for them are committed by any process sharing the
    /// database (so a follower on another replica need not poll), or `None` when the
    /// backend gives no such notice.
    fn run_notices(&self) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<str>>> {
        None
    }

    /// The oldest run of the session that has not ended (`queued` or `running`), by
    /// creation order: on a database shared by replicas, a run starts only when it is
    /// this one (one run at a time per session across replicas).
    async fn oldest_unfinished_run(&self, session_id: &str) -> Result<Option<String>, StoreError>;

    /// A page of runs, newest first (creation order), filtered by session and status,
    /// after the run `filter.after` (the last id of the previous page).
    /// [`StoreError::RunNotFound`] when `after` names no run.
    async fn list_runs_page(&self, filter: RunFilter) -> Result<Vec<Run>, StoreError>;

    /// The run's events with `seq > after_seq`, in order.
    async fn events_after(&self, run_id: &str, after_seq: u64)
        -> Result<Vec<RunEvent>, StoreError>;

    /// At startup: turns every `queued` or `running` run into `interrupted` (error code
    /// `interrupted`, message `reason`, `finished_at` now), appends to each, after its
    /// last stored event, a `run.failed` event with `terminal` as its payload, all in one
    /// transaction; returns the runs, oldest first.
    async fn recover_interrupted(
        &self,
        reason: &str,
        terminal: &Value,
    ) -> Result<Vec<Run>, StoreError>;
}

//! Run ends that could not be written (typically a full disk). Such a run is failed in
//! memory at once — [`Engine::get_run`] shows it failed, its client got `run.failed` — and
//! its failed end (terminal event and run row) is written again every [`RETRY_EVERY`]
//! until a write works, so no run stays `queued`/`running` while the daemon is up. If the
//! daemon stops first, the next start marks the run `interrupted` as after a crash.

use std::sync::Arc;
use std::time::Duration;

use ferry_store::{NewEvent, Run, RunError, RunFinish, RunStatus};
use ferry_types::{RunEnded, RunEvent};
use serde_json::Value;

use crate::engine::Engine;
use crate::EngineError;

/// How often an unstored run end is written again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// A failed run end waiting to be written.
#[derive(Debug, Clone)]
pub(crate) struct UnstoredEnd {
    pub(crate) finish: Arc<RunFinish>,
    /// The `run.failed` payload.
    pub(crate) event: RunEnded,
}

impl UnstoredEnd {
    /// The failed end of run `run_id`, whose end `unwritten` (terminal event `event_seq`,
    /// last of its events) could not be written because of `err`; `what` names it in the
    /// message ("run", "call"). It keeps the unwritten end's start, spend and events.
    pub(crate) fn storage_failure(
        run_id: &str,
        unwritten: &RunFinish,
        err: &EngineError,
        what: &str,
        output: Option<Arc<Value>>,
        event_seq: u64,
    ) -> UnstoredEnd {
        let message = format!(
            "the {what}'s result could not be stored: {}",
            err.client_message()
        );
        let event = err.run_ended(message.clone());
        let before_terminal = unwritten.events.len().saturating_sub(1);
        let mut events = unwritten.events[..before_terminal].to_vec();
        let failed = RunEvent::RunFailed(event.clone());
        match NewEvent::new(event_seq, failed.kind(), &failed.payload()) {
            Ok(row) => events.push(row),
            Err(e) => tracing::warn!(run = %run_id, error = %e, "run event not stored"),
        }
        UnstoredEnd {
            finish: Arc::new(RunFinish {
                run_id: run_id.to_string(),
                status: RunStatus::Failed,
                model_served: None,
                usage: unwritten.usage.clone(),
                cost: unwritten.cost,
                output,
                error_code: Some(err.code().to_string()),
                error_message: Some(message),
                attempts: unwritten.attempts.clone(),
                cache_status: None,
                generation_id: None,
                messages: Vec::new(),
                start: unwritten.start.clone(),
                events,
            }),
            event,
        }
    }
}

impl Engine {
    /// Keeps `end` (a failed end) in memory and writes it again until that works.
    pub(crate) fn keep_unstored_end(&self, end: UnstoredEnd) {
        let run_id = end.finish.run_id.clone();
        self.inner.unstored.lock().insert(run_id.clone(), end);
        let engine = self.clone();
        let stop = self.inner.background.clone();
        self.inner.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_EVERY) => {}
                }
                if engine.write_unstored_end(&run_id).await {
                    return;
                }
            }
        });
    }

    /// One attempt at writing the unstored end of `run_id`; true when there is nothing
    /// left to do.
    async fn write_unstored_end(&self, run_id: &str) -> bool {
        let Some(end) = self.unstored_end(run_id) else {
            return true;
        };
        // The failed end's event goes with its run row: an attempt that fails stores neither.
        let done = match self.store().finish_run(end.finish.clone()).await {
            Ok(_) => {
                tracing::info!(run = %run_id, "stored the failed end of a run after a storage failure");
                true
            }
            Err(e) if e.is_disk_full() => false,
            Err(e) => {
                tracing::warn!(run = %run_id, error = %e, "cannot store the failed end of the run; giving up (the next start marks it interrupted)");
                !matches!(e, ferry_store::StoreError::GroupFailed { .. })
            }
        };
        if done {
            self.inner.unstored.lock().remove(run_id);
        }
        done
    }

    fn unstored_end(&self, run_id: &str) -> Option<UnstoredEnd> {
        self.inner.unstored.lock().get(run_id).cloned()
    }

    /// Shows a stored run that is still non-terminal in the database but whose end could
    /// not be written as what it is: failed.
    pub(crate) fn overlay_unstored(&self, run: &mut Run) {
        if run.status.is_terminal() {
            return;
        }
        if let Some(end) = self.unstored_end(&run.id) {
            run.status = RunStatus::Failed;
            run.error = Some(RunError {
                code: end.finish.error_code.clone().unwrap_or_default(),
                message: end.finish.error_message.clone().unwrap_or_default(),
            });
            run.attempts = end.finish.attempts.clone();
        }
    }
}

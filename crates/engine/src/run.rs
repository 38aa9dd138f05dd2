//! Running a queued input: the per-session worker (one run at a time per session), the
//! execution of one run over the tool loop, and how its end is written — its start, last
//! events (the terminal one included), run row and history in one `finish_run` call,
//! published only after the commit.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use ferry_openrouter::Attempt;
use ferry_store::{RunFinish, RunStatus};
use ferry_types::{ProblemCode, RunCompleted, RunEnded, RunEvent, RunStarted, UsageObject};
use serde_json::json;
use tokio::sync::mpsc;

use crate::engine::{Engine, Inner, INTERRUPTED_ON_SHUTDOWN};
use crate::input::RunPlan;
use crate::live::{Event, LiveRun};
use crate::tool_loop::{SessionSettings, Turn};
use crate::unstored::UnstoredEnd;
use crate::EngineError;

/// A queued run, handed to its session's worker.
pub(crate) struct Job {
    pub(crate) hub: Arc<LiveRun>,
    /// What the run's creation committed, or why it failed (then the run ends in memory:
    /// never stored, nothing sent upstream).
    pub(crate) ready: Result<Box<Ready>, InsertFailed>,
    /// Who submitted it: its model and media calls are admitted and charged for them.
    pub(crate) caller: crate::access::Caller,
}

/// A run stored and ready to run: its plan (made for the session's pin as the creation
/// found it) and the session as found.
pub(crate) struct Ready {
    pub(crate) plan: RunPlan,
    pub(crate) session: SessionSettings,
    /// Whether the run was its session's oldest unfinished run at its creation, when the
    /// store told ([`ferry_store::Creation::Inserted`]).
    pub(crate) in_line: Option<bool>,
}

/// Why a run's insert failed, as its terminal event tells it.
#[derive(Debug)]
pub(crate) struct InsertFailed(RunEnded);

impl InsertFailed {
    pub(crate) fn of(e: &EngineError) -> InsertFailed {
        InsertFailed(e.run_ended(format!(
            "the run could not be stored, so it was not started: {}",
            e.client_message()
        )))
    }
}

pub(crate) async fn session_worker(
    inner: Arc<Inner>,
    session_id: String,
    mut rx: mpsc::UnboundedReceiver<Box<Job>>,
) {
    while let Some(job) = rx.recv().await {
        let hub = Arc::clone(&job.hub);
        // `execute` boxes the turn (kilobytes: the tool loop, the upstream call), so
        // its own future is small enough to live in the worker's task.
        let mut run = std::pin::pin!(execute(&inner, *job));
        // The run's first wait (normally its upstream request, just handed to the
        // connection's task) puts it under way: only then does a stream's handler answer.
        let mut waited = false;
        std::future::poll_fn(|cx| {
            let polled = run.as_mut().poll(cx);
            if polled.is_pending() && !waited {
                waited = true;
                hub.mark_under_way();
            }
            polled
        })
        .await;
        inner.live.lock().remove(&hub.run_id);
        let mut queues = inner.queues.lock();
        if rx.is_empty() {
            queues.remove(&session_id);
            return;
        }
    }
}

/// How often a run queued behind another replica's run of its session looks again.
const TURN_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// On a database shared by replicas, waits until the run is its session's oldest
/// unfinished run (another replica's earlier run of the session has ended): one run at a
/// time per session across replicas, in creation order. Alone on its database the
/// session worker already guarantees it. False when the run was cancelled meanwhile.
async fn wait_for_turn(inner: &Arc<Inner>, hub: &LiveRun, in_line: Option<bool>) -> bool {
    if !inner.store.shared_by_replicas() || in_line == Some(true) {
        return true;
    }
    loop {
        match inner.store.oldest_unfinished_run(&hub.session_id).await {
            Ok(oldest) if oldest.as_deref().is_none_or(|id| id == hub.run_id) => return true,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(run = %hub.run_id, error = %e, "could not check whose turn it is in the session; asking again")
            }
        }
        tokio::select! {
            _ = hub.cancel.cancelled() => return false,
            _ = tokio::time::sleep(TURN_POLL) => {}
        }
    }
}

/// How a run ended, before it is written.
enum Ending {
    Completed(Box<Turn>),
    Failed(EngineError),
    Cancelled,
}

async fn execute(inner: &Arc<Inner>, job: Job) {
    let Job { hub, ready, caller } = job;
    let run_id = hub.run_id.clone();
    let Ready {
        plan,
        session,
        in_line,
    } = match ready {
        Ok(ready) => *ready,
        Err(InsertFailed(ended)) => {
            // Never stored, never sent upstream: the run ends in memory only.
            let seq = hub.events_after(0).len() as u64 + 1;
            hub.publish(Event::new(seq, RunEvent::RunFailed(ended)));
            return;
        }
    };
    let mut attempts: Vec<Attempt> = Vec::new();
    let started = Instant::now();
    let wall_start = std::time::SystemTime::now();

    let engine = Engine {
        inner: Arc::clone(inner),
    };
    let ending = if hub.cancel.is_cancelled() || !wait_for_turn(inner, &hub, in_line).await {
        Ending::Cancelled
    } else {
        let first = &plan.chain[0];
        hub.start(&first.route, &first.model);
        hub.emit(RunEvent::RunStarted(RunStarted {
            run_id: run_id.clone(),
            session_id: hub.session_id.clone(),
            route: first.route.clone(),
            model: first.model.clone(),
            api: None,
        }));
        // Boxed: the turn's future is kilobytes, and every future it sits in unboxed is
        // copied whole when it moves (into this select, the worker's task).
        let turn = Box::pin(crate::access::with_caller(
            caller,
            inner.turns.run_turn(&hub, &plan, &session, &mut attempts),
        ));
        tokio::select! {
            biased;
            _ = hub.cancel.cancelled() => Ending::Cancelled,
            result = turn => match result {
                Ok(turn) => Ending::Completed(Box::new(turn)),
                Err(e) => Ending::Failed(e),
            },
        }
    };

    let attempts_json = serde_json::to_value(&attempts).unwrap_or_else(|_| json!([]));
    let mut finish_reasons: Vec<String> = Vec::new();
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut reconcile = None;
    // A model call still in flight was cut short by the cancel (on any other ending the
    // tool loop took it back, and a failed call's admission is released here).
    let cut = match ending {
        Ending::Cancelled => hub.end_call(),
        _ => {
            drop(hub.end_call());
            None
        }
    };
    let (finish, event) = match ending {
        Ending::Completed(turn) => {
            let Turn {
                output,
                usage,
                cost,
                model,
                route,
                model_calls,
                cache_status,
                generation_id,
                finish_reason,
                messages,
            } = *turn;
            finish_reasons.extend(finish_reason);
            // A billed cost is looked up per generation: only a single-call turn (no
            // tools, so no media cost either) has one generation that covers the run.
            if inner.billing.enabled() && model_calls == 1 {
                reconcile = generation_id.clone().map(|g| (route, g));
            }
            let output = Arc::new(output);
            let event = RunEvent::RunCompleted(RunCompleted {
                output: output.clone(),
                usage: usage.clone(),
                cost,
                model: Some(model.clone()),
                duration_ms,
            });
            let mut history = Vec::with_capacity(messages.len() + 1);
            history.push(plan.user_message.clone());
            history.extend(messages);
            let finish = RunFinish {
                run_id: run_id.clone(),
                status: RunStatus::Completed,
                model_served: Some(model),
                usage,
                cost,
                output: Some(output),
                error_code: None,
                error_message: None,
                attempts: attempts_json,
                cache_status,
                generation_id,
                messages: history,
                start: None,
                events: Vec::new(),
            };
            (finish, event)
        }
        Ending::Failed(err) => {
            let event = RunEvent::RunFailed(err.run_ended(err.client_message()));
            let (usage, cost) = hub.spent();
            let finish = RunFinish {
                run_id: run_id.clone(),
                status: RunStatus::Failed,
                model_served: None,
                usage,
                cost,
                output: partial_output(&hub),
                error_code: Some(err.code().to_string()),
                error_message: Some(err.client_message()),
                attempts: attempts_json,
                cache_status: None,
                generation_id: None,
                messages: Vec::new(),
                start: None,
                events: Vec::new(),
            };
            (finish, event)
        }
        Ending::Cancelled => {
            let shutdown = inner.shutting_down.load(Ordering::SeqCst);
            let (status, code, message) = if shutdown {
                (
                    RunStatus::Interrupted,
                    ProblemCode::Interrupted,
                    INTERRUPTED_ON_SHUTDOWN.to_string(),
                )
            } else {
                (
                    RunStatus::Cancelled,
                    ProblemCode::RunCancelled,
                    "the run was cancelled".to_string(),
                )
            };
            let (mut usage, mut cost) = hub.spent();
            if let Some(call) = &cut {
                call.add_known(&mut usage, &mut cost);
            }
            let finish = RunFinish {
                run_id: run_id.clone(),
                status,
                model_served: None,
                usage,
                cost,
                output: partial_output(&hub),
                error_code: Some(code.as_str().to_owned()),
                error_message: Some(message.clone()),
                attempts: attempts_json,
                cache_status: None,
                generation_id: None,
                messages: Vec::new(),
                start: None,
                events: Vec::new(),
            };
            let ended = RunEnded::new(code, message);
            let event = if shutdown {
                RunEvent::RunFailed(ended)
            } else {
                RunEvent::RunCancelled(ended)
            };
            (finish, event)
        }
    };
    record_session_metrics(&inner.metrics, &plan, &finish);
    if let Some(traces) = &inner.traces {
        trace_run(traces, &plan, &hub, &finish, finish_reasons, wall_start);
    }
    // The start, the last events and the terminal one go with the run row and history in
    // one transaction, after the batches still on their way; the terminal event is
    // published only after the commit, so whoever sees it can read a durable run.
    let (event, unstored) = hub.prepare(event);
    for flush in unstored.flushes {
        let _ = flush.await;
    }
    let mut finish = finish;
    finish.start = unstored.start;
    finish.events = unstored.events;
    let finish = Arc::new(finish);
    match inner.store.finish_run(finish.clone()).await {
        Ok(run) => {
            hub.publish_end(event, run);
            if let Some(call) = cut {
                crate::cut_call::account(inner, &run_id, call, finish.usage.clone(), finish.cost);
            }
            if let Some((route, generation_id)) = reconcile {
                inner
                    .billing
                    .reconcile_run(route, run_id.clone(), generation_id);
            }
        }
        Err(e) => {
            // Never report an outcome that is not stored: the run ends as a storage failure.
            tracing::error!(run = %run_id, error = %e, "cannot record the end of the run");
            let err = EngineError::from(e);
            let end = UnstoredEnd::storage_failure(
                &run_id,
                &finish,
                &err,
                "run",
                partial_output(&hub),
                event.seq,
            );
            let ended = end.event.clone();
            engine.keep_unstored_end(end);
            hub.publish(Event::new(event.seq, RunEvent::RunFailed(ended)));
        }
    }
}

/// Counts a finished session run (`ferry_requests_total{api="sessions"}` with the error
/// code of a failure, tokens, cost).
fn record_session_metrics(metrics: &ferry_metrics::Metrics, plan: &RunPlan, finish: &RunFinish) {
    let Some(first) = plan.chain.first() else {
        return;
    };
    let model = finish.model_served.as_deref().unwrap_or(&first.model);
    metrics.request_failed(
        ferry_metrics::Api::Sessions,
        &first.route,
        model,
        finish.status.as_str(),
        finish.error_code.as_deref().unwrap_or(""),
    );
    if let Some(usage) = &finish.usage {
        metrics.usage(
            &first.route,
            model,
            usage.prompt_tokens().unwrap_or(0),
            usage.completion_tokens().unwrap_or(0),
            finish.cost,
        );
    }
}

/// The run as one OpenTelemetry span (GenAI conventions).
fn trace_run(
    traces: &ferry_telemetry::Traces,
    plan: &RunPlan,
    hub: &LiveRun,
    finish: &RunFinish,
    finish_reasons: Vec<String>,
    started: std::time::SystemTime,
) {
    let Some(first) = plan.chain.first() else {
        return;
    };
    let usage = finish.usage.as_deref();
    traces.record(&ferry_telemetry::ModelCall {
        api: ferry_metrics::Api::Sessions.as_str(),
        route: &first.route,
        request_model: &first.model,
        response_model: finish.model_served.as_deref(),
        input_tokens: usage.and_then(UsageObject::prompt_tokens),
        output_tokens: usage.and_then(UsageObject::completion_tokens),
        cost: finish.cost,
        finish_reasons,
        error_code: finish.error_code.as_deref(),
        run_id: Some(&hub.run_id),
        session_id: Some(&hub.session_id),
        started: Some(started),
        ended: Some(std::time::SystemTime::now()),
    });
}

fn partial_output(hub: &LiveRun) -> Option<Arc<serde_json::Value>> {
    let text = hub.output_so_far();
    (!text.is_empty()).then(|| Arc::new(json!({"text": text})))
}

//! Optional recording of facade calls as runs (off by default, for speed): each call
//! becomes a run in a session (`openai` unless the caller names one), with its status,
//! model, usage, cost, attempts and output text, and `run.started` / terminal events — but
//! no history messages, since facade calls carry their own conversation.

use std::sync::Arc;

use ferry_openrouter::{Attempt, Usage};
use ferry_store::{NewEvent, NewRun, RunFinish, RunStart, RunStatus};
use ferry_types::{ProblemCode, RunCompleted, RunEnded, RunEvent, RunStarted, UsageObject};
use serde_json::{json, Value};

use crate::engine::{validate_session_id, Engine};
use crate::unstored::UnstoredEnd;
use crate::EngineError;

/// How a recorded facade call ended.
#[derive(Debug, Default)]
pub struct FacadeRunEnd {
    /// The facade protocol (`openai`, `openai.responses`, `anthropic.messages`, …).
    pub api: &'static str,
    /// Route and wire model tried last (or that answered).
    pub route: Option<String>,
    /// The wire model requested last.
    pub model: Option<String>,
    /// The model that served, when upstream said.
    pub model_served: Option<String>,
    /// Tokens and cost.
    pub usage: Option<Usage>,
    /// The visible text.
    pub text: Option<String>,
    /// `(code, message)` when it failed.
    pub error: Option<(String, String)>,
    /// Upstream attempts.
    pub attempts: Vec<Attempt>,
    /// `X-Generation-Id`.
    pub generation_id: Option<String>,
    /// Wall time of the call.
    pub duration_ms: u64,
}

impl Engine {
    /// Creates the run of a facade call in `session` (created if needed); returns its id.
    pub async fn facade_record_start(
        &self,
        session: &str,
        input: Value,
    ) -> Result<String, EngineError> {
        validate_session_id(session)?;
        let id = format!("run_{}", uuid::Uuid::now_v7().simple());
        // One call creates the session when missing and inserts the run.
        self.store()
            .create_run(NewRun {
                id: id.clone(),
                session_id: session.to_string(),
                input,
                idempotency_key: None,
                acknowledged: false,
            })
            .await?;
        Ok(id)
    }

    /// Writes the end of a recorded facade call in the background (the client is not
    /// kept waiting); shutdown waits for it.
    pub fn facade_record_finish(&self, run_id: String, session: String, end: FacadeRunEnd) {
        let store = self.store().clone();
        let engine = self.clone();
        self.spawn_tracked(async move {
            let route = end.route.clone().unwrap_or_default();
            let model = end.model.clone().unwrap_or_default();
            let start = RunStart {
                route: route.clone(),
                model_requested: model.clone(),
                started_at: time::OffsetDateTime::now_utc(),
            };
            let started = RunEvent::RunStarted(RunStarted {
                run_id: run_id.clone(),
                session_id: session,
                route,
                model,
                api: Some(end.api.to_owned()),
            });
            let usage = end.usage.and_then(|u| {
                UsageObject::from_value(&json!({
                    "prompt_tokens": u.prompt_tokens,
                    "completion_tokens": u.completion_tokens,
                    "total_tokens": u.prompt_tokens + u.completion_tokens,
                    "cost": u.cost,
                }))
                .map(Arc::new)
            });
            let cost = end.usage.and_then(|u| u.cost);
            let served = end.model_served.clone().or(end.model.clone());
            let output = end.text.as_ref().map(|t| Arc::new(json!({"text": t})));
            let (ended, status) = match &end.error {
                None => (
                    RunEvent::RunCompleted(RunCompleted {
                        output: output.clone().unwrap_or_default(),
                        usage: usage.clone(),
                        cost,
                        model: served.clone(),
                        duration_ms: end.duration_ms,
                    }),
                    RunStatus::Completed,
                ),
                Some((code, message)) => {
                    let code = crate::error::problem_code(code);
                    let status = if code == ProblemCode::Interrupted {
                        RunStatus::Interrupted
                    } else {
                        RunStatus::Failed
                    };
                    (
                        RunEvent::RunFailed(RunEnded::new(code, message.clone())),
                        status,
                    )
                }
            };
            // The start, both events and the end: one transaction.
            let events = [(1, &started), (2, &ended)]
                .into_iter()
                .map(|(seq, e)| NewEvent::new(seq, e.kind(), &e.payload()))
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_else(|e| {
                    tracing::warn!(run = %run_id, error = %e, "facade run events not stored");
                    Vec::new()
                });
            let finish = RunFinish {
                run_id: run_id.clone(),
                status,
                model_served: end.error.is_none().then_some(served).flatten(),
                usage,
                cost,
                output,
                error_code: end.error.as_ref().map(|e| e.0.clone()),
                error_message: end.error.as_ref().map(|e| e.1.clone()),
                attempts: serde_json::to_value(&end.attempts).unwrap_or_else(|_| json!([])),
                cache_status: None,
                generation_id: end.generation_id,
                messages: Vec::new(),
                start: Some(start),
                events,
            };
            let finish = Arc::new(finish);
            if let Err(e) = store.finish_run(finish.clone()).await {
                tracing::warn!(run = %run_id, error = %e, "facade run end not recorded; retrying it as failed");
                let err = EngineError::from(e);
                let end = UnstoredEnd::storage_failure(&run_id, &finish, &err, "call", None, 2);
                engine.keep_unstored_end(end);
            }
        });
    }
}

//! The run and session views: what the control API answers for a run or a session, and
//! what the CLI reads back. Plain data, one struct per JSON object.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::usage::UsageObject;

/// A run's lifecycle status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for its session's worker.
    Queued,
    /// Being executed.
    Running,
    /// Finished with output.
    Completed,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Left in flight by a daemon that stopped without finishing it.
    Interrupted,
}

impl RunStatus {
    /// The status as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Why a run failed. The code is kept as stored: runs written by any ferry version read
/// back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunErrorView {
    /// The problem code.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// A run (`GET /v1/runs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// Run id (`run_…`).
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// Lifecycle status.
    pub status: RunStatus,
    /// When it was submitted (RFC 3339).
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it reached its terminal status.
    pub finished_at: Option<String>,
    /// The input body.
    #[schema(value_type = Object)]
    pub input: Value,
    /// Route it ran on.
    pub route: Option<String>,
    /// Model asked for.
    pub model_requested: Option<String>,
    /// Model that answered.
    pub model_served: Option<String>,
    /// Token usage.
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Arc<UsageObject>>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// The answer.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Arc<Value>>,
    /// Why it failed, was cancelled or interrupted.
    pub error: Option<RunErrorView>,
    /// Upstream attempts made.
    #[schema(value_type = Vec<Object>)]
    pub attempts: Value,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// Cache status reported upstream.
    pub cache_status: Option<String>,
    /// Upstream generation id.
    pub generation_id: Option<String>,
    /// What OpenRouter billed for the run, once reconciled.
    pub billed_cost: Option<f64>,
}

/// A page of runs (`GET /v1/runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunPage {
    /// Runs, newest first.
    pub runs: Vec<RunView>,
    /// The cursor of the next page (null on the last page).
    pub next_cursor: Option<String>,
}

/// A session row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Session id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Selector pinned to this session.
    pub pinned_selector: Option<String>,
    /// Session system prompt.
    pub system_prompt: Option<String>,
    /// Speak-replies setting.
    pub speak_replies: Option<String>,
    /// Messages in its history.
    pub message_count: u64,
    /// Runs it has had.
    pub run_count: u64,
}

/// Usage totals of one session's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionTotals {
    /// Runs in the session.
    pub runs: u64,
    /// Sum of `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// Sum of run costs.
    pub cost: f64,
    /// Sum of billed costs of the reconciled runs.
    pub billed_cost: Option<f64>,
}

/// A session with its totals (`GET /v1/sessions/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The session.
    #[serde(flatten)]
    pub session: SessionInfo,
    /// Tokens and cost summed over its runs.
    pub totals: SessionTotals,
    /// Whether a run is active or queued.
    pub busy: bool,
}

/// A page of sessions (`GET /v1/sessions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionPage {
    /// Sessions.
    pub sessions: Vec<SessionInfo>,
    /// The cursor of the next page (null on the last page).
    pub next_cursor: Option<String>,
}

/// One message of a session's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryMessage {
    /// Position in the history, from 1.
    pub seq: u64,
    /// The run that produced it (null when none).
    pub run_id: Option<String>,
    /// The message role (`user`, `assistant`, `tool`, ...).
    pub role: String,
    /// The OpenAI-format message object.
    #[schema(value_type = Object)]
    pub body: Value,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

/// A session's history (`GET /v1/sessions/{id}/messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionHistory {
    /// The session.
    pub session_id: String,
    /// Its messages, in order.
    pub messages: Vec<HistoryMessage>,
}

/// A session's runs (`GET /v1/sessions/{id}/runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionRuns {
    /// The session.
    pub session_id: String,
    /// Its runs, newest first.
    pub runs: Vec<RunView>,
}

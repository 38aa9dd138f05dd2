//! The views the engine answers with: runtime, status, the effective default target, and
//! the stored runs and sessions as ferry-types' run and session views. Plain data,
//! serialized as the API's JSON.

use ferry_store::{Run, Session};
use ferry_types::{RunErrorView, RunStatus, RunView, SessionInfo, SessionTotals};
use serde::Serialize;

use crate::routes::RouteStatus;

pub use ferry_types::SessionView;

/// A stored run as the API shows it.
pub fn run_view(run: Run) -> RunView {
    RunView {
        status: match run.status {
            ferry_store::RunStatus::Queued => RunStatus::Queued,
            ferry_store::RunStatus::Running => RunStatus::Running,
            ferry_store::RunStatus::Completed => RunStatus::Completed,
            ferry_store::RunStatus::Failed => RunStatus::Failed,
            ferry_store::RunStatus::Cancelled => RunStatus::Cancelled,
            ferry_store::RunStatus::Interrupted => RunStatus::Interrupted,
        },
        error: run.error.map(|e| RunErrorView {
            code: e.code,
            message: e.message,
        }),
        id: run.id,
        session_id: run.session_id,
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        input: run.input,
        route: run.route,
        model_requested: run.model_requested,
        model_served: run.model_served,
        usage: run.usage,
        cost: run.cost,
        output: run.output,
        attempts: run.attempts,
        idempotency_key: run.idempotency_key,
        cache_status: run.cache_status,
        generation_id: run.generation_id,
        billed_cost: run.billed_cost,
    }
}

/// A stored session as the API shows it.
pub fn session_info(session: Session) -> SessionInfo {
    SessionInfo {
        id: session.id,
        created_at: session.created_at,
        updated_at: session.updated_at,
        pinned_selector: session.pinned_selector,
        system_prompt: session.system_prompt,
        speak_replies: session.speak_replies,
        message_count: session.message_count,
        run_count: session.run_count,
    }
}

/// A session's stored totals as the API shows them.
pub(crate) fn session_totals(t: ferry_store::SessionTotals) -> SessionTotals {
    SessionTotals {
        runs: t.runs,
        prompt_tokens: t.prompt_tokens,
        completion_tokens: t.completion_tokens,
        cost: t.cost,
        billed_cost: t.billed_cost,
    }
}

/// `GET /v1/runtime`.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeView {
    /// The default route id.
    pub default_route: String,
    /// The selector set with `runtime set-model`, if any.
    pub runtime_model: Option<String>,
    /// What an input without `--provider/--model` would use now.
    pub active: ActiveTarget,
    /// Every route with capability flags and readiness.
    pub routes: Vec<RouteStatus>,
}

/// The effective default target.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveTarget {
    /// Route id.
    pub route: String,
    /// Model as configured.
    pub model: String,
    /// What is sent upstream as `model`.
    pub wire_model: String,
    /// `runtime` or `route_default`.
    pub source: &'static str,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// ferry's version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `ready`, `degraded` (an upstream is unreachable; see `degraded`) or `draining`.
    pub state: &'static str,
    /// Why the state is `degraded`: "OpenRouter unreachable since …: error".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// Routes with readiness.
    pub routes: Vec<RouteStatus>,
    /// The active default target.
    pub active: ActiveTarget,
    /// Runs in flight (queued or running).
    pub active_runs: usize,
    /// Stored objects and sizes.
    pub storage: ferry_store::StoreStats,
    /// Number of stored secrets (metadata only).
    pub secrets: usize,
    /// True when the daemon has no master key.
    pub secrets_locked: bool,
}

//! The views the engine answers with: runtime, status, a session with its totals, and
//! the effective default target. Plain data, serialized as the API's JSON.

use ferry_store::Session;
use serde::Serialize;

use crate::routes::RouteStatus;

/// A session with its totals, as shown by `sessions show`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The session row.
    #[serde(flatten)]
    pub session: Session,
    /// Tokens and cost summed over its runs.
    pub totals: ferry_store::SessionTotals,
    /// Whether a run is active or queued.
    pub busy: bool,
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

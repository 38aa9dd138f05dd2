//! The daemon's status, runtime and configuration views: each route's readiness and
//! capabilities, the effective default target, the store's counts and the loaded routes
//! file — what `GET /v1/status`, `GET /v1/runtime` and `GET /v1/config` answer and
//! `ferry status` / `ferry runtime` / `ferry config` read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::RunStatus;

/// What a route may be asked to do (driver defaults, routes-file overrides, narrowed by the
/// model catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouteCapabilities {
    /// Images (and other media) may be attached to inputs.
    pub multimodal_input: bool,
    /// The backend searches the web natively.
    pub native_web_search: bool,
    /// The `generate_image` tool is offered.
    pub image_generation: bool,
    /// The `edit_image` tool is offered.
    pub image_edit: bool,
    /// The `generate_audio` tool (TTS) is offered.
    pub audio_generation: bool,
    /// Audio can be transcribed (STT).
    pub transcription: bool,
    /// The `generate_video` tool is offered.
    pub video_generation: bool,
}

impl RouteCapabilities {
    /// Each flag with its wire name, in wire order.
    pub fn flags(&self) -> [(&'static str, bool); 7] {
        [
            ("multimodal_input", self.multimodal_input),
            ("native_web_search", self.native_web_search),
            ("image_generation", self.image_generation),
            ("image_edit", self.image_edit),
            ("audio_generation", self.audio_generation),
            ("transcription", self.transcription),
            ("video_generation", self.video_generation),
        ]
    }
}

/// Since when a route's upstream has been unreachable, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Unreachable {
    /// RFC 3339 time of the first failed probe of this outage.
    pub since: String,
    /// The last probe's error.
    pub error: String,
}

/// A route's readiness as shown by `status` and `runtime get`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteStatus {
    /// Route id.
    pub id: String,
    /// Driver name (`openrouter`).
    pub driver: String,
    /// The route's default model.
    pub default_model: String,
    /// Whether this is the default route.
    pub is_default: bool,
    /// True when the route can serve requests now.
    pub ready: bool,
    /// Why it is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How to make it ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Whether requests go to the verified openrouter.ai endpoint.
    pub verified_openrouter: bool,
    /// The upstream base URL.
    pub base_url: String,
    /// Where the API key comes from (`auth_ref` or `api_key_env` name, never the value).
    pub auth: String,
    /// Effective capability flags.
    pub capabilities: RouteCapabilities,
    /// Why the catalog turned a configured flag off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_notes: Vec<String>,
    /// `any` or `listed`.
    pub model_support: String,
    /// Set while the upstream is unreachable (periodic probe): since when, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Unreachable>,
}

/// Where the effective default target comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// The selector set with `ferry runtime set-model`.
    Runtime,
    /// The default route's default model.
    RouteDefault,
}

impl TargetSource {
    /// The wire name (`runtime`, `route_default`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSource::Runtime => "runtime",
            TargetSource::RouteDefault => "route_default",
        }
    }
}

/// The effective default target: what an input without `--provider/--model` would use now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActiveTarget {
    /// Route id.
    pub route: String,
    /// Model as configured.
    pub model: String,
    /// What is sent upstream as `model`.
    pub wire_model: String,
    /// Where this target comes from.
    pub source: TargetSource,
}

/// `GET /v1/runtime`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RuntimeView {
    /// The default route id.
    pub default_route: String,
    /// The selector set with `runtime set-model`, if any (null when none).
    pub runtime_model: Option<String>,
    /// What an input without `--provider/--model` would use now.
    pub active: ActiveTarget,
    /// Every route with capability flags and readiness.
    pub routes: Vec<RouteStatus>,
}

/// The daemon's state as `GET /v1/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Serving.
    Ready,
    /// Serving, but an upstream is unreachable (see `degraded`).
    Degraded,
    /// Shutting down; takes no new work.
    Draining,
}

impl ServiceState {
    /// The wire name (`ready`, `degraded`, `draining`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Ready => "ready",
            ServiceState::Degraded => "degraded",
            ServiceState::Draining => "draining",
        }
    }
}

/// Whole-store counts and sizes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageStats {
    /// Sessions stored.
    pub sessions: u64,
    /// Runs stored.
    pub runs: u64,
    /// History messages stored.
    pub messages: u64,
    /// Run events stored.
    pub events: u64,
    /// Assets stored.
    pub assets: u64,
    /// Sum of the stored assets' sizes, in bytes.
    pub asset_bytes: u64,
    /// Size of the database on disk, in bytes.
    pub db_bytes: u64,
    /// Runs per status (every status present, zero when none).
    pub runs_by_status: BTreeMap<RunStatus, u64>,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// ferry's version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `ready`, `degraded` (an upstream is unreachable; see `degraded`) or `draining`.
    pub state: ServiceState,
    /// Why the state is `degraded`: "OpenRouter unreachable since …: error".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// Routes with readiness.
    pub routes: Vec<RouteStatus>,
    /// The active default target.
    pub active: ActiveTarget,
    /// Runs in flight (queued or running).
    pub active_runs: u64,
    /// Stored objects and sizes.
    pub storage: StorageStats,
    /// Number of stored secrets (metadata only).
    pub secrets: u64,
    /// True when the daemon has no master key.
    pub secrets_locked: bool,
}

/// `GET /v1/config` (JSON): the routes file as loaded, every default filled in, never a
/// secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigView {
    /// The routes file format version.
    pub version: u32,
    /// The default route's id.
    pub default_route: String,
    /// Routes by id, in routes.toml's grammar (docs/routes.md) with defaults filled in.
    #[schema(value_type = Object)]
    pub routes: Value,
    /// Finished runs older than this many days are deleted (left out: kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// The file it was loaded from.
    pub path: String,
    /// Whether facade calls are recorded as runs (`--record-facade-runs`).
    pub facade_recording: bool,
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;

//! The media views: transcripts (`POST /v1/tools/transcribe_audio`), direct tool calls
//! (`POST /v1/tools/{name}`), video jobs (`GET /v1/videos[/{id}]`) and observations
//! (`POST /v1/observations`) — what the engine builds, the API answers and the CLI reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{AssetRef, HistoryMessage};

/// A transcript of an audio asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TranscriptView {
    /// The audio asset.
    pub asset_id: String,
    /// The STT model that produced the text.
    pub model: String,
    /// The language hint it was made with (null when none).
    pub language: Option<String>,
    /// The transcript.
    pub text: String,
    /// True when it came from the derivation cache (no upstream call).
    pub cached: bool,
    /// Cost of the upstream call (null when cached or not reported).
    pub cost: Option<f64>,
}

/// A video job as the API and the tool loop show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VideoJobView {
    /// ferry's job id (`vid_…`).
    pub id: String,
    /// `pending`, `in_progress`, `completed`, `failed`, `cancelled` or `expired`.
    pub status: String,
    /// Whether the job ended (no more polling).
    pub finished: bool,
    /// The route it runs on.
    pub route: String,
    /// The video model.
    pub model: String,
    /// The upstream job id.
    pub upstream_id: String,
    /// What was asked: prompt, duration (snapped), duration_requested,
    /// supported_durations, resolution, aspect_ratio, frame and reference asset ids.
    #[schema(value_type = Object)]
    pub request: Value,
    /// The stored video, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetRef>,
    /// Why it failed (`{code, message}`), once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Upstream cost in credits, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// The run whose tool call started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// When it was submitted (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// When it ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Milliseconds from submission to now (or to the end).
    pub elapsed_ms: u64,
}

/// `GET /v1/videos`: the most recent video jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VideoJobList {
    /// Jobs, newest first.
    pub jobs: Vec<VideoJobView>,
}

/// What a media tool produced (`POST /v1/tools/{name}`, and a run's tool call).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolOutput {
    /// The tool's name.
    pub tool: String,
    /// The route it ran on.
    pub route: String,
    /// The media model that served.
    pub model: String,
    /// Stored results, in order.
    pub assets: Vec<AssetRef>,
    /// Text the tool returned (a transcript, or what an image model said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Upstream cost in credits, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// The video job (generate_video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoJobView>,
}

/// `POST /v1/observations`: the observation stored, transcribed and appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObservationView {
    /// The session it was appended to.
    pub session_id: String,
    /// The observation's source.
    pub source: String,
    /// The stored audio.
    pub asset_id: String,
    /// The transcript.
    pub transcript: String,
    /// The STT model that produced it.
    pub model: String,
    /// True when the transcript came from the cache (the same audio was seen before).
    pub cached: bool,
    /// The history message that was appended.
    pub message: HistoryMessage,
}

//! Run events: the typed contract of a run's event stream. One [`RunEvent`] variant per
//! event kind, each with its payload struct. On the wire (SSE and the stored `run_events`
//! rows) an event is two parts: its kind (`event:` / the `kind` column, from
//! [`RunEvent::kind`]) and its payload as JSON (`data:` / the `data` column, from
//! [`RunEvent::payload`]); [`RunEvent::from_wire`] reads the two parts back.
//!
//! The serde form of the enum itself is adjacently tagged (`{"event": kind, "data":
//! payload}`), the same two parts in one document.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::problem_code::ProblemCode;
use crate::usage::UsageObject;

/// `run.started`: the run left the queue and its first model call is being made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunStarted {
    /// The run.
    pub run_id: String,
    /// Its session.
    pub session_id: String,
    /// The route of the first model of the chain.
    pub route: String,
    /// The first model of the chain.
    pub model: String,
    /// The facade protocol, for a recorded facade call (`openai`, `anthropic.messages`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

/// `output.delta` / `reasoning.delta`: a piece of streamed text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TextDelta {
    /// The text, to append to what came before.
    pub text: String,
}

/// `tool.started`: a tool call of the model starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolStarted {
    /// The model's tool call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The call's arguments as JSON (a string when they were not JSON).
    pub args: Value,
}

/// `tool.progress`: a long tool (a video job) reports its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolProgress {
    /// The model's tool call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The job's status (`pending`, `in_progress`, …).
    pub status: String,
    /// Milliseconds since the job was submitted.
    pub elapsed_ms: u64,
    /// ferry's job id (`vid_…`).
    pub job_id: String,
    /// Whether the status changed since the previous progress event.
    pub changed: bool,
}

/// Why a tool call failed (the model sees it and can recover).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolError {
    /// The problem code.
    pub code: ProblemCode,
    /// What was wrong.
    pub message: String,
}

/// `tool.completed`: a tool call ended, with the assets it made or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCompleted {
    /// The model's tool call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// The assets it made (or, for `emit_output`, the ones the answer names).
    pub asset_ids: Vec<String>,
    /// Why it failed (only when `ok` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolError>,
}

impl ToolCompleted {
    /// A call that succeeded with `asset_ids`.
    pub fn succeeded(call_id: &str, name: &str, asset_ids: Vec<String>) -> Self {
        ToolCompleted {
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            ok: true,
            asset_ids,
            error: None,
        }
    }

    /// A call that failed with `error`.
    pub fn failed(call_id: &str, name: &str, error: ToolError) -> Self {
        ToolCompleted {
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            ok: false,
            asset_ids: Vec::new(),
            error: Some(error),
        }
    }
}

/// `asset.created`: a tool stored an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssetCreated {
    /// The asset id (`ast_…`).
    pub asset_id: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The tool that made it.
    pub tool: String,
    /// The tool call that made it.
    pub call_id: String,
}

/// `run.completed`: the run's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunCompleted {
    /// The answer (`text`, and `parts`/`speech` when tools made media); shared with the
    /// run's stored row and view, not copied.
    #[schema(value_type = Object)]
    pub output: Arc<Value>,
    /// Token usage summed over the model calls (shared as `output` is).
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Arc<UsageObject>>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// The model that served.
    pub model: Option<String>,
    /// Wall time of the run.
    pub duration_ms: u64,
}

/// `run.failed` / `run.cancelled`: why the run ended without an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunEnded {
    /// The problem code (`run_cancelled`, `interrupted`, `upstream_timeout`, …).
    pub code: ProblemCode,
    /// What happened and what to do.
    pub message: String,
    /// The HTTP status the failure maps to (failures of the run's own work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Whether sending the input again later may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl RunEnded {
    /// An end with a code and a message only (cancelled, interrupted).
    pub fn new(code: ProblemCode, message: impl Into<String>) -> Self {
        RunEnded {
            code,
            message: message.into(),
            status: None,
            retryable: None,
        }
    }
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "event", content = "data")]
pub enum RunEvent {
    /// `run.started`
    #[serde(rename = "run.started")]
    RunStarted(RunStarted),
    /// `output.delta`
    #[serde(rename = "output.delta")]
    OutputDelta(TextDelta),
    /// `reasoning.delta`
    #[serde(rename = "reasoning.delta")]
    ReasoningDelta(TextDelta),
    /// `tool.started`
    #[serde(rename = "tool.started")]
    ToolStarted(ToolStarted),
    /// `tool.progress`
    #[serde(rename = "tool.progress")]
    ToolProgress(ToolProgress),
    /// `tool.completed`
    #[serde(rename = "tool.completed")]
    ToolCompleted(ToolCompleted),
    /// `asset.created`
    #[serde(rename = "asset.created")]
    AssetCreated(AssetCreated),
    /// `run.completed`
    #[serde(rename = "run.completed")]
    RunCompleted(RunCompleted),
    /// `run.failed`
    #[serde(rename = "run.failed")]
    RunFailed(RunEnded),
    /// `run.cancelled`
    #[serde(rename = "run.cancelled")]
    RunCancelled(RunEnded),
}

/// The payload of a [`RunEvent`], serialised without its kind (SSE `data:`).
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a>(&'a RunEvent);

impl Serialize for Payload<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            RunEvent::RunStarted(p) => p.serialize(s),
            RunEvent::OutputDelta(p) | RunEvent::ReasoningDelta(p) => p.serialize(s),
            RunEvent::ToolStarted(p) => p.serialize(s),
            RunEvent::ToolProgress(p) => p.serialize(s),
            RunEvent::ToolCompleted(p) => p.serialize(s),
            RunEvent::AssetCreated(p) => p.serialize(s),
            RunEvent::RunCompleted(p) => p.serialize(s),
            RunEvent::RunFailed(p) | RunEvent::RunCancelled(p) => p.serialize(s),
        }
    }
}

/// An event read back from its two wire parts that is not a valid event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The kind names no event.
    #[error("`{0}` is not a run event kind")]
    UnknownKind(String),
    /// The payload does not fit the kind.
    #[error("the `{kind}` event's payload is not valid: {source}")]
    Payload {
        /// The event kind.
        kind: String,
        /// What serde found wrong.
        source: serde_json::Error,
    },
}

impl RunEvent {
    /// Every event kind, as written in SSE `event:` lines.
    pub const KINDS: &'static [&'static str] = &[
        "run.started",
        "output.delta",
        "reasoning.delta",
        "tool.started",
        "tool.progress",
        "tool.completed",
        "asset.created",
        "run.completed",
        "run.failed",
        "run.cancelled",
    ];

    /// The event's kind (SSE `event:` name).
    pub fn kind(&self) -> &'static str {
        match self {
            RunEvent::RunStarted(_) => "run.started",
            RunEvent::OutputDelta(_) => "output.delta",
            RunEvent::ReasoningDelta(_) => "reasoning.delta",
            RunEvent::ToolStarted(_) => "tool.started",
            RunEvent::ToolProgress(_) => "tool.progress",
            RunEvent::ToolCompleted(_) => "tool.completed",
            RunEvent::AssetCreated(_) => "asset.created",
            RunEvent::RunCompleted(_) => "run.completed",
            RunEvent::RunFailed(_) => "run.failed",
            RunEvent::RunCancelled(_) => "run.cancelled",
        }
    }

    /// Whether this event ends the run's stream.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            RunEvent::RunCompleted(_) | RunEvent::RunFailed(_) | RunEvent::RunCancelled(_)
        )
    }

    /// The payload, to serialise as the event's `data`.
    pub fn payload(&self) -> Payload<'_> {
        Payload(self)
    }

    /// The payload as a JSON value.
    pub fn payload_value(&self) -> Value {
        // A payload is plain data (strings, numbers, JSON values): it always serialises.
        serde_json::to_value(self.payload()).unwrap_or(Value::Null)
    }

    /// The event of `kind` with payload `data` (a stored row, an SSE event).
    pub fn from_wire(kind: &str, data: Value) -> Result<RunEvent, EventError> {
        fn read<T: serde::de::DeserializeOwned>(kind: &str, data: Value) -> Result<T, EventError> {
            serde_json::from_value(data).map_err(|source| EventError::Payload {
                kind: kind.to_owned(),
                source,
            })
        }
        Ok(match kind {
            "run.started" => RunEvent::RunStarted(read(kind, data)?),
            "output.delta" => RunEvent::OutputDelta(read(kind, data)?),
            "reasoning.delta" => RunEvent::ReasoningDelta(read(kind, data)?),
            "tool.started" => RunEvent::ToolStarted(read(kind, data)?),
            "tool.progress" => RunEvent::ToolProgress(read(kind, data)?),
            "tool.completed" => RunEvent::ToolCompleted(read(kind, data)?),
            "asset.created" => RunEvent::AssetCreated(read(kind, data)?),
            "run.completed" => RunEvent::RunCompleted(read(kind, data)?),
            "run.failed" => RunEvent::RunFailed(read(kind, data)?),
            "run.cancelled" => RunEvent::RunCancelled(read(kind, data)?),
            other => return Err(EventError::UnknownKind(other.to_owned())),
        })
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;

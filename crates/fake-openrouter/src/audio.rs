//! `POST /api/v1/audio/transcriptions`: validates the JSON body like OpenRouter (model,
//! base64 `input_audio.data`, a known `format`) and answers the next scripted
//! [`TranscriptionReply`], else a deterministic transcript describing the audio.

use base64::Engine as _;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::respond::{self, FakeResponse};
use crate::state::Shared;

/// Audio formats OpenRouter's speech-to-text accepts in `input_audio.format`.
pub const STT_FORMATS: &[&str] = &[
    "wav", "mp3", "m4a", "aac", "ogg", "flac", "webm", "pcm16", "pcm24", "aiff",
];

/// A scripted answer to one transcription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionReply {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Text(String),
    Error { status: u16, message: String },
}

impl TranscriptionReply {
    /// `{"text": text, "usage": {...}}`.
    pub fn text(text: impl Into<String>) -> TranscriptionReply {
        TranscriptionReply {
            kind: Kind::Text(text.into()),
        }
    }

    /// An HTTP error with OpenRouter's error body.
    pub fn error(status: u16, message: impl Into<String>) -> TranscriptionReply {
        TranscriptionReply {
            kind: Kind::Error {
                status,
                message: message.into(),
            },
        }
    }
}

/// Answers one transcription request.
pub(crate) fn answer(shared: &Shared, body: Option<&Value>) -> FakeResponse {
    let Some(body) = body.filter(|b| b.is_object()) else {
        return respond::openrouter_error(400, "Invalid JSON body: expected an object");
    };
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return respond::openrouter_error(400, "model is required");
    }
    let Some(data) = body.pointer("/input_audio/data").and_then(Value::as_str) else {
        return respond::openrouter_error(400, "input_audio.data is required");
    };
    let Ok(audio) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return respond::openrouter_error(400, "input_audio.data is not valid base64");
    };
    let format = body
        .pointer("/input_audio/format")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !STT_FORMATS.contains(&format) {
        return respond::openrouter_error(
            400,
            &format!(
                "Unsupported audio format {format:?}; supported: {}",
                STT_FORMATS.join(", ")
            ),
        );
    }
    let scripted = shared.lock().transcriptions.pop_front();
    let text = match scripted.map(|r| r.kind) {
        Some(Kind::Error { status, message }) => {
            return respond::openrouter_error(status, &message)
        }
        Some(Kind::Text(text)) => text,
        None => format!("transcript of {} bytes of {format} audio", audio.len()),
    };
    let seconds = (audio.len() as f64 / 32_000.0).max(0.1);
    respond::json(
        StatusCode::OK,
        &json!({"text": text, "usage": {"seconds": seconds, "cost": seconds * 0.0001}}),
    )
}

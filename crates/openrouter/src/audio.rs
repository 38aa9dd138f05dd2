//! Speech-to-text: `POST /audio/transcriptions` with a JSON body carrying the audio as
//! base64 `input_audio {data, format}` (spec §9). The body is built by a pure function;
//! [`OpenRouterClient::transcribe`] sends it and parses `{text, usage}`.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::client::OpenRouterClient;
use crate::error::{ErrorContext, UpstreamError};

/// One transcription request.
#[derive(Debug, Clone, Copy)]
pub struct TranscriptionRequest<'a> {
    /// The STT model, e.g. `openai/gpt-4o-mini-transcribe`.
    pub model: &'a str,
    /// The audio bytes.
    pub audio: &'a [u8],
    /// OpenRouter's format name: `wav`, `mp3`, `m4a`, `aac`, `ogg`, `flac`, `webm`, `pcm16`.
    pub format: &'a str,
    /// ISO-639-1 language hint, e.g. `de`.
    pub language: Option<&'a str>,
}

/// A transcription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcription {
    /// The transcript.
    pub text: String,
    /// OpenRouter's usage object (`seconds`, `cost`…), when present.
    pub usage: Option<Value>,
    /// `usage.cost` in USD credits.
    pub cost: Option<f64>,
}

/// The JSON body of `POST /audio/transcriptions`.
pub fn transcription_body(req: &TranscriptionRequest<'_>) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "input_audio".into(),
        json!({
            "data": base64::engine::general_purpose::STANDARD.encode(req.audio),
            "format": req.format,
        }),
    );
    if let Some(lang) = req.language.map(str::trim).filter(|l| !l.is_empty()) {
        body.insert("language".into(), json!(lang));
    }
    Value::Object(body)
}

/// Parses the answer: `text` is required.
pub(crate) fn parse_transcription(
    body: &Value,
    ctx: ErrorContext<'_>,
) -> Result<Transcription, UpstreamError> {
    let text = body.get("text").and_then(Value::as_str).ok_or_else(|| {
        UpstreamError::protocol("the transcription answer has no \"text\"", false, ctx)
    })?;
    let usage = body.get("usage").filter(|u| u.is_object()).cloned();
    let cost = usage
        .as_ref()
        .and_then(|u| u.get("cost"))
        .and_then(Value::as_f64);
    Ok(Transcription {
        text: text.trim().to_owned(),
        usage,
        cost,
    })
}

impl OpenRouterClient {
    /// ONE speech-to-text call (no retries).
    pub async fn transcribe(
        &self,
        api_key: &str,
        req: &TranscriptionRequest<'_>,
    ) -> Result<Transcription, UpstreamError> {
        let body = transcription_body(req);
        let answer = self
            .post_json(api_key, "audio/transcriptions", &body, req.model)
            .await?;
        parse_transcription(
            &answer,
            ErrorContext {
                model: req.model,
                api_key,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "openai/whisper-1",
        api_key: "k",
    };

    #[test]
    fn body_carries_base64_audio_format_and_language() {
        let body = transcription_body(&TranscriptionRequest {
            model: "openai/gpt-4o-mini-transcribe",
            audio: b"RIFF",
            format: "wav",
            language: Some("de"),
        });
        assert_eq!(
            body,
            json!({"model": "openai/gpt-4o-mini-transcribe",
                   "input_audio": {"data": "UklGRg==", "format": "wav"},
                   "language": "de"})
        );
        let body = transcription_body(&TranscriptionRequest {
            model: "m",
            audio: b"x",
            format: "mp3",
            language: Some(" "),
        });
        assert!(body.get("language").is_none());
    }

    #[test]
    fn answers_parse_or_fail_clearly() {
        let t = parse_transcription(
            &json!({"text": " hello there ", "usage": {"seconds": 2, "cost": 0.0001}}),
            CTX,
        )
        .unwrap();
        assert_eq!(t.text, "hello there");
        assert_eq!(t.cost, Some(0.0001));
        let e = parse_transcription(&json!({"transcript": "x"}), CTX).unwrap_err();
        assert_eq!(e.code(), "upstream_protocol_error");
        assert!(e.message.contains("no \"text\""), "{}", e.message);
    }
}

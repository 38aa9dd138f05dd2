//! The OpenAI-shaped answers ferry's facade builds itself: image generations and edits
//! (`POST /openai/v1/images/*`) and transcriptions (`POST /openai/v1/audio/transcriptions`),
//! in OpenAI's field names.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One image of an images answer: the bytes (`b64_json`) or where to fetch them (`url`,
/// the asset's `/v1/assets/{id}/raw`), as `response_format` asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageDatum {
    /// The image, base64 (`response_format: b64_json`, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// The image's URL on this daemon (`response_format: url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What an images call cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImagesUsage {
    /// Upstream cost in credits.
    pub cost: f64,
}

/// `POST /openai/v1/images/generations` and `/edits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImagesAnswer {
    /// When it was made (Unix seconds).
    pub created: u64,
    /// The images, in order.
    pub data: Vec<ImageDatum>,
    /// The cost, when upstream reported one (left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ImagesUsage>,
}

/// `response_format: json`: the transcript alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptText {
    /// The transcript.
    pub text: String,
}

/// `response_format: verbose_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerboseTranscript {
    /// Always `transcribe`.
    pub task: String,
    /// The language hint it was made with (null when none).
    pub language: Option<String>,
    /// The transcript.
    pub text: String,
}

/// `POST /openai/v1/audio/transcriptions` with `response_format` `json` or `verbose_json`
/// (`text` answers the bare text as text/plain). Exactly one variant's schema matches an
/// answer: the plain one allows no other field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TranscriptionAnswer {
    /// `verbose_json`.
    Verbose(VerboseTranscript),
    /// `json`.
    Text(TranscriptText),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_keep_openais_shapes() {
        let plain = TranscriptionAnswer::Text(TranscriptText { text: "hi".into() });
        assert_eq!(serde_json::to_value(&plain).unwrap(), json!({"text": "hi"}));
        let verbose = TranscriptionAnswer::Verbose(VerboseTranscript {
            task: "transcribe".into(),
            language: None,
            text: "hi".into(),
        });
        let wire = json!({"task": "transcribe", "language": null, "text": "hi"});
        assert_eq!(serde_json::to_value(&verbose).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<TranscriptionAnswer>(wire).unwrap(),
            verbose
        );
        let images = ImagesAnswer {
            created: 1,
            data: vec![ImageDatum {
                b64_json: None,
                url: Some("http://h/v1/assets/ast_1/raw".into()),
            }],
            usage: None,
        };
        assert_eq!(
            serde_json::to_string(&images).unwrap(),
            r#"{"created":1,"data":[{"url":"http://h/v1/assets/ast_1/raw"}]}"#
        );
    }
}

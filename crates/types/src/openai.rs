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

/// `POST /openai/v1/audio/transcriptions` with `response_format` `json` or `verbose_json`
/// (`text` answers the bare text as text/plain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TranscriptionAnswer {
    /// `verbose_json`.
    Verbose {
        /// Always `transcribe`.
        task: String,
        /// The language hint it was made with (null when none).
        language: Option<String>,
        /// The transcript.
        text: String,
    },
    /// `json`.
    Text {
        /// The transcript.
        text: String,
    },
}

//! Media tools run directly: `POST /v1/tools/transcribe_audio` (speech-to-text of a
//! stored audio asset, cached per asset and model).

use axum::extract::State;
use axum::Json;
use ferry_engine::{TranscribeOptions, TranscriptView};
use serde::Deserialize;

use crate::extract::ApiJson;
use crate::problem::ApiResult;
use crate::AppState;

/// Body of `POST /v1/tools/transcribe_audio`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscribeBody {
    /// The audio asset (upload it first with `POST /v1/assets`).
    pub asset_id: String,
    /// STT model overriding the route's `media.stt_model`.
    #[serde(default)]
    pub model: Option<String>,
    /// ISO 639-1 language hint.
    #[serde(default)]
    pub language: Option<String>,
    /// Route whose key and STT model to use (default route).
    #[serde(default)]
    pub route: Option<String>,
}

/// `POST /v1/tools/transcribe_audio`.
pub async fn transcribe_audio(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<TranscribeBody>,
) -> ApiResult<Json<TranscriptView>> {
    let view = s
        .engine
        .transcribe_asset(
            &body.asset_id,
            &TranscribeOptions {
                route: body.route,
                model: body.model,
                language: body.language,
            },
        )
        .await?;
    Ok(Json(view))
}

//! Observations (`POST /v1/observations?session=ID&source=microphone_segment`): an audio
//! segment is stored as an asset, transcribed (cached like any audio asset) and the
//! transcript is appended to the session's history as a user message, with a note naming
//! the source and file. It does not start a model run: the next input sees it in history.

use bytes::Bytes;
use ferry_assets::{Declared, MediaType, Source};
use ferry_config::{resolve_target, SelectorInputs};
use ferry_types::ObservationView;
use serde_json::json;

use crate::engine::{validate_session_id, Engine};
use crate::views::history_message;
use crate::EngineError;

/// The only observation source so far.
pub const MICROPHONE_SEGMENT: &str = "microphone_segment";
/// What a `microphone_segment` may be.
const MICROPHONE_TYPES: [MediaType; 2] = [MediaType::AudioWav, MediaType::AudioWebm];

impl Engine {
    /// Stores, transcribes and appends an observation.
    pub async fn observe(
        &self,
        session_id: &str,
        source: &str,
        body: Bytes,
        declared: Declared,
    ) -> Result<ObservationView, EngineError> {
        if self.is_draining() {
            return Err(EngineError::Draining);
        }
        validate_session_id(session_id)?;
        if source != MICROPHONE_SEGMENT {
            return Err(EngineError::bad_input(
                "invalid_observation_source",
                format!("unknown observation source {source:?}; the supported source is {MICROPHONE_SEGMENT}"),
            ));
        }
        let assets = &self.inner.assets;
        let undeclared = declared
            .media_type
            .as_deref()
            .and_then(MediaType::parse)
            .is_none();
        let mut media_type = match assets.check(&body, &declared) {
            Ok(t) => t,
            Err(e @ ferry_assets::AssetError::Type(ferry_assets::SniffError::Empty)) => {
                return Err(e.into())
            }
            Err(ferry_assets::AssetError::Type(e)) => {
                return Err(EngineError::UnsupportedMediaType {
                    code: "unsupported_observation_type",
                    message: format!(
                        "{MICROPHONE_SEGMENT} observations accept only audio/wav and audio/webm: {e}"
                    ),
                })
            }
            Err(e) => return Err(e.into()),
        };
        // A microphone segment is audio: an undeclared WebM container is read as audio.
        if media_type == MediaType::VideoWebm && undeclared {
            media_type = MediaType::AudioWebm;
        }
        if !MICROPHONE_TYPES.contains(&media_type) {
            return Err(EngineError::UnsupportedMediaType {
                code: "unsupported_observation_type",
                message: format!(
                    "{MICROPHONE_SEGMENT} observations accept only audio/wav and audio/webm; this upload is {media_type} — convert it to WAV or WebM first"
                ),
            });
        }

        let session = self.inner.store.get_session(session_id).await?;
        let routes = self.inner.routes.file();
        let runtime = self.runtime_model();
        let target = resolve_target(
            routes,
            &SelectorInputs {
                provider: None,
                model: None,
                session_pin: session.as_ref().and_then(|s| s.pinned_selector.as_deref()),
                runtime_model: runtime.as_deref(),
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        let route = self.inner.routes.route(&target.route)?;
        crate::transcribe::require_transcription(route)?;

        let file_name = declared.file_name.clone();
        let stored = assets
            .ingest_as(body, media_type, file_name, Source::Observation)
            .await?;
        let transcript = self
            .inner
            .transcriber
            .transcript(route, &stored.view, None, None)
            .await?;
        if session.is_none() {
            self.inner.store.ensure_session(session_id).await?;
        }
        let name = stored
            .view
            .asset
            .file_name
            .as_deref()
            .unwrap_or(&stored.view.asset.id);
        let content = format!(
            "[voice observation ({source}) transcribed from {name}, asset {}]\n{}",
            stored.view.asset.id, transcript.text
        );
        let mut appended = self
            .inner
            .store
            .append_messages(
                session_id,
                vec![json!({"role": "user", "content": content})],
            )
            .await?;
        let message = appended.pop().ok_or_else(|| {
            EngineError::Internal("the observation message was not stored".into())
        })?;
        Ok(ObservationView {
            session_id: session_id.to_owned(),
            source: source.to_owned(),
            asset_id: stored.view.asset.id.clone(),
            transcript: transcript.text,
            model: transcript.model,
            cached: transcript.cached,
            message: history_message(message),
        })
    }
}

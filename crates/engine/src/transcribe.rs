//! Daemon-owned speech-to-text. An audio asset is transcribed once per (STT model,
//! language): the text is stored as a derivation of the asset (`transcript`, or
//! `transcript:<lang>` with a language hint) and reused by every later run, observation
//! or `audio transcribe`. Upstream calls go through the route's client with the engine's
//! retry policy (429/5xx/timeouts, bounded).
//!
//! [`Transcriber`] is built once with the route table, the assets, the store, the
//! [`Gate`] (admission, the caller's key) and [`Upstreams`] (retry policy); it never
//! reaches into the engine.

use std::sync::Arc;

use ferry_assets::{AssetStore, AssetView, MediaType};
use ferry_config::Route;
use ferry_openrouter::{call_with_retries, TranscriptionRequest};
use ferry_store::Storage;
use ferry_types::TranscriptView;
use serde_json::json;

use crate::access::{Gate, Spent, Unpriced};
use crate::routes::RouteTable;
use crate::upstreams::Upstreams;
use crate::EngineError;

/// Options of [`Transcriber::transcribe_asset`].
#[derive(Debug, Clone, Default)]
pub struct TranscribeOptions {
    /// Route whose key and STT model to use (default route when absent).
    pub route: Option<String>,
    /// STT model overriding the route's `media.stt_model`.
    pub model: Option<String>,
    /// ISO-639 language hint, e.g. `de`.
    pub language: Option<String>,
}

/// Checks a language hint: 2–3 ASCII letters (ISO 639-1/-2/-3), optionally a region
/// (`en-US`).
fn validate_language(language: &str) -> Result<(), EngineError> {
    let (lang, region) = match language.split_once(['-', '_']) {
        Some((l, r)) => (l, Some(r)),
        None => (language, None),
    };
    let ok = (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_alphabetic())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(EngineError::bad_input(
            "invalid_language",
            format!("--language {language:?} is not a language code; use an ISO 639-1 code such as en, de or fr"),
        ))
    }
}

/// The derivation kind of a transcript made with `language`.
fn transcript_kind(language: Option<&str>) -> String {
    match language {
        Some(l) => format!("transcript:{}", l.to_ascii_lowercase()),
        None => "transcript".to_owned(),
    }
}

/// Refuses transcription on a route that has it turned off.
pub(crate) fn require_transcription(route: &Route) -> Result<(), EngineError> {
    if route.capabilities.transcription {
        return Ok(());
    }
    Err(EngineError::bad_input(
        "transcription_disabled",
        format!(
            "route {} has transcription = false, so audio cannot be transcribed on it; set transcription = true in [routes.{}] or use a route that allows it",
            route.id, route.id
        ),
    ))
}

/// The speech-to-text service.
pub(crate) struct Transcriber {
    routes: Arc<RouteTable>,
    assets: AssetStore,
    store: Arc<dyn Storage>,
    gate: Arc<Gate>,
    upstreams: Arc<Upstreams>,
}

impl Transcriber {
    /// A transcriber caching its transcripts as derivations in `store`.
    pub(crate) fn new(
        routes: Arc<RouteTable>,
        assets: AssetStore,
        store: Arc<dyn Storage>,
        gate: Arc<Gate>,
        upstreams: Arc<Upstreams>,
    ) -> Transcriber {
        Transcriber {
            routes,
            assets,
            store,
            gate,
            upstreams,
        }
    }

    /// `POST /v1/tools/transcribe_audio`: the transcript of an audio asset.
    pub async fn transcribe_asset(
        &self,
        asset_id: &str,
        opts: &TranscribeOptions,
    ) -> Result<TranscriptView, EngineError> {
        let route_id = opts
            .route
            .clone()
            .unwrap_or_else(|| self.routes.file().default_route.clone());
        let route = self.routes.route(&route_id)?;
        let asset = self.assets.get(asset_id).await?;
        self.transcript(
            route,
            &asset,
            opts.model.as_deref(),
            opts.language.as_deref(),
        )
        .await
    }

    /// The transcript of `asset` on `route` (cached derivation, else one STT call).
    pub(crate) async fn transcript(
        &self,
        route: &Route,
        asset: &AssetView,
        model: Option<&str>,
        language: Option<&str>,
    ) -> Result<TranscriptView, EngineError> {
        require_transcription(route)?;
        let language = language.map(str::trim).filter(|l| !l.is_empty());
        if let Some(l) = language {
            validate_language(l)?;
        }
        let media_type = asset.media_type();
        let Some(format) = media_type.and_then(MediaType::stt_format) else {
            return Err(EngineError::bad_input(
                "not_audio",
                format!(
                    "asset {} is {}, not audio; only audio (wav, mp3, m4a, aac, ogg, flac, webm, pcm) can be transcribed",
                    asset.asset.id, asset.asset.media_type
                ),
            ));
        };
        let model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(&route.media.stt_model)
            .to_owned();
        let kind = transcript_kind(language);
        let store = &self.store;
        if let Some(d) = store.get_derivation(&asset.asset.id, &kind, &model).await? {
            return Ok(TranscriptView {
                asset_id: asset.asset.id.clone(),
                model,
                language: language.map(str::to_owned),
                text: d.content,
                cached: true,
                cost: None,
            });
        }
        // Speech-to-text is priced by upstream only afterwards: not under a budget.
        let admission = self
            .gate
            .admit_media(
                "stt",
                &route.id,
                &model,
                0,
                Err(Unpriced::Unbounded("speech-to-text")),
            )
            .await?;
        let (_, bytes) = self.assets.read(&asset.asset.id).await?;
        let up = self.gate.caller_upstream(route)?;
        let req = TranscriptionRequest {
            model: &model,
            audio: &bytes,
            format,
            language,
        };
        let mut attempts = Vec::new();
        let t = call_with_retries(self.upstreams.retry(), true, &model, &mut attempts, || {
            up.provider.transcribe(&up.key, &req)
        })
        .await;
        crate::upstream_log::failed_media_attempts(
            crate::tools::ToolName::TranscribeAudio.as_str(),
            &route.id,
            None,
            &attempts,
        );
        let t = t.map_err(|mut e| {
            let name = asset.asset.file_name.as_deref().unwrap_or(&asset.asset.id);
            e.message = format!("speech-to-text of {name} failed: {}", e.message);
            EngineError::from(e)
        })?;
        admission.settle(Spent::of_media(&model, t.cost, None));
        let meta = json!({"usage": t.usage, "cost": t.cost, "route": route.id});
        let stored = store
            .put_derivation(&asset.asset.id, &kind, &model, &t.text, Some(meta))
            .await?;
        Ok(TranscriptView {
            asset_id: asset.asset.id.clone(),
            model,
            language: language.map(str::to_owned),
            text: stored.content,
            cached: false,
            cost: t.cost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes() {
        for ok in ["en", "de", "fra", "en-US", "pt_BR"] {
            assert!(validate_language(ok).is_ok(), "{ok}");
        }
        for bad in ["english", "e", "12", "en-", "de;rm"] {
            assert!(validate_language(bad).is_err(), "{bad}");
        }
        assert_eq!(transcript_kind(Some("DE")), "transcript:de");
        assert_eq!(transcript_kind(None), "transcript");
    }
}

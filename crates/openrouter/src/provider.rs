//! The object-safe `Provider` trait the engine depends on: every upstream call a route can
//! make (chat, raw pass-through, speech-to-text, speech, images, video jobs, downloads,
//! model catalog, generation lookup, key endpoints). [`crate::OpenRouterClient`] is the
//! real implementation; tests of the engine put an in-memory double in its place.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use url::Url;

use crate::audio::{Transcription, TranscriptionRequest};
use crate::catalog::Catalog;
use crate::error::UpstreamError;
use crate::management::ProvisionedKey;
use crate::media::{Downloaded, FetchLimits, MediaError, Speech, SpeechRequest};
use crate::media::{VideoJobState, VideoRequest};
use crate::passthrough::RawReply;
use crate::retry::{Attempt, RetryPolicy};
use crate::types::{ChatOutcome, ChatRequest, PassRequest, StreamEvent};

/// The answer of a call a provider does not offer.
fn unsupported<'a, T: Send + 'a, E: From<UpstreamError> + Send + 'a>(
    call: &str,
) -> BoxFuture<'a, Result<T, E>> {
    let e = UpstreamError::unsupported(call);
    Box::pin(async move { Err(e.into()) })
}

/// One upstream, as the engine calls it. Each method is one call (retries only where the
/// method says so); dropping a returned future aborts the call. Only `is_verified` and
/// `chat` are required: every other call answers [`UpstreamError::unsupported`] unless the
/// provider implements it (test doubles implement only what they use).
pub trait Provider: Send + Sync {
    /// Whether the upstream is OpenRouter itself (OpenRouter-only shaping and endpoints).
    fn is_verified(&self) -> bool;

    /// ONE chat completion attempt, no retries. Streaming replies call `on_event` per
    /// delta. With a `deadline` the whole call must end within it and no idle timeout
    /// applies (image generation); without, the route's read timeout applies.
    fn chat<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a ChatRequest,
        deadline: Option<Duration>,
        on_event: &'a mut (dyn FnMut(StreamEvent) + Send),
    ) -> BoxFuture<'a, Result<ChatOutcome, UpstreamError>>;

    /// A chat request passed through as bytes, with the same-model retry policy (see
    /// [`crate::open_raw_with_retries`]).
    #[allow(clippy::too_many_arguments)]
    fn open_raw<'a>(
        &'a self,
        _api_key: &'a str,
        _req: &'a ChatRequest,
        _policy: &'a RetryPolicy,
        _collect_text: bool,
        _attempts: &'a mut Vec<Attempt>,
        _upstream_wait: &'a mut Duration,
    ) -> BoxFuture<'a, Result<RawReply, UpstreamError>> {
        unsupported("pass-through chat")
    }

    /// A Responses, Messages or embeddings request passed through as bytes (see
    /// [`crate::open_pass_with_retries`]).
    #[allow(clippy::too_many_arguments)]
    fn open_pass<'a>(
        &'a self,
        _api_key: &'a str,
        _req: &'a PassRequest,
        _policy: &'a RetryPolicy,
        _collect_text: bool,
        _attempts: &'a mut Vec<Attempt>,
        _upstream_wait: &'a mut Duration,
    ) -> BoxFuture<'a, Result<RawReply, UpstreamError>> {
        unsupported("pass-through requests")
    }

    /// ONE speech-to-text call (no retries).
    fn transcribe<'a>(
        &'a self,
        _api_key: &'a str,
        _req: &'a TranscriptionRequest<'a>,
    ) -> BoxFuture<'a, Result<Transcription, UpstreamError>> {
        unsupported("transcription")
    }

    /// Text to speech, retried per `policy`.
    fn speech<'a>(
        &'a self,
        _api_key: &'a str,
        _req: &'a SpeechRequest,
        _deadline: Duration,
        _policy: &'a RetryPolicy,
        _attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<Speech, MediaError>> {
        unsupported("speech")
    }

    /// Downloads an image URL a model returned (the key only to the own origin).
    fn fetch_image<'a>(
        &'a self,
        _api_key: &'a str,
        _url: &'a Url,
        _limits: FetchLimits,
    ) -> BoxFuture<'a, Result<Downloaded, MediaError>> {
        unsupported("image downloads")
    }

    /// Submits a video job (retried only on 429).
    fn create_video<'a>(
        &'a self,
        _api_key: &'a str,
        _req: &'a VideoRequest,
        _deadline: Duration,
        _policy: &'a RetryPolicy,
        _attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<VideoJobState, MediaError>> {
        unsupported("video jobs")
    }

    /// Polls a video job once (retried per `policy`).
    fn video_job<'a>(
        &'a self,
        _api_key: &'a str,
        _job_id: &'a str,
        _polling_url: Option<&'a str>,
        _deadline: Duration,
        _policy: &'a RetryPolicy,
        _attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<VideoJobState, MediaError>> {
        unsupported("video jobs")
    }

    /// The video model catalog (`GET /videos/models`).
    fn video_models<'a>(
        &'a self,
        _api_key: &'a str,
    ) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        unsupported("the video model catalog")
    }

    /// Downloads a completed job's video.
    fn download_video<'a>(
        &'a self,
        _api_key: &'a str,
        _job: &'a VideoJobState,
        _max_bytes: usize,
        _deadline: Duration,
    ) -> BoxFuture<'a, Result<Downloaded, MediaError>> {
        unsupported("video downloads")
    }

    /// The model catalog (`GET /models?output_modalities=all`).
    fn fetch_catalog<'a>(
        &'a self,
        _api_key: &'a str,
    ) -> BoxFuture<'a, Result<Catalog, UpstreamError>> {
        unsupported("the model catalog")
    }

    /// Billed cost and stats of one generation; `None` while it is not known yet.
    fn generation<'a>(
        &'a self,
        _api_key: &'a str,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, UpstreamError>> {
        unsupported("generation lookups")
    }

    /// The key's label, limits and usage (`GET /key`).
    fn key_info<'a>(&'a self, _api_key: &'a str) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        unsupported("key info")
    }

    /// Provisions a key with a management key (`POST /keys`).
    fn create_key<'a>(
        &'a self,
        _management_key: &'a str,
        _body: &'a Value,
    ) -> BoxFuture<'a, Result<ProvisionedKey, UpstreamError>> {
        unsupported("key provisioning")
    }

    /// Disables a provisioned key with a management key.
    fn disable_key<'a>(
        &'a self,
        _management_key: &'a str,
        _hash: &'a str,
    ) -> BoxFuture<'a, Result<(), UpstreamError>> {
        unsupported("key provisioning")
    }
}

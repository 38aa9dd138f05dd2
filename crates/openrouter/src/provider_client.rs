//! [`OpenRouterClient`] as a [`Provider`]: each trait method is the client's call of the
//! same name, boxed; a chat with a deadline goes over the media transport (no idle
//! timeout) and its timeout names the setting that bounds it.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use url::Url;

use crate::audio::{Transcription, TranscriptionRequest};
use crate::catalog::Catalog;
use crate::client::OpenRouterClient;
use crate::error::{UpstreamError, UpstreamErrorKind};
use crate::management::ProvisionedKey;
use crate::media::{Downloaded, FetchLimits, MediaError, Speech, SpeechRequest};
use crate::media::{VideoJobState, VideoRequest};
use crate::passthrough::{open_pass_with_retries, open_raw_with_retries, RawReply};
use crate::provider::Provider;
use crate::retry::{Attempt, RetryPolicy};
use crate::types::{ChatOutcome, ChatRequest, PassRequest, StreamEvent};

impl OpenRouterClient {
    /// One chat completion that must end within `deadline` (image generation).
    async fn chat_within(
        &self,
        deadline: Duration,
        api_key: &str,
        req: &ChatRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<ChatOutcome, UpstreamError> {
        let result = self
            .chat_via(Some((self.media_http(), deadline)), api_key, req, on_event)
            .await;
        result.map_err(|mut e| {
            if e.kind == UpstreamErrorKind::Timeout && e.status.is_none() {
                e.message = format!(
                    "{} did not answer within {} ms — raise the route's media.image_timeout_ms, or pass a larger --timeout-ms for one call",
                    req.model,
                    deadline.as_millis()
                );
            }
            e
        })
    }
}

impl Provider for OpenRouterClient {
    fn is_verified(&self) -> bool {
        OpenRouterClient::is_verified(self)
    }

    fn chat<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a ChatRequest,
        deadline: Option<Duration>,
        on_event: &'a mut (dyn FnMut(StreamEvent) + Send),
    ) -> BoxFuture<'a, Result<ChatOutcome, UpstreamError>> {
        match deadline {
            Some(d) => Box::pin(self.chat_within(d, api_key, req, on_event)),
            None => Box::pin(OpenRouterClient::chat(self, api_key, req, on_event)),
        }
    }

    fn open_raw<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a ChatRequest,
        policy: &'a RetryPolicy,
        collect_text: bool,
        attempts: &'a mut Vec<Attempt>,
        upstream_wait: &'a mut Duration,
    ) -> BoxFuture<'a, Result<RawReply, UpstreamError>> {
        Box::pin(open_raw_with_retries(
            self,
            api_key,
            req,
            policy,
            collect_text,
            attempts,
            upstream_wait,
        ))
    }

    fn open_pass<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a PassRequest,
        policy: &'a RetryPolicy,
        collect_text: bool,
        attempts: &'a mut Vec<Attempt>,
        upstream_wait: &'a mut Duration,
    ) -> BoxFuture<'a, Result<RawReply, UpstreamError>> {
        Box::pin(open_pass_with_retries(
            self,
            api_key,
            req,
            policy,
            collect_text,
            attempts,
            upstream_wait,
        ))
    }

    fn transcribe<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a TranscriptionRequest<'a>,
    ) -> BoxFuture<'a, Result<Transcription, UpstreamError>> {
        Box::pin(OpenRouterClient::transcribe(self, api_key, req))
    }

    fn speech<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a SpeechRequest,
        deadline: Duration,
        policy: &'a RetryPolicy,
        attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<Speech, MediaError>> {
        Box::pin(OpenRouterClient::speech(
            self, api_key, req, deadline, policy, attempts,
        ))
    }

    fn fetch_image<'a>(
        &'a self,
        api_key: &'a str,
        url: &'a Url,
        limits: FetchLimits,
    ) -> BoxFuture<'a, Result<Downloaded, MediaError>> {
        Box::pin(OpenRouterClient::fetch_image(self, api_key, url, limits))
    }

    fn create_video<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a VideoRequest,
        deadline: Duration,
        policy: &'a RetryPolicy,
        attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<VideoJobState, MediaError>> {
        Box::pin(OpenRouterClient::create_video(
            self, api_key, req, deadline, policy, attempts,
        ))
    }

    fn video_job<'a>(
        &'a self,
        api_key: &'a str,
        job_id: &'a str,
        polling_url: Option<&'a str>,
        deadline: Duration,
        policy: &'a RetryPolicy,
        attempts: &'a mut Vec<Attempt>,
    ) -> BoxFuture<'a, Result<VideoJobState, MediaError>> {
        Box::pin(OpenRouterClient::video_job(
            self,
            api_key,
            job_id,
            polling_url,
            deadline,
            policy,
            attempts,
        ))
    }

    fn video_models<'a>(&'a self, api_key: &'a str) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        Box::pin(OpenRouterClient::video_models(self, api_key))
    }

    fn download_video<'a>(
        &'a self,
        api_key: &'a str,
        job: &'a VideoJobState,
        max_bytes: usize,
        deadline: Duration,
    ) -> BoxFuture<'a, Result<Downloaded, MediaError>> {
        Box::pin(OpenRouterClient::download_video(
            self, api_key, job, max_bytes, deadline,
        ))
    }

    fn fetch_catalog<'a>(
        &'a self,
        api_key: &'a str,
    ) -> BoxFuture<'a, Result<Catalog, UpstreamError>> {
        Box::pin(OpenRouterClient::fetch_catalog(self, api_key))
    }

    fn generation<'a>(
        &'a self,
        api_key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, UpstreamError>> {
        Box::pin(OpenRouterClient::generation(self, api_key, id))
    }

    fn key_info<'a>(&'a self, api_key: &'a str) -> BoxFuture<'a, Result<Value, UpstreamError>> {
        Box::pin(OpenRouterClient::key_info(self, api_key))
    }

    fn create_key<'a>(
        &'a self,
        management_key: &'a str,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<ProvisionedKey, UpstreamError>> {
        Box::pin(OpenRouterClient::create_key(self, management_key, body))
    }

    fn disable_key<'a>(
        &'a self,
        management_key: &'a str,
        hash: &'a str,
    ) -> BoxFuture<'a, Result<(), UpstreamError>> {
        Box::pin(OpenRouterClient::disable_key(self, management_key, hash))
    }
}

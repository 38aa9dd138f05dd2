//! Media calls on the route's [`OpenRouterClient`]: image generation as a chat driver
//! with its own deadline, speech, video jobs (create, poll, catalog, download) and
//! downloads of image URLs. Authorization goes only to the upstream's own origin; URLs on
//! any other origin, and redirects leaving the own origin, are fetched without it and only
//! through the SSRF guard.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use url::Url;

use super::error::MediaError;
use super::fetch::{
    display_url, fetch_public, read_body, transport_error, Downloaded, FetchError, FetchLimits,
};
use super::speech::{finish_speech, Speech, SpeechRequest};
use super::video::{content_url, parse_job, poll_url, VideoJobState, VideoRequest};
use crate::client::{
    check_status, endpoint, read_limited, send_error, send_for_json, OpenRouterClient,
};
use crate::error::{ErrorContext, UpstreamError};
use crate::retry::{call_with_retries, Attempt, RetryPolicy};

/// Largest speech response accepted.
const MAX_SPEECH_BYTES: usize = 64 * 1024 * 1024;
/// Largest JSON document of the video endpoints.
const MAX_JOB_DOCUMENT: usize = 1024 * 1024;

impl OpenRouterClient {
    /// Whether `url` is on the upstream's own origin (scheme, host and port).
    pub fn is_own_origin(&self, url: &Url) -> bool {
        url.origin() == self.base_url().origin()
    }

    /// `POST /audio/speech`, retried like chat; MP3 is kept, PCM becomes WAV.
    pub async fn speech(
        &self,
        api_key: &str,
        req: &SpeechRequest,
        deadline: Duration,
        policy: &RetryPolicy,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Speech, MediaError> {
        let ctx = ErrorContext {
            model: &req.model,
            api_key,
        };
        let url = self.media_endpoint("audio/speech", ctx)?;
        let body = req.body();
        let (content_type, bytes) =
            call_with_retries(policy, true, &req.model, attempts, || async {
                let response = self
                    .media_http()
                    .post(url.clone())
                    .bearer_auth(api_key)
                    .headers(self.side_headers())
                    .json(&body)
                    .timeout(deadline)
                    .send()
                    .await
                    .map_err(|e| send_error(&e, ctx))?;
                let response = check_status(response, ctx).await?;
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = read_limited(response, MAX_SPEECH_BYTES, ctx).await?;
                Ok((content_type, bytes))
            })
            .await?;
        finish_speech(req.format, content_type.as_deref(), bytes)
    }

    /// `POST /videos`: submits a job. Retried only on 429 (a job is paid for once
    /// created).
    pub async fn create_video(
        &self,
        api_key: &str,
        req: &VideoRequest,
        deadline: Duration,
        policy: &RetryPolicy,
        attempts: &mut Vec<Attempt>,
    ) -> Result<VideoJobState, MediaError> {
        let ctx = ErrorContext {
            model: &req.model,
            api_key,
        };
        let url = self.media_endpoint("videos", ctx)?;
        let body = req.body();
        let doc = call_with_retries(policy, false, &req.model, attempts, || {
            self.json_call(url.clone(), Some(&body), api_key, deadline, ctx)
        })
        .await?;
        parse_job(&doc)
    }

    /// `GET` of a job's polling URL (see [`poll_url`]), retried like chat. Its attempts
    /// name no model (a job id is all it has).
    pub async fn video_job(
        &self,
        api_key: &str,
        job_id: &str,
        polling_url: Option<&str>,
        deadline: Duration,
        policy: &RetryPolicy,
        attempts: &mut Vec<Attempt>,
    ) -> Result<VideoJobState, MediaError> {
        let ctx = ErrorContext { model: "", api_key };
        let url = poll_url(self.base_url(), job_id, polling_url);
        let doc = call_with_retries(policy, true, "", attempts, || {
            self.json_call(url.clone(), None, api_key, deadline, ctx)
        })
        .await
        .map_err(|mut e| {
            if e.status == Some(404) {
                e.message = format!(
                    "OpenRouter does not know video job {job_id} (404) — it may have expired"
                );
            }
            e
        })?;
        parse_job(&doc)
    }

    /// `GET /videos/models`: the video model catalog.
    pub async fn video_models(&self, api_key: &str) -> Result<Value, UpstreamError> {
        self.get_json(api_key, "videos/models", &[]).await
    }

    /// Downloads a completed job's video: `unsigned_urls[0]`, else
    /// `/videos/{id}/content?index=0`, through [`OpenRouterClient::download`].
    pub async fn download_video(
        &self,
        api_key: &str,
        job: &VideoJobState,
        max_bytes: usize,
        deadline: Duration,
    ) -> Result<Downloaded, MediaError> {
        let url = match job.unsigned_urls.first() {
            Some(u) => Url::parse(u).map_err(|_| {
                MediaError::Malformed(format!("video job {} has an invalid download URL", job.id))
            })?,
            None => content_url(self.base_url(), &job.id),
        };
        let limits = FetchLimits {
            max_bytes,
            timeout: deadline,
            ..FetchLimits::default()
        };
        self.download(api_key, &url, limits).await
    }

    /// Downloads an image URL a model returned, through [`OpenRouterClient::download`].
    pub async fn fetch_image(
        &self,
        api_key: &str,
        url: &Url,
        limits: FetchLimits,
    ) -> Result<Downloaded, MediaError> {
        self.download(api_key, url, limits).await
    }

    /// The one way media URLs an upstream reply named are downloaded. A URL on the
    /// upstream's own origin (the configured base URL: trusted, it may be a local server)
    /// is fetched with the route's transport and key; every other URL, and every redirect
    /// that leaves the own origin, goes through the SSRF guard ([`fetch_public`]): public
    /// addresses only, every hop re-vetted, the connection pinned to the vetted address.
    async fn download(
        &self,
        api_key: &str,
        url: &Url,
        limits: FetchLimits,
    ) -> Result<Downloaded, MediaError> {
        if !self.is_own_origin(url) {
            return Ok(fetch_public(url, limits).await?);
        }
        let shown = display_url(url);
        let response = self
            .media_http()
            .get(url.clone())
            .timeout(limits.timeout)
            .bearer_auth(api_key)
            .headers(self.side_headers())
            .send()
            .await
            .map_err(|e| transport_error(&e, &shown))?;
        let status = response.status();
        if status.is_redirection() {
            // The media transport stopped at a redirect that leaves the own origin.
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| response.url().join(loc).ok())
                .ok_or_else(|| FetchError::Transport {
                    url: shown.clone(),
                    detail: format!("HTTP {} without a usable Location", status.as_u16()),
                })?;
            return Ok(fetch_public(&next, limits).await?);
        }
        if !status.is_success() {
            let ctx = ErrorContext { model: "", api_key };
            return Err(check_status(response, ctx)
                .await
                .err()
                .map(MediaError::from)
                .unwrap_or_else(|| MediaError::Malformed(format!("download of {shown} failed"))));
        }
        Ok(read_body(response, limits.max_bytes, &shown).await?)
    }

    fn media_endpoint(&self, path: &str, ctx: ErrorContext<'_>) -> Result<Url, UpstreamError> {
        endpoint(self.base_url(), path)
            .map_err(|e| UpstreamError::protocol(&format!("bad endpoint URL: {e}"), false, ctx))
    }

    /// One JSON request (POST with `body`, else GET) with the key and a deadline.
    async fn json_call(
        &self,
        url: Url,
        body: Option<&Value>,
        api_key: &str,
        deadline: Duration,
        ctx: ErrorContext<'_>,
    ) -> Result<Value, UpstreamError> {
        let request = match body {
            Some(b) => self.media_http().post(url).json(b),
            None => self.media_http().get(url),
        };
        let request = request
            .bearer_auth(api_key)
            .headers(self.side_headers())
            .timeout(deadline);
        send_for_json(request, MAX_JOB_DOCUMENT, ctx, "the video job").await
    }
}

//! Transport: the per-route reqwest client (timeouts, extra CA roots, host pins, proxy,
//! rustls) and the calls it makes. It only sends shaped bytes and hands responses to the
//! parsers; shaping lives in [`crate::shape`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_config::{Attribution, Route};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Certificate, Response};
use serde_json::Value;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::body::{self, BodyError, Overflow};
use crate::direct::{DirectTransport, SendFailure};
use crate::error::{DriverError, ErrorContext, UpstreamError};
use crate::response::parse_completion;
use crate::retry::parse_retry_after;
use crate::scrub::{scrub_outcome, DeltaScrubber};
use crate::shape;
use crate::sse::read_sse;
use crate::types::{ChatOutcome, ChatRequest, PassRequest, Protocol, StreamEvent};

/// Largest error body read (the rest is ignored).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest non-streaming body accepted (generated images arrive inline as data URLs).
pub(crate) const MAX_BODY: usize = 128 * 1024 * 1024;
/// Environment variable naming an extra CA bundle.
const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// The OpenRouter driver for one route. Cheap to clone.
#[derive(Clone)]
pub struct OpenRouterClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Chat client: `timeout_ms` is the read/idle timeout (streams stay open for long).
    pub(crate) http: reqwest::Client,
    /// Media client: no idle timeout (an image may take minutes before its first byte);
    /// each media call sets its own deadline. Redirects are capped.
    media_http: reqwest::Client,
    /// The transport of chat calls and the pass-through, unless the route needs reqwest
    /// (proxy, host pins).
    direct: Option<DirectTransport>,
    pub(crate) base_url: Url,
    /// The facade protocols' endpoints, by [`Protocol`] (chat, responses, messages,
    /// embeddings), resolved once.
    protocol_urls: [Url; 4],
    verified: bool,
    attribution: Attribution,
    /// Where the client's background work runs (reading off what a stream sends after
    /// its end, `passthrough::RawStream`): the owner's tracker, which it waits for.
    pub(crate) background: TaskTracker,
}

impl fmt::Debug for OpenRouterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenRouterClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("verified", &self.inner.verified)
            .finish_non_exhaustive()
    }
}

pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')))
}

/// Redirects a media download follows at most within the upstream's own origin (a redirect
/// leaving it goes through the SSRF guard, which has its own cap).
const MEDIA_MAX_REDIRECTS: usize = 3;

/// A client builder with the route's transport settings: TLS roots, host pins, proxy,
/// connect timeout.
fn transport_builder(route: &Route) -> Result<reqwest::ClientBuilder, DriverError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true);
    if route.connect_timeout_ms > 0 {
        builder = builder.connect_timeout(Duration::from_millis(route.connect_timeout_ms));
    }
    for path in &extra_root_paths(route) {
        for cert in load_pem_roots(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    for pin in &route.network.resolve {
        builder = builder.resolve(&pin.host, pin.socket_addr());
    }
    if let Some(proxy) = &route.network.proxy {
        let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| DriverError::Proxy {
            route: route.id.clone(),
            detail: e.to_string(),
        })?;
        builder = builder.proxy(proxy);
    }
    Ok(builder)
}

/// The PEM files trusted besides the built-in roots: `network.ca_file`, then
/// `SSL_CERT_FILE`.
fn extra_root_paths(route: &Route) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    if let Some(path) = &route.network.ca_file {
        paths.push(path.display().to_string());
    }
    if let Some(path) = std::env::var_os(SSL_CERT_FILE).filter(|p| !p.is_empty()) {
        paths.push(path.to_string_lossy().into_owned());
    }
    paths
}

fn load_pem_roots(path: &str) -> Result<Vec<Certificate>, DriverError> {
    let pem = std::fs::read(path).map_err(|source| DriverError::CaFileRead {
        path: path.to_owned(),
        source,
    })?;
    match Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(DriverError::CaFileInvalid {
            path: path.to_owned(),
        }),
    }
}

/// The media transport follows redirects only within the upstream's own origin; a
/// redirect anywhere else is handed back (as the 3xx response) so the download code can
/// send it through the SSRF guard (`media::fetch`).
fn own_origin_redirects(base_url: &Url) -> reqwest::redirect::Policy {
    let origin = base_url.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MEDIA_MAX_REDIRECTS {
            attempt.error(format!("more than {MEDIA_MAX_REDIRECTS} redirects"))
        } else if attempt.url().origin() == origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

impl OpenRouterClient {
    /// Builds the client for `route`: connect timeout, read/idle timeout (`timeout_ms`:
    /// the longest wait for the first byte and between bytes), extra roots from
    /// `network.ca_file` and `SSL_CERT_FILE`, host pins, proxy (else the environment's).
    /// A second client with the same transport but no idle timeout serves media calls.
    /// Its background work runs on a tracker of its own ([`Self::with_tasks`] to share one).
    pub fn new(route: &Route) -> Result<Self, DriverError> {
        Self::with_tasks(route, TaskTracker::new())
    }

    /// [`Self::new`], the background work on `background` (the daemon's tracker, which its
    /// shutdown waits for).
    pub fn with_tasks(route: &Route, background: TaskTracker) -> Result<Self, DriverError> {
        let build_err = |detail: String| DriverError::Build {
            route: route.id.clone(),
            detail,
        };
        let mut chat = transport_builder(route)?;
        if route.timeout_ms > 0 {
            chat = chat.read_timeout(Duration::from_millis(route.timeout_ms));
        }
        let http = chat.build().map_err(|e| build_err(error_chain(&e)))?;
        let base_url = route.effective_base_url();
        let media_http = transport_builder(route)?
            .redirect(own_origin_redirects(&base_url))
            .build()
            .map_err(|e| build_err(error_chain(&e)))?;
        let url_of =
            |p: Protocol| endpoint(&base_url, p.path()).map_err(|e| build_err(e.to_string()));
        let protocol_urls = [
            url_of(Protocol::Chat)?,
            url_of(Protocol::Responses)?,
            url_of(Protocol::Messages)?,
            url_of(Protocol::Embeddings)?,
        ];
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                media_http,
                direct: DirectTransport::for_route(
                    route,
                    &extra_root_paths(route),
                    &protocol_urls,
                )?,
                base_url,
                protocol_urls,
                verified: route.is_verified_openrouter(),
                attribution: route.attribution.clone(),
                background,
            }),
        })
    }

    /// Whether the route talks to OpenRouter itself (OpenRouter-only shaping applies).
    pub fn is_verified(&self) -> bool {
        self.inner.verified
    }

    /// The media transport (no idle timeout; callers set a deadline per request).
    pub(crate) fn media_http(&self) -> &reqwest::Client {
        &self.inner.media_http
    }

    /// Attribution headers for the non-chat endpoints (verified routes only).
    pub(crate) fn side_headers(&self) -> HeaderMap {
        header_map(shape::build_attribution_headers(
            self.inner.verified,
            &self.inner.attribution,
        ))
    }

    /// The normalised base URL (no trailing slash).
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// ONE chat completion attempt, no retries. Streaming replies call `on_event` per
    /// delta as it arrives. Dropping the future aborts the upstream request.
    pub async fn chat(
        &self,
        api_key: &str,
        req: &ChatRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<ChatOutcome, UpstreamError> {
        self.chat_via(None, api_key, req, on_event).await
    }

    /// One chat completion over the route's chat transport (`within: None`: the direct
    /// one when the route has it, see [`crate::direct`]), or over the given client with a
    /// whole-request deadline.
    pub(crate) async fn chat_via(
        &self,
        within: Option<(&reqwest::Client, Duration)>,
        api_key: &str,
        req: &ChatRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<ChatOutcome, UpstreamError> {
        let ctx = ErrorContext {
            model: &req.model,
            api_key,
        };
        // The shaped `Value` is a temporary: only the encoded bytes outlive this statement,
        // so a long stream does not keep the request's JSON tree alive.
        let body = shape::encode_body(req, self.inner.verified).map_err(|e| {
            UpstreamError::protocol(&format!("cannot encode the request ({e})"), false, ctx)
        })?;
        let headers = self.chat_headers(req);
        let response = self
            .send_protocol(within, api_key, Protocol::Chat, headers, body.into(), ctx)
            .await?;
        let generation_id = header_string(response.headers(), "x-generation-id");
        let cache_status = header_string(response.headers(), "x-openrouter-cache-status");
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        // The reply may carry the route's key back (an echoing or compromised upstream):
        // it never reaches history, events or the caller.
        let mut scrubber = DeltaScrubber::new(api_key);
        let read = async {
            if let (true, Some(id)) = (is_sse, &generation_id) {
                on_event(StreamEvent::Generation(id.clone()));
            }
            if is_sse {
                let result = {
                    let mut scrubbed = |event| {
                        if let Some(event) = scrubber.pass(event) {
                            on_event(event);
                        }
                    };
                    read_sse(
                        response.bytes_stream(),
                        ctx,
                        &mut scrubbed,
                        reqwest::Error::is_timeout,
                    )
                    .await
                };
                scrubber.finish().into_iter().for_each(&mut *on_event);
                result
            } else {
                let bytes = read_limited(response, MAX_BODY, ctx).await?;
                parse_completion(&bytes, ctx)
            }
        };
        let mut outcome = read.await.map_err(|mut e| {
            e.generation_id.clone_from(&generation_id);
            e
        })?;
        scrub_outcome(&mut outcome, api_key);
        if outcome.generation_id.is_none() {
            outcome.generation_id = generation_id;
        }
        outcome.cache_status = cache_status;
        Ok(outcome)
    }

    /// The extra headers of a chat request (attribution, cache), shaped for this route.
    pub(crate) fn chat_headers(&self, req: &ChatRequest) -> HeaderMap {
        let mut headers = header_map(shape::build_headers(
            req,
            self.inner.verified,
            &self.inner.attribution,
        ));
        if req.stream {
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    /// The headers of a Responses/Messages/embeddings request: attribution and response
    /// cache (verified routes only), the client's forwarded headers, content negotiation.
    pub(crate) fn pass_headers(&self, req: &PassRequest) -> HeaderMap {
        let mut pairs = Vec::new();
        if self.inner.verified {
            pairs = shape::build_attribution_headers(true, &self.inner.attribution);
            shape::push_cache_headers(&req.params, &mut pairs);
        }
        pairs.extend(req.headers.iter().cloned());
        let mut headers = header_map(pairs);
        if req.stream {
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    /// Sends an already-encoded body to `protocol`'s endpoint and returns the response once
    /// its status is a success (any other status becomes its [`UpstreamError`]): over the
    /// route's direct transport when it has one, else its reqwest client, or (`within`)
    /// over the given client with a whole-request deadline.
    pub(crate) async fn send_protocol(
        &self,
        within: Option<(&reqwest::Client, Duration)>,
        api_key: &str,
        protocol: Protocol,
        headers: HeaderMap,
        body: bytes::Bytes,
        ctx: ErrorContext<'_>,
    ) -> Result<Response, UpstreamError> {
        let response = match (within, &self.inner.direct) {
            (None, Some(direct)) => direct
                .post(protocol, api_key, headers, body)
                .await
                .map_err(|e| direct_send_error(&e, ctx))?,
            (within, _) => {
                let http = within.map_or(&self.inner.http, |(http, _)| http);
                let mut request = http
                    .post(self.inner.protocol_urls[protocol as usize].clone())
                    .bearer_auth(api_key)
                    .headers(headers)
                    .body(body);
                if let Some((_, deadline)) = within {
                    request = request.timeout(deadline);
                }
                request.send().await.map_err(|e| send_error(&e, ctx))?
            }
        };
        check_status(response, ctx).await
    }

    /// `GET /models?output_modalities=all`: the whole JSON document.
    pub async fn list_models(&self, api_key: &str) -> Result<Value, UpstreamError> {
        self.get_json(api_key, "models", &[("output_modalities", "all")])
            .await
    }

    /// `GET /key`: the key's label, limits and usage.
    pub async fn key_info(&self, api_key: &str) -> Result<Value, UpstreamError> {
        self.get_json(api_key, "key", &[]).await
    }

    /// `GET /generation?id=`: billed cost and stats of one generation; `None` while
    /// OpenRouter does not know it yet (404).
    pub async fn generation(
        &self,
        api_key: &str,
        id: &str,
    ) -> Result<Option<Value>, UpstreamError> {
        match self.get_json(api_key, "generation", &[("id", id)]).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST {base}/{path}` with a JSON body; the JSON answer. `model` names the model in
    /// error messages.
    pub(crate) async fn post_json(
        &self,
        api_key: &str,
        path: &str,
        body: &Value,
        model: &str,
    ) -> Result<Value, UpstreamError> {
        let ctx = ErrorContext { model, api_key };
        let url = endpoint(&self.inner.base_url, path)
            .map_err(|e| UpstreamError::protocol(&format!("bad endpoint URL: {e}"), false, ctx))?;
        let mut request = self.inner.http.post(url).bearer_auth(api_key).json(body);
        for (name, value) in
            shape::build_attribution_headers(self.inner.verified, &self.inner.attribution)
        {
            request = request.header(name, value);
        }
        send_for_json(request, MAX_BODY, ctx, path).await
    }

    pub(crate) async fn get_json(
        &self,
        api_key: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, UpstreamError> {
        let ctx = ErrorContext { model: "", api_key };
        let mut url = endpoint(&self.inner.base_url, path)
            .map_err(|e| UpstreamError::protocol(&format!("bad endpoint URL: {e}"), false, ctx))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.inner.http.get(url).bearer_auth(api_key);
        send_for_json(request, MAX_BODY, ctx, path).await
    }
}

/// Header pairs from the shaping functions as a map; a value that is not a valid header
/// is skipped with a warning.
pub(crate) fn header_map(pairs: Vec<(String, String)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.insert(n, v);
            }
            _ => tracing::warn!(header = %name, "skipping a header with an invalid value"),
        }
    }
    headers
}

/// Sends `request` and reads its JSON answer (at most `limit` bytes); `what` names the
/// endpoint in a parse error.
pub(crate) async fn send_for_json(
    request: reqwest::RequestBuilder,
    limit: usize,
    ctx: ErrorContext<'_>,
    what: &str,
) -> Result<Value, UpstreamError> {
    let response = request.send().await.map_err(|e| send_error(&e, ctx))?;
    let response = check_status(response, ctx).await?;
    let bytes = read_limited(response, limit, ctx).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        UpstreamError::protocol(&format!("{what} body is not valid JSON ({e})"), false, ctx)
    })
}

pub(crate) fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `e` and its sources, joined with `: ` (reqwest's own Display is terse).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A failure before any response arrived.
pub(crate) fn send_error(e: &reqwest::Error, ctx: ErrorContext<'_>) -> UpstreamError {
    if e.is_timeout() {
        UpstreamError::timeout(false, ctx, "no response")
    } else {
        UpstreamError::connect(&error_chain(e), ctx)
    }
}

/// A failure of the direct transport before any response arrived.
fn direct_send_error(e: &SendFailure, ctx: ErrorContext<'_>) -> UpstreamError {
    match e {
        SendFailure::TimedOut => UpstreamError::timeout(false, ctx, "no response"),
        SendFailure::Failed(e) => UpstreamError::connect(&error_chain(e.as_ref()), ctx),
        SendFailure::BadRequest(detail) => UpstreamError::connect(detail, ctx),
    }
}

/// Turns a non-success response into its [`UpstreamError`].
pub(crate) async fn check_status(
    response: Response,
    ctx: ErrorContext<'_>,
) -> Result<Response, UpstreamError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    // The body only adds detail; a failure to read it must not hide the status.
    let generation_id = header_string(response.headers(), "x-generation-id");
    let body = read_limited(response, MAX_ERROR_BODY, ctx)
        .await
        .unwrap_or_default();
    let mut error = UpstreamError::from_http(status.as_u16(), retry_after, &body, ctx);
    error.generation_id = generation_id;
    Err(error)
}

/// Reads a whole body, at most `limit` bytes (more is an error unless this is an error
/// body, which is simply cut).
pub(crate) async fn read_limited(
    response: Response,
    limit: usize,
    ctx: ErrorContext<'_>,
) -> Result<Vec<u8>, UpstreamError> {
    let overflow = if limit == MAX_ERROR_BODY {
        Overflow::Cut
    } else {
        Overflow::Fail
    };
    let success = response.status().is_success();
    body::collect(response, limit, overflow)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => {
                UpstreamError::protocol(&format!("response body exceeds {limit} bytes"), false, ctx)
            }
            BodyError::Read(e) if e.is_timeout() => {
                UpstreamError::timeout(false, ctx, "response body stalled")
            }
            // A reply that was under way (200) and broke off is a stream fault, as on
            // the streaming path; only a failure before any reply is a connect error.
            BodyError::Read(e) if success => UpstreamError::truncated(
                false,
                ctx,
                &format!("the body was cut off: {}", error_chain(&e)),
            ),
            BodyError::Read(e) => UpstreamError::connect(
                &format!(
                    "connection lost while reading the response: {}",
                    error_chain(&e)
                ),
                ctx,
            ),
        })
}

//! `application/problem+json` errors (RFC 9457) with a stable `code`, the only error shape
//! the control API answers with.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::{retry_after_secs, AccessError, EngineError, LimitKind, Remaining};
use ferry_types::{ProblemCode, ProblemDocument};
use serde::Serialize;

/// One problem document. `type` (`urn:ferry:problem:{code}`) and `title` (the HTTP reason
/// phrase) are derived when it is serialized.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid_selector`.
    pub code: ProblemCode,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// Whether retrying later may succeed.
    pub retryable: bool,
    /// The run concerned, when there is one.
    pub run_id: Option<String>,
    /// Extra response headers (`x-should-retry`, `Retry-After`, `x-ratelimit-*`).
    pub headers: Vec<(&'static str, String)>,
    /// Set when the failure is upstream's, after ferry's own retries: the wait upstream
    /// asked for (`Retry-After`), when it said. The facade then tells SDKs not to retry
    /// on their own (`x-should-retry: false`).
    pub upstream: Option<UpstreamFailure>,
}

/// What is known about an upstream failure that ferry gave up on.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpstreamFailure {
    /// Upstream's `Retry-After`, when it sent one.
    pub retry_after: Option<std::time::Duration>,
}

impl Problem {
    /// A problem with a status, code and detail.
    pub fn new(status: u16, code: ProblemCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
            retryable: false,
            run_id: None,
            headers: Vec::new(),
            upstream: None,
        }
    }

    /// Marks the problem retryable.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches a run id.
    pub fn with_run(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let doc = ProblemDocument {
            kind: ProblemDocument::type_of(self.code),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status,
            code: self.code,
            detail: self.detail.clone(),
            retryable: self.retryable,
            run_id: self.run_id.clone(),
        };
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        self.add_headers(&mut resp);
        resp
    }
}

/// OpenAI's error `type` for an HTTP status, so OpenAI clients raise the error class they
/// expect (`AuthenticationError`, `RateLimitError`, …); the stable ferry problem code
/// travels in `code`.
pub fn openai_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 => "service_unavailable_error",
        _ => "server_error",
    }
}

/// The OpenAI wire form of a [`Problem`].
#[derive(Serialize)]
struct OpenAiErrorDocument<'a> {
    error: OpenAiErrorBody<'a>,
}

#[derive(Serialize)]
struct OpenAiErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<&'a str>,
    code: &'static str,
}

impl Problem {
    /// The problem as OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn openai_body(&self) -> Vec<u8> {
        let doc = OpenAiErrorDocument {
            error: OpenAiErrorBody {
                message: &self.detail,
                kind: openai_error_type(self.status),
                param: None,
                code: self.code.as_str(),
            },
        };
        serde_json::to_vec(&doc).unwrap_or_default()
    }
}

/// Every error leaves in the one documented body of its path (part of the front door,
/// [`crate::front_door`]). axum's own
/// rejections (a query string or path that does not parse, a method the route lacks) are
/// plain text, and extractors shared with the control API answer problem+json even under
/// a facade; both are re-rendered in the path's shape (`facade::ErrorShape`). Other
/// headers (such as `Allow` on a 405) are kept.
pub(crate) async fn in_path_shape<F, Fut>(req: axum::extract::Request, inner: F) -> Response
where
    F: FnOnce(axum::extract::Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    // The URI is shared bytes: keeping it costs no copy of the path.
    let uri = req.uri().clone();
    let resp = inner(req).await;
    let path = uri.path();
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let content_type = resp.headers().get(header::CONTENT_TYPE);
    let plain = content_type.is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    let shape = crate::facade::ErrorShape::for_path(path);
    let foreign_problem = shape != crate::facade::ErrorShape::Problem
        && content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !plain && !foreign_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let problem = if foreign_problem {
        reparse(status.as_u16(), &bytes)
    } else {
        plain_problem(status.as_u16(), path, &bytes)
    };
    let mut out = shape.respond(problem);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A problem document read back (code, detail, retryable, run id).
fn reparse(status: u16, bytes: &[u8]) -> Problem {
    match serde_json::from_slice::<ProblemDocument>(bytes) {
        Ok(doc) => Problem {
            run_id: doc.run_id,
            ..Problem::new(status, doc.code, doc.detail).retryable(doc.retryable)
        },
        Err(e) => Problem::new(
            status,
            ProblemCode::RequestFailed,
            format!("the error body was not a problem document ({e})"),
        ),
    }
}

/// A problem for a plain-text (or empty) rejection of `path`.
fn plain_problem(status: u16, path: &str, bytes: &[u8]) -> Problem {
    let text = String::from_utf8_lossy(bytes).trim().to_owned();
    // A body that stopped arriving fails its extractor, whose rejection is a 400 that
    // carries the reason in its text.
    if status == 400 && text.contains(crate::body_deadline::STALLED) {
        return Problem::unreadable_body(400, ProblemCode::InvalidRequest, text);
    }
    let code = match status {
        400 => ProblemCode::InvalidRequest,
        405 => ProblemCode::MethodNotAllowed,
        413 => ProblemCode::BodyTooLarge,
        415 => ProblemCode::UnsupportedMediaType,
        422 => ProblemCode::InvalidBody,
        _ => ProblemCode::RequestFailed,
    };
    let detail = match (text.is_empty(), status) {
        (false, _) => text,
        (true, 405) => {
            format!("{path} does not take this method; see docs/api.md (or GET /v1/openapi.json)")
        }
        (true, _) => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_owned(),
    };
    Problem::new(status, code, detail)
}

impl Problem {
    /// A request body that could not be read or parsed (`detail` says why): a 408
    /// `body_timeout` when it stopped arriving ([`crate::body_deadline`]), else `status`
    /// with `code`.
    pub(crate) fn unreadable_body(status: u16, code: ProblemCode, detail: String) -> Problem {
        match detail.find(crate::body_deadline::STALLED) {
            Some(at) => Problem::new(408, ProblemCode::BodyTimeout, detail[at..].to_owned()),
            None => Problem::new(status, code, detail),
        }
    }

    /// Adds the problem's extra headers to a response of any shape.
    pub(crate) fn add_headers(&self, resp: &mut Response) {
        for (name, value) in &self.headers {
            if let Ok(v) = header::HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
    }
}

/// The headers of an access refusal: `x-should-retry: false` for 401/402/403; for a
/// rate limit, `Retry-After` and OpenAI's `x-ratelimit-{limit,remaining,reset}-{kind}`.
fn access_headers(e: &AccessError) -> Vec<(&'static str, String)> {
    let Some(l) = e.limited() else {
        return vec![("x-should-retry", "false".into())];
    };
    if l.too_large {
        return vec![("x-should-retry", "false".into())];
    }
    let secs = retry_after_secs(l.retry_after);
    let mut headers = vec![("retry-after", secs.to_string())];
    headers.extend(ratelimit_headers(&Remaining {
        kind: l.kind,
        limit: l.limit,
        remaining: l.remaining,
        reset: l.retry_after,
    }));
    headers.push(("x-should-retry", "true".into()));
    headers
}

/// OpenAI's `x-ratelimit-{limit,remaining,reset}-requests` header names.
static REQUEST_LIMIT_NAMES: [header::HeaderName; 3] = [
    header::HeaderName::from_static("x-ratelimit-limit-requests"),
    header::HeaderName::from_static("x-ratelimit-remaining-requests"),
    header::HeaderName::from_static("x-ratelimit-reset-requests"),
];

/// The same for tokens.
static TOKEN_LIMIT_NAMES: [header::HeaderName; 3] = [
    header::HeaderName::from_static("x-ratelimit-limit-tokens"),
    header::HeaderName::from_static("x-ratelimit-remaining-tokens"),
    header::HeaderName::from_static("x-ratelimit-reset-tokens"),
];

fn ratelimit_names(kind: LimitKind) -> &'static [header::HeaderName; 3] {
    match kind {
        LimitKind::Requests => &REQUEST_LIMIT_NAMES,
        LimitKind::Tokens => &TOKEN_LIMIT_NAMES,
    }
}

/// The reset in seconds with three decimals, as OpenAI writes it (`1.500s`): the time
/// rounded to the nearest millisecond, written digit by digit (an admitted keyed request
/// writes two of these; formatting each as a float cost ~600 instructions).
fn reset_text(r: &Remaining) -> String {
    // In u64 (a u128 division is a library call): a limit's reset is at most a minute.
    let nanos = u64::try_from(r.reset.as_nanos()).unwrap_or(u64::MAX - 500_000);
    let millis = (nanos + 500_000) / 1_000_000;
    let mut text = String::with_capacity(16);
    push_digits(&mut text, millis / 1000, 1);
    text.push('.');
    push_digits(&mut text, millis % 1000, 3);
    text.push('s');
    text
}

/// Writes `n` in decimal, left-padded with zeros to at least `width` digits.
fn push_digits(text: &mut String, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let (mut n, mut at) = (n, digits.len());
    while n > 0 || digits.len() - at < width {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    text.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for one limit, as text
/// (a refusal's headers).
pub(crate) fn ratelimit_headers(r: &Remaining) -> [(&'static str, String); 3] {
    let [limit, remaining, reset] = ratelimit_names(r.kind);
    [
        (limit.as_str(), r.limit.to_string()),
        (remaining.as_str(), r.remaining.to_string()),
        (reset.as_str(), reset_text(r)),
    ]
}

/// Adds the same headers to an admitted request's response: prebuilt names (no parsing
/// per request) and the counts written straight into their values.
pub(crate) fn insert_ratelimit_headers(headers: &mut header::HeaderMap, r: &Remaining) {
    let [limit, remaining, reset] = ratelimit_names(r.kind);
    headers.insert(limit.clone(), header::HeaderValue::from(r.limit));
    headers.insert(remaining.clone(), header::HeaderValue::from(r.remaining));
    if let Ok(v) = header::HeaderValue::try_from(reset_text(r)) {
        headers.insert(reset.clone(), v);
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        if matches!(
            e,
            EngineError::Store(_) | EngineError::Internal(_) | EngineError::Asset(_)
        ) && e.status() >= 500
        {
            tracing::error!(error = %e, "request failed");
        }
        let upstream = match &e {
            EngineError::Upstream(u) => Some(UpstreamFailure {
                retry_after: u.retry_after,
            }),
            _ => None,
        };
        let mut problem =
            Problem::new(e.status(), e.problem_code(), e.client_message()).retryable(e.retryable());
        problem.upstream = upstream;
        if let EngineError::Access(a) = &e {
            problem.headers = access_headers(a);
            problem.retryable = a.limited().is_some_and(|l| !l.too_large);
        }
        problem
    }
}

/// Handler result type.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admitted_requests_ratelimit_headers_read_as_a_refusals() {
        for kind in [LimitKind::Requests, LimitKind::Tokens] {
            let r = Remaining {
                kind,
                limit: 60,
                remaining: 59,
                reset: std::time::Duration::from_micros(1_499_600),
            };
            let mut headers = header::HeaderMap::new();
            insert_ratelimit_headers(&mut headers, &r);
            let text = ratelimit_headers(&r);
            assert_eq!(headers.len(), 3);
            for (name, value) in text {
                assert_eq!(headers[name].to_str().unwrap(), value, "{name}");
            }
            assert_eq!(text_of(&headers, kind, "reset"), "1.500s");
            assert_eq!(text_of(&headers, kind, "remaining"), "59");
        }
    }

    #[test]
    fn a_reset_reads_in_seconds_to_the_millisecond() {
        let text = |micros| {
            reset_text(&Remaining {
                kind: LimitKind::Requests,
                limit: 1,
                remaining: 0,
                reset: std::time::Duration::from_micros(micros),
            })
        };
        assert_eq!(text(0), "0.000s");
        assert_eq!(text(400), "0.000s");
        assert_eq!(text(500), "0.001s");
        assert_eq!(text(59_999), "0.060s");
        assert_eq!(text(1_499_600), "1.500s");
        assert_eq!(text(61_250_000), "61.250s");
        assert_eq!(text(86_400_000_000), "86400.000s");
    }

    fn text_of<'h>(headers: &'h header::HeaderMap, kind: LimitKind, part: &str) -> &'h str {
        let kind = match kind {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
        };
        headers[format!("x-ratelimit-{part}-{kind}").as_str()]
            .to_str()
            .unwrap()
    }

    #[test]
    fn openai_body_has_message_type_and_code() {
        let p = Problem::new(429, ProblemCode::UpstreamRateLimited, "slow down");
        let v: serde_json::Value = serde_json::from_slice(&p.openai_body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": "upstream_rate_limited"}})
        );
        assert_eq!(openai_error_type(502), "server_error");
        assert_eq!(openai_error_type(400), "invalid_request_error");
        assert_eq!(openai_error_type(401), "authentication_error");
    }

    #[tokio::test]
    async fn errors_leave_in_the_shape_of_their_path() {
        use axum::routing::get;
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        #[derive(serde::Deserialize)]
        struct Q {
            #[allow(dead_code)]
            n: u32,
        }
        let app = axum::Router::new()
            .route(
                "/openai/v1/x",
                get(|| async { Problem::new(400, ProblemCode::InvalidBody, "no").into_response() }),
            )
            .route("/v1/q", get(|_: axum::extract::Query<Q>| async { "ok" }))
            .layer(axum::middleware::from_fn(
                |req: axum::extract::Request, next: axum::middleware::Next| {
                    in_path_shape(req, |req| next.run(req))
                },
            ));
        let call = |uri: &'static str| {
            let app = app.clone();
            async move {
                let resp = app
                    .oneshot(
                        axum::http::Request::get(uri)
                            .body(axum::body::Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                let ct = resp.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                (
                    ct,
                    serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                )
            }
        };
        let (ct, body) = call("/openai/v1/x").await;
        assert_eq!(ct, "application/json");
        assert_eq!(body["error"]["code"], "invalid_body");
        let (ct, body) = call("/v1/q?n=x").await;
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["code"], "invalid_request");
        assert!(body["detail"].as_str().unwrap().contains("n"), "{body}");
    }
}

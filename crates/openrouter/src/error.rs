//! Upstream failures as types: classification of OpenRouter's HTTP statuses, error bodies,
//! mid-stream error chunks and transport failures into [`UpstreamError`], with stable
//! problem codes, retry/fallback decisions and actionable, redacted messages.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::redact::{redact_json, redact_text};

/// What went wrong upstream, coarse enough to decide retries, fallbacks and the HTTP
/// status ferry answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamErrorKind {
    /// 401: key rejected.
    Unauthorized,
    /// 402 (or a 403 "key limit exceeded"): billing.
    InsufficientCredits,
    /// 403: moderation, guardrail or permission.
    Forbidden,
    /// 404: model or endpoint not found.
    ModelNotFound,
    /// 408, 504, 524, or a read/idle timeout.
    Timeout,
    /// 429.
    RateLimited,
    /// 500, 502, 503, 529 (and other 5xx).
    Unavailable,
    /// 400, 422.
    BadRequest,
    /// 413.
    TooLarge,
    /// Connection failed or was reset before a response arrived.
    Connect,
    /// A mid-stream error chunk, or a stream that was cut off.
    Stream,
    /// A body that could not be parsed.
    Protocol,
    /// HTTP 200 carrying `choices[].error`.
    ChoiceError,
    /// Anything else.
    Other,
    /// The provider has no such call (a test double that implements only what it uses).
    Unsupported,
}

/// One failed upstream call. `message` is actionable and redacted (never contains the key).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    pub kind: UpstreamErrorKind,
    /// HTTP status of the upstream response, when there was one.
    pub status: Option<u16>,
    pub message: String,
    /// How long upstream asked us to wait (`Retry-After`), when it said.
    pub retry_after: Option<Duration>,
    /// Whether any stream event had already been emitted when this failed.
    pub output_started: bool,
    /// `error.code` from the body, as text (it can be an integer or a string).
    pub upstream_code: Option<String>,
    /// `error.metadata` from the body, redacted.
    pub metadata: Option<Value>,
    /// OpenRouter's generation id (`X-Generation-Id`), when the failed response had one.
    pub generation_id: Option<String>,
}

/// Failure to build an [`crate::OpenRouterClient`] from a route's transport settings.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot read CA file {path}: {source}")]
    CaFileRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("CA file {path} holds no usable PEM certificate")]
    CaFileInvalid { path: String },
    #[error("invalid proxy URL for route {route}: {detail}")]
    Proxy { route: String, detail: String },
    #[error("cannot build the HTTP client for route {route}: {detail}")]
    Build { route: String, detail: String },
}

/// What an error message may mention about the request that failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext<'a> {
    pub model: &'a str,
    pub api_key: &'a str,
}

/// The parts of an OpenRouter error object (`{"code","message","metadata"}`).
#[derive(Debug, Default)]
struct ErrorObject {
    code: Option<String>,
    message: Option<String>,
    metadata: Option<Value>,
    availability_retry_after: Option<Duration>,
}

impl ErrorObject {
    fn from_value(error: &Value, ctx: ErrorContext<'_>) -> Self {
        let code = match error.get("code") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map(|m| redact_text(m.trim(), ctx.api_key))
            .filter(|m| !m.is_empty());
        let metadata = error
            .get("metadata")
            .filter(|m| !m.is_null())
            .map(|m| redact_json(m, ctx.api_key));
        let availability_retry_after = error
            .get("availability")
            .and_then(|a| a.get("retry_after"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        Self {
            code: code.map(|c| redact_text(&c, ctx.api_key)),
            message,
            metadata,
            availability_retry_after,
        }
    }

    /// Parses an HTTP error body: OpenRouter's JSON shape, or plain text.
    fn from_body(body: &[u8], ctx: ErrorContext<'_>) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => match v.get("error") {
                Some(err @ Value::Object(_)) => Self::from_value(err, ctx),
                Some(Value::String(s)) => Self {
                    message: Some(redact_text(s, ctx.api_key)).filter(|m| !m.is_empty()),
                    ..Self::default()
                },
                _ => Self::default(),
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                Self {
                    message: (!text.is_empty()).then(|| redact_text(text, ctx.api_key)),
                    ..Self::default()
                }
            }
        }
    }

    fn says_key_limit(&self) -> bool {
        self.message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("key limit") || m.contains("limit exceeded")
        })
    }
}

/// Maps an HTTP status to a kind.
pub(crate) fn kind_for_status(status: u16) -> UpstreamErrorKind {
    use UpstreamErrorKind::*;
    match status {
        400 | 422 => BadRequest,
        401 => Unauthorized,
        402 => InsufficientCredits,
        403 => Forbidden,
        404 => ModelNotFound,
        408 | 504 | 524 => Timeout,
        413 => TooLarge,
        429 => RateLimited,
        500..=599 => Unavailable,
        _ => Other,
    }
}

/// `" for model X"`, or nothing when the call names no model.
fn for_model(ctx: ErrorContext<'_>) -> String {
    if ctx.model.is_empty() {
        String::new()
    } else {
        format!(" for model {}", ctx.model)
    }
}

fn detail(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl UpstreamError {
    /// The answer of a [`crate::Provider`] call the provider does not offer (`call` names
    /// it, e.g. "speech"): never retried, never advances a fallback chain.
    pub fn unsupported(call: &str) -> Self {
        Self::new(
            UpstreamErrorKind::Unsupported,
            format!("this provider does not support {call}; route the call to an OpenRouter route, or implement it in the provider"),
        )
    }

    pub(crate) fn new(kind: UpstreamErrorKind, message: String) -> Self {
        Self {
            kind,
            status: None,
            message,
            retry_after: None,
            output_started: false,
            upstream_code: None,
            metadata: None,
            generation_id: None,
        }
    }

    /// The error an upstream reply with `status` and `body` means for a call to `model`
    /// (what the transport builds; in-memory providers answer with it too).
    pub fn from_reply(status: u16, body: &[u8], model: &str) -> Self {
        Self::from_http(status, None, body, ErrorContext { model, api_key: "" })
    }

    /// Builds the error for a non-success HTTP response.
    pub(crate) fn from_http(
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
        ctx: ErrorContext<'_>,
    ) -> Self {
        let obj = ErrorObject::from_body(body, ctx);
        let mut kind = kind_for_status(status);
        if kind == UpstreamErrorKind::Forbidden && obj.says_key_limit() {
            kind = UpstreamErrorKind::InsufficientCredits;
        }
        let d = detail(&obj.message);
        let model = ctx.model;
        let on_model = for_model(ctx);
        let message = match (kind, status) {
            (UpstreamErrorKind::Unauthorized, _) => format!(
                "OpenRouter rejected the API key ({status}){d} — check the secret with `ferry secrets list` and replace it with `ferry secrets set REF --provider openrouter --from-env OPENROUTER_API_KEY`"
            ),
            (UpstreamErrorKind::InsufficientCredits, 402) => format!(
                "OpenRouter reports insufficient credits (402){d} — add credits at https://openrouter.ai/settings/credits or pick a cheaper model; not retried"
            ),
            (UpstreamErrorKind::InsufficientCredits, _) => format!(
                "OpenRouter reports the API key's spending limit is exhausted ({status}){d} — raise the key's limit at https://openrouter.ai/settings/keys, add credits, or use another key; not retried"
            ),
            (UpstreamErrorKind::Forbidden, _) => format!(
                "OpenRouter refused the request{on_model} ({status}){d} — the input was flagged by moderation or the key may not use this model; not retried"
            ),
            (UpstreamErrorKind::ModelNotFound, _) if model.is_empty() => {
                format!("OpenRouter endpoint not found ({status}){d} — check the route's base_url")
            }
            (UpstreamErrorKind::ModelNotFound, _) => format!(
                "model {model} not found on OpenRouter ({status}){d} — check the model id; list models with `ferry models list`"
            ),
            (UpstreamErrorKind::Timeout, _) => {
                format!("OpenRouter timed out{on_model} ({status}){d}")
            }
            (UpstreamErrorKind::TooLarge, _) => format!(
                "request too large for OpenRouter ({status}){d} — shorten the conversation or send smaller attachments"
            ),
            (UpstreamErrorKind::RateLimited, _) => {
                format!("rate limited by OpenRouter ({status}){on_model}{d}")
            }
            (UpstreamErrorKind::Unavailable, 503) => format!(
                "no OpenRouter provider is available{on_model} (503){d} — try later, another model, or relax the route's provider routing"
            ),
            (UpstreamErrorKind::Unavailable, 529) => format!(
                "the provider is overloaded{on_model} (529){d} — try later or another model"
            ),
            (UpstreamErrorKind::Unavailable, 502) => format!(
                "the model is down or returned an invalid response{on_model} (502){d}"
            ),
            (UpstreamErrorKind::Unavailable, _) => {
                format!("OpenRouter failed with an internal error ({status}){d}")
            }
            (UpstreamErrorKind::BadRequest, _) => {
                format!("OpenRouter rejected the request as invalid ({status}){d}")
            }
            _ => format!("OpenRouter answered HTTP {status}{d}"),
        };
        Self {
            kind,
            status: Some(status),
            message,
            retry_after: retry_after.or(obj.availability_retry_after),
            output_started: false,
            upstream_code: obj.code,
            metadata: obj.metadata,
            generation_id: None,
        }
    }

    /// A chunk with a top-level `error` object in the middle of a stream (HTTP 200).
    pub(crate) fn mid_stream(error: &Value, output_started: bool, ctx: ErrorContext<'_>) -> Self {
        Self::from_error_object(
            UpstreamErrorKind::Stream,
            "OpenRouter reported an error mid-stream",
            error,
            output_started,
            ctx,
        )
    }

    /// A `choices[].error` object in an HTTP 200 response or chunk.
    pub(crate) fn choice_error(error: &Value, output_started: bool, ctx: ErrorContext<'_>) -> Self {
        Self::from_error_object(
            UpstreamErrorKind::ChoiceError,
            "the provider failed",
            error,
            output_started,
            ctx,
        )
    }

    /// An error object that arrived inside an HTTP 200 body: `what` for the model, the
    /// upstream code, and the (redacted) upstream message.
    fn from_error_object(
        kind: UpstreamErrorKind,
        what: &str,
        error: &Value,
        output_started: bool,
        ctx: ErrorContext<'_>,
    ) -> Self {
        let obj = ErrorObject::from_value(error, ctx);
        let code = obj
            .code
            .as_deref()
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        let d = detail(&obj.message);
        let mut e = Self::new(kind, format!("{what}{}{code}{d}", for_model(ctx)));
        e.output_started = output_started;
        e.upstream_code = obj.code;
        e.metadata = obj.metadata;
        e
    }

    /// A stream that ended without `[DONE]` and without a finish reason.
    pub(crate) fn truncated(output_started: bool, ctx: ErrorContext<'_>, why: &str) -> Self {
        let mut e = Self::new(
            UpstreamErrorKind::Stream,
            format!(
                "stream truncated: the reply{} ended early ({why})",
                for_model(ctx)
            ),
        );
        e.output_started = output_started;
        e
    }

    /// A body or chunk that could not be understood.
    pub(crate) fn protocol(detail: &str, output_started: bool, ctx: ErrorContext<'_>) -> Self {
        let mut e = Self::new(
            UpstreamErrorKind::Protocol,
            format!(
                "OpenRouter sent a malformed response{}: {}",
                for_model(ctx),
                redact_text(detail, ctx.api_key)
            ),
        );
        e.output_started = output_started;
        e
    }

    /// The upstream did not answer (or went silent) within the route's timeout.
    pub(crate) fn timeout(output_started: bool, ctx: ErrorContext<'_>, what: &str) -> Self {
        let mut e = Self::new(
            UpstreamErrorKind::Timeout,
            format!(
                "timed out waiting for OpenRouter ({what}){} — raise the route's timeout_ms if the model is slow",
                for_model(ctx)
            ),
        );
        e.output_started = output_started;
        e
    }

    /// The connection could not be made or was reset before a response.
    pub(crate) fn connect(detail: &str, ctx: ErrorContext<'_>) -> Self {
        Self::new(
            UpstreamErrorKind::Connect,
            format!(
                "could not reach OpenRouter: {} — check network, proxy (HTTPS_PROXY / route network.proxy) and base_url",
                redact_text(detail, ctx.api_key)
            ),
        )
    }

    /// Appends how many same-model retries were made before giving up.
    pub(crate) fn note_retries(&mut self, retries: u32) {
        if retries > 0 {
            let times = if retries == 1 { "time" } else { "times" };
            self.message = format!("{}; retried {retries} {times}", self.message);
        }
    }

    /// Appends an explanatory note to the message.
    pub(crate) fn note(&mut self, note: &str) {
        self.message = format!("{} — {note}", self.message);
    }

    /// Stable problem code.
    pub fn code(&self) -> &'static str {
        use UpstreamErrorKind::*;
        match self.kind {
            Unauthorized => "upstream_unauthorized",
            InsufficientCredits => "upstream_insufficient_credits",
            Forbidden => "upstream_forbidden",
            ModelNotFound => "model_not_found",
            Timeout => "upstream_timeout",
            RateLimited => "upstream_rate_limited",
            Unavailable => "upstream_unavailable",
            BadRequest => "upstream_bad_request",
            TooLarge => "upstream_payload_too_large",
            Connect => "upstream_connect_failed",
            Stream => "upstream_stream_error",
            Protocol => "upstream_protocol_error",
            ChoiceError | Other | Unsupported => "upstream_error",
        }
    }

    /// Whether the same model may be tried again: 429, 5xx, timeouts, connect errors —
    /// and only while no output has reached the client.
    pub fn is_retryable(&self) -> bool {
        use UpstreamErrorKind::*;
        !self.output_started && matches!(self.kind, RateLimited | Unavailable | Timeout | Connect)
    }

    /// Whether sending the same request again later may succeed (transient trouble),
    /// regardless of whether this call could still retry.
    pub fn is_transient(&self) -> bool {
        use UpstreamErrorKind::*;
        matches!(
            self.kind,
            RateLimited | Unavailable | Timeout | Connect | Stream | ChoiceError
        )
    }

    /// Whether the next model of the fallback chain should be tried.
    pub fn advances_fallback(&self) -> bool {
        use UpstreamErrorKind::*;
        !self.output_started
            && matches!(
                self.kind,
                RateLimited | Unavailable | Timeout | Connect | Stream | ChoiceError
            )
    }

    /// HTTP status ferry answers with for this failure.
    pub fn problem_status(&self) -> u16 {
        use UpstreamErrorKind::*;
        match self.kind {
            Unauthorized => 502,
            InsufficientCredits => 402,
            Forbidden => 403,
            ModelNotFound => 404,
            Timeout => 504,
            RateLimited => 429,
            Unavailable if self.status == Some(503) => 503,
            Unavailable => 502,
            BadRequest => 400,
            TooLarge => 413,
            Connect | Stream | Protocol | ChoiceError | Other | Unsupported => 502,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "openai/gpt-5.4-mini",
        api_key: "sk-or-v1-secretsecret",
    };

    fn http(status: u16, message: &str) -> UpstreamError {
        let body = json!({"error": {"code": status, "message": message}}).to_string();
        UpstreamError::from_http(status, None, body.as_bytes(), CTX)
    }

    #[test]
    fn every_status_maps_to_kind_code_and_problem_status() {
        use UpstreamErrorKind::*;
        let table: &[(u16, UpstreamErrorKind, &str, u16, bool, bool)] = &[
            (400, BadRequest, "upstream_bad_request", 400, false, false),
            (
                401,
                Unauthorized,
                "upstream_unauthorized",
                502,
                false,
                false,
            ),
            (
                402,
                InsufficientCredits,
                "upstream_insufficient_credits",
                402,
                false,
                false,
            ),
            (403, Forbidden, "upstream_forbidden", 403, false, false),
            (404, ModelNotFound, "model_not_found", 404, false, false),
            (408, Timeout, "upstream_timeout", 504, true, true),
            (
                413,
                TooLarge,
                "upstream_payload_too_large",
                413,
                false,
                false,
            ),
            (422, BadRequest, "upstream_bad_request", 400, false, false),
            (429, RateLimited, "upstream_rate_limited", 429, true, true),
            (500, Unavailable, "upstream_unavailable", 502, true, true),
            (502, Unavailable, "upstream_unavailable", 502, true, true),
            (503, Unavailable, "upstream_unavailable", 503, true, true),
            (524, Timeout, "upstream_timeout", 504, true, true),
            (529, Unavailable, "upstream_unavailable", 502, true, true),
            (418, Other, "upstream_error", 502, false, false),
        ];
        for &(status, kind, code, problem, retry, fallback) in table {
            let e = http(status, "upstream says no");
            assert_eq!(e.kind, kind, "status {status}");
            assert_eq!(e.code(), code, "status {status}");
            assert_eq!(e.problem_status(), problem, "status {status}");
            assert_eq!(e.is_retryable(), retry, "status {status}");
            assert_eq!(e.advances_fallback(), fallback, "status {status}");
            assert_eq!(e.status, Some(status));
            assert_eq!(
                e.upstream_code.as_deref(),
                Some(status.to_string().as_str())
            );
            assert!(e.message.contains("upstream says no"), "{}", e.message);
            assert!(e.message.contains(&status.to_string()), "{}", e.message);
        }
    }

    #[test]
    fn messages_are_actionable() {
        assert!(http(401, "x")
            .message
            .contains("ferry secrets set REF --provider openrouter"));
        assert!(http(402, "x")
            .message
            .contains("https://openrouter.ai/settings/credits"));
        assert!(http(402, "x").message.contains("not retried"));
        let nf = http(404, "No endpoints found");
        assert!(nf.message.contains("model openai/gpt-5.4-mini not found"));
        assert!(nf.message.contains("ferry models list"));
        assert!(http(429, "slow down")
            .message
            .starts_with("rate limited by OpenRouter (429)"));
    }

    #[test]
    fn key_never_appears_in_message_or_metadata() {
        let body = json!({"error": {"code": 401, "message": "Key sk-or-v1-secretsecret is invalid",
            "metadata": {"raw": "{\"key\":\"sk-or-v1-secretsecret\"}"}}})
        .to_string();
        let e = UpstreamError::from_http(401, None, body.as_bytes(), CTX);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("secretsecret"), "{shown}");
        assert!(shown.contains("[REDACTED]"));
    }

    #[test]
    fn key_limit_403_is_billing() {
        let e = http(403, "Key limit exceeded");
        assert_eq!(e.kind, UpstreamErrorKind::InsufficientCredits);
        assert_eq!(e.code(), "upstream_insufficient_credits");
        assert!(!e.is_retryable() && !e.advances_fallback());
        let moderation = http(403, "Input flagged by moderation");
        assert_eq!(moderation.kind, UpstreamErrorKind::Forbidden);
    }

    #[test]
    fn missing_code_falls_back_to_status() {
        let body = json!({"error": {"message": "no capacity", "availability": {"retryable": true, "retry_after": 3}}}).to_string();
        let e = UpstreamError::from_http(503, None, body.as_bytes(), CTX);
        assert_eq!(e.kind, UpstreamErrorKind::Unavailable);
        assert_eq!(e.upstream_code, None);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let e = UpstreamError::from_http(503, Some(Duration::from_secs(7)), body.as_bytes(), CTX);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)), "header wins");
    }

    #[test]
    fn non_json_and_empty_bodies() {
        let e = UpstreamError::from_http(502, None, b"<html>Bad gateway</html>", CTX);
        assert_eq!(e.kind, UpstreamErrorKind::Unavailable);
        assert!(e.message.contains("<html>Bad gateway</html>"));
        let e = UpstreamError::from_http(500, None, b"", CTX);
        assert!(e.message.ends_with("(500)"), "{}", e.message);
    }

    #[test]
    fn mid_stream_codes_int_or_string() {
        let e =
            UpstreamError::mid_stream(&json!({"code": 502, "message": "provider died"}), true, CTX);
        assert_eq!(e.kind, UpstreamErrorKind::Stream);
        assert_eq!(e.upstream_code.as_deref(), Some("502"));
        assert!(e.message.contains("provider died"));
        assert!(!e.advances_fallback() && !e.is_retryable());
        let e = UpstreamError::mid_stream(
            &json!({"code": "server_error", "message": "boom"}),
            false,
            CTX,
        );
        assert_eq!(e.upstream_code.as_deref(), Some("server_error"));
        assert!(e.advances_fallback());
        assert_eq!(e.code(), "upstream_stream_error");
        assert_eq!(e.problem_status(), 502);
    }

    #[test]
    fn timeouts_and_connect_are_retryable_only_before_output() {
        let mut t = UpstreamError::timeout(false, CTX, "no first byte");
        assert!(t.is_retryable() && t.advances_fallback());
        assert_eq!(t.problem_status(), 504);
        t.output_started = true;
        assert!(!t.is_retryable() && !t.advances_fallback());
        let c = UpstreamError::connect("connection reset", CTX);
        assert!(c.is_retryable() && c.advances_fallback());
        assert_eq!(c.code(), "upstream_connect_failed");
        let p = UpstreamError::protocol("bad json", false, CTX);
        assert!(!p.is_retryable() && !p.advances_fallback());
        assert_eq!(p.code(), "upstream_protocol_error");
    }

    #[test]
    fn retries_note() {
        let mut e = http(429, "slow");
        e.note_retries(2);
        assert!(e.message.ends_with("retried 2 times"), "{}", e.message);
    }
}

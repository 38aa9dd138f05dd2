//! The wire dialects of the facade's client protocols: how a [`Problem`] is rendered for
//! each (OpenAI's `{"error": {message, type, param, code}}`, Anthropic's `{"type": "error",
//! "error": {type, message}}`), how a stream that broke after output ends (an OpenAI error
//! chunk and `[DONE]`, `response.failed`, Anthropic's `event: error`), and the retry
//! contract every facade error follows: a failure that is upstream's, after ferry's own
//! retries, carries `x-should-retry: false` (and `Retry-After` on 429/5xx), so SDKs do not
//! multiply the retries ferry already made.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferry_metrics::Api;
use ferry_openrouter::Protocol;
use serde::Serialize;

use crate::problem::{openai_error_type, Problem};

/// Path prefix of the OpenAI-compatible facade.
pub const OPENAI_PREFIX: &str = "/openai/";
/// Path prefix of the Anthropic-compatible facade.
pub const ANTHROPIC_PREFIX: &str = "/anthropic/";

/// Header naming ferry's stable problem code on facade errors (the bodies keep each
/// protocol's own shape).
pub const PROBLEM_CODE_HEADER: &str = "x-ferry-problem-code";

/// `Retry-After` when upstream did not say how long to wait, in seconds.
const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// The error body shape of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `application/problem+json` (the control API).
    Problem,
    /// OpenAI's error object.
    OpenAi,
    /// Anthropic's error object.
    Anthropic,
}

impl ErrorShape {
    /// The shape errors on `path` take.
    pub fn for_path(path: &str) -> ErrorShape {
        if path.starts_with(OPENAI_PREFIX) {
            ErrorShape::OpenAi
        } else if path.starts_with(ANTHROPIC_PREFIX) {
            ErrorShape::Anthropic
        } else {
            ErrorShape::Problem
        }
    }

    /// `problem` as a response of this shape, with the retry contract's headers.
    pub fn respond(self, problem: Problem) -> Response {
        match self {
            ErrorShape::Problem => problem.into_response(),
            ErrorShape::OpenAi | ErrorShape::Anthropic => {
                let status = StatusCode::from_u16(problem.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = if self == ErrorShape::OpenAi {
                    problem.openai_body()
                } else {
                    anthropic_body(&problem)
                };
                let mut resp =
                    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
                facade_error_headers(&problem, resp.headers_mut());
                problem.add_headers(&mut resp);
                resp
            }
        }
    }
}

/// The headers every facade error carries: the problem code, the run, and the retry
/// contract.
fn facade_error_headers(problem: &Problem, headers: &mut axum::http::HeaderMap) {
    headers.insert(
        PROBLEM_CODE_HEADER,
        HeaderValue::from_static(problem.code.as_str()),
    );
    if let Some(run_id) = problem
        .run_id
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        headers.insert("x-ferry-run-id", run_id);
    }
    let Some(upstream) = problem.upstream else {
        return;
    };
    headers.insert("x-should-retry", HeaderValue::from_static("false"));
    if problem.status == 429 || problem.status >= 500 {
        let secs = upstream
            .retry_after
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
            .max(1);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// Anthropic's error `type` for an HTTP status (what the Anthropic SDK and Claude Code
/// expect next to the status).
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

#[derive(Serialize)]
struct AnthropicError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: AnthropicErrorBody<'a>,
}

#[derive(Serialize)]
struct AnthropicErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// `{"type": "error", "error": {"type", "message"}}`.
pub fn anthropic_body(problem: &Problem) -> Vec<u8> {
    let doc = AnthropicError {
        kind: "error",
        error: AnthropicErrorBody {
            kind: anthropic_error_type(problem.status),
            message: &problem.detail,
        },
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// One facade endpoint's protocol: upstream protocol, metrics label, error shape and how
/// its streams end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/openai/v1/chat/completions`.
    Chat,
    /// `/openai/v1/responses`.
    Responses,
    /// `/openai/v1/embeddings`.
    Embeddings,
    /// `/anthropic/v1/messages`.
    Messages,
}

const DONE: &[u8] = b"data: [DONE]\n\n";

impl Dialect {
    /// The upstream protocol.
    pub fn protocol(self) -> Protocol {
        match self {
            Dialect::Chat => Protocol::Chat,
            Dialect::Responses => Protocol::Responses,
            Dialect::Embeddings => Protocol::Embeddings,
            Dialect::Messages => Protocol::Messages,
        }
    }

    /// The metrics label.
    pub fn api(self) -> Api {
        match self {
            Dialect::Chat => Api::OpenAi,
            Dialect::Responses => Api::Responses,
            Dialect::Embeddings => Api::Embeddings,
            Dialect::Messages => Api::Anthropic,
        }
    }

    /// The name recorded facade runs carry (`api` of the run's input and events).
    pub fn record_name(self) -> &'static str {
        match self {
            Dialect::Chat => "openai",
            Dialect::Responses => "openai.responses",
            Dialect::Embeddings => "openai.embeddings",
            Dialect::Messages => "anthropic.messages",
        }
    }

    /// The error shape.
    pub fn shape(self) -> ErrorShape {
        match self {
            Dialect::Messages => ErrorShape::Anthropic,
            _ => ErrorShape::OpenAi,
        }
    }

    /// `problem` as this endpoint's error response.
    pub fn respond(self, problem: Problem) -> Response {
        self.shape().respond(problem)
    }

    /// What ends a stream that broke after output started: the protocol's own error
    /// event (then `[DONE]` for chat).
    pub fn stream_error(self, problem: &Problem) -> Bytes {
        let mut out = Vec::with_capacity(256);
        match self {
            Dialect::Chat | Dialect::Embeddings => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&problem.openai_body());
                out.extend_from_slice(b"\n\n");
                out.extend_from_slice(DONE);
            }
            Dialect::Responses => {
                let event = serde_json::json!({
                    "type": "response.failed",
                    "response": {
                        "object": "response",
                        "status": "failed",
                        "error": {"code": responses_error_code(problem.status), "message": problem.detail},
                        "output": [],
                    },
                });
                out.extend_from_slice(b"event: response.failed\ndata: ");
                out.extend_from_slice(&serde_json::to_vec(&event).unwrap_or_default());
                out.extend_from_slice(b"\n\n");
            }
            Dialect::Messages => {
                out.extend_from_slice(b"event: error\ndata: ");
                out.extend_from_slice(&anthropic_body(problem));
                out.extend_from_slice(b"\n\n");
            }
        }
        Bytes::from(out)
    }

    /// What a stream that ended without its protocol's terminator gets appended (chat's
    /// `data: [DONE]`; the other protocols end with their last event).
    pub fn stream_end(self) -> Option<&'static [u8]> {
        match self {
            Dialect::Chat => Some(DONE),
            _ => None,
        }
    }
}

/// The Responses API's error `code` for a status (`server_error`, `rate_limit_exceeded`, …).
fn responses_error_code(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        400..=499 => openai_error_type(status),
        _ => "server_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::UpstreamFailure;
    use ferry_types::ProblemCode;
    use std::time::Duration;

    #[test]
    fn upstream_failures_carry_the_retry_contract() {
        let mut p = Problem::new(429, ProblemCode::UpstreamRateLimited, "slow down");
        p.upstream = Some(UpstreamFailure {
            retry_after: Some(Duration::from_millis(2500)),
        });
        for shape in [ErrorShape::OpenAi, ErrorShape::Anthropic] {
            let r = shape.respond(p.clone());
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers()["x-should-retry"], "false");
            assert_eq!(r.headers()["retry-after"], "3");
            assert_eq!(r.headers()[PROBLEM_CODE_HEADER], "upstream_rate_limited");
        }
        let local = Problem::new(400, ProblemCode::InvalidJson, "bad");
        let r = ErrorShape::OpenAi.respond(local);
        assert!(r.headers().get("x-should-retry").is_none());
    }

    #[test]
    fn anthropic_errors_have_anthropic_types() {
        let p = Problem::new(429, ProblemCode::UpstreamRateLimited, "slow down");
        let v: serde_json::Value = serde_json::from_slice(&anthropic_body(&p)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
        );
        assert_eq!(anthropic_error_type(529), "overloaded_error");
        assert_eq!(anthropic_error_type(400), "invalid_request_error");
        let tail = Dialect::Messages.stream_error(&p);
        assert!(tail.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        let tail = Dialect::Responses.stream_error(&p);
        assert!(tail.starts_with(b"event: response.failed\ndata: "));
    }
}

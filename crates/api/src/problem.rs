//! `application/problem+json` errors (RFC 9457) with a stable `code`, the only error shape
//! the control API answers with.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::EngineError;
use serde::Serialize;

/// One problem document. `type` (`urn:ferry:problem:{code}`) and `title` (the HTTP reason
/// phrase) are derived when it is serialized.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid_selector`.
    pub code: String,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// Whether retrying later may succeed.
    pub retryable: bool,
    /// The run concerned, when there is one.
    pub run_id: Option<String>,
}

/// The wire form of a [`Problem`].
#[derive(Serialize)]
struct ProblemDocument<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
}

impl Problem {
    /// A problem with a status, code and detail.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code: code.to_string(),
            detail: detail.into(),
            retryable: false,
            run_id: None,
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
            kind: format!("urn:ferry:problem:{}", self.code),
            title: status.canonical_reason().unwrap_or("Error"),
            status: self.status,
            code: &self.code,
            detail: &self.detail,
            retryable: self.retryable,
            run_id: self.run_id.as_deref(),
        };
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        if matches!(e, EngineError::Store(_) | EngineError::Internal(_)) {
            tracing::error!(error = %e, "request failed");
        }
        Problem::new(e.status(), e.code(), e.to_string()).retryable(e.retryable())
    }
}

/// Handler result type.
pub type ApiResult<T> = Result<T, Problem>;

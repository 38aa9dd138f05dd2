//! `application/problem+json` errors (RFC 9457) with a stable `code`, the only error shape
//! the control API answers with.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::EngineError;
use serde::Serialize;

/// One problem document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `urn:ferry:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary (the HTTP reason phrase).
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid_selector`.
    pub code: String,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// Whether retrying later may succeed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    /// The run concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl Problem {
    /// A problem with a status, code and detail.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Self {
        let title = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_string();
        Problem {
            kind: format!("urn:ferry:problem:{code}"),
            title,
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
        let body = serde_json::to_vec(&self).unwrap_or_default();
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

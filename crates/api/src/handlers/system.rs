//! Liveness, readiness, status and the 404 fallback.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 503 while draining.
pub async fn readyz(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    if s.engine.is_draining() {
        return Err(Problem::new(
            503,
            "draining",
            "ferry is shutting down and takes no new work",
        )
        .retryable(true));
    }
    Ok(Json(json!({"status": "ready"})))
}

/// `GET /v1/status`.
pub async fn status(State(s): State<AppState>) -> ApiResult<Json<ferry_engine::StatusView>> {
    Ok(Json(s.engine.status().await?))
}

/// Any unknown path.
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        404,
        "not_found",
        format!(
            "no such endpoint: {}; see docs/api.md for the API",
            uri.path()
        ),
    )
}

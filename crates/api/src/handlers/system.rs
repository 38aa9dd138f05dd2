//! Liveness, readiness, status, metrics, the OpenAPI document and the 404 fallback.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ferry_types::{Health, HealthStatus, ProblemCode, StatusView};

use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// `GET /readyz`: 503 while draining.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, description = "Ready", body = Health),
              (status = 503, description = "Draining (problem+json)")))]
pub async fn readyz(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    if s.engine.is_draining() {
        return Err(Problem::new(
            503,
            ProblemCode::Draining,
            "ferry is shutting down and takes no new work",
        )
        .retryable(true));
    }
    Ok(Json(Health {
        status: HealthStatus::Ready,
    }))
}

/// `GET /v1/status`.
#[utoipa::path(get, path = "/v1/status", tag = "system",
    responses((status = 200, description = "Version, uptime, routes with readiness, counts, storage", body = StatusView)))]
pub async fn status(State(s): State<AppState>) -> ApiResult<Json<StatusView>> {
    Ok(Json(s.engine.status().await?))
}

/// `GET /metrics`: Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Requests by route/model/status, upstream and added latency histograms, tokens, cost, active runs", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    let text = s.engine.metrics().render(s.engine.live_count());
    ([(header::CONTENT_TYPE, ferry_metrics::CONTENT_TYPE)], text).into_response()
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = ferry_types::ApiDocument)))]
pub async fn openapi_json(State(s): State<AppState>) -> Response {
    let document = s
        .openapi
        .get_or_init(|| async {
            // Walking every route's description takes a few ms: not on a worker.
            tokio::task::spawn_blocking(|| {
                Bytes::from(
                    crate::openapi()
                        .to_pretty_json()
                        .unwrap_or_else(|_| "{}".into()),
                )
            })
            .await
            .unwrap_or_else(|_| Bytes::from_static(b"{}"))
        })
        .await;
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.clone(),
    )
        .into_response()
}

/// Any unknown path (OpenAI-style under `/openai/`).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let problem = Problem::new(
        404,
        ProblemCode::NotFound,
        format!(
            "no such endpoint: {}; see docs/api.md (or GET /v1/openapi.json) for the API",
            uri.path()
        ),
    );
    crate::facade::ErrorShape::for_path(uri.path()).respond(problem)
}

//! Runs: show, events (SSE with replay) and cancel.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::problem::ApiResult;
use crate::sse::{last_event_id, sse_response};
use crate::AppState;

/// `?after=SEQ` as an alternative to `Last-Event-ID`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay events after this seq.
    pub after: Option<u64>,
    /// `false`: only what already happened, then end the stream.
    pub follow: Option<bool>,
}

/// `GET /v1/runs/{id}`.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, description = "The run", body = Object),
              (status = 404, description = "No such run (problem+json)")))]
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.get_run(&id).await?)))
}

/// `GET /v1/runs/{id}/events`.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "Run id"), EventsQuery,
           ("Last-Event-ID" = Option<u64>, Header, description = "Replay events after this seq")),
    responses((status = 200, description = "Server-sent events: replay, then the live tail until the run ends", content_type = "text/event-stream"),
              (status = 404, description = "No such run (problem+json)")))]
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers, q.after)?;
    let mut sub = s.engine.subscribe(&id, after).await?;
    if q.follow == Some(false) {
        sub.live = None;
    }
    Ok(sse_response(sub))
}

/// `POST /v1/runs/{id}/cancel`.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, description = "The cancelled run", body = Object),
              (status = 409, description = "The run already finished (problem+json)")))]
pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.cancel(&id).await?)))
}

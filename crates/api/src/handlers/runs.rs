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
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Replay events after this seq.
    pub after: Option<u64>,
    /// `false`: only what already happened, then end the stream.
    pub follow: Option<bool>,
}

/// `GET /v1/runs/{id}`.
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.get_run(&id).await?)))
}

/// `GET /v1/runs/{id}/events`.
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers, q.after);
    let mut sub = s.engine.subscribe(&id, after).await?;
    if q.follow == Some(false) {
        sub.live = None;
    }
    Ok(sse_response(sub))
}

/// `POST /v1/runs/{id}/cancel`.
pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.cancel(&id).await?)))
}

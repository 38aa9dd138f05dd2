//! Runs: list (filters, cursor), show, events (SSE with replay) and cancel.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferry_types::{ProblemCode, RunPage, RunView};
use serde::Deserialize;

use ferry_engine::{run_view, EngineError};
use ferry_store::{RunFilter, RunStatus, StoreError};

use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
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

/// `GET /v1/runs` filters and cursor.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only this session's runs.
    pub session: Option<String>,
    /// Only runs in this status: queued, running, completed, failed, cancelled, interrupted.
    #[param(pattern = "^(queued|running|completed|failed|cancelled|interrupted)$")]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `GET /v1/runs`: every session's runs, newest first.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", params(RunsQuery),
    responses((status = 200, description = "A page of runs, newest first, and `next_cursor` (null on the last page)", body = RunPage),
              (status = 400, description = "Unknown status or a limit outside 1–500 (problem+json)"),
              (status = 404, description = "The cursor names no run (problem+json)")))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<RunPage>> {
    let status = match q.status.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<RunStatus>().map_err(|_| {
            Problem::new(
                400,
                ProblemCode::InvalidStatus,
                format!(
                    "status {v:?} is not a run status; use one of {}",
                    RunStatus::ALL.map(RunStatus::as_str).join(", ")
                ),
            )
        })?),
    };
    let limit = crate::handlers::sessions::page_limit(q.limit, 100)?;
    let filter = RunFilter {
        session_id: q.session,
        status,
        // An empty cursor is the first page, as if it were left out.
        after: q.cursor.filter(|c| !c.is_empty()),
        limit,
    };
    let runs =
        match s.engine.store().list_runs_page(filter).await {
            // The cursor names a run; one that does not exist is not found (like any id):
            // a 404, documented so, which a schema-valid request may get (a 400 would say
            // the request itself is malformed).
            Err(StoreError::RunNotFound { .. }) => return Err(Problem::new(
                404,
                ProblemCode::InvalidCursor,
                "the cursor names no run: it is not one this API returned; pass next_cursor from the previous page",
            )),
            other => other.map_err(EngineError::from)?,
        };
    let next = (runs.len() as u32 == limit)
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(RunPage {
        runs: runs.into_iter().map(run_view).collect(),
        next_cursor: next,
    }))
}

/// `GET /v1/runs/{id}`.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, description = "The run", body = RunView),
              (status = 404, description = "No such run (problem+json)")))]
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<RunView>> {
    Ok(Json(run_view(s.engine.get_run(&id).await?)))
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
    responses((status = 200, description = "The cancelled run", body = RunView),
              (status = 409, description = "The run already finished (problem+json)")))]
pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<RunView>> {
    Ok(Json(run_view(s.engine.cancel(&id).await?)))
}

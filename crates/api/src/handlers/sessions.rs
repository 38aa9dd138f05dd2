//! Sessions: create, list, show, history, input (blocking or streamed) and detached runs.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_config::SpeakReplies;
use ferry_engine::{
    history_message, run_view, session_info, EngineError, InputRequest, SubmitOptions,
};
use ferry_store::{NewSession, SessionPatch};
use ferry_types::{
    ProblemCode, RunEvent, RunView, SessionHistory, SessionInfo, SessionPage, SessionRuns,
    SessionView,
};
use serde::Deserialize;

use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::sse::sse_response;
use crate::AppState;

/// Body of `POST /v1/sessions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Session id.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    pub id: String,
    /// Pin the session to a selector (`route/model`).
    #[serde(default)]
    pub model: Option<String>,
    /// Override the route's system prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// `off` or `always`: speak every reply of this session (default: the route's).
    #[serde(default)]
    #[schema(pattern = "^(off|always)$")]
    pub speak_replies: Option<String>,
}

/// Body of `PATCH /v1/sessions/{id}`: a field that is absent stays, `null` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSession {
    /// Pin the session to a selector.
    #[serde(default, deserialize_with = "present")]
    pub model: Option<Option<String>>,
    /// The session's system prompt.
    #[serde(default, deserialize_with = "present")]
    pub system_prompt: Option<Option<String>>,
    /// `off` or `always`.
    #[serde(default, deserialize_with = "present")]
    #[schema(pattern = "^(off|always)$")]
    pub speak_replies: Option<Option<String>>,
}

/// A field that is present (`null` included) becomes `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Cursor pagination.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return items after this id.
    pub cursor: Option<String>,
    /// Page size (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A page size from `?limit=`: `default` when absent, 1–500 or a 400 that says so.
pub fn page_limit(limit: Option<u32>, default: u32) -> Result<u32, Problem> {
    match limit {
        None => Ok(default),
        Some(n @ 1..=500) => Ok(n),
        Some(n) => Err(Problem::new(
            400,
            ProblemCode::InvalidLimit,
            format!("limit {n} is out of range: give a page size from 1 to 500"),
        )),
    }
}

/// `?wait=false` on input.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InputQuery {
    /// When false, a busy session answers 409 instead of queueing.
    pub wait: Option<bool>,
}

/// `POST /v1/sessions`.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, description = "The new session", body = SessionInfo),
              (status = 409, description = "The session exists (problem+json)")))]
pub async fn create(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionInfo>)> {
    if let Some(v) = &body.speak_replies {
        v.parse::<SpeakReplies>()
            .map_err(|e| EngineError::bad_input("invalid_speak_replies", e.to_string()))?;
    }
    let mut session = s
        .engine
        .create_session(NewSession {
            id: body.id,
            pinned_selector: body.model,
            system_prompt: body.system_prompt,
        })
        .await?;
    if let Some(v) = body.speak_replies {
        session = s
            .engine
            .update_session(
                &session.id,
                SessionPatch {
                    speak_replies: Some(Some(v)),
                    ..SessionPatch::default()
                },
            )
            .await?;
    }
    Ok((StatusCode::CREATED, Json(session_info(session))))
}

/// `PATCH /v1/sessions/{id}`.
#[utoipa::path(patch, path = "/v1/sessions/{id}", tag = "sessions", request_body = UpdateSession,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session", body = SessionInfo),
              (status = 400, description = "Invalid selector or speak_replies (problem+json)"),
              (status = 404, description = "No such session (problem+json)")))]
pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSession>,
) -> ApiResult<Json<SessionInfo>> {
    let session = s
        .engine
        .update_session(
            &id,
            SessionPatch {
                pinned_selector: body.model,
                system_prompt: body.system_prompt,
                speak_replies: body.speak_replies,
            },
        )
        .await?;
    Ok(Json(session_info(session)))
}

/// `GET /v1/sessions`.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(Page),
    responses((status = 200, description = "A page of sessions and `next_cursor`", body = SessionPage)))]
pub async fn list(
    State(s): State<AppState>,
    Query(page): Query<Page>,
) -> ApiResult<Json<SessionPage>> {
    let limit = page_limit(page.limit, 100)?;
    let sessions = s
        .engine
        .store()
        .list_sessions(page.cursor.as_deref(), limit)
        .await
        .map_err(EngineError::from)?;
    let next = (sessions.len() as u32 == limit)
        .then(|| sessions.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(SessionPage {
        sessions: sessions.into_iter().map(session_info).collect(),
        next_cursor: next,
    }))
}

/// `GET /v1/sessions/{id}`.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session with its totals", body = SessionView),
              (status = 404, description = "No such session (problem+json)")))]
pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(s.engine.session_view(&id).await?))
}

/// `GET /v1/sessions/{id}/messages`.
#[utoipa::path(get, path = "/v1/sessions/{id}/messages", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session's history", body = SessionHistory),
              (status = 404, description = "No such session (problem+json)")))]
pub async fn messages(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionHistory>> {
    s.engine.session_view(&id).await?;
    let history = s
        .engine
        .store()
        .history(&id)
        .await
        .map_err(EngineError::from)?;
    Ok(Json(SessionHistory {
        session_id: id,
        messages: history.into_iter().map(history_message).collect(),
    }))
}

/// `GET /v1/sessions/{id}/runs`.
#[utoipa::path(get, path = "/v1/sessions/{id}/runs", tag = "sessions",
    params(("id" = String, Path, description = "Session id"), Page),
    responses((status = 200, description = "The session's runs, newest first", body = SessionRuns),
              (status = 404, description = "No such session (problem+json)")))]
pub async fn runs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<SessionRuns>> {
    s.engine.session_view(&id).await?;
    let runs = s
        .engine
        .store()
        .list_runs_page(ferry_store::RunFilter {
            session_id: Some(id.clone()),
            limit: page_limit(page.limit, 100)?,
            ..ferry_store::RunFilter::default()
        })
        .await
        .map_err(EngineError::from)?;
    Ok(Json(SessionRuns {
        session_id: id,
        runs: runs.into_iter().map(run_view).collect(),
    }))
}

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// `POST /v1/sessions/{id}/input`: runs to completion and answers with the run, or with
/// `Accept: text/event-stream` streams the run's events as they happen.
#[utoipa::path(post, path = "/v1/sessions/{id}/input", tag = "sessions",
    params(("id" = String, Path, description = "Session id (created on first use)"), InputQuery),
    request_body(content = Object, description = "{content?, attachments?, provider?, model?, fallbacks?, thinking?, params?, provider_routing?}"),
    responses((status = 200, description = "The completed run, or its events as SSE with `Accept: text/event-stream`", body = RunView),
              (status = 400, description = "Invalid input (problem+json)"),
              (status = 409, description = "Session busy with `wait=false` (problem+json)"),
              (status = 502, description = "The run failed upstream (problem+json with run_id)"),
              (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked (problem+json route_not_ready)")))]
pub async fn input(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<InputQuery>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InputRequest>,
) -> ApiResult<Response> {
    let sse = wants_sse(&headers);
    let submitted = s
        .engine
        .submit(
            &id,
            body,
            SubmitOptions {
                idempotency_key: idempotency_key(&headers),
                queue_if_busy: q.wait.unwrap_or(true),
                // A stream learns the outcome (even a storage failure) from the terminal
                // event, so its headers need not wait for the insert's commit; a blocking
                // caller waits for the final commit anyway (the run starts either way).
                ack_after_insert: !sse,
                // Its client learns the outcome only at the end, which is fsynced.
                promises_stored: false,
            },
        )
        .await?;
    let run_id = submitted.run_id;
    if sse {
        let sub = s.engine.subscribe(&run_id, 0).await?;
        // Answer once the run is under way (its upstream request handed over, or waiting
        // in line, or ended): the headers and the events so far then leave in one write,
        // after the upstream request rather than ahead of it on a busy core. Nothing but
        // the headers could be sent earlier (the first event follows the run's creation),
        // and a creation slower than the engine's bound (250 ms) puts the run under way
        // anyway.
        sub.hub.under_way().await;
        let mut resp = sse_response(sub);
        if let Ok(v) = header::HeaderValue::from_str(&run_id) {
            resp.headers_mut().insert("x-ferry-run-id", v);
        }
        return Ok(resp);
    }
    let (run, terminal) = s.engine.wait_terminal(&run_id).await?;
    run_result(run, terminal)
}

/// A finished run as a response: the run view on success, otherwise a problem built from
/// the run's terminal event (status, code, message, retryable) with the run id.
pub fn run_result(
    run: ferry_store::Run,
    terminal: Option<std::sync::Arc<RunEvent>>,
) -> ApiResult<Response> {
    if run.status == ferry_store::RunStatus::Completed {
        return Ok(Json(run_view(run)).into_response());
    }
    let ended = match terminal.as_deref() {
        Some(RunEvent::RunFailed(ended) | RunEvent::RunCancelled(ended)) => Some(ended),
        _ => None,
    };
    let (code, message) = run
        .error
        .as_ref()
        .map(|e| (e.code.clone(), e.message.clone()))
        .unwrap_or_else(|| ("run_failed".into(), "the run did not complete".into()));
    let status = ended.and_then(|e| e.status).unwrap_or(match run.status {
        ferry_store::RunStatus::Cancelled => 409,
        ferry_store::RunStatus::Interrupted => 503,
        _ => 502,
    });
    let retryable = ended
        .and_then(|e| e.retryable)
        .unwrap_or(run.status == ferry_store::RunStatus::Interrupted);
    let code = ProblemCode::from_code(&code).unwrap_or(ProblemCode::RunFailed);
    Err(Problem::new(status, code, message)
        .retryable(retryable)
        .with_run(run.id))
}

/// `POST /v1/sessions/{id}/runs`: 202 + the run view; `Idempotency-Key` returns the same run.
#[utoipa::path(post, path = "/v1/sessions/{id}/runs", tag = "sessions",
    params(("id" = String, Path, description = "Session id (created on first use)"),
           ("Idempotency-Key" = Option<String>, Header, description = "The same key returns the same run")),
    request_body(content = Object, description = "The same body as /input"),
    responses((status = 202, description = "The queued run", body = RunView),
              (status = 200, description = "The run of a repeated Idempotency-Key", body = RunView),
              (status = 409, description = "The Idempotency-Key was used for a different input (problem+json idempotency_key_reused)"),
              (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked (problem+json route_not_ready)")))]
pub async fn detached(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InputRequest>,
) -> ApiResult<Response> {
    let submitted = s
        .engine
        .submit(
            &id,
            body,
            SubmitOptions {
                idempotency_key: idempotency_key(&headers),
                queue_if_busy: true,
                // 202 promises a stored run.
                ack_after_insert: true,
                promises_stored: true,
            },
        )
        .await?;
    let run = submitted.run.ok_or_else(|| {
        Problem::new(
            500,
            ProblemCode::InternalError,
            "the new run was not stored",
        )
    })?;
    let status = if submitted.existing {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/v1/runs/{}", run.id);
    Ok((status, [(header::LOCATION, location)], Json(run_view(run))).into_response())
}

//! The OpenAI-compatible facade (spec §6): `POST /openai/v1/chat/completions` (streaming
//! and not) and `GET /openai/v1/models`. Any OpenAI SDK pointed at `…/openai/v1` uses the
//! routes; keys stay in ferry. Errors are OpenAI-style bodies
//! (`{"error": {"message", "type", "param", "code"}}`) with ferry's status and problem code.

mod stream;

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ferry_engine::{Caller, FacadeModel, FacadeRequest, FacadeRunEnd, FacadeTrace, Spent};
use ferry_metrics::Api;
use ferry_openrouter::RawReply;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::problem::Problem;
use crate::AppState;
use stream::{FacadeStream, StreamEnd};

/// Every facade path starts with this.
pub const PREFIX: &str = "/openai/";
/// Largest facade request body: conversations carry images and files inline.
pub const MAX_FACADE_BODY: usize = 32 * 1024 * 1024;
/// The session recorded facade runs go to unless `X-Ferry-Session` names another.
pub const DEFAULT_RECORD_SESSION: &str = "openai";

/// `GET /openai/v1/models` body (OpenAI's list object).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Always `"list"`.
    pub object: &'static str,
    /// The models, as `ROUTE/MODEL` selectors.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<FacadeModel>,
}

/// `GET /openai/v1/models`: every model the routes name, as selectors to send as `model`.
#[utoipa::path(
    get,
    path = "/openai/v1/models",
    tag = "openai",
    responses((status = 200, description = "The routes' models as `ROUTE/MODEL` selectors", body = ModelList))
)]
pub async fn models(State(s): State<AppState>) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: s.engine.facade_models(),
    })
}

/// `POST /openai/v1/chat/completions`: an OpenAI chat completion over ferry's routes.
/// `model` is a ferry selector; with `"stream": true` the answer is SSE ending in
/// `data: [DONE]`.
#[utoipa::path(
    post,
    path = "/openai/v1/chat/completions",
    tag = "openai",
    request_body(content = Object, description = "OpenAI chat-completions request; `model` is a ferry selector (MODEL on the default route, or ROUTE/MODEL)"),
    responses(
        (status = 200, description = "`chat.completion` JSON, or an SSE stream of `chat.completion.chunk` events ending with `data: [DONE]`", content_type = "application/json"),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 429, description = "Rate limited upstream after retries"),
        (status = 502, description = "Upstream failure")
    )
)]
pub async fn chat_completions(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let engine = &s.engine;
    let in_flight = engine.metrics().facade_request();
    let (map, body_len) = match parse_body(body) {
        Ok(m) => m,
        Err(p) => return fail(&s, p, &FacadeTrace::default(), started, None),
    };
    let record = if engine.facade_recording() {
        let session = headers
            .get("x-ferry-session")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEFAULT_RECORD_SESSION)
            .trim()
            .to_string();
        let input = json!({"api": "openai", "request": Value::Object(map.clone())});
        match engine.facade_record_start(&session, input).await {
            Ok(run_id) => Some((run_id, session)),
            Err(e) => return fail(&s, e.into(), &FacadeTrace::default(), started, None),
        }
    } else {
        None
    };
    let req = match FacadeRequest::parse(map) {
        Ok(r) => r,
        Err(e) => return fail(&s, e.into(), &FacadeTrace::default(), started, record),
    };
    let admission = match engine
        .admit_facade(&caller, &req.selector, req.params.max_tokens, body_len)
        .await
    {
        Ok(a) => a,
        Err(e) => return fail(&s, e.into(), &FacadeTrace::default(), started, record),
    };
    let mut trace = FacadeTrace::default();
    let reply = match engine.facade_open(req, record.is_some(), &mut trace).await {
        Ok(r) => r,
        Err(e) => return fail(&s, e.into(), &trace, started, record),
    };
    let route = trace.route.clone().unwrap_or_default();
    let requested = trace.model.clone().unwrap_or_default();
    let metrics = engine.metrics();
    metrics.upstream_latency(&route, trace.upstream_wait);
    match reply {
        RawReply::Json(c) => {
            let model = c.model.as_deref().unwrap_or(&requested);
            metrics.request(Api::OpenAi, &route, model, "200");
            if let Some(u) = c.usage {
                metrics.usage(&route, model, u.prompt_tokens, u.completion_tokens, u.cost);
            }
            admission.settle(Spent::of_usage(
                c.model.clone(),
                c.usage.as_ref(),
                c.generation_id.clone(),
            ));
            let mut resp = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                Body::from(c.body),
            )
                .into_response();
            if let Some((run_id, session)) = record {
                add_run_header(&mut resp, &run_id);
                engine.facade_record_finish(
                    run_id,
                    session,
                    FacadeRunEnd {
                        route: Some(route),
                        model: Some(requested),
                        model_served: c.model,
                        usage: c.usage,
                        text: c.text,
                        error: None,
                        attempts: trace.attempts,
                        generation_id: c.generation_id,
                        duration_ms: millis(started),
                    },
                );
            }
            metrics.added_latency(
                Api::OpenAi,
                started.elapsed().saturating_sub(trace.upstream_wait),
            );
            drop(in_flight);
            resp
        }
        RawReply::Stream(raw) => {
            metrics.request(Api::OpenAi, &route, &requested, "200");
            let run_id = record.as_ref().map(|(id, _)| id.clone());
            let body = FacadeStream::new(
                raw,
                StreamEnd {
                    engine: engine.clone(),
                    route,
                    model: requested,
                    started,
                    record,
                    attempts: trace.attempts,
                    admission: Some(admission),
                    _in_flight: in_flight,
                },
            );
            let mut resp = (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/event-stream"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    (
                        header::HeaderName::from_static("x-accel-buffering"),
                        HeaderValue::from_static("no"),
                    ),
                ],
                Body::from_stream(body),
            )
                .into_response();
            if let Some(run_id) = run_id {
                add_run_header(&mut resp, &run_id);
            }
            metrics.added_latency(
                Api::OpenAi,
                started.elapsed().saturating_sub(trace.upstream_wait),
            );
            resp
        }
    }
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn add_run_header(resp: &mut Response, run_id: &str) {
    if let Ok(v) = HeaderValue::from_str(run_id) {
        resp.headers_mut().insert("x-ferry-run-id", v);
    }
}

/// The body as a JSON object, or the OpenAI-style problem saying what is wrong with it.
fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<(Map<String, Value>, usize), Problem> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                413,
                "body_too_large",
                format!("the request body is larger than the facade accepts ({} MiB); send large files by URL", MAX_FACADE_BODY / (1024 * 1024)),
            )
        } else {
            Problem::new(400, "invalid_body", e.body_text())
        }
    })?;
    let len = bytes.len();
    serde_json::from_slice::<Map<String, Value>>(&bytes)
        .map(|m| (m, len))
        .map_err(|e| {
        Problem::new(
            400,
            "invalid_json",
            format!(
                "the body is not a JSON object ({} at line {} column {}); send an OpenAI chat-completions request",
                e.classify_name(),
                e.line(),
                e.column()
            ),
        )
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "not an object",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// Answers a failed call: counts it, finishes its recorded run, and renders the problem
/// as OpenAI's error body.
fn fail(
    s: &AppState,
    problem: Problem,
    trace: &FacadeTrace,
    started: Instant,
    record: Option<(String, String)>,
) -> Response {
    let engine = &s.engine;
    let metrics = engine.metrics();
    let route = trace.route.as_deref().unwrap_or("-");
    let model = trace.model.as_deref().unwrap_or("-");
    metrics.request(Api::OpenAi, route, model, &problem.status.to_string());
    if trace.route.is_some() {
        metrics.upstream_latency(route, trace.upstream_wait);
    }
    metrics.added_latency(
        Api::OpenAi,
        started.elapsed().saturating_sub(trace.upstream_wait),
    );
    let mut problem = problem;
    if let Some((run_id, session)) = record {
        problem = problem.with_run(run_id.clone());
        engine.facade_record_finish(
            run_id,
            session,
            FacadeRunEnd {
                route: trace.route.clone(),
                model: trace.model.clone(),
                error: Some((problem.code.clone(), problem.detail.clone())),
                attempts: trace.attempts.clone(),
                duration_ms: millis(started),
                ..FacadeRunEnd::default()
            },
        );
    }
    problem.into_openai_response()
}

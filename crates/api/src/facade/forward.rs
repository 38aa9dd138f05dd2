//! One facade call from body to response, the same for every pass-through protocol: read
//! the JSON body, optionally record the call as a run, validate it, let the engine open the
//! upstream reply (selector, fallbacks, retries), then answer the JSON body or stream the
//! SSE body — with metrics and the recorded run settled at the end, and errors in the
//! protocol's own shape. Every call is admitted for its caller (the task's, set by the
//! auth middleware) before it goes upstream and settled with its usage when it ends.

use ferry_types::ProblemCode;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use ferry_engine::{
    current_caller, Admission, Caller, EngineError, FacadeCallTrace, FacadeChain, FacadeRequest,
    FacadeRunEnd, FacadeTrace, PassCall, Spent, SESSION_ID_RULE,
};
use ferry_openrouter::{RawObject, RawReply};
use serde_json::{json, Value};

use super::dialect::Dialect;
use super::stream::{FacadeStream, StreamEnd};
use crate::problem::Problem;
use crate::AppState;

/// Largest facade request body: conversations carry images and files inline.
pub const MAX_FACADE_BODY: usize = 32 * 1024 * 1024;
/// The session recorded facade runs go to unless `X-Ferry-Session` names another.
pub const DEFAULT_RECORD_SESSION: &str = "openai";

/// Client headers forwarded upstream with an Anthropic Messages request.
const ANTHROPIC_FORWARDED_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta"];

/// Serves one facade call of `dialect`.
pub async fn forward(
    s: &AppState,
    dialect: Dialect,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let engine = &s.engine;
    let in_flight = engine.metrics().facade_request();
    // Keeps a shutdown waiting for this call; its signal ends the call at the grace's end.
    let guard = engine.track_call();
    let call = Call {
        s,
        dialect,
        started,
    };
    let body_len = body.as_ref().map_or(0, Bytes::len);
    let map = match parse_body(body) {
        Ok(m) => m,
        Err(p) => return call.fail(p, &FacadeTrace::default(), None),
    };
    let input = || Value::Object(map.to_map());
    let record = match record_start(s, headers, dialect.record_name(), input).await {
        Ok(r) => r,
        Err(p) => return call.fail(p, &FacadeTrace::default(), None),
    };
    // Team access (spec §14): scope, route/model globs, rate limits and a budget
    // reservation of the call's worst case, before anything goes upstream.
    let caller = current_caller();
    // The admission and the upstream call are boxed futures, so this one (which axum
    // moves into its own box) stays small: see `open_with_retries`.
    let (admission, admitted) = match Box::pin(admit(s, &caller, dialect, &map, body_len)).await {
        Ok(Some((admission, chain))) => (Some(admission), Some(chain)),
        Ok(None) => (None, None),
        Err(e) => return call.fail(e.into(), &FacadeTrace::default(), record),
    };
    let mut trace = FacadeTrace {
        api: Some(dialect.api()),
        ..FacadeTrace::default()
    };
    let opened = tokio::select! {
        r = Box::pin(open(s, dialect, headers, map, admitted, record.is_some(), &mut trace)) => r,
        _ = guard.grace_over() => Err(EngineError::Interrupted),
    };
    let opened = match opened {
        Ok(reply) => reply,
        Err(e) => return call.fail(e.into(), &trace, record),
    };
    let route = trace.route.clone().unwrap_or_default();
    let requested = trace.model.clone().unwrap_or_default();
    let metrics = engine.metrics();
    let api = dialect.api();
    metrics.upstream_latency(api, &route, &requested, trace.upstream_wait);
    let mut resp = match opened {
        RawReply::Json(c) => {
            let model = c.model.as_deref().unwrap_or(&requested);
            metrics.request(api, &route, model, "200");
            if let Some(u) = c.usage {
                metrics.usage(&route, model, u.prompt_tokens, u.completion_tokens, u.cost);
            }
            engine.trace_facade_call(
                FacadeCallTrace {
                    api: api.as_str(),
                    route: &route,
                    model: &requested,
                    model_served: c.model.as_deref(),
                    usage: c.usage,
                    finish_reason: c.finish_reason.as_deref(),
                    run_id: record.as_ref().map(|(id, _)| id.as_str()),
                    ..FacadeCallTrace::default()
                },
                started,
            );
            if let Some(a) = admission {
                a.settle(Spent::of_usage(
                    c.model.clone(),
                    c.usage.as_ref(),
                    c.generation_id.clone(),
                ));
            }
            if let Some((run_id, session)) = &record {
                engine.facade_record_finish(
                    run_id.clone(),
                    session.clone(),
                    FacadeRunEnd {
                        api: dialect.record_name(),
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
            drop(in_flight);
            answer(
                &[(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                Body::from(c.body),
            )
        }
        RawReply::Stream(raw) => {
            // The stream is handed over once its first output event arrived.
            metrics.ttft(api, &route, &requested, started.elapsed());
            metrics.request(api, &route, &requested, "200");
            let body = FacadeStream::new(
                raw,
                StreamEnd {
                    engine: engine.clone(),
                    dialect,
                    route,
                    model: requested,
                    started,
                    record: record.clone(),
                    attempts: trace.attempts,
                    admission,
                    _in_flight: in_flight,
                    _call: guard,
                },
            );
            answer(
                &[
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
        }
    };
    if let Some(run_id) = record
        .as_ref()
        .and_then(|(id, _)| HeaderValue::from_str(id).ok())
    {
        resp.headers_mut().insert("x-ferry-run-id", run_id);
    }
    metrics.added_latency(api, started.elapsed().saturating_sub(trace.upstream_wait));
    resp
}

/// A `200` answer with `headers`, its header map made with room for the run id and the
/// six `x-ratelimit-*` headers a key with rate limits adds (`auth::authorized`), so
/// adding them does not grow (reallocate and rehash) the map.
fn answer(headers: &[(header::HeaderName, HeaderValue)], body: Body) -> Response {
    let mut resp = Response::new(body);
    let map = resp.headers_mut();
    *map = HeaderMap::with_capacity(headers.len() + 7);
    for (name, value) in headers {
        map.insert(name.clone(), value.clone());
    }
    resp
}

/// Admits the call for `caller` when the body names a model (without one, validation
/// refuses it before anything goes upstream), with the model chain it resolved. The
/// output bound is the protocol's `max_tokens` (`max_completion_tokens`,
/// `max_output_tokens`).
async fn admit(
    s: &AppState,
    caller: &Caller,
    dialect: Dialect,
    map: &RawObject,
    body_len: usize,
) -> Result<Option<(Admission, FacadeChain)>, EngineError> {
    let Some(Ok(selector)) = map.read::<String>("model") else {
        return Ok(None);
    };
    let bound = match dialect {
        Dialect::Responses => &["max_output_tokens"][..],
        _ => &["max_tokens", "max_completion_tokens"][..],
    };
    let max_tokens = bound
        .iter()
        .filter_map(|k| map.read::<u64>(k).and_then(Result::ok))
        .min();
    s.engine
        .admit_facade(caller, &selector, max_tokens, body_len)
        .await
        .map(Some)
}

/// With `--record-facade-runs`, creates the run of this call (in the session named by
/// `X-Ferry-Session`, else `openai`) and returns `(run id, session)`; `request` builds
/// the recorded request only when recording is on.
pub async fn record_start(
    s: &AppState,
    headers: &HeaderMap,
    api: &'static str,
    request: impl FnOnce() -> Value,
) -> Result<Option<(String, String)>, Problem> {
    if !s.engine.facade_recording() {
        return Ok(None);
    }
    let session = match headers.get("x-ferry-session") {
        None => DEFAULT_RECORD_SESSION.to_owned(),
        // Not visible ASCII (`ünï`) is no session id either: refused like `../etc`, never
        // read as no header, which would record the call in the default session.
        Some(value) => value
            .to_str()
            .map_err(|_| {
                EngineError::bad_input(
                    "invalid_session_id",
                    format!("X-Ferry-Session has characters other than visible ASCII; {SESSION_ID_RULE}"),
                )
            })?
            .trim()
            .to_owned(),
    };
    let input = json!({"api": api, "request": request()});
    let run_id = s.engine.facade_record_start(&session, input).await?;
    Ok(Some((run_id, session)))
}

/// Validates the body for `dialect` and opens the upstream reply along `admitted`.
async fn open(
    s: &AppState,
    dialect: Dialect,
    headers: &HeaderMap,
    map: RawObject,
    admitted: Option<FacadeChain>,
    collect_text: bool,
    trace: &mut FacadeTrace,
) -> Result<RawReply, EngineError> {
    if dialect == Dialect::Chat {
        let req = FacadeRequest::parse(map)?;
        return s
            .engine
            .facade_open(req, admitted, collect_text, trace)
            .await;
    }
    let mut call = PassCall::parse(dialect.protocol(), map)?;
    if dialect == Dialect::Messages {
        for name in ANTHROPIC_FORWARDED_HEADERS {
            for value in headers.get_all(*name) {
                if let Ok(v) = value.to_str() {
                    call.headers.push(((*name).to_owned(), v.to_owned()));
                }
            }
        }
    }
    s.engine
        .facade_forward(call, admitted, collect_text, trace)
        .await
}

/// The shared parts of one call, for its failure path.
struct Call<'a> {
    s: &'a AppState,
    dialect: Dialect,
    started: Instant,
}

impl Call<'_> {
    /// Answers a failed call: counts it, finishes its recorded run, and renders the
    /// problem in the protocol's shape.
    fn fail(
        &self,
        problem: Problem,
        trace: &FacadeTrace,
        record: Option<(String, String)>,
    ) -> Response {
        let engine = &self.s.engine;
        let metrics = engine.metrics();
        let route = trace.route.as_deref().unwrap_or("-");
        let model = trace.model.as_deref().unwrap_or("-");
        let api = self.dialect.api();
        metrics.request_failed(
            api,
            route,
            model,
            &problem.status.to_string(),
            problem.code.as_str(),
        );
        if trace.route.is_some() {
            metrics.upstream_latency(api, route, model, trace.upstream_wait);
            engine.trace_facade_call(
                FacadeCallTrace {
                    api: api.as_str(),
                    route,
                    model,
                    error_code: Some(problem.code.as_str()),
                    run_id: record.as_ref().map(|(id, _)| id.as_str()),
                    ..FacadeCallTrace::default()
                },
                self.started,
            );
        }
        metrics.added_latency(
            api,
            self.started.elapsed().saturating_sub(trace.upstream_wait),
        );
        let mut problem = problem;
        if let Some((run_id, session)) = record {
            problem = problem.with_run(run_id.clone());
            engine.facade_record_finish(
                run_id,
                session,
                FacadeRunEnd {
                    api: self.dialect.record_name(),
                    route: trace.route.clone(),
                    model: trace.model.clone(),
                    error: Some((problem.code.as_str().to_owned(), problem.detail.clone())),
                    attempts: trace.attempts.clone(),
                    duration_ms: millis(self.started),
                    ..FacadeRunEnd::default()
                },
            );
        }
        self.dialect.respond(problem)
    }
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The body as a JSON object kept as the client's text ([`RawObject`]), or the problem
/// saying what is wrong with it.
pub fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<RawObject, Problem> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                413,
                ProblemCode::BodyTooLarge,
                format!("the request body is larger than the facade accepts ({} MiB); send large files by URL", MAX_FACADE_BODY / (1024 * 1024)),
            )
        } else {
            Problem::unreadable_body(400, ProblemCode::InvalidBody, e.body_text())
        }
    })?;
    RawObject::parse(&bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "not an object",
            serde_json::error::Category::Eof => "unexpected end",
        };
        Problem::new(
            400,
            ProblemCode::InvalidJson,
            format!(
                "the body is not a JSON object ({what} at line {} column {}); send the protocol's request object",
                e.line(),
                e.column()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_takes_the_run_id_and_the_rate_limit_headers_without_growing() {
        let mut resp = answer(
            &[(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::empty(),
        );
        assert_eq!(resp.status(), StatusCode::OK);
        let headers = resp.headers_mut();
        let room = headers.capacity();
        headers.insert("x-ferry-run-id", HeaderValue::from_static("run_1"));
        for kind in ["requests", "tokens"] {
            for part in ["limit", "remaining", "reset"] {
                let name = header::HeaderName::try_from(format!("x-ratelimit-{part}-{kind}"))
                    .expect("header name");
                headers.insert(name, HeaderValue::from_static("1"));
            }
        }
        assert_eq!(headers.len(), 8);
        assert_eq!(headers.capacity(), room, "the map grew");
    }
}

//! The Anthropic-compatible facade (spec §13) under `/anthropic/v1`: Messages (streaming
//! and not) passed through to OpenRouter's `/messages` with the client's fields and
//! `anthropic-version`/`anthropic-beta` headers intact, and `count_tokens`, which
//! OpenRouter lacks, answered with ferry's documented estimate. Point Claude Code at it with
//! `ANTHROPIC_BASE_URL=http://127.0.0.1:4000/anthropic`. Errors are Anthropic's
//! `{"type": "error", "error": {type, message}}`; `x-api-key` is accepted as well as Bearer.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ferry_engine::{estimate_input_tokens, EngineError};
use serde::Serialize;
use serde_json::Value;

use crate::facade::{forward, parse_body, Dialect};
use crate::json_reply::Json;
use crate::AppState;

/// `POST /anthropic/v1/messages`: an Anthropic Messages call over ferry's routes (`model`
/// a ferry selector). Claude Code adds `?beta=true`, which is accepted.
#[utoipa::path(
    post,
    path = "/anthropic/v1/messages",
    tag = "anthropic",
    request_body(content = Object, description = "Anthropic Messages request; `model` is a ferry selector"),
    responses(
        (status = 200, description = "A `message` object, or an SSE stream of Messages events", content_type = "application/json"),
        (status = 400, description = "Invalid request (Anthropic-style error body)"),
        (status = 429, description = "Rate limited upstream after retries (`Retry-After`, `x-should-retry: false`)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn messages(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(&s, Dialect::Messages, &headers, body).await
}

/// `count_tokens` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenCount {
    /// Estimated input tokens (see docs/api.md, "count_tokens").
    pub input_tokens: u64,
}

/// `POST /anthropic/v1/messages/count_tokens`: an estimate of the request's input tokens
/// in Anthropic's shape (OpenRouter has no such endpoint; the method is in docs/api.md).
#[utoipa::path(
    post,
    path = "/anthropic/v1/messages/count_tokens",
    tag = "anthropic",
    request_body(content = Object, description = "An Anthropic Messages request body (model, messages, system?, tools?)"),
    responses(
        (status = 200, description = "`{input_tokens}`, ferry's estimate", body = TokenCount),
        (status = 400, description = "Invalid request (Anthropic-style error body)")
    )
)]
pub async fn count_tokens(
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let raw = match parse_body(body) {
        Ok(raw) => raw,
        Err(p) => return Dialect::Messages.respond(p),
    };
    // Read as written: a list a tree cannot hold (a lone surrogate escape, as a
    // JavaScript client cutting a string mid-character sends, or deep nesting) is still
    // a list, and is estimated from its text.
    if raw.kind("messages") != Some(b'[') {
        let detail = match raw.kind("messages") {
            None => "messages is required: an array of {role, content} objects",
            Some(_) => "messages must be an array of {role, content} objects",
        };
        let e = EngineError::bad_input("invalid_messages", detail);
        return Dialect::Messages.respond(e.into());
    }
    let map = raw.to_map();
    if let Some(selector) = map.get("model").and_then(Value::as_str) {
        if let Err(e) = s.engine.facade_model(selector) {
            return Dialect::Messages.respond(e.into());
        }
    }
    Json(TokenCount {
        input_tokens: estimate_input_tokens(&Value::Object(map)),
    })
    .into_response()
}

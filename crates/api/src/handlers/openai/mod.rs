//! The OpenAI-compatible facade (spec §6, §13) under `/openai/v1`: chat completions,
//! Responses and embeddings are passed through to OpenRouter's endpoints of the same
//! protocol (`crate::facade`); the model list and one model's entry come from the routes.
//! Any OpenAI SDK pointed at `…/openai/v1` uses the routes; keys stay in ferry. Errors are
//! OpenAI-style bodies (`{"error": {"message", "type", "param", "code"}}`).

pub mod media;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ferry_types::FacadeModel;
use serde::Serialize;

use crate::facade::{forward, Dialect};
use crate::json_reply::Json;
use crate::AppState;

/// `GET /openai/v1/models` body (OpenAI's list object).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Always `"list"`.
    pub object: &'static str,
    /// The models, as `ROUTE/MODEL` selectors.
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

/// `GET /openai/v1/models/{model}`: the model a selector resolves to. The selector
/// contains `/`; SDKs send it `%2F`-encoded, curl users often do not — both work.
#[utoipa::path(
    get,
    path = "/openai/v1/models/{model}",
    tag = "openai",
    params(("model" = String, Path, description = "A ferry selector, e.g. `openrouter/openai/gpt-5.4-mini` (`/` may be sent as `%2F`)")),
    responses(
        (status = 200, description = "OpenAI's `model` object for the selector", body = FacadeModel),
        (status = 404, description = "No route serves that model (OpenAI-style error body)")
    )
)]
pub async fn model(State(s): State<AppState>, Path(model): Path<String>) -> Response {
    match s.engine.facade_model(&model) {
        Ok(m) => Json(m).into_response(),
        Err(e) => Dialect::Chat.respond(e.into()),
    }
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
        (status = 429, description = "Rate limited upstream after retries (`Retry-After`, `x-should-retry: false`)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn chat_completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(&s, Dialect::Chat, &headers, body).await
}

/// `POST /openai/v1/responses`: the OpenAI Responses API, forwarded to OpenRouter's
/// `/responses` with the client's fields intact (`input` items, tools, `reasoning`,
/// `previous_response_id`); OpenAI-only fields (`store`, `service_tier`, prompt-cache
/// hints) are dropped. With `"stream": true` the answer is SSE ending with
/// `response.completed` or `response.failed`.
#[utoipa::path(
    post,
    path = "/openai/v1/responses",
    tag = "openai",
    request_body(content = Object, description = "OpenAI Responses request; `model` is a ferry selector"),
    responses(
        (status = 200, description = "A `response` object, or an SSE stream of Responses events", content_type = "application/json"),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 429, description = "Rate limited upstream after retries (`Retry-After`, `x-should-retry: false`)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn responses(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(&s, Dialect::Responses, &headers, body).await
}

/// `POST /openai/v1/embeddings`: forwarded to OpenRouter's `/embeddings`.
#[utoipa::path(
    post,
    path = "/openai/v1/embeddings",
    tag = "openai",
    request_body(content = Object, description = "OpenAI embeddings request (`model` a ferry selector, `input` a string or an array)"),
    responses(
        (status = 200, description = "`{object: \"list\", data: [{embedding, index}], model, usage}`", content_type = "application/json"),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 429, description = "Rate limited upstream after retries"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn embeddings(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    forward(&s, Dialect::Embeddings, &headers, body).await
}

//! Small response constructors shared by the endpoints.

use std::collections::VecDeque;

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::body::{ScriptBody, Step};
use crate::wire;

/// Every response the fake sends.
pub(crate) type FakeResponse = Response<ScriptBody>;

/// The name of the header that carries the generation id on every response.
pub(crate) const GENERATION_ID: &str = "x-generation-id";

/// `status` with a JSON body.
pub(crate) fn json(status: StatusCode, body: &Value) -> FakeResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    raw_json(status, ScriptBody::full(bytes))
}

/// `status` with `Content-Type: application/json` and the given body.
pub(crate) fn raw_json(status: StatusCode, body: ScriptBody) -> FakeResponse {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// OpenRouter's error answer: status `status`, body `{"error":{"code":status,"message":…}}`.
pub(crate) fn openrouter_error(status: u16, message: &str) -> FakeResponse {
    json(
        status_code(status),
        &wire::error_body(status, message, None),
    )
}

/// A 200 `text/event-stream` response playing `steps`.
pub(crate) fn event_stream(steps: VecDeque<Step>) -> FakeResponse {
    let mut response = Response::new(ScriptBody::streamed(steps));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Sets `X-Generation-Id` unless the response already has one.
pub(crate) fn ensure_generation_id(response: &mut FakeResponse, id: impl FnOnce() -> String) {
    if !response.headers().contains_key(GENERATION_ID) {
        if let Ok(value) = HeaderValue::try_from(id()) {
            response.headers_mut().insert(GENERATION_ID, value);
        }
    }
}

/// `status` as a `StatusCode`; a number outside 100..=999 becomes 500.
pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

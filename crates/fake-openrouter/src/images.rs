//! `POST /images`: OpenRouter's dedicated image API (`ImageGenerationRequest`), answering
//! a tiny valid PNG per image.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::generation::unix_now;
use crate::respond::{self, FakeResponse};

/// A 1×1 PNG (what `POST /images` returns, base64-encoded).
pub(crate) const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// `POST /images`: `{model, prompt, n?}` → `{created, data: [{b64_json, media_type}], usage}`.
pub(crate) fn answer(body: Option<&Value>) -> FakeResponse {
    use base64::Engine as _;
    let Some(body) = body.and_then(Value::as_object) else {
        return respond::openrouter_error(400, "Invalid JSON body: expected an object");
    };
    if body.get("model").and_then(Value::as_str).is_none() {
        return respond::openrouter_error(400, "model is required");
    }
    if body
        .get("prompt")
        .and_then(Value::as_str)
        .is_none_or(|p| p.trim().is_empty())
    {
        return respond::openrouter_error(400, "prompt is required");
    }
    let n = body
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 4);
    let b64 = base64::engine::general_purpose::STANDARD.encode(TINY_PNG);
    let data: Vec<Value> = (0..n)
        .map(|_| json!({"b64_json": b64, "media_type": "image/png"}))
        .collect();
    respond::json(
        StatusCode::OK,
        &json!({"created": unix_now(), "data": data, "usage": {"cost": 0.04 * n as f64}}),
    )
}

//! `POST /embeddings`: OpenAI's list shape with deterministic unit vectors, so tests can
//! compare what a client received with what the fake would answer.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::generation::{new_generation_id, unix_now};
use crate::respond::{self, FakeResponse};

/// Dimensions of an embedding unless the request asks for `dimensions`.
const EMBEDDING_DIMENSIONS: usize = 8;
/// Price of an embedded token (USD), so `usage.cost` is a known amount.
const EMBEDDING_TOKEN_PRICE: f64 = 0.000_000_02;

/// `POST /embeddings`: one deterministic unit vector per input (derived from its text),
/// OpenAI's list shape with `usage` (tokens: four characters each, and `cost`).
pub(crate) fn answer(body: Option<&Value>) -> FakeResponse {
    let Some(body) = body.and_then(Value::as_object) else {
        return respond::openrouter_error(400, "Invalid JSON body: expected an object");
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return respond::openrouter_error(400, "model is required");
    };
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => return respond::openrouter_error(400, "input must be a string or a non-empty array"),
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(EMBEDDING_DIMENSIONS, |d| d.clamp(1, 4096) as usize);
    let mut tokens = 0u64;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens += (text.chars().count() as u64).div_ceil(4).max(1);
            json!({"object": "embedding", "index": index, "embedding": unit_vector(text, dims)})
        })
        .collect();
    respond::json(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "id": new_generation_id(unix_now()),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "cost": tokens as f64 * EMBEDDING_TOKEN_PRICE},
        }),
    )
}

/// A deterministic unit vector for `text`.
fn unit_vector(text: &str, dims: usize) -> Vec<f64> {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let raw: Vec<f64> = (0..dims)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1 + i as u64);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

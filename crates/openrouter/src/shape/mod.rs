//! Request shaping (spec §8): pure functions that turn a [`ChatRequest`] into the JSON
//! body and the extra headers of `POST /chat/completions`. OpenRouter-specific shaping
//! happens only on verified routes; a custom `base_url` gets a plain OpenAI-compatible
//! request.

mod anthropic;
mod deepseek;
mod family;
mod fields;
mod gemini;
mod headers;
mod protocol;

use ferry_config::{Attribution, ThinkingLevel};
use serde_json::{json, Map, Value};

use crate::types::{ChatRequest, Messages, ToolDefs};
use crate::ObjectWriter;
use family::Family;
pub use fields::{
    classify_field, FieldClass, FORWARDED_KEYS, HANDLED_KEYS, OPENAI_ONLY_KEYS, PORTABLE_KEYS,
};
pub use protocol::{encode_pass_body, RESPONSES_STRIPPED_KEYS};

/// OpenAI-only fields that are never forwarded, even when present in `extra`.
pub const STRIPPED_EXTRA_KEYS: &[&str] = &[
    "service_tier",
    "store",
    "reasoning_effort",
    "prompt_cache_key",
    "prompt_cache_retention",
    "verbosity",
];

/// Output-modality fields forwarded on every route, custom `base_url` included: an image
/// request means nothing without them, and OpenAI-compatible proxies in front of
/// OpenRouter pass them through. Every other `extra` key is OpenRouter-only shaping.
pub const MEDIA_EXTRA_KEYS: &[&str] = &["modalities", "image_config"];

/// The JSON body of `POST /chat/completions`, as a tree ([`encode_body`] read back).
pub fn build_body(req: &ChatRequest, verified: bool) -> serde_json::Result<Value> {
    serde_json::from_slice(&encode_body(req, verified)?)
}

/// The JSON body of `POST /chat/completions`. The messages shaping leaves as they are and
/// the tool definitions are not copied into it: they are written in their place from the
/// request (a client's text, a session's history, a route's shared list), which is most
/// of a request's body. Fails only when messages sent as text must be shaped and hold
/// what a tree cannot (a lone surrogate escape).
pub fn encode_body(req: &ChatRequest, verified: bool) -> serde_json::Result<Vec<u8>> {
    let body = build_map(req, verified)?;
    let tools = req.tools.as_deref().map(ToolDefs::encoded).transpose()?;
    let messages_unshaped = body.get("messages").is_some_and(Value::is_null);
    let size = match &req.messages {
        Messages::Text(text) => text.len(),
        Messages::List(_) => 0,
    } + tools.map_or(0, <[u8]>::len);
    let mut out = ObjectWriter::with_capacity(size + 256);
    for (key, value) in &body {
        match (key.as_str(), &req.messages, tools) {
            ("tools", _, Some(tools)) => out.raw(key, tools),
            ("messages", Messages::Text(text), _) if messages_unshaped => out.raw(key, text),
            ("messages", Messages::List(list), _) if messages_unshaped => out.value(key, list)?,
            _ => out.value(key, value)?,
        }
    }
    Ok(out.finish())
}

/// The body's fields in order; `messages` is a null placeholder when shaping leaves them
/// as they are, and `tools` one always (same positions, same effect on the fields merged
/// after them): [`encode_body`] writes them from the request.
fn build_map(req: &ChatRequest, verified: bool) -> serde_json::Result<Map<String, Value>> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    let messages = shape_messages(req, verified)?.map_or(Value::Null, Value::Array);
    body.insert("messages".into(), messages);
    body.insert("stream".into(), json!(req.stream));
    if req.tools.is_some() {
        body.insert("tools".into(), Value::Null);
    }
    if let Some(choice) = &req.tool_choice {
        body.insert("tool_choice".into(), choice.clone());
    }
    insert_params(req, &mut body);
    for key in MEDIA_EXTRA_KEYS {
        if let Some(value) = req.extra.get(*key) {
            body.insert((*key).into(), value.clone());
        }
    }
    if !verified {
        // A plain OpenAI-compatible server gets only fields of OpenAI's own API.
        for (key, value) in &req.extra {
            if PORTABLE_KEYS.contains(&key.as_str()) && !body.contains_key(key) {
                body.insert(key.clone(), value.clone());
            }
        }
        return Ok(body);
    }

    let family = Family::of(&req.model);
    if let Some(effort) = family.reasoning_effort(effective_thinking(req)) {
        body.insert("reasoning".into(), json!({"effort": effort}));
    }
    if !req.provider.0.is_empty() {
        body.insert("provider".into(), Value::Object(req.provider.0.clone()));
    }
    for (key, value) in &req.extra {
        if !STRIPPED_EXTRA_KEYS.contains(&key.as_str()) && !body.contains_key(key) {
            body.insert(key.clone(), value.clone());
        }
    }
    let reasoning_forbidden = family == Family::NoReasoning
        || (family == Family::DeepSeekV4 && effective_thinking(req) == Some(ThinkingLevel::Off));
    if reasoning_forbidden {
        body.remove("reasoning");
    }
    Ok(body)
}

/// Extra headers of `POST /chat/completions` (not `Authorization`): attribution and
/// response-cache headers, on verified routes only.
pub fn build_headers(
    req: &ChatRequest,
    verified: bool,
    attribution: &Attribution,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if verified {
        headers::attribution_headers(attribution, &mut out);
        headers::cache_headers(&req.params, &mut out);
    }
    out
}

/// Response-cache headers from `params` (verified routes only; the caller checks).
pub(crate) fn push_cache_headers(
    params: &ferry_config::ModelParams,
    out: &mut Vec<(String, String)>,
) {
    headers::cache_headers(params, out);
}

/// Attribution headers for the non-chat endpoints (speech-to-text…), on verified routes
/// only.
pub fn build_attribution_headers(
    verified: bool,
    attribution: &Attribution,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if verified {
        headers::attribution_headers(attribution, &mut out);
    }
    out
}

/// The thinking level in force: the request's, else the params'.
fn effective_thinking(req: &ChatRequest) -> Option<ThinkingLevel> {
    req.thinking.or(req.params.thinking)
}

fn insert_params(req: &ChatRequest, body: &mut Map<String, Value>) {
    let p = &req.params;
    if let Some(v) = p.temperature {
        body.insert("temperature".into(), json!(v));
    }
    if let Some(v) = p.top_p {
        body.insert("top_p".into(), json!(v));
    }
    if let Some(v) = p.max_tokens {
        body.insert("max_tokens".into(), json!(v));
    }
    if let Some(v) = p.seed {
        body.insert("seed".into(), json!(v));
    }
    if let Some(v) = &p.stop {
        body.insert("stop".into(), json!(v));
    }
    if let Some(v) = &p.response_format {
        body.insert("response_format".into(), v.clone());
    }
}

/// The messages shaped for the model's family, or `None` when shaping leaves them as
/// they are.
fn shape_messages(req: &ChatRequest, verified: bool) -> serde_json::Result<Option<Vec<Value>>> {
    let family = Family::of(&req.model);
    if !verified || matches!(family, Family::NoReasoning | Family::Other) {
        return Ok(None);
    }
    let thinking = effective_thinking(req);
    let mut messages = req.messages.to_vec()?;
    match family {
        Family::Anthropic => {
            if family.reasoning_effort(thinking).is_some() {
                anthropic::drop_trailing_prefill(&mut messages);
            }
            anthropic::add_cache_markers(&mut messages, req.params.cache_control_ttl);
        }
        Family::DeepSeekV4 => {
            if thinking == Some(ThinkingLevel::Off) {
                deepseek::strip_reasoning_content(&mut messages);
            } else {
                deepseek::add_reasoning_content(&mut messages);
            }
        }
        Family::Gemini => gemini::sanitize_thought_signatures(&mut messages),
        Family::NoReasoning | Family::Other => {}
    }
    Ok(Some(messages))
}

#[cfg(test)]
mod tests;

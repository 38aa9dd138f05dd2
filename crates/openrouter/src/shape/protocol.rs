//! Shaping for the facade's other client protocols (`/responses`, `/messages`,
//! `/embeddings`): the client's body is forwarded with its fields intact — `model` becomes
//! the wire model, OpenAI-only fields are dropped, and on verified routes the route's
//! provider routing, params and thinking are filled in where the client left them out.
//! A custom `base_url` gets the client's body with only `model` replaced and the
//! OpenAI-only fields dropped.

use ferry_config::ModelParams;
use serde_json::{json, Value};

use super::family::Family;
use crate::types::{PassRequest, Protocol};
use crate::{ObjectWriter, RawObject};

/// Fields dropped from a Responses request (OpenAI-only shaping, spec §8): storage on
/// OpenAI's side, OpenAI service tiers, OpenAI prompt-cache hints and safety ids, and
/// Codex's client telemetry.
pub const RESPONSES_STRIPPED_KEYS: &[&str] = &[
    "store",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "client_metadata",
];

/// Fields dropped from an embeddings request: none (OpenRouter takes OpenAI's fields).
const EMBEDDINGS_STRIPPED_KEYS: &[&str] = &[];

/// Fields dropped from a Messages request: none (every Anthropic field reaches OpenRouter).
const MESSAGES_STRIPPED_KEYS: &[&str] = &[];

impl Protocol {
    fn stripped_keys(self) -> &'static [&'static str] {
        match self {
            Protocol::Responses => RESPONSES_STRIPPED_KEYS,
            Protocol::Messages => MESSAGES_STRIPPED_KEYS,
            Protocol::Embeddings => EMBEDDINGS_STRIPPED_KEYS,
            Protocol::Chat => super::STRIPPED_EXTRA_KEYS,
        }
    }

    /// The body field that bounds the reply's length.
    fn max_tokens_key(self) -> Option<&'static str> {
        match self {
            Protocol::Responses => Some("max_output_tokens"),
            Protocol::Messages | Protocol::Chat => Some("max_tokens"),
            Protocol::Embeddings => None,
        }
    }
}

/// Members of the client's body that ferry reads and writes itself: the selector (sent as
/// the wire model), `stream`, and `provider` (merged with the route's).
const READ_KEYS: &[&str] = &["model", "stream", "provider"];

/// The JSON body for `req`'s protocol endpoint: the wire `model`, then the client's
/// members as the client wrote them (but those ferry reads itself and the protocol's
/// OpenAI-only ones), then what ferry adds.
pub fn encode_pass_body(req: &PassRequest, verified: bool) -> serde_json::Result<Vec<u8>> {
    let size: usize = req.body.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = ObjectWriter::with_capacity(size + req.model.len() + 64);
    out.value("model", &req.model)?;
    let stripped = req.protocol.stripped_keys();
    for (key, value) in req.body.iter() {
        if !READ_KEYS.contains(&key) && !stripped.contains(&key) {
            out.raw(key, value);
        }
    }
    if req.protocol != Protocol::Embeddings && req.stream {
        out.value("stream", &true)?;
    }
    if !verified {
        return Ok(out.finish());
    }
    if !req.provider.0.is_empty() {
        out.value("provider", &req.provider.0)?;
    }
    fill_params(req.protocol, &req.params, &req.body, &mut out)?;
    if req.protocol == Protocol::Responses && !req.body.contains_key("reasoning") {
        if let Some(effort) = Family::of(&req.model).reasoning_effort(req.params.thinking) {
            out.value("reasoning", &json!({"effort": effort}))?;
        }
    }
    Ok(out.finish())
}

/// The route's and model's params, where the client did not set them.
fn fill_params(
    protocol: Protocol,
    params: &ModelParams,
    body: &RawObject,
    out: &mut ObjectWriter,
) -> serde_json::Result<()> {
    if protocol == Protocol::Embeddings {
        return Ok(());
    }
    let mut fill = |key: &str, value: Value| {
        if body.contains_key(key) {
            Ok(())
        } else {
            out.value(key, &value)
        }
    };
    if let Some(v) = params.temperature {
        fill("temperature", json!(v))?;
    }
    if let Some(v) = params.top_p {
        fill("top_p", json!(v))?;
    }
    if let (Some(v), Some(key)) = (params.max_tokens, protocol.max_tokens_key()) {
        fill(key, json!(v))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_config::{ProviderRouting, ThinkingLevel};

    fn build_pass_body(req: &PassRequest, verified: bool) -> Value {
        serde_json::from_slice(&encode_pass_body(req, verified).unwrap()).unwrap()
    }

    fn request(protocol: Protocol, body: Value) -> PassRequest {
        PassRequest {
            protocol,
            model: "anthropic/claude-sonnet-4-5".into(),
            stream: body.get("stream").and_then(Value::as_bool) == Some(true),
            body: RawObject::from_map(body.as_object().unwrap()),
            headers: Vec::new(),
            params: ModelParams::default(),
            provider: ProviderRouting::default(),
        }
    }

    #[test]
    fn messages_body_keeps_every_client_field() {
        let client = json!({
            "model": "openrouter/anthropic/claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "service_tier": "auto",
            "stream": true
        });
        let mut req = request(Protocol::Messages, client.clone());
        req.provider =
            ProviderRouting(json!({"order": ["anthropic"]}).as_object().unwrap().clone());
        req.params.max_tokens = Some(99);
        req.params.temperature = Some(0.5);
        let body = build_pass_body(&req, true);
        for key in [
            "system",
            "messages",
            "tools",
            "tool_choice",
            "thinking",
            "service_tier",
        ] {
            assert_eq!(body[key], client[key], "{key}");
        }
        assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(body["max_tokens"], 1024, "the client's max_tokens wins");
        assert_eq!(body["temperature"], 0.5, "the route's param fills a gap");
        assert_eq!(body["provider"], json!({"order": ["anthropic"]}));
        assert_eq!(body["stream"], true);

        let plain = build_pass_body(&req, false);
        assert!(plain.get("provider").is_none() && plain.get("temperature").is_none());
        assert_eq!(plain["system"], client["system"]);
    }

    #[test]
    fn responses_body_drops_openai_only_fields_and_maps_params() {
        let client = json!({
            "model": "x", "input": [{"role": "user", "content": "hi"}], "store": false,
            "service_tier": "flex", "prompt_cache_key": "k", "client_metadata": {"a": "b"},
            "include": ["reasoning.encrypted_content"], "previous_response_id": "resp_1",
            "tools": [{"type": "function", "name": "exec_command", "parameters": {}}]
        });
        let mut req = request(Protocol::Responses, client.clone());
        req.model = "openai/gpt-5.4-mini".into();
        req.params.max_tokens = Some(300);
        req.params.thinking = Some(ThinkingLevel::High);
        let body = build_pass_body(&req, true);
        for key in RESPONSES_STRIPPED_KEYS {
            assert!(body.get(*key).is_none(), "{key} must not be forwarded");
        }
        for key in ["input", "include", "previous_response_id", "tools"] {
            assert_eq!(body[key], client[key], "{key}");
        }
        assert_eq!(body["max_output_tokens"], 300);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["reasoning"], json!({"effort": "high"}));

        let mut given = request(
            Protocol::Responses,
            json!({"reasoning": {"effort": "low", "summary": "auto"}}),
        );
        given.params.thinking = Some(ThinkingLevel::High);
        assert_eq!(
            build_pass_body(&given, true)["reasoning"],
            json!({"effort": "low", "summary": "auto"})
        );
    }

    #[test]
    fn embeddings_get_no_params_or_stream() {
        let mut req = request(
            Protocol::Embeddings,
            json!({"input": ["a", "b"], "dimensions": 8}),
        );
        req.params.temperature = Some(1.0);
        let body = build_pass_body(&req, true);
        assert_eq!(
            body,
            json!({"model": "anthropic/claude-sonnet-4-5", "input": ["a", "b"], "dimensions": 8})
        );
    }
}

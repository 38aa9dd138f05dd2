//! The body of `POST /openai/v1/chat/completions`, validated into a [`FacadeRequest`]:
//! the fields ferry interprets are checked with the same rules as routes.toml and session
//! inputs, OpenRouter's other fields are kept for forwarding, OpenAI-only fields are
//! dropped, and unknown fields are refused the way OpenAI refuses them.

use ferry_config::{
    parse_model_params_json, parse_provider_routing_json, ModelParams, ProviderRouting,
    ThinkingLevel, OPENAI_PARAM_KEYS,
};
use ferry_openrouter::shape::{classify_field, FieldClass};
use serde_json::{Map, Value};

use crate::EngineError;

/// How the request asks for reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningChoice {
    /// Not mentioned: the route's (or model's) `thinking` applies.
    RouteDefault,
    /// `reasoning_effort` or `reasoning: {effort}`: this level, shaped per model family.
    Level(ThinkingLevel),
    /// A `reasoning` object with more than an effort: forwarded as given on verified
    /// routes, and the route's `thinking` is not applied.
    AsGiven,
}

/// A validated facade request.
#[derive(Debug, Clone)]
pub struct FacadeRequest {
    /// The `model` selector as given.
    pub selector: String,
    /// `stream`.
    pub stream: bool,
    /// `messages`, untouched.
    pub messages: Vec<Value>,
    /// `tools`.
    pub tools: Option<Vec<Value>>,
    /// `tool_choice`.
    pub tool_choice: Option<Value>,
    /// Sampling parameters given in the request (override the route's and model's).
    pub params: ModelParams,
    /// Reasoning.
    pub reasoning: ReasoningChoice,
    /// `provider` routing given in the request (merged over the route's and model's).
    pub provider: ProviderRouting,
    /// OpenRouter fields forwarded as given (plus a raw `reasoning` object).
    pub extra: Map<String, Value>,
}

fn bad(code: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::bad_input(code, message)
}

fn parse_level(field: &str, v: &Value) -> Result<ThinkingLevel, EngineError> {
    let text = v.as_str().unwrap_or_default();
    if text == "none" {
        return Ok(ThinkingLevel::Off);
    }
    text.parse().map_err(|_| {
        bad(
            "invalid_reasoning_effort",
            format!(
                "{field} must be one of none, minimal, low, medium, high, xhigh (max is accepted)"
            ),
        )
    })
}

impl FacadeRequest {
    /// Validates a request body.
    pub fn parse(body: Map<String, Value>) -> Result<FacadeRequest, EngineError> {
        let mut selector = None;
        let mut stream = false;
        let mut messages = None;
        let mut tools = None;
        let mut tool_choice = None;
        let mut params = Map::new();
        let mut reasoning = ReasoningChoice::RouteDefault;
        let mut reasoning_effort = None;
        let mut provider = ProviderRouting::default();
        let mut extra = Map::new();
        for (key, value) in body {
            if value.is_null() {
                continue;
            }
            match classify_field(&key) {
                FieldClass::Unknown => {
                    return Err(bad(
                        "unknown_parameter",
                        format!("unrecognized request argument supplied: {key}; the facade accepts OpenAI's and OpenRouter's chat-completions fields (see docs/api.md, \"OpenAI-compatible facade\")"),
                    ))
                }
                FieldClass::OpenAiOnly => match key.as_str() {
                    "n" if value.as_u64() != Some(1) => {
                        return Err(bad(
                            "unsupported_parameter",
                            "n must be 1: OpenRouter returns one choice per request; send several requests for several answers",
                        ))
                    }
                    "functions" | "function_call" => {
                        return Err(bad(
                            "unsupported_parameter",
                            format!("{key} is OpenAI's deprecated function calling; send tools and tool_choice instead"),
                        ))
                    }
                    _ => {}
                },
                FieldClass::Forwarded => {
                    extra.insert(key, value);
                }
                FieldClass::Handled => match key.as_str() {
                    "model" => match value {
                        Value::String(s) if !s.trim().is_empty() => selector = Some(s),
                        _ => {
                            return Err(bad(
                                "invalid_model",
                                "model must be a non-empty string: a model on the default route (openai/gpt-5.4-mini) or ROUTE/MODEL (openrouter/anthropic/claude-sonnet-4-5)",
                            ))
                        }
                    },
                    "messages" => messages = Some(parse_messages(value)?),
                    "stream" => {
                        stream = value
                            .as_bool()
                            .ok_or_else(|| bad("invalid_stream", "stream must be true or false"))?
                    }
                    "tools" => match value {
                        Value::Array(list) if list.iter().all(Value::is_object) => {
                            tools = Some(list)
                        }
                        _ => {
                            return Err(bad(
                                "invalid_tools",
                                "tools must be an array of {\"type\": \"function\", \"function\": {name, description?, parameters}} objects",
                            ))
                        }
                    },
                    "tool_choice" => tool_choice = Some(value),
                    "response_format"
                        if value.get("type").and_then(Value::as_str) == Some("text") =>
                    {
                        // Plain text is the default: nothing to send.
                    }
                    "reasoning_effort" => reasoning_effort = Some(parse_level(&key, &value)?),
                    "reasoning" => {
                        let obj = value.as_object().ok_or_else(|| {
                            bad("invalid_reasoning", "reasoning must be an object such as {\"effort\": \"high\"}")
                        })?;
                        reasoning = match obj.get("effort") {
                            Some(effort) if obj.len() == 1 => {
                                ReasoningChoice::Level(parse_level("reasoning.effort", effort)?)
                            }
                            _ => {
                                extra.insert(key, value);
                                ReasoningChoice::AsGiven
                            }
                        };
                    }
                    "provider" => {
                        provider = parse_provider_routing_json(&value).map_err(|e| {
                            bad("invalid_provider_routing", format!("provider: {e}"))
                        })?
                    }
                    _ => {
                        debug_assert!(OPENAI_PARAM_KEYS.contains(&key.as_str()));
                        params.insert(key, value);
                    }
                },
            }
        }
        if let Some(level) = reasoning_effort {
            if reasoning == ReasoningChoice::AsGiven {
                return Err(bad(
                    "invalid_reasoning",
                    "send either reasoning_effort or a reasoning object, not both",
                ));
            }
            reasoning = ReasoningChoice::Level(level);
        }
        let selector = selector.ok_or_else(|| {
            bad(
                "missing_model",
                "model is required: a model on the default route (openai/gpt-5.4-mini) or ROUTE/MODEL; list them with GET /openai/v1/models",
            )
        })?;
        let messages = messages.ok_or_else(|| {
            bad(
                "missing_messages",
                "messages is required: a non-empty array of {role, content} objects",
            )
        })?;
        let params = if params.is_empty() {
            ModelParams::default()
        } else {
            parse_model_params_json(&Value::Object(params))
                .map_err(|e| bad("invalid_params", e.to_string()))?
        };
        Ok(FacadeRequest {
            selector,
            stream,
            messages,
            tools,
            tool_choice,
            params,
            reasoning,
            provider,
            extra,
        })
    }
}

fn parse_messages(value: Value) -> Result<Vec<Value>, EngineError> {
    let Value::Array(list) = value else {
        return Err(bad(
            "invalid_messages",
            "messages must be an array of {role, content} objects",
        ));
    };
    if list.is_empty() {
        return Err(bad(
            "invalid_messages",
            "messages is empty: send at least one message",
        ));
    }
    for (i, m) in list.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        if !matches!(
            role,
            Some("system" | "developer" | "user" | "assistant" | "tool")
        ) {
            return Err(bad(
                "invalid_messages",
                format!("messages[{i}] needs a role of system, developer, user, assistant or tool"),
            ));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<FacadeRequest, EngineError> {
        FacadeRequest::parse(v.as_object().unwrap().clone())
    }

    fn base() -> Value {
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]})
    }

    fn with(extra: Value) -> Value {
        let mut b = base();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    #[test]
    fn minimal_request() {
        let r = parse(base()).unwrap();
        assert_eq!(r.selector, "openai/gpt-5.4-mini");
        assert!(!r.stream && r.extra.is_empty() && r.params.is_empty());
        assert_eq!(r.reasoning, ReasoningChoice::RouteDefault);
    }

    #[test]
    fn params_reasoning_provider_and_extras() {
        let r = parse(with(json!({
            "stream": true, "temperature": 0.2, "max_tokens": 50, "stop": "END",
            "reasoning_effort": "none", "provider": {"order": ["anthropic"]},
            "frequency_penalty": 0.1, "user": "u", "service_tier": "flex", "store": true,
            "n": 1, "top_p": null, "response_format": {"type": "text"}
        })))
        .unwrap();
        assert!(r.stream);
        assert_eq!(r.params.temperature, Some(0.2));
        assert_eq!(r.params.max_tokens, Some(50));
        assert_eq!(r.params.stop, Some(vec!["END".to_string()]));
        assert_eq!(r.params.top_p, None);
        assert_eq!(r.params.response_format, None);
        assert_eq!(r.reasoning, ReasoningChoice::Level(ThinkingLevel::Off));
        assert_eq!(r.provider.0["order"], json!(["anthropic"]));
        assert_eq!(
            r.extra.keys().collect::<Vec<_>>(),
            vec!["frequency_penalty", "user"]
        );

        let r = parse(with(json!({"reasoning": {"effort": "high"}}))).unwrap();
        assert_eq!(r.reasoning, ReasoningChoice::Level(ThinkingLevel::High));
        let r = parse(with(json!({"reasoning": {"max_tokens": 2000}}))).unwrap();
        assert_eq!(r.reasoning, ReasoningChoice::AsGiven);
        assert_eq!(r.extra["reasoning"], json!({"max_tokens": 2000}));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases = [
            (
                json!({"messages": [{"role": "user", "content": "x"}]}),
                "missing_model",
            ),
            (json!({"model": ""}), "invalid_model"),
            (json!({"model": "m/x"}), "missing_messages"),
            (with(json!({"messages": []})), "invalid_messages"),
            (
                with(json!({"messages": [{"content": "x"}]})),
                "invalid_messages",
            ),
            (with(json!({"temprature": 1})), "unknown_parameter"),
            (with(json!({"n": 2})), "unsupported_parameter"),
            (with(json!({"functions": []})), "unsupported_parameter"),
            (with(json!({"temperature": 9})), "invalid_params"),
            (with(json!({"stream": "yes"})), "invalid_stream"),
            (with(json!({"tools": [1]})), "invalid_tools"),
            (
                with(json!({"reasoning_effort": "huge"})),
                "invalid_reasoning_effort",
            ),
            (
                with(json!({"reasoning_effort": "low", "reasoning": {"max_tokens": 5}})),
                "invalid_reasoning",
            ),
            (
                with(json!({"provider": {"order": "x"}})),
                "invalid_provider_routing",
            ),
        ];
        for (body, code) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.code(), code, "{body}: {e}");
            assert_eq!(e.status(), 400);
        }
        let e = parse(with(json!({"temprature": 1}))).unwrap_err();
        assert!(e.to_string().contains("temprature"), "{e}");
    }
}

//! The bodies of the facade's Responses, Anthropic Messages and embeddings endpoints,
//! validated into a [`PassCall`]: ferry reads only what it acts on — the `model` selector,
//! `stream`, `provider` routing (merged route < model < request) — checks the fields the
//! protocol cannot do without, and forwards everything else as the client sent it.

use ferry_config::{parse_provider_routing_json, ProviderRouting};
use ferry_openrouter::{Protocol, RawObject};
use serde_json::Value;

use crate::EngineError;

/// A validated facade request of a non-chat protocol.
#[derive(Debug, Clone)]
pub struct PassCall {
    /// Which endpoint.
    pub protocol: Protocol,
    /// The `model` selector as given.
    pub selector: String,
    /// `stream`.
    pub stream: bool,
    /// The rest of the body, forwarded as the client wrote it (without `model`, `stream`,
    /// `provider`).
    pub body: RawObject,
    /// Client headers that travel upstream (`anthropic-version`, `anthropic-beta`).
    pub headers: Vec<(String, String)>,
    /// The client's `provider` routing.
    pub provider: ProviderRouting,
}

fn bad(code: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::bad_input(code, message)
}

impl PassCall {
    /// Validates a request body of `protocol`. Only the members ferry reads are parsed;
    /// the rest stay the client's text.
    pub fn parse(protocol: Protocol, mut body: RawObject) -> Result<PassCall, EngineError> {
        let selector = match body.remove("model") {
            Some(Ok(Value::String(s))) if !s.trim().is_empty() => s,
            None | Some(Ok(Value::Null)) => {
                return Err(bad(
                    "missing_model",
                    "model is required: a model on the default route (openai/gpt-5.4-mini) or ROUTE/MODEL; list them with GET /openai/v1/models",
                ))
            }
            Some(_) => {
                return Err(bad(
                    "invalid_model",
                    "model must be a non-empty string: a model on the default route or ROUTE/MODEL (openrouter/anthropic/claude-sonnet-4-5)",
                ))
            }
        };
        let stream = match body.remove("stream") {
            None | Some(Ok(Value::Null)) => false,
            Some(Ok(Value::Bool(b))) => b,
            Some(_) => return Err(bad("invalid_stream", "stream must be true or false")),
        };
        if stream && protocol == Protocol::Embeddings {
            return Err(bad(
                "invalid_stream",
                "embeddings do not stream: leave stream out",
            ));
        }
        let provider = match body.remove("provider") {
            None | Some(Ok(Value::Null)) => ProviderRouting::default(),
            Some(Ok(v)) => parse_provider_routing_json(&v)
                .map_err(|e| bad("invalid_provider_routing", format!("provider: {e}")))?,
            Some(Err(e)) => return Err(bad("invalid_provider_routing", format!("provider: {e}"))),
        };
        required_fields(protocol, &body)?;
        Ok(PassCall {
            protocol,
            selector,
            stream,
            body,
            headers: Vec::new(),
            provider,
        })
    }
}

/// The fields a protocol cannot do without, with the shape each must have (read from the
/// first character of their text: a string or an array). A field that is there with
/// another shape is named as such, not as missing.
fn required_fields(protocol: Protocol, body: &RawObject) -> Result<(), EngineError> {
    // "KEY is required: WHAT" when absent, "KEY must be WHAT" when of another shape.
    let wrong = |code: &'static str, key: &str, what: &str| {
        let detail = if body.contains_key(key) {
            format!("{key} must be {what}")
        } else {
            format!("{key} is required: {what}")
        };
        bad(code, detail)
    };
    let text_or_list = |key: &str| matches!(body.kind(key), Some(b'"' | b'['));
    match protocol {
        Protocol::Responses if !text_or_list("input") => Err(wrong(
            "invalid_input",
            "input",
            "a string, or an array of input items such as {\"role\": \"user\", \"content\": \"…\"}",
        )),
        Protocol::Embeddings if !text_or_list("input") => Err(wrong(
            "invalid_input",
            "input",
            "a string or an array of strings (or token arrays) to embed",
        )),
        Protocol::Messages => {
            if !body.is_nonempty_array("messages") {
                return Err(wrong(
                    "invalid_messages",
                    "messages",
                    "a non-empty array of {role, content} objects",
                ));
            }
            match body.read::<Value>("max_tokens") {
                Some(Ok(v)) if v.as_u64().is_some_and(|n| n > 0) => Ok(()),
                _ => Err(wrong(
                    "invalid_max_tokens",
                    "max_tokens",
                    "a positive integer bounding the reply",
                )),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(protocol: Protocol, v: Value) -> Result<PassCall, EngineError> {
        let text = bytes::Bytes::from(serde_json::to_vec(&v).unwrap());
        PassCall::parse(protocol, RawObject::parse(&text).unwrap())
    }

    /// A required field that is there with another shape is named as such; only an
    /// absent one is "required".
    #[test]
    fn a_required_field_of_another_shape_is_not_called_missing() {
        let said = |protocol, v: Value| match parse(protocol, v) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        let m = |extra: Value| {
            let mut body = json!({"model": "m/x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        let e = said(Protocol::Messages, m(json!({"messages": "x"})));
        assert!(e.contains("messages must be a non-empty array"), "{e}");
        let e = said(Protocol::Messages, m(json!({"max_tokens": 0})));
        assert!(e.contains("max_tokens must be a positive integer"), "{e}");
        let mut absent = m(json!({}));
        absent.as_object_mut().unwrap().remove("max_tokens");
        let e = said(Protocol::Messages, absent);
        assert!(e.contains("max_tokens is required"), "{e}");
        let e = said(Protocol::Embeddings, json!({"model": "m/x", "input": 1}));
        assert!(e.contains("input must be a string"), "{e}");
        let e = said(Protocol::Responses, json!({"model": "m/x"}));
        assert!(e.contains("input is required"), "{e}");
    }

    #[test]
    fn keeps_everything_but_what_ferry_reads() {
        let c = parse(
            Protocol::Messages,
            json!({"model": "anthropic/claude-sonnet-4-5", "stream": true, "max_tokens": 10,
                   "messages": [{"role": "user", "content": "hi"}], "provider": {"order": ["anthropic"]},
                   "system": "s", "metadata": {"user_id": "u"}}),
        )
        .unwrap();
        assert_eq!(c.selector, "anthropic/claude-sonnet-4-5");
        assert!(c.stream);
        assert_eq!(c.provider.0["order"], json!(["anthropic"]));
        let mut keys: Vec<&str> = c.body.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["max_tokens", "messages", "metadata", "system"]);
    }

    #[test]
    fn reads_the_clients_text_as_it_was_written() {
        let text = bytes::Bytes::from_static(
            b"{ \"model\" : \"m\", \"max_tokens\":\n 5, \"messages\" : [\n ] , \"system\": \"s\" }",
        );
        let e = PassCall::parse(Protocol::Messages, RawObject::parse(&text).unwrap()).unwrap_err();
        assert_eq!(e.code(), "invalid_messages", "an empty array across lines");
        let text = bytes::Bytes::from_static(
            b"{ \"model\" : \"m\", \"max_tokens\":\n 5, \"messages\" : [\n {} ] , \"stream\" : null }",
        );
        let c = PassCall::parse(Protocol::Messages, RawObject::parse(&text).unwrap()).unwrap();
        assert!(!c.stream);
        assert_eq!(c.body.get("messages").unwrap(), b"[\n {} ]");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let cases = [
            (Protocol::Responses, json!({"input": "x"}), "missing_model"),
            (
                Protocol::Responses,
                json!({"model": 3, "input": "x"}),
                "invalid_model",
            ),
            (Protocol::Responses, json!({"model": "m"}), "invalid_input"),
            (
                Protocol::Responses,
                json!({"model": "m", "input": "x", "stream": "yes"}),
                "invalid_stream",
            ),
            (
                Protocol::Embeddings,
                json!({"model": "m", "input": {"a": 1}}),
                "invalid_input",
            ),
            (
                Protocol::Embeddings,
                json!({"model": "m", "input": "a", "stream": true}),
                "invalid_stream",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": 5}),
                "invalid_messages",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
                "invalid_max_tokens",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": 5, "messages": []}),
                "invalid_messages",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": 5, "messages": {"role": "user"}}),
                "invalid_messages",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": 0, "messages": [{}]}),
                "invalid_max_tokens",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": "5", "messages": [{}]}),
                "invalid_max_tokens",
            ),
            (
                Protocol::Responses,
                json!({"model": "m", "input": 5}),
                "invalid_input",
            ),
            (
                Protocol::Responses,
                json!({"model": "m", "input": null}),
                "invalid_input",
            ),
            (
                Protocol::Messages,
                json!({"model": "m", "max_tokens": 5, "messages": [{}], "provider": {"order": 1}}),
                "invalid_provider_routing",
            ),
        ];
        for (protocol, body, code) in cases {
            let e = parse(protocol, body.clone()).unwrap_err();
            assert_eq!(e.code(), code, "{body}: {e}");
            assert_eq!(e.status(), 400);
        }
    }
}

//! The body of `POST /openai/v1/chat/completions`, validated into a [`FacadeRequest`]:
//! the fields ferry interprets are checked with the same rules as routes.toml and session
//! inputs, OpenRouter's other fields are kept for forwarding, OpenAI-only fields are
//! dropped, and unknown fields are refused the way OpenAI refuses them.

use bytes::Bytes;
use ferry_config::{
    parse_model_params_json, parse_provider_routing_json, ModelParams, ProviderRouting,
    ThinkingLevel, OPENAI_PARAM_KEYS,
};
use ferry_openrouter::shape::{classify_field, FieldClass};
use ferry_openrouter::{checked_array_elements, checked_object_members, RawObject};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    /// `messages`, as the client wrote them (their roles checked).
    pub messages: Bytes,
    /// `tools`, as the client wrote them (an array of objects).
    pub tools: Option<Bytes>,
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
    /// Validates a request body. The conversation and the tool definitions (most of a
    /// body) are checked but kept as the client's text; the other members are read.
    pub fn parse(body: RawObject) -> Result<FacadeRequest, EngineError> {
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
        for (key, text) in body.iter() {
            if text == b"null" {
                continue;
            }
            let class = classify_field(key);
            if let ("messages" | "tools", FieldClass::Handled) = (key, class) {
                let text = body.text(key).expect("a member of the body");
                if key == "messages" {
                    check_messages(&text)?;
                    messages = Some(text);
                } else {
                    check_tools(&text)?;
                    tools = Some(text);
                }
                continue;
            }
            let value: Value = serde_json::from_slice(text)
                .map_err(|e| bad("invalid_json", ferry_openrouter::member_error(key, &e)))?;
            let key = key.to_owned();
            match class {
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
                    "stream" => {
                        stream = value
                            .as_bool()
                            .ok_or_else(|| bad("invalid_stream", "stream must be true or false"))?
                    }
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

/// Checks `messages` (an array of objects, each with a role of system, developer, user,
/// assistant or tool) without building them: over the checked text's structure, or by a
/// serde visitor when a key or a role is written with escapes.
fn check_messages(text: &[u8]) -> Result<(), EngineError> {
    let shape = match list_shape_of_checked(text) {
        Some(shape) => shape,
        None => serde_json::from_slice(text).unwrap_or(ListShape::NotList),
    };
    match shape {
        ListShape::List { len: 0, .. } => Err(bad(
            "invalid_messages",
            "messages is empty: send at least one message",
        )),
        ListShape::List {
            first_bad: None, ..
        } => Ok(()),
        ListShape::List {
            first_bad: Some(i), ..
        } => Err(bad(
            "invalid_messages",
            format!("messages[{i}] needs a role of system, developer, user, assistant or tool"),
        )),
        ListShape::NotList => Err(bad(
            "invalid_messages",
            "messages must be an array of {role, content} objects",
        )),
    }
}

/// [`ListShape`] of checked text by its structure; `None` when a key or a role has an
/// escape (left to the serde visitor, which undoes them).
fn list_shape_of_checked(text: &[u8]) -> Option<ListShape> {
    let Some(elements) = checked_array_elements(text) else {
        return Some(ListShape::NotList);
    };
    let (mut len, mut first_bad) = (0, None);
    for element in elements {
        let mut known = false;
        if let Some(members) = checked_object_members(element) {
            for (key, value) in members {
                if key.contains(&b'\\') {
                    return None;
                }
                if key == b"role" {
                    if value.contains(&b'\\') {
                        return None;
                    }
                    known = matches!(
                        value,
                        b"\"system\""
                            | b"\"developer\""
                            | b"\"user\""
                            | b"\"assistant\""
                            | b"\"tool\""
                    );
                }
            }
        }
        if !known && first_bad.is_none() {
            first_bad = Some(len);
        }
        len += 1;
    }
    Some(ListShape::List { len, first_bad })
}

/// Checks `tools`: an array of objects.
fn check_tools(text: &[u8]) -> Result<(), EngineError> {
    let objects =
        checked_array_elements(text).is_some_and(|mut list| list.all(|t| t.first() == Some(&b'{')));
    if objects {
        return Ok(());
    }
    Err(bad(
            "invalid_tools",
            "tools must be an array of {\"type\": \"function\", \"function\": {name, description?, parameters}} objects",
    ))
}

/// A visitor's answer for every JSON scalar (a boolean, a number, a string, null).
macro_rules! scalars_are {
    ($ty:ty, $answer:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($answer)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($answer)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($answer)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($answer)
        }
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($answer)
        }
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($answer)
        }
    };
}

/// What [`check_messages`] reads of a JSON value: whether it is an array, its length, and
/// the first element that is not a message with a known role.
#[derive(Debug, PartialEq)]
enum ListShape {
    NotList,
    List {
        len: usize,
        first_bad: Option<usize>,
    },
}

impl<'de> Deserialize<'de> for ListShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListShape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListShape, A::Error> {
                let (mut len, mut first_bad) = (0, None);
                while let Some(known) = seq.next_element::<KnownRole>()? {
                    if !known.0 && first_bad.is_none() {
                        first_bad = Some(len);
                    }
                    len += 1;
                }
                Ok(ListShape::List { len, first_bad })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListShape, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ListShape::NotList)
            }
            scalars_are!(ListShape, ListShape::NotList);
        }
        d.deserialize_any(V)
    }
}

/// Whether an object's key is `role` (read without copying it).
struct IsRole(bool);

impl<'de> Deserialize<'de> for IsRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IsRole;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<IsRole, E> {
                Ok(IsRole(key == "role"))
            }
        }
        d.deserialize_str(V)
    }
}

/// Whether a JSON value is an object whose `role` (its last, as a tree keeps it) is one a
/// message may have.
struct KnownRole(bool);

impl<'de> Deserialize<'de> for KnownRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KnownRole;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KnownRole, A::Error> {
                let mut known = false;
                while let Some(IsRole(is_role)) = map.next_key()? {
                    if is_role {
                        let role = map.next_value::<Value>()?;
                        known = matches!(
                            role.as_str(),
                            Some("system" | "developer" | "user" | "assistant" | "tool")
                        );
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(KnownRole(known))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KnownRole, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KnownRole(false))
            }
            scalars_are!(KnownRole, KnownRole(false));
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<FacadeRequest, EngineError> {
        let text = Bytes::from(serde_json::to_vec(&v).unwrap());
        FacadeRequest::parse(RawObject::parse(&text).unwrap())
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

    /// The messages and tools checks read the client's text as the tree-building checks
    /// they replaced did: the same verdict and message for every shape.
    #[test]
    fn messages_and_tools_are_checked_without_building_them() {
        let message = |body: &str| -> Result<(), String> {
            let text = Bytes::from(format!(r#"{{"model":"m/x","messages":{body}}}"#));
            FacadeRequest::parse(RawObject::parse(&text).unwrap())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let not_a_list = "messages must be an array of {role, content} objects";
        for (body, verdict) in [
            (r#"[{"role":"user","content":"x"}]"#, Ok(())),
            (r#" [ {"content":"x", "role" : "tool"} ] "#, Ok(())),
            (r#"[{"role":"bogus","role":"user"}]"#, Ok(())),
            (
                r#"[{"role":"user"},{"role":"x"},{"role":5}]"#,
                Err("messages[1] needs a role"),
            ),
            (
                r#"[{"role":"user","role":"bogus"}]"#,
                Err("messages[0] needs a role"),
            ),
            (r#"[{"ROLE":"user"}]"#, Err("messages[0] needs a role")),
            (r#"[{"r\u006fle":"user"}]"#, Ok(())),
            (r#"[{"role":"us\u0065r"}]"#, Ok(())),
            (r#"["user"]"#, Err("messages[0] needs a role")),
            (r#"[["role","user"]]"#, Err("messages[0] needs a role")),
            (r#"[null]"#, Err("messages[0] needs a role")),
            (r#"[ ]"#, Err("messages is empty")),
            (r#"{"role":"user"}"#, Err(not_a_list)),
            (r#""hi""#, Err(not_a_list)),
            (r#"7"#, Err(not_a_list)),
            (r#"true"#, Err(not_a_list)),
        ] {
            match (message(body), verdict) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(want)) => assert!(e.contains(want), "{body}: {e}"),
                (got, want) => panic!("{body}: {got:?}, want {want:?}"),
            }
        }
        let tools = |body: &str| {
            let text = Bytes::from(format!(
                r#"{{"model":"m/x","messages":[{{"role":"user"}}],"tools":{body}}}"#
            ));
            FacadeRequest::parse(RawObject::parse(&text).unwrap()).map(|r| r.tools)
        };
        let listed = tools(r#"[ {"type":"function"} ]"#).unwrap().unwrap();
        assert_eq!(
            &listed[..],
            br#"[ {"type":"function"} ]"#,
            "kept as written"
        );
        for bad in [r#"[{"a":1},2]"#, r#"{"a":1}"#, r#""x""#, r#"[[]]"#] {
            assert_eq!(tools(bad).unwrap_err().code(), "invalid_tools", "{bad}");
        }
        assert!(tools("[]").unwrap().is_some(), "an empty list is a list");
        // An unpaired surrogate escape passes the grammar check: kept as written in the
        // messages, refused with its field's name where ferry must read the value.
        let surrogate = |extra: &str| {
            let text = Bytes::from(format!(
                r#"{{"model":"m/x","messages":[{{"role":"user","content":"\ud800"}}]{extra}}}"#
            ));
            FacadeRequest::parse(RawObject::parse(&text).unwrap())
        };
        assert!(surrogate("").is_ok());
        let e = surrogate(r#","user":"\ud800""#).unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        assert!(e.to_string().contains("user:"), "{e}");
        assert!(e.to_string().contains("lone surrogate"), "{e}");
        // Another value a tree cannot hold gets its own hint, and no position counted
        // from the member's start.
        let text = Bytes::from_static(
            br#"{"model":"m/x","messages":[{"role":"user","content":"x"}],"temperature":1e400}"#,
        );
        let e = FacadeRequest::parse(RawObject::parse(&text).unwrap()).unwrap_err();
        let said = e.to_string();
        assert!(said.contains("temperature: number out of range"), "{said}");
        assert!(
            said.contains("64-bit float") && !said.contains("surrogate"),
            "{said}"
        );
        assert!(!said.contains("column"), "{said}");
        assert!(tools("null").unwrap().is_none(), "null is left out");
    }

    /// Over every messages array one edit away from a varied one that serde accepts, the
    /// structural reading of the checked text (where it answers) agrees with the serde
    /// visitor.
    #[test]
    fn the_structural_role_check_agrees_with_the_visitor() {
        let bases: [&[u8]; 2] = [
            br#"[{"role":"user","content":"a \"role\": \"x\" {[" }, {"content":[{"role":"tool"}],"role":"assistant"}, {"role":"bogus","role":"tool"}, "s", 1, [ ], {"role":"system","n":-1.5e2,"t":true}]"#,
            br#"[{"role":"us\u0065r"},{"r\u006fle":"tool"}]"#,
        ];
        let edits: &[u8] = b"\"\\{}[],: 1a";
        let mut bodies = Vec::new();
        for base in bases {
            bodies.push(base.to_vec());
            for at in 0..base.len() {
                bodies.push([&base[..at], &base[at + 1..]].concat());
                for &e in edits {
                    let mut v = base.to_vec();
                    v[at] = e;
                    bodies.push(v);
                }
            }
        }
        let (mut agreed, mut declined) = (0, 0);
        for body in bodies {
            let Ok(by_visitor) = serde_json::from_slice::<ListShape>(&body) else {
                continue;
            };
            match list_shape_of_checked(&body) {
                Some(shape) => {
                    let text = String::from_utf8_lossy(&body);
                    assert_eq!(shape, by_visitor, "{text}");
                    agreed += 1;
                }
                None => declined += 1,
            }
        }
        assert!(
            agreed > 300 && declined > 20,
            "{agreed} agreed, {declined} declined"
        );
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

//! Per-model request parameters (`[routes.X.models."M"].params`, and the per-input
//! `params` JSON override): parsing, validation and overlaying.

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::error::{FieldError, FieldErrorKind};
use crate::json_value::{boolean, number_in, object, only_keys, string};
use crate::key_list::join_keys;
use crate::kinds::{CacheControlTtl, ThinkingLevel};

/// Request parameters for one model. Every field is optional; unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelParams {
    /// Sampling temperature, 0 to 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Completion token limit, at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Sampling seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences, at most 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// `{type: "json_object"}` or `{type: "json_schema", json_schema: {name, schema?, strict?, description?}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// TTL of Anthropic prompt-cache markers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control_ttl: Option<CacheControlTtl>,
    /// OpenRouter response cache on/off (`X-OpenRouter-Cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_cache: Option<bool>,
    /// Response cache TTL in seconds as configured; clamped to 1..=86400 when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_cache_ttl_seconds: Option<i64>,
    /// Ask OpenRouter to clear the cached response (`X-OpenRouter-Cache-Clear`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_cache_clear: Option<bool>,
    /// Reasoning effort for this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingLevel>,
}

/// Why a params object was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamsError {
    /// The params value is not an object.
    #[error("params must be an object (a TOML table or a JSON object)")]
    NotAnObject,
    /// One key is unknown or has a bad value.
    #[error("invalid params: {0}")]
    Field(#[from] FieldError),
}

/// The params keys OpenAI's chat completions API defines too, with the same names and
/// meaning: the OpenAI facade takes exactly these as params, and the request shaper
/// sends them as ferry's own.
pub const OPENAI_PARAM_KEYS: &[&str] = &[
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "stop",
    "response_format",
];

/// ferry's own params keys (OpenRouter's cache controls and the thinking level).
const FERRY_PARAM_KEYS: &[&str] = &[
    "cache_control_ttl",
    "response_cache",
    "response_cache_ttl_seconds",
    "response_cache_clear",
    "thinking",
];

/// The accepted params keys (snake_case), in documentation order.
pub const PARAM_KEYS: &[&str] = &join_keys::<{ OPENAI_PARAM_KEYS.len() + FERRY_PARAM_KEYS.len() }>(
    OPENAI_PARAM_KEYS,
    FERRY_PARAM_KEYS,
);

/// camelCase aliases accepted for the multi-word keys: `(alias, canonical)`.
pub const PARAM_ALIASES: &[(&str, &str)] = &[
    ("topP", "top_p"),
    ("maxTokens", "max_tokens"),
    ("responseFormat", "response_format"),
    ("cacheControlTtl", "cache_control_ttl"),
    ("responseCache", "response_cache"),
    ("responseCacheTtlSeconds", "response_cache_ttl_seconds"),
    ("responseCacheClear", "response_cache_clear"),
];

/// Most stop sequences OpenAI-compatible APIs accept.
pub const MAX_STOP_SEQUENCES: usize = 4;

const RESPONSE_FORMAT_EXPECTED: &str =
    "a table {type = \"json_object\"} or {type = \"json_schema\", json_schema = {name = ..., schema = {...}}}";

/// Parses and validates a params object given as JSON (a per-input override, or a stored
/// copy of [`ModelParams`] serialized with `serde_json`).
pub fn parse_model_params_json(v: &Value) -> Result<ModelParams, ParamsError> {
    let obj = v.as_object().ok_or(ParamsError::NotAnObject)?;
    Ok(parse_params_object(obj)?)
}

/// The canonical (snake_case) name of a params key, if it is one.
fn canonical(key: &str) -> Option<&'static str> {
    PARAM_KEYS.iter().copied().find(|k| *k == key).or_else(|| {
        PARAM_ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, k)| *k)
    })
}

pub(crate) fn parse_params_object(obj: &Map<String, Value>) -> Result<ModelParams, FieldError> {
    let mut seen: Vec<(&'static str, &str)> = Vec::new();
    let mut p = ModelParams::default();
    for (key, v) in obj {
        let key = key.as_str();
        let name = canonical(key).ok_or_else(|| FieldError::unknown(key, PARAM_KEYS))?;
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            return Err(FieldError::new(
                key,
                FieldErrorKind::Duplicate {
                    other: (*first).to_string(),
                },
            ));
        }
        seen.push((name, key));
        match name {
            "temperature" => {
                p.temperature = Some(number_in(key, v, 0.0, 2.0, "a number from 0 to 2")?)
            }
            "top_p" => p.top_p = Some(number_in(key, v, 0.0, 1.0, "a number from 0 to 1")?),
            "max_tokens" => {
                p.max_tokens = Some(
                    v.as_u64()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| FieldError::expected(key, "a positive integer"))?,
                )
            }
            "seed" => {
                p.seed = Some(
                    v.as_i64()
                        .ok_or_else(|| FieldError::expected(key, "an integer"))?,
                )
            }
            "stop" => p.stop = Some(parse_stop(key, v)?),
            "response_format" => p.response_format = Some(parse_response_format(key, v)?),
            "cache_control_ttl" => {
                p.cache_control_ttl = Some(
                    string(key, v, "one of \"5m\", \"1h\", \"none\"")?
                        .parse()
                        .map_err(|_| {
                            FieldError::expected(key, "one of \"5m\", \"1h\", \"none\"")
                        })?,
                )
            }
            "response_cache" => p.response_cache = Some(boolean(key, v)?),
            "response_cache_ttl_seconds" => {
                p.response_cache_ttl_seconds = Some(v.as_i64().ok_or_else(|| {
                    FieldError::expected(key, "an integer number of seconds (1 to 86400)")
                })?)
            }
            "response_cache_clear" => p.response_cache_clear = Some(boolean(key, v)?),
            "thinking" => p.thinking = Some(parse_thinking(key, v)?),
            _ => return Err(FieldError::unknown(key, PARAM_KEYS)),
        }
    }
    Ok(p)
}

/// A thinking level from a JSON string.
pub(crate) fn parse_thinking(key: &str, v: &Value) -> Result<ThinkingLevel, FieldError> {
    let expected = format!("one of {}", ThinkingLevel::VALID.join(", "));
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| FieldError::expected(key, expected))
}

fn parse_stop(key: &str, v: &Value) -> Result<Vec<String>, FieldError> {
    let expected = "a string or an array of at most 4 strings";
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.len() <= MAX_STOP_SEQUENCES => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| FieldError::expected(key, expected))
            })
            .collect(),
        _ => Err(FieldError::expected(key, expected)),
    }
}

fn parse_response_format(key: &str, v: &Value) -> Result<Value, FieldError> {
    let obj = object(key, v, RESPONSE_FORMAT_EXPECTED)?;
    let type_key = format!("{key}.type");
    let kind = match obj.get("type") {
        None => {
            return Err(FieldError::new(
                type_key,
                FieldErrorKind::Missing {
                    hint: Some("use \"json_object\" or \"json_schema\"".into()),
                },
            ))
        }
        Some(t) => string(&type_key, t, "\"json_object\" or \"json_schema\"")?,
    };
    match kind {
        "json_object" => only_keys(obj, &["type"], Some(key))?,
        "json_schema" => {
            only_keys(obj, &["type", "json_schema"], Some(key))?;
            let schema_key = format!("{key}.json_schema");
            let schema = obj.get("json_schema").ok_or_else(|| {
                FieldError::new(
                    schema_key.as_str(),
                    FieldErrorKind::Missing {
                        hint: Some("give {name = \"...\", schema = {...}}".into()),
                    },
                )
            })?;
            check_json_schema(&schema_key, schema)?;
        }
        _ => {
            return Err(FieldError::expected(
                type_key,
                "\"json_object\" or \"json_schema\"",
            ))
        }
    }
    Ok(v.clone())
}

fn check_json_schema(key: &str, v: &Value) -> Result<(), FieldError> {
    let obj = object(key, v, "a table with name, schema, strict, description")?;
    only_keys(obj, &["name", "schema", "strict", "description"], Some(key))?;
    let name_key = format!("{key}.name");
    let name_expected = "a name of 1 to 64 characters from a-z, A-Z, 0-9, _ and -";
    match obj.get("name") {
        None => {
            return Err(FieldError::new(
                name_key,
                FieldErrorKind::Missing { hint: None },
            ))
        }
        Some(n) => {
            let name = string(&name_key, n, name_expected)?;
            let ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(FieldError::expected(name_key, name_expected));
            }
        }
    }
    if let Some(s) = obj.get("schema") {
        object(
            &format!("{key}.schema"),
            s,
            "a table (a JSON Schema object)",
        )?;
    }
    if let Some(s) = obj.get("strict") {
        boolean(&format!("{key}.strict"), s)?;
    }
    if let Some(d) = obj.get("description") {
        string(&format!("{key}.description"), d, "a string")?;
    }
    Ok(())
}

impl ModelParams {
    /// These params with every field that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &ModelParams) -> ModelParams {
        ModelParams {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            max_tokens: over.max_tokens.or(self.max_tokens),
            seed: over.seed.or(self.seed),
            stop: over.stop.clone().or_else(|| self.stop.clone()),
            response_format: over
                .response_format
                .clone()
                .or_else(|| self.response_format.clone()),
            cache_control_ttl: over.cache_control_ttl.or(self.cache_control_ttl),
            response_cache: over.response_cache.or(self.response_cache),
            response_cache_ttl_seconds: over
                .response_cache_ttl_seconds
                .or(self.response_cache_ttl_seconds),
            response_cache_clear: over.response_cache_clear.or(self.response_cache_clear),
            thinking: over.thinking.or(self.thinking),
        }
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == ModelParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_err(v: Value) -> FieldError {
        match parse_model_params_json(&v) {
            Err(ParamsError::Field(e)) => e,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_key() {
        let p = parse_model_params_json(&json!({
            "temperature": 0.7, "top_p": 1, "max_tokens": 4096, "seed": -3,
            "stop": ["a", "b"], "response_format": {"type": "json_object"},
            "cache_control_ttl": "1h", "response_cache": true,
            "response_cache_ttl_seconds": 999999, "response_cache_clear": false,
            "thinking": "max"
        }))
        .unwrap();
        assert_eq!(p.temperature, Some(0.7));
        assert_eq!(p.top_p, Some(1.0));
        assert_eq!(p.max_tokens, Some(4096));
        assert_eq!(p.seed, Some(-3));
        assert_eq!(p.stop, Some(vec!["a".into(), "b".into()]));
        assert_eq!(p.response_format, Some(json!({"type": "json_object"})));
        assert_eq!(p.cache_control_ttl, Some(CacheControlTtl::OneHour));
        assert_eq!(p.response_cache, Some(true));
        // Stored as given; clamping happens when the header is sent.
        assert_eq!(p.response_cache_ttl_seconds, Some(999999));
        assert_eq!(p.response_cache_clear, Some(false));
        assert_eq!(p.thinking, Some(ThinkingLevel::Xhigh));
    }

    #[test]
    fn camel_case_aliases() {
        let p = parse_model_params_json(&json!({
            "topP": 0.5, "maxTokens": 10, "cacheControlTtl": "none", "responseCache": true,
            "responseCacheTtlSeconds": 60, "responseCacheClear": true,
            "responseFormat": {"type": "json_object"}
        }))
        .unwrap();
        assert_eq!(p.top_p, Some(0.5));
        assert_eq!(p.max_tokens, Some(10));
        assert_eq!(p.cache_control_ttl, Some(CacheControlTtl::None));
        assert_eq!(p.response_cache, Some(true));
        assert_eq!(p.response_cache_ttl_seconds, Some(60));
        assert_eq!(p.response_cache_clear, Some(true));
        assert!(p.response_format.is_some());
    }

    #[test]
    fn a_key_and_its_alias_together_are_rejected() {
        let e = field_err(json!({"max_tokens": 1, "maxTokens": 2}));
        assert!(matches!(e.kind, FieldErrorKind::Duplicate { .. }), "{e}");
    }

    #[test]
    fn unknown_key_names_valid_keys() {
        let e = field_err(json!({"temprature": 1}));
        let msg = e.to_string();
        assert!(msg.contains("\"temprature\""), "{msg}");
        assert!(msg.contains("temperature, top_p, max_tokens"), "{msg}");
    }

    #[test]
    fn ranges_and_types() {
        for bad in [
            json!({"temperature": 2.5}),
            json!({"temperature": -0.1}),
            json!({"temperature": "1"}),
            json!({"top_p": 1.5}),
            json!({"max_tokens": 0}),
            json!({"max_tokens": 1.5}),
            json!({"max_tokens": -1}),
            json!({"seed": 1.5}),
            json!({"stop": ["a", "b", "c", "d", "e"]}),
            json!({"stop": [1]}),
            json!({"stop": 3}),
            json!({"cache_control_ttl": "2h"}),
            json!({"response_cache": "yes"}),
            json!({"response_cache_ttl_seconds": 1.5}),
            json!({"response_cache_ttl_seconds": "300"}),
            json!({"response_cache_clear": 1}),
            json!({"thinking": "extreme"}),
        ] {
            assert!(parse_model_params_json(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_model_params_json(&json!({"stop": "END"}))
                .unwrap()
                .stop,
            Some(vec!["END".to_string()])
        );
        assert_eq!(
            parse_model_params_json(&json!([])),
            Err(ParamsError::NotAnObject)
        );
    }

    #[test]
    fn response_format_forms() {
        let ok = json!({"response_format": {"type": "json_schema", "json_schema": {
            "name": "math_response", "strict": true,
            "schema": {"type": "object", "properties": {"answer": {"type": "number"}}}
        }}});
        assert!(parse_model_params_json(&ok).is_ok());
        let cases = [
            (json!({"response_format": "json"}), "response_format"),
            (json!({"response_format": {}}), "response_format.type"),
            (
                json!({"response_format": {"type": "xml"}}),
                "response_format.type",
            ),
            (
                json!({"response_format": {"type": "json_object", "json_schema": {}}}),
                "response_format.json_schema",
            ),
            (
                json!({"response_format": {"type": "json_schema"}}),
                "response_format.json_schema",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
                "response_format.json_schema.name",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}}),
                "response_format.json_schema.name",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": 1}}}),
                "response_format.json_schema.schema",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "extra": 1}}}),
                "response_format.json_schema.extra",
            ),
        ];
        for (v, key) in cases {
            assert_eq!(field_err(v.clone()).key, key, "{v}");
        }
    }

    #[test]
    fn errors_never_echo_values() {
        for v in [
            json!({"temperature": "sk-or-v1-SECRET"}),
            json!({"thinking": "sk-or-v1-SECRET"}),
            json!({"stop": [1, "sk-or-v1-SECRET"]}),
            json!({"response_format": {"type": "sk-or-v1-SECRET"}}),
        ] {
            let msg = parse_model_params_json(&v).unwrap_err().to_string();
            assert!(!msg.contains("SECRET"), "{msg}");
        }
    }

    #[test]
    fn overlay_prefers_the_override_field_by_field() {
        let base = parse_model_params_json(&json!({"temperature": 0.2, "max_tokens": 10})).unwrap();
        let over = parse_model_params_json(&json!({"temperature": 1.0, "seed": 7})).unwrap();
        let merged = base.overlay(&over);
        assert_eq!(merged.temperature, Some(1.0));
        assert_eq!(merged.max_tokens, Some(10));
        assert_eq!(merged.seed, Some(7));
        assert!(ModelParams::default().is_empty());
        assert!(!merged.is_empty());
    }

    #[test]
    fn serialized_params_parse_back_identically() {
        let p = parse_model_params_json(&json!({
            "temperature": 0.5, "stop": "x", "cache_control_ttl": "5m", "thinking": "adaptive",
            "responseCacheTtlSeconds": 30
        }))
        .unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(parse_model_params_json(&v).unwrap(), p);
    }
}

//! OpenRouter provider routing (`provider` objects): validation against OpenRouter's
//! `ProviderPreferences` schema and the route < model < input merge.

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::error::FieldError;
use crate::json_value::{boolean, object, only_keys, string, string_array};

/// A validated OpenRouter `provider` object, kept as JSON so it can be sent as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ProviderRouting(pub Map<String, Value>);

/// Why a provider-routing object was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderRoutingError {
    /// The value is not an object.
    #[error("provider routing must be an object (a TOML table or a JSON object)")]
    NotAnObject,
    /// One key is unknown or has a bad value.
    #[error("invalid provider routing: {0}")]
    Field(#[from] FieldError),
}

/// OpenRouter's provider-routing keys.
pub const PROVIDER_ROUTING_KEYS: &[&str] = &[
    "order",
    "only",
    "ignore",
    "allow_fallbacks",
    "require_parameters",
    "data_collection",
    "zdr",
    "enforce_distillable_text",
    "quantizations",
    "sort",
    "max_price",
    "preferred_min_throughput",
    "preferred_max_latency",
];

/// OpenRouter's quantization levels (`Quantization` in the OpenAPI document).
pub const QUANTIZATIONS: &[&str] = &[
    "int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32",
    "unknown",
];

/// Sorting strategies (`ProviderSort`).
pub const SORT_STRATEGIES: &[&str] = &["price", "throughput", "latency", "exacto"];

const SORT_PARTITIONS: &[&str] = &["model", "none"];
const MAX_PRICE_KEYS: &[&str] = &["prompt", "completion", "image", "audio", "request"];
const PERCENTILE_KEYS: &[&str] = &["p50", "p75", "p90", "p99"];

/// Parses and validates a provider-routing object given as JSON.
pub fn parse_provider_routing_json(v: &Value) -> Result<ProviderRouting, ProviderRoutingError> {
    let obj = v.as_object().ok_or(ProviderRoutingError::NotAnObject)?;
    Ok(parse_provider_object(obj)?)
}

pub(crate) fn parse_provider_object(
    obj: &Map<String, Value>,
) -> Result<ProviderRouting, FieldError> {
    only_keys(obj, PROVIDER_ROUTING_KEYS, None)?;
    for (key, v) in obj {
        let key = key.as_str();
        match key {
            "order" | "only" | "ignore" => {
                string_array(key, v)?;
            }
            "quantizations" => {
                let expected = format!("an array of quantizations ({})", QUANTIZATIONS.join(", "));
                let items = v
                    .as_array()
                    .ok_or_else(|| FieldError::expected(key, expected.as_str()))?;
                for item in items {
                    match item.as_str() {
                        Some(q) if QUANTIZATIONS.contains(&q) => {}
                        _ => return Err(FieldError::expected(key, expected)),
                    }
                }
            }
            "allow_fallbacks" | "require_parameters" | "zdr" | "enforce_distillable_text" => {
                boolean(key, v)?;
            }
            "data_collection" => {
                let expected = "\"allow\" or \"deny\"";
                if !matches!(string(key, v, expected)?, "allow" | "deny") {
                    return Err(FieldError::expected(key, expected));
                }
            }
            "sort" => check_sort(key, v)?,
            "max_price" => check_max_price(key, v)?,
            "preferred_min_throughput" => check_percentiles(
                key,
                v,
                "a number (tokens per second) or a table of p50, p75, p90, p99",
            )?,
            "preferred_max_latency" => check_percentiles(
                key,
                v,
                "a number (seconds) or a table of p50, p75, p90, p99",
            )?,
            _ => return Err(FieldError::unknown(key, PROVIDER_ROUTING_KEYS)),
        }
    }
    Ok(ProviderRouting(obj.clone()))
}

fn check_sort(key: &str, v: &Value) -> Result<(), FieldError> {
    let strategy_expected = format!("one of {}", SORT_STRATEGIES.join(", "));
    match v {
        Value::String(s) if SORT_STRATEGIES.contains(&s.as_str()) => Ok(()),
        Value::Object(obj) => {
            only_keys(obj, &["by", "partition"], Some(key))?;
            if let Some(by) = obj.get("by") {
                let by_key = format!("{key}.by");
                if !SORT_STRATEGIES.contains(&string(&by_key, by, &strategy_expected)?) {
                    return Err(FieldError::expected(by_key, strategy_expected));
                }
            }
            if let Some(p) = obj.get("partition") {
                let p_key = format!("{key}.partition");
                let expected = "\"model\" or \"none\"";
                if !SORT_PARTITIONS.contains(&string(&p_key, p, expected)?) {
                    return Err(FieldError::expected(p_key, expected));
                }
            }
            Ok(())
        }
        _ => Err(FieldError::expected(
            key,
            format!("{strategy_expected}, or a table {{by, partition}}"),
        )),
    }
}

/// A non-negative price: a number or a string holding a number.
fn is_price(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|f| f >= 0.0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .is_ok_and(|f| f.is_finite() && f >= 0.0),
        _ => false,
    }
}

fn check_max_price(key: &str, v: &Value) -> Result<(), FieldError> {
    let obj = object(
        key,
        v,
        "a table of prompt, completion, image, audio, request",
    )?;
    only_keys(obj, MAX_PRICE_KEYS, Some(key))?;
    for (k, price) in obj {
        if !is_price(price) {
            return Err(FieldError::expected(
                format!("{key}.{k}"),
                "a non-negative number or a string holding one (USD)",
            ));
        }
    }
    Ok(())
}

fn check_percentiles(key: &str, v: &Value, expected: &str) -> Result<(), FieldError> {
    let non_negative = |n: &Value| n.as_f64().is_some_and(|f| f >= 0.0);
    match v {
        Value::Number(_) if non_negative(v) => Ok(()),
        Value::Object(obj) => {
            only_keys(obj, PERCENTILE_KEYS, Some(key))?;
            for (k, n) in obj {
                if !non_negative(n) {
                    return Err(FieldError::expected(
                        format!("{key}.{k}"),
                        "a non-negative number",
                    ));
                }
            }
            Ok(())
        }
        _ => Err(FieldError::expected(key, expected)),
    }
}

impl ProviderRouting {
    /// Merges layers key by key; a later layer's key replaces an earlier one's
    /// (route < model < per-input override).
    pub fn merged(layers: &[&ProviderRouting]) -> ProviderRouting {
        let mut out = Map::new();
        for layer in layers {
            for (k, v) in &layer.0 {
                out.insert(k.clone(), v.clone());
            }
        }
        ProviderRouting(out)
    }

    /// Whether no key is set (then no `provider` object needs sending).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err_key(v: Value) -> String {
        match parse_provider_routing_json(&v) {
            Err(ProviderRoutingError::Field(e)) => e.key,
            other => panic!("expected a field error for {v}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_every_key() {
        let v = json!({
            "order": ["aws-bedrock", "anthropic"], "only": ["openai"], "ignore": ["x"],
            "allow_fallbacks": true, "require_parameters": false, "data_collection": "deny",
            "zdr": true, "enforce_distillable_text": false, "quantizations": ["fp8", "bf16"],
            "sort": {"by": "price", "partition": "none"},
            "max_price": {"prompt": 1, "completion": "2.5", "image": 0.01, "audio": "0", "request": 3},
            "preferred_min_throughput": {"p50": 100, "p90": 50},
            "preferred_max_latency": 5
        });
        let p = parse_provider_routing_json(&v).unwrap();
        assert_eq!(Value::Object(p.0), v);
        for sort in ["price", "throughput", "latency", "exacto"] {
            assert!(parse_provider_routing_json(&json!({"sort": sort})).is_ok());
        }
        assert!(parse_provider_routing_json(&json!({"preferred_min_throughput": 10.5})).is_ok());
        assert!(parse_provider_routing_json(&json!({"preferred_max_latency": {"p99": 3}})).is_ok());
    }

    #[test]
    fn typos_name_the_key_and_list_valid_keys() {
        let e = parse_provider_routing_json(&json!({"ordr": ["a"]})).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\"ordr\""), "{msg}");
        assert!(
            msg.contains("order, only, ignore, allow_fallbacks"),
            "{msg}"
        );
        assert_eq!(
            err_key(json!({"sort": {"by": "price", "partiton": "x"}})),
            "sort.partiton"
        );
        assert_eq!(
            err_key(json!({"max_price": {"promt": 1}})),
            "max_price.promt"
        );
        assert_eq!(
            err_key(json!({"preferred_max_latency": {"p95": 1}})),
            "preferred_max_latency.p95"
        );
    }

    #[test]
    fn bad_types() {
        for (v, key) in [
            (json!({"order": "anthropic"}), "order"),
            (json!({"only": [1]}), "only"),
            (json!({"ignore": [""]}), "ignore"),
            (json!({"quantizations": ["fp7"]}), "quantizations"),
            (json!({"quantizations": "fp8"}), "quantizations"),
            (json!({"allow_fallbacks": "true"}), "allow_fallbacks"),
            (json!({"require_parameters": 1}), "require_parameters"),
            (json!({"zdr": null}), "zdr"),
            (
                json!({"enforce_distillable_text": "no"}),
                "enforce_distillable_text",
            ),
            (json!({"data_collection": "maybe"}), "data_collection"),
            (json!({"data_collection": true}), "data_collection"),
            (json!({"sort": "cheapest"}), "sort"),
            (json!({"sort": 1}), "sort"),
            (json!({"sort": {"by": "speed"}}), "sort.by"),
            (json!({"sort": {"partition": "all"}}), "sort.partition"),
            (json!({"max_price": 5}), "max_price"),
            (
                json!({"max_price": {"prompt": "cheap"}}),
                "max_price.prompt",
            ),
            (json!({"max_price": {"prompt": -1}}), "max_price.prompt"),
            (json!({"max_price": {"prompt": true}}), "max_price.prompt"),
            (
                json!({"preferred_min_throughput": "fast"}),
                "preferred_min_throughput",
            ),
            (
                json!({"preferred_min_throughput": -1}),
                "preferred_min_throughput",
            ),
            (
                json!({"preferred_max_latency": {"p50": "1"}}),
                "preferred_max_latency.p50",
            ),
        ] {
            assert_eq!(err_key(v), key);
        }
        assert_eq!(
            parse_provider_routing_json(&json!(["order"])),
            Err(ProviderRoutingError::NotAnObject)
        );
    }

    #[test]
    fn errors_never_echo_values() {
        for v in [
            json!({"data_collection": "sk-or-v1-SECRET"}),
            json!({"sort": "sk-or-v1-SECRET"}),
            json!({"max_price": {"prompt": "sk-or-v1-SECRET"}}),
            json!({"quantizations": ["sk-or-v1-SECRET"]}),
        ] {
            let msg = parse_provider_routing_json(&v).unwrap_err().to_string();
            assert!(!msg.contains("SECRET"), "{msg}");
        }
    }

    #[test]
    fn merge_later_layers_override_per_key() {
        let route = parse_provider_routing_json(&json!({"order": ["a"], "zdr": true})).unwrap();
        let model = parse_provider_routing_json(&json!({"order": ["b"], "sort": "price"})).unwrap();
        let input = parse_provider_routing_json(&json!({"sort": "latency"})).unwrap();
        let merged = ProviderRouting::merged(&[&route, &model, &input]);
        assert_eq!(
            Value::Object(merged.0),
            json!({"order": ["b"], "zdr": true, "sort": "latency"})
        );
        assert!(ProviderRouting::merged(&[]).is_empty());
    }
}

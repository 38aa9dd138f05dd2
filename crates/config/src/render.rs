//! [`RoutesFile`] → routes.toml text: the effective configuration written in the grammar
//! the parser reads (auth and capability flags at route level, no nulls), so
//! `ferry config show` output can be saved and loaded as a routes file.

use serde_json::{Map, Value};

use crate::route::RoutesFile;

/// Why the configuration could not be written as TOML.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the configuration as TOML: {0}")]
pub struct RenderError(String);

/// The routes file as TOML text that [`crate::parse_routes`] accepts and that loads to the
/// same configuration (defaults written out).
pub fn to_routes_toml(file: &RoutesFile) -> Result<String, RenderError> {
    let mut doc = serde_json::to_value(file).map_err(|e| RenderError(e.to_string()))?;
    if let Some(routes) = doc.get_mut("routes").and_then(Value::as_object_mut) {
        for route in routes.values_mut() {
            if let Some(obj) = route.as_object_mut() {
                to_route_grammar(obj);
            }
        }
    }
    toml_edit::ser::to_string_pretty(&without_nulls(doc)).map_err(|e| RenderError(e.to_string()))
}

/// Moves `auth` and `capabilities` up to route level (where routes.toml has them) and
/// drops the `id`, which is the table's key.
fn to_route_grammar(route: &mut Map<String, Value>) {
    route.remove("id");
    for nested in ["auth", "capabilities"] {
        if let Some(Value::Object(inner)) = route.remove(nested) {
            route.extend(inner);
        }
    }
}

/// TOML has no null: unset options are left out, as in a routes file.
pub fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::parse_routes;

    const RICH: &str = r#"
version = 1
default_route = "openrouter"

[routes.openrouter]
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
fallbacks = ["anthropic/claude-sonnet-4-5"]
thinking = "medium"
system_prompt = "Be brief."
native_web_search = true
video_generation = false

[routes.openrouter.attribution]
referer = "https://example.org/app"
categories = ["cli-agent"]

[routes.openrouter.provider]
order = ["anthropic"]
sort = { by = "price", partition = "none" }
max_price = { prompt = 1, completion = "2.5" }

[routes.openrouter.network]
resolve = ["openrouter.ai:443:127.0.0.1:8443"]
proxy = "http://proxy.internal:3128"

[routes.openrouter.models."anthropic/claude-sonnet-4-5"]
provider = { order = ["aws-bedrock"], allow_fallbacks = true }
params = { temperature = 0.7, max_tokens = 4096, cache_control_ttl = "1h", stop = ["x"] }

[routes.local]
base_url = "http://127.0.0.1:8080/v1"
default_model = "meta-llama/llama-3.3-70b-instruct"
model_support = "listed"
api_key_env = "LOCAL_PROXY_KEY"
"#;

    #[test]
    fn rendered_toml_parses_back_to_the_same_configuration() {
        let first = parse_routes(RICH, Path::new("routes.toml")).unwrap();
        let text = to_routes_toml(&first).unwrap();
        let second = parse_routes(&text, Path::new("routes.toml"))
            .unwrap_or_else(|e| panic!("rendered TOML does not parse: {e}\n{text}"));
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::to_value(&second).unwrap(),
            "{text}"
        );
        assert!(!text.contains("\"id\""), "{text}");
    }

    #[test]
    fn the_builtin_routes_render_as_a_valid_file() {
        let file = crate::builtin_routes().unwrap();
        let text = to_routes_toml(&file).unwrap();
        parse_routes(&text, Path::new("routes.toml")).unwrap();
    }

    #[test]
    fn nulls_are_dropped_everywhere() {
        assert_eq!(
            without_nulls(
                serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]})
            ),
            serde_json::json!({"b": {"d": 1}, "e": [{}]})
        );
    }
}

//! `ferry config show [--route R]`: the routes configuration as the daemon loaded it
//! (`GET /v1/config`), shown as TOML (or JSON with `--json`). Secrets are never part of it.

use serde_json::Value;

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::render::print_json;

/// Runs a config command.
pub async fn run(g: &GlobalArgs, cmd: &ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Show { route } = cmd;
    let client = ApiClient::new(g)?;
    let path = match route {
        Some(r) => format!(
            "/v1/config?route={}",
            url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
        ),
        None => "/v1/config".to_string(),
    };
    let doc = client.get_json(&path).await?;
    if g.json {
        print_json(&doc);
        return Ok(());
    }
    let source = doc.get("path").and_then(Value::as_str).unwrap_or("-");
    println!("# effective configuration loaded from {source} (defaults filled in; secrets are never shown)");
    let mut doc = doc;
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("path");
    }
    match toml::to_string_pretty(&without_nulls(doc)) {
        Ok(text) => print!("{text}"),
        Err(_) => print_json(&Value::Null),
    }
    Ok(())
}

/// TOML has no null: unset options are left out, as in a routes file.
fn without_nulls(v: Value) -> Value {
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
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_dropped_everywhere() {
        assert_eq!(
            without_nulls(json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]})),
            json!({"b": {"d": 1}, "e": [{}]})
        );
    }
}

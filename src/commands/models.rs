//! `ferry models list`: the route's model catalog with capabilities and prices.

use serde_json::Value;

use crate::cli::{GlobalArgs, ModelsCommand};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{print_json, s};

/// `0.0000025` USD per token as `$2.50/M`.
fn per_million(price: &Value) -> String {
    let n = match price {
        Value::String(t) => t.parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match n {
        Some(v) if v > 0.0 => format!("${:.2}/M", v * 1_000_000.0),
        Some(_) => "free".into(),
        None => "-".into(),
    }
}

/// Runs a models command.
pub async fn run(g: &GlobalArgs, cmd: &ModelsCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let ModelsCommand::List {
        route,
        modality,
        search,
        refresh,
    } = cmd;
    let mut path = String::from("/v1/models?");
    for (key, value) in [("route", route), ("modality", modality), ("search", search)] {
        if let Some(v) = value {
            path.push_str(&format!("{key}={}&", urlencode(v)));
        }
    }
    if *refresh {
        path.push_str("refresh=true");
    }
    let v = client.get_json(path.trim_end_matches(['&', '?'])).await?;
    if g.json {
        print_json(&v);
        return Ok(());
    }
    let models = v["models"].as_array().cloned().unwrap_or_default();
    if models.is_empty() {
        println!("no models match on route {}", s(&v, "route"));
    }
    for m in &models {
        let join = |key: &str| {
            m[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .unwrap_or_default()
        };
        let mut flags = Vec::new();
        if m["vision"].as_bool() == Some(true) {
            flags.push("vision");
        }
        if m["image_only"].as_bool() == Some(true) {
            flags.push("image-only");
        }
        if m["reasoning"].as_bool() == Some(true) {
            flags.push("reasoning");
        }
        println!(
            "{:<44} {:>9} ctx  {}->{}  in {} out {}  {}",
            s(m, "id"),
            m["context_length"]
                .as_u64()
                .map(|c| c.to_string())
                .unwrap_or("-".into()),
            join("input_modalities"),
            join("output_modalities"),
            per_million(&m["pricing"]["prompt"]),
            per_million(&m["pricing"]["completion"]),
            flags.join(",")
        );
    }
    let stale = if v["stale"].as_bool() == Some(true) {
        format!(
            " (stale: {})",
            v["refresh_error"].as_str().unwrap_or("refresh pending")
        )
    } else {
        String::new()
    };
    eprintln!("{} models on route {}{stale}", models.len(), s(&v, "route"));
    Ok(())
}

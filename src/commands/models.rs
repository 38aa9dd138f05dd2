//! `ferry models list` (the route's model catalog with capabilities and prices) and
//! `ferry models status` (the key's credit and limits as OpenRouter reports them).

use ferry_types::{KeyStatus, ModelsView};
use serde_json::Value;

use crate::answer::typed;
use crate::cli::{GlobalArgs, ModelsCommand};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{print_json, usd};

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
    match cmd {
        ModelsCommand::List {
            route,
            modality,
            search,
            refresh,
        } => list(g, &client, route, modality, search, *refresh).await,
        ModelsCommand::Status { route } => {
            let path = match route {
                Some(r) => format!("/v1/models/status?route={}", urlencode(r)),
                None => "/v1/models/status".to_string(),
            };
            let v = client.get_json(&path).await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            print_status(&typed("models status", &v)?);
            Ok(())
        }
    }
}

async fn list(
    g: &GlobalArgs,
    client: &ApiClient,
    route: &Option<String>,
    modality: &Option<String>,
    search: &Option<String>,
    refresh: bool,
) -> Result<(), CliError> {
    let mut path = String::from("/v1/models?");
    for (key, value) in [("route", route), ("modality", modality), ("search", search)] {
        if let Some(v) = value {
            path.push_str(&format!("{key}={}&", urlencode(v)));
        }
    }
    if refresh {
        path.push_str("refresh=true");
    }
    let v = client.get_json(path.trim_end_matches(['&', '?'])).await?;
    if g.json {
        print_json(&v);
        return Ok(());
    }
    let view: ModelsView = typed("models list", &v)?;
    if view.models.is_empty() {
        println!("no models match on route {}", view.route);
    }
    for m in &view.models {
        let mut flags = Vec::new();
        if m.vision {
            flags.push("vision");
        }
        if m.image_only {
            flags.push("image-only");
        }
        if m.reasoning {
            flags.push("reasoning");
        }
        println!(
            "{:<44} {:>9} ctx  {}->{}  in {} out {}  {}",
            m.id,
            m.context_length
                .map(|c| c.to_string())
                .unwrap_or("-".into()),
            m.input_modalities.join("+"),
            m.output_modalities.join("+"),
            per_million(&m.pricing["prompt"]),
            per_million(&m.pricing["completion"]),
            flags.join(",")
        );
    }
    let stale = if view.stale {
        format!(
            " (stale: {})",
            view.refresh_error.as_deref().unwrap_or("refresh pending")
        )
    } else {
        String::new()
    };
    eprintln!(
        "{} models on route {}{stale}",
        view.models.len(),
        view.route
    );
    Ok(())
}

fn money(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => usd(x),
        None => "unlimited".to_string(),
    }
}

/// The key's credit; `key` is OpenRouter's document as received, so each of its fields
/// may be absent.
fn print_status(status: &KeyStatus) {
    let key = &status.key;
    println!(
        "route {}: key {} · valid",
        status.route,
        key["label"].as_str().unwrap_or("(no label)")
    );
    println!("  credit limit: {}", money(&key["limit"]));
    println!("  remaining:    {}", money(&key["limit_remaining"]));
    if let Some(reset) = key["limit_reset"].as_str() {
        println!("  limit resets: {reset}");
    }
    println!(
        "  usage:        {}",
        usd(key["usage"].as_f64().unwrap_or(0.0))
    );
    println!(
        "  free tier:    {}",
        if key["is_free_tier"].as_bool() == Some(true) {
            "yes (free models only, with daily request limits)"
        } else {
            "no"
        }
    );
}

//! `ferry models …`: the key's status (credit, limits) as OpenRouter reports it.

use serde_json::Value;

use crate::cli::{GlobalArgs, ModelsCommand};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::print_json;

/// Runs a models command.
pub async fn run(g: &GlobalArgs, cmd: &ModelsCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
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
            print_status(&v);
            Ok(())
        }
    }
}

fn money(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("${x:.4}"),
        None => "unlimited".to_string(),
    }
}

fn print_status(v: &Value) {
    let key = &v["key"];
    println!(
        "route {}: key {} · valid",
        v["route"].as_str().unwrap_or("-"),
        key["label"].as_str().unwrap_or("(no label)")
    );
    println!("  credit limit: {}", money(&key["limit"]));
    println!("  remaining:    {}", money(&key["limit_remaining"]));
    if let Some(reset) = key["limit_reset"].as_str() {
        println!("  limit resets: {reset}");
    }
    println!(
        "  usage:        ${:.4}",
        key["usage"].as_f64().unwrap_or(0.0)
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

//! `ferry runtime get|set-model`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{GlobalArgs, RuntimeCommand};
use crate::client::{ApiClient, CliError};
use crate::render::{print_json, route_lines, s};

/// Runs a runtime command.
pub async fn run(g: &GlobalArgs, cmd: &RuntimeCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let view = match cmd {
        RuntimeCommand::Get => client.get_json("/v1/runtime").await?,
        RuntimeCommand::SetModel { selector } => {
            client
                .call_json(
                    Method::POST,
                    "/v1/runtime/model",
                    Some(&json!({"selector": selector})),
                )
                .await?
        }
    };
    if g.json {
        print_json(&view);
        return Ok(());
    }
    print_view(&view);
    Ok(())
}

fn print_view(view: &Value) {
    let active = &view["active"];
    println!("default route: {}", s(view, "default_route"));
    println!(
        "active model: {}/{} ({}; sent upstream as {})",
        s(active, "route"),
        s(active, "model"),
        if s(active, "source") == "runtime" {
            "set with runtime set-model"
        } else {
            "route default"
        },
        s(active, "wire_model")
    );
    for route in view["routes"].as_array().into_iter().flatten() {
        for line in route_lines(route, true) {
            println!("{line}");
        }
    }
}

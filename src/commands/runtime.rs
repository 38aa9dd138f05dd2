//! `ferry runtime get|set-model`.

use ferry_types::{RuntimeView, TargetSource};
use reqwest::Method;
use serde_json::json;

use crate::answer::typed;
use crate::cli::{GlobalArgs, RuntimeCommand};
use crate::client::{ApiClient, CliError};
use crate::render::{print_json, route_lines};

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
    let command = match cmd {
        RuntimeCommand::Get => "runtime get",
        RuntimeCommand::SetModel { .. } => "runtime set-model",
    };
    print_view(&typed(command, &view)?);
    Ok(())
}

fn print_view(view: &RuntimeView) {
    let active = &view.active;
    println!("default route: {}", view.default_route);
    println!(
        "active model: {}/{} ({}; sent upstream as {})",
        active.route,
        active.model,
        match active.source {
            TargetSource::Runtime => "set with runtime set-model",
            TargetSource::RouteDefault => "route default",
        },
        active.wire_model
    );
    for route in &view.routes {
        for line in route_lines(route, true) {
            println!("{line}");
        }
    }
}

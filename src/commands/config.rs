//! `ferry config show [--route R] [--format toml|json]`: the routes configuration as the
//! daemon loaded it (`GET /v1/config`). TOML (the default) is a valid routes file that loads
//! to the same configuration; JSON (or `--json`) is the API document. Secrets are never
//! part of either.

use ferry_types::ConfigView;
use reqwest::Method;

use crate::answer::typed;
use crate::cli::{ConfigCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::render::print_json;

/// Runs a config command.
pub async fn run(g: &GlobalArgs, cmd: &ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Show { route, format } = cmd;
    let client = ApiClient::new(g)?;
    let mut path = "/v1/config".to_string();
    if let Some(r) = route {
        path.push_str("?route=");
        path.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    if g.json || format == "json" {
        print_json(&client.get_json(&path).await?);
        return Ok(());
    }
    let doc: ConfigView = typed("config show", &client.get_json(&path).await?)?;
    let source = doc.path;
    let sep = if route.is_some() { '&' } else { '?' };
    let resp = client
        .send(client.request(Method::GET, &format!("{path}{sep}format=toml")))
        .await?;
    let text = resp
        .text()
        .await
        .map_err(|e| CliError::fail(format!("ferry sent an unreadable response: {e}")))?;
    println!("# effective configuration loaded from {source} (defaults filled in; secrets are never shown)");
    print!("{text}");
    Ok(())
}

//! `ferry assets import|list|show|get|delete`.

use std::io::Write;

use reqwest::Method;
use serde_json::Value;

use crate::cli::{AssetsCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{bytes, print_json, s};
use crate::save::{download, write_file};
use crate::upload::import;

/// One asset on one line.
fn asset_line(a: &Value) -> String {
    format!(
        "{}  {:<16} {:>10}  {:<11} {}",
        s(a, "id"),
        s(a, "media_type"),
        bytes(a["size"].as_u64().unwrap_or(0)),
        s(a, "source"),
        a["file_name"].as_str().unwrap_or("")
    )
}

/// Runs an assets command.
pub async fn run(g: &GlobalArgs, cmd: &AssetsCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        AssetsCommand::Import { path, media_type } => {
            let v = import(&client, path, media_type.as_deref()).await?;
            if g.json {
                print_json(&v);
            } else {
                let verb = if v["created"].as_bool() == Some(false) {
                    "already stored"
                } else {
                    "imported"
                };
                println!("{}", s(&v, "id"));
                eprintln!(
                    "{verb} {} as {} ({})",
                    path.display(),
                    s(&v, "media_type"),
                    bytes(v["size"].as_u64().unwrap_or(0))
                );
            }
            Ok(())
        }
        AssetsCommand::List {
            kind,
            media_type,
            source,
            page,
        } => {
            let path = page.query_with(
                "/v1/assets",
                &[
                    ("kind", kind),
                    ("media_type", media_type),
                    ("source", source),
                ],
            );
            let v = client.get_json(&path).await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            let assets = v["assets"].as_array().cloned().unwrap_or_default();
            if assets.is_empty() {
                println!("no assets; add one with `ferry assets import FILE`");
            }
            for a in &assets {
                println!("{}", asset_line(a));
            }
            if let Some(next) = v["next_cursor"].as_str() {
                println!("more: ferry assets list --cursor {next}");
            }
            Ok(())
        }
        AssetsCommand::Show { id } => {
            let v = client
                .get_json(&format!("/v1/assets/{}", urlencode(id)))
                .await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            println!("asset {}", s(&v, "id"));
            println!("  type     {} ({})", s(&v, "media_type"), s(&v, "kind"));
            println!("  size     {}", bytes(v["size"].as_u64().unwrap_or(0)));
            println!("  sha256   {}", s(&v, "sha256"));
            if let Some(name) = v["file_name"].as_str() {
                println!("  name     {name}");
            }
            println!(
                "  source   {} · created {}",
                s(&v, "source"),
                s(&v, "created_at")
            );
            for d in v["derivations"].as_array().into_iter().flatten() {
                println!("  {} by {}:", s(d, "kind"), s(d, "model"));
                println!("    {}", s(d, "content"));
            }
            Ok(())
        }
        AssetsCommand::Get { id, out } => {
            let body = download(&client, id).await?;
            if out.as_os_str() == "-" {
                std::io::stdout()
                    .write_all(&body)
                    .map_err(|e| CliError::fail(format!("cannot write to stdout: {e}")))?;
                return Ok(());
            }
            write_file(out, &body)?;
            if g.json {
                print_json(&serde_json::json!({"id": id, "out": out, "bytes": body.len()}));
            } else {
                eprintln!(
                    "wrote {} ({}) to {}",
                    id,
                    bytes(body.len() as u64),
                    out.display()
                );
            }
            Ok(())
        }
        AssetsCommand::Delete { id } => {
            let v = client
                .call_json(
                    Method::DELETE,
                    &format!("/v1/assets/{}", urlencode(id)),
                    None,
                )
                .await?;
            if g.json {
                print_json(&v);
            } else {
                println!("deleted asset {id}");
            }
            Ok(())
        }
    }
}

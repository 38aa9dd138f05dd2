//! `ferry assets import|list|show|get|delete`.

use std::io::Write;

use ferry_types::{AssetDeleted, AssetDetail, AssetInfo, AssetPage, AssetUpload};
use reqwest::Method;

use crate::answer::typed;
use crate::cli::{AssetsCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{bytes, print_json};
use crate::save::{download, write_file};
use crate::upload::import;

/// One asset on one line.
fn asset_line(a: &AssetInfo) -> String {
    format!(
        "{}  {:<16} {:>10}  {:<11} {}",
        a.id,
        a.media_type,
        bytes(a.size),
        a.source,
        a.file_name.as_deref().unwrap_or("")
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
                let up: AssetUpload = typed("assets import", &v)?;
                let verb = if up.created {
                    "imported"
                } else {
                    "already stored"
                };
                println!("{}", up.asset.id);
                eprintln!(
                    "{verb} {} as {} ({})",
                    path.display(),
                    up.asset.media_type,
                    bytes(up.asset.size)
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
            let page: AssetPage = typed("assets list", &v)?;
            if page.assets.is_empty() {
                println!("no assets; add one with `ferry assets import FILE`");
            }
            for a in &page.assets {
                println!("{}", asset_line(a));
            }
            if let Some(next) = &page.next_cursor {
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
            let detail: AssetDetail = typed("assets show", &v)?;
            let a = &detail.asset;
            println!("asset {}", a.id);
            println!("  type     {} ({})", a.media_type, a.kind);
            println!("  size     {}", bytes(a.size));
            println!("  sha256   {}", a.sha256);
            if let Some(name) = &a.file_name {
                println!("  name     {name}");
            }
            println!("  source   {} · created {}", a.source, a.created_at);
            for d in &detail.derivations {
                println!("  {} by {}:", d.kind, d.model);
                println!("    {}", d.content);
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
                let gone: AssetDeleted = typed("assets delete", &v)?;
                println!("deleted asset {}", gone.asset.id);
            }
            Ok(())
        }
    }
}

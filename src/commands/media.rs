//! What the media commands print: the stored assets (id, type, size), the files written
//! for `--out`, and anything the model said; `--json` prints the daemon's answer with the
//! written files added.

use std::path::Path;

use serde_json::{json, Value};

use crate::cli::GlobalArgs;
use crate::client::{ApiClient, CliError};
use crate::render::{bytes, print_json, s};
use crate::save::{numbered, save_all};

/// One asset as a line: `ast_… image/png 12.0 KiB`.
pub fn asset_line(a: &Value) -> String {
    format!(
        "{}  {:<12} {}",
        a["asset_id"]
            .as_str()
            .or_else(|| a["id"].as_str())
            .unwrap_or("-"),
        s(a, "media_type"),
        bytes(a["size"].as_u64().unwrap_or(0))
    )
}

/// Shows a tool's result and writes its assets to `out` when given.
pub async fn show_tool_output(
    g: &GlobalArgs,
    client: &ApiClient,
    v: &Value,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let assets: Vec<&Value> = v["assets"].as_array().into_iter().flatten().collect();
    let written = match out {
        Some(out) => save_all(client, &assets, &numbered(out, assets.len())).await?,
        None => Vec::new(),
    };
    if g.json {
        let mut v = v.clone();
        v["files"] = json!(written
            .iter()
            .map(|(id, path, size)| json!({"asset_id": id, "path": path, "bytes": size}))
            .collect::<Vec<_>>());
        print_json(&v);
        return Ok(());
    }
    if written.is_empty() {
        for a in &assets {
            println!("{}", asset_line(a));
        }
        if let Some(first) = assets.first() {
            eprintln!(
                "save with: ferry assets get {} --out FILE",
                first["asset_id"].as_str().unwrap_or("ID")
            );
        }
    } else {
        for (id, path, size) in &written {
            println!("{}", path.display());
            eprintln!("wrote {id} ({}) to {}", bytes(*size as u64), path.display());
        }
    }
    if let Some(text) = v["text"].as_str().filter(|t| !t.trim().is_empty()) {
        eprintln!("{}: {text}", s(v, "model"));
    }
    let cost = v["cost"]
        .as_f64()
        .map(|c| format!(" · ${c:.6}"))
        .unwrap_or_default();
    eprintln!(
        "{} · {} · route {}{cost}",
        s(v, "tool"),
        s(v, "model"),
        s(v, "route")
    );
    Ok(())
}

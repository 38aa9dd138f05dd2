//! What the media commands print: the stored assets (id, type, size), the files written
//! for `--out`, and anything the model said; `--json` prints the daemon's answer with the
//! written files added.

use std::path::Path;

use ferry_types::{AssetRef, ToolOutput};
use serde_json::{json, Value};

use crate::answer::typed;
use crate::cli::GlobalArgs;
use crate::client::{ApiClient, CliError};
use crate::render::{bytes, print_json};
use crate::save::{numbered, save_all};

/// One asset as a line: `ast_… image/png 12.0 KiB`.
pub fn asset_line(a: &AssetRef) -> String {
    format!("{}  {:<12} {}", a.asset_id, a.media_type, bytes(a.size))
}

/// Shows the answer `v` of `command` (a direct tool call) and writes its assets to `out`
/// when given.
pub async fn show_tool_output(
    g: &GlobalArgs,
    client: &ApiClient,
    command: &str,
    v: &Value,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let result: ToolOutput = typed(command, v)?;
    let ids: Vec<&str> = result.assets.iter().map(|a| a.asset_id.as_str()).collect();
    let written = match out {
        Some(out) => save_all(client, &ids, &numbered(out, ids.len())).await?,
        None => Vec::new(),
    };
    if g.json {
        let files: Vec<Value> = written
            .iter()
            .map(|(id, path, size)| json!({"asset_id": id, "path": path, "bytes": size}))
            .collect();
        let mut answer = v.clone();
        if let Some(fields) = answer.as_object_mut() {
            fields.insert("files".into(), Value::Array(files));
        }
        print_json(&answer);
        return Ok(());
    }
    if written.is_empty() {
        for a in &result.assets {
            println!("{}", asset_line(a));
        }
        if let Some(first) = result.assets.first() {
            eprintln!("save with: ferry assets get {} --out FILE", first.asset_id);
        }
    } else {
        for (id, path, size) in &written {
            println!("{}", path.display());
            eprintln!("wrote {id} ({}) to {}", bytes(*size as u64), path.display());
        }
    }
    if let Some(text) = result.text.as_deref().filter(|t| !t.trim().is_empty()) {
        eprintln!("{}: {text}", result.model);
    }
    let cost = result
        .cost
        .map(|c| format!(" · ${c:.6}"))
        .unwrap_or_default();
    eprintln!(
        "{} · {} · route {}{cost}",
        result.tool, result.model, result.route
    );
    Ok(())
}

//! `ferry image generate|edit`: direct image tools (no chat model involved). Inputs of
//! an edit are uploaded as assets first; results are stored as assets and, with `--out`,
//! written next to the caller.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{GlobalArgs, ImageCommand, ImageOptions};
use crate::client::{ApiClient, CliError};
use crate::commands::media::show_tool_output;
use crate::progress::Progress;
use crate::upload::import_id;

/// Runs an image command.
pub async fn run(g: &GlobalArgs, cmd: &ImageCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let (tool, body, options) = match cmd {
        ImageCommand::Generate { prompt, n, options } => {
            let mut body = base_body(prompt, options);
            body["n"] = json!(n);
            ("generate_image", body, options)
        }
        ImageCommand::Edit {
            prompt,
            images,
            options,
        } => {
            let mut ids = Vec::with_capacity(images.len());
            for path in images {
                ids.push(Value::String(import_id(&client, "image edit", path).await?));
            }
            let mut body = base_body(prompt, options);
            body["image_asset_ids"] = Value::Array(ids);
            ("edit_image", body, options)
        }
    };
    let progress = Progress::start(g, format!("{tool} running"));
    let result = client
        .call_json(Method::POST, &format!("/v1/tools/{tool}"), Some(&body))
        .await;
    progress.finish();
    let command = match cmd {
        ImageCommand::Generate { .. } => "image generate",
        ImageCommand::Edit { .. } => "image edit",
    };
    show_tool_output(g, &client, command, &result?, options.out.as_deref()).await
}

fn base_body(prompt: &str, o: &ImageOptions) -> Value {
    let mut body = json!({"prompt": prompt});
    for (key, value) in [
        ("aspect_ratio", &o.aspect_ratio),
        ("image_size", &o.size),
        ("model", &o.model),
        ("route", &o.route),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    if let Some(ms) = o.timeout_ms {
        body["timeout_ms"] = json!(ms);
    }
    body
}

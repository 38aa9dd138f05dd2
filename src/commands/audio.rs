//! `ferry audio transcribe PATH`: uploads the file, asks the daemon for its transcript
//! (cached per file and model) and prints the text on stdout.

use reqwest::Method;
use serde_json::json;

use crate::cli::{AudioCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::render::{print_json, s};
use crate::upload::import;

/// Runs an audio command.
pub async fn run(g: &GlobalArgs, cmd: &AudioCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        AudioCommand::Transcribe {
            path,
            language,
            model,
            route,
            media_type,
        } => {
            let asset = import(&client, path, media_type.as_deref()).await?;
            let body = json!({
                "asset_id": asset["id"],
                "language": language,
                "model": model,
                "route": route,
            });
            let v = client
                .call_json(Method::POST, "/v1/tools/transcribe_audio", Some(&body))
                .await?;
            if g.json {
                print_json(&v);
            } else {
                println!("{}", s(&v, "text"));
                let cached = if v["cached"].as_bool() == Some(true) {
                    " (cached)"
                } else {
                    ""
                };
                eprintln!("{} · {}{cached}", s(&v, "model"), s(&v, "asset_id"));
            }
            Ok(())
        }
    }
}

//! `ferry audio speak TEXT`: text-to-speech through the daemon (MP3, or PCM stored as a
//! playable WAV), written to `--out`. `ferry audio transcribe PATH`: uploads the file,
//! asks the daemon for its transcript (cached per file and model) and prints the text.

use ferry_types::{AssetUpload, TranscriptView};
use reqwest::Method;
use serde_json::json;

use crate::answer::typed;
use crate::cli::{AudioCommand, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::commands::media::show_tool_output;
use crate::render::print_json;
use crate::upload::import;

/// Runs an audio command.
pub async fn run(g: &GlobalArgs, cmd: &AudioCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        AudioCommand::Speak {
            text,
            model,
            voice,
            format,
            speed,
            route,
            out,
        } => {
            let mut body = json!({"text": text});
            for (key, value) in [
                ("model", model),
                ("voice", voice),
                ("format", format),
                ("route", route),
            ] {
                if let Some(v) = value {
                    body[key] = json!(v);
                }
            }
            if let Some(speed) = speed {
                body["speed"] = json!(speed);
            }
            let v = client
                .call_json(Method::POST, "/v1/tools/generate_audio", Some(&body))
                .await?;
            show_tool_output(g, &client, "audio speak", &v, out.as_deref()).await
        }
        AudioCommand::Transcribe {
            path,
            language,
            model,
            route,
            media_type,
        } => {
            let asset = import(&client, path, media_type.as_deref()).await?;
            let asset: AssetUpload = typed("audio transcribe", &asset)?;
            let body = json!({
                "asset_id": asset.asset.id,
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
                let t: TranscriptView = typed("audio transcribe", &v)?;
                println!("{}", t.text);
                let cached = if t.cached { " (cached)" } else { "" };
                eprintln!("{} · {}{cached}", t.model, t.asset_id);
            }
            Ok(())
        }
    }
}

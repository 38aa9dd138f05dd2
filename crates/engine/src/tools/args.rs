//! Tool arguments: typed, strictly parsed (unknown fields are errors that name the
//! valid ones), shared by the model's tool calls and `POST /v1/tools/{name}` bodies.
//! A parse failure is a message for whoever sent the arguments — returned to the model
//! as the tool result, or as a 400 to an API caller.

use ferry_openrouter::media::MAX_IMAGES_PER_CALL;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::names::ToolName;

/// `generate_image`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateImageArgs {
    pub prompt: String,
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    #[serde(default)]
    pub image_size: Option<String>,
    /// How many images (1–4, default 1), made by repeated calls.
    #[serde(default)]
    pub n: Option<u32>,
}

/// `edit_image`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EditImageArgs {
    pub prompt: String,
    pub image_asset_ids: Vec<String>,
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    #[serde(default)]
    pub image_size: Option<String>,
}

/// `generate_audio`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateAudioArgs {
    pub text: String,
    #[serde(default)]
    pub voice: Option<String>,
    /// `mp3` or `pcm`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub speed: Option<f64>,
}

/// `transcribe_audio`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TranscribeAudioArgs {
    pub asset_id: String,
    #[serde(default)]
    pub language: Option<String>,
}

/// `generate_video`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateVideoArgs {
    pub prompt: String,
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    #[serde(default)]
    pub first_frame_asset_id: Option<String>,
    #[serde(default)]
    pub last_frame_asset_id: Option<String>,
    #[serde(default)]
    pub reference_asset_ids: Vec<String>,
}

/// One part of `emit_output`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmitPart {
    Text { text: String },
    Asset { asset_id: String },
}

/// `emit_output`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmitOutputArgs {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub parts: Vec<EmitPart>,
    #[serde(default)]
    pub include_artifacts_inline: bool,
}

/// Parsed arguments of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolArgs {
    GenerateImage(GenerateImageArgs),
    EditImage(EditImageArgs),
    GenerateAudio(GenerateAudioArgs),
    TranscribeAudio(TranscribeAudioArgs),
    GenerateVideo(GenerateVideoArgs),
    EmitOutput(EmitOutputArgs),
}

fn from_value<T: DeserializeOwned>(tool: ToolName, v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

/// Parses a tool's arguments from the JSON value a caller sent.
pub fn parse_value(tool: ToolName, v: Value) -> Result<ToolArgs, String> {
    if !v.is_object() {
        return Err(format!(
            "invalid arguments for {tool}: expected a JSON object"
        ));
    }
    let args = match tool {
        ToolName::GenerateImage => {
            let a: GenerateImageArgs = from_value(tool, v)?;
            if let Some(n) = a.n {
                if !(1..=MAX_IMAGES_PER_CALL).contains(&n) {
                    return Err(format!(
                        "invalid arguments for {tool}: n must be between 1 and {MAX_IMAGES_PER_CALL}"
                    ));
                }
            }
            ToolArgs::GenerateImage(a)
        }
        ToolName::EditImage => {
            let a: EditImageArgs = from_value(tool, v)?;
            if a.image_asset_ids.is_empty() {
                return Err(format!(
                    "invalid arguments for {tool}: image_asset_ids needs at least one image asset id"
                ));
            }
            ToolArgs::EditImage(a)
        }
        ToolName::GenerateAudio => ToolArgs::GenerateAudio(from_value(tool, v)?),
        ToolName::TranscribeAudio => ToolArgs::TranscribeAudio(from_value(tool, v)?),
        ToolName::GenerateVideo => ToolArgs::GenerateVideo(from_value(tool, v)?),
        ToolName::EmitOutput => ToolArgs::EmitOutput(from_value(tool, v)?),
    };
    Ok(args)
}

/// Parses a model's tool call: the function name and its arguments as JSON text (empty
/// text counts as `{}`).
pub fn parse_call(name: &str, arguments: &str) -> Result<(ToolName, ToolArgs), String> {
    let tool = ToolName::parse(name).ok_or_else(|| {
        format!(
            "unknown tool {name:?}; available tools: {}, emit_output",
            ToolName::media_list()
        )
    })?;
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("the arguments of {tool} are not valid JSON: {e}"))?;
    Ok((tool, parse_value(tool, v)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_parse_into_typed_args() {
        let (tool, args) = parse_call(
            "generate_image",
            r#"{"prompt": "a fox", "aspect_ratio": "16:9", "n": 2}"#,
        )
        .unwrap();
        assert_eq!(tool, ToolName::GenerateImage);
        assert_eq!(
            args,
            ToolArgs::GenerateImage(GenerateImageArgs {
                prompt: "a fox".into(),
                aspect_ratio: Some("16:9".into()),
                image_size: None,
                n: Some(2)
            })
        );
        let (_, emit) = parse_call(
            "emit_output",
            r#"{"content": "Here.", "parts": [{"type": "asset", "asset_id": "a1"}, {"type": "text", "text": "bye"}]}"#,
        )
        .unwrap();
        assert_eq!(
            emit,
            ToolArgs::EmitOutput(EmitOutputArgs {
                content: Some("Here.".into()),
                parts: vec![
                    EmitPart::Asset {
                        asset_id: "a1".into()
                    },
                    EmitPart::Text { text: "bye".into() }
                ],
                include_artifacts_inline: false
            })
        );
        let (_, empty) = parse_call("emit_output", "").unwrap();
        assert_eq!(empty, ToolArgs::EmitOutput(EmitOutputArgs::default()));
    }

    #[test]
    fn bad_arguments_are_messages_for_the_caller() {
        let e = parse_call("generate_image", r#"{"size": "2K"}"#).unwrap_err();
        assert!(e.contains("unknown field `size`"), "{e}");
        assert!(e.contains("image_size"), "lists the valid fields: {e}");
        let e = parse_call("generate_image", "{not json").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = parse_call("generate_image", r#"{"aspect_ratio": "1:1"}"#).unwrap_err();
        assert!(e.contains("missing field `prompt`"), "{e}");
        let e = parse_call("generate_image", r#"{"prompt": "x", "n": 9}"#).unwrap_err();
        assert!(e.contains("n must be between 1 and 4"), "{e}");
        let e = parse_call("edit_image", r#"{"prompt": "x", "image_asset_ids": []}"#).unwrap_err();
        assert!(e.contains("at least one"), "{e}");
        let e = parse_call("draw", "{}").unwrap_err();
        assert!(
            e.contains("unknown tool") && e.contains("generate_image"),
            "{e}"
        );
        let e = parse_call(
            "emit_output",
            r#"{"parts": [{"type": "video", "url": "x"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("invalid arguments for emit_output"), "{e}");
        let e = parse_value(ToolName::GenerateAudio, json!([1])).unwrap_err();
        assert!(e.contains("expected a JSON object"), "{e}");
    }
}

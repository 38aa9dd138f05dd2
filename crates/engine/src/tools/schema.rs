//! The function-tool definitions offered to models (`tools: [{type: "function", …}]`):
//! JSON schemas with descriptions that tell the model what each tool does, what it
//! returns and how `emit_output` decides the final answer.

use ferry_config::Capabilities;
use ferry_openrouter::media::{
    IMAGE_ASPECT_RATIOS, IMAGE_SIZES, MAX_EDIT_IMAGES, MAX_IMAGES_PER_CALL, MAX_VIDEO_REFERENCES,
    VIDEO_ASPECT_RATIOS, VIDEO_RESOLUTIONS,
};
use serde_json::{json, Value};

use super::names::ToolName;

fn function(name: ToolName, description: &str, parameters: Value) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": name.as_str(),
            "description": description,
            "parameters": parameters,
        }
    })
}

/// The definition of one tool.
pub fn definition(tool: ToolName) -> Value {
    match tool {
        ToolName::GenerateImage => function(
            tool,
            "Generate images from a text prompt. Returns JSON with the ids, media types and sizes of the stored image assets. The images are NOT shown to the user unless you call emit_output with their asset ids (or include_artifacts_inline: true).",
            json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "description": "What to draw, in detail: subject, style, lighting, composition."},
                    "aspect_ratio": {"type": "string", "enum": IMAGE_ASPECT_RATIOS, "description": "Aspect ratio (default 1:1)."},
                    "image_size": {"type": "string", "enum": IMAGE_SIZES, "description": "Resolution class (default 1K)."},
                    "n": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGES_PER_CALL, "description": "How many images (default 1)."}
                },
                "required": ["prompt"],
                "additionalProperties": false
            }),
        ),
        ToolName::EditImage => function(
            tool,
            "Edit or combine existing image assets according to a prompt. Returns JSON with the new image asset ids. Show results to the user with emit_output.",
            json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "description": "The change to make."},
                    "image_asset_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_EDIT_IMAGES, "description": "Ids of the image assets to edit (from earlier tool results or the user's attachments)."},
                    "aspect_ratio": {"type": "string", "enum": IMAGE_ASPECT_RATIOS},
                    "image_size": {"type": "string", "enum": IMAGE_SIZES}
                },
                "required": ["prompt", "image_asset_ids"],
                "additionalProperties": false
            }),
        ),
        ToolName::GenerateAudio => function(
            tool,
            "Synthesise speech from text (text-to-speech). Returns JSON with the audio asset id. Play it to the user by naming it in emit_output.",
            json!({
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "The exact words to speak."},
                    "voice": {"type": "string", "description": "Voice id of the TTS model (default: the route's voice)."},
                    "format": {"type": "string", "enum": ["mp3", "pcm"], "description": "mp3, or pcm stored as WAV (default: the route's format)."},
                    "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0}
                },
                "required": ["text"],
                "additionalProperties": false
            }),
        ),
        ToolName::TranscribeAudio => function(
            tool,
            "Transcribe an audio asset to text (speech-to-text). Returns JSON with the transcript.",
            json!({
                "type": "object",
                "properties": {
                    "asset_id": {"type": "string", "description": "Id of the audio asset."},
                    "language": {"type": "string", "description": "ISO-639-1 language code, e.g. en (optional)."}
                },
                "required": ["asset_id"],
                "additionalProperties": false
            }),
        ),
        ToolName::GenerateVideo => function(
            tool,
            "Generate a short video from a prompt, optionally from first/last frame images and reference images. Slow (minutes). Returns JSON with the video asset id once done. Show it with emit_output.",
            json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string"},
                    "duration": {"type": "integer", "minimum": 1, "description": "Seconds; snapped to the nearest duration the model supports."},
                    "resolution": {"type": "string", "enum": VIDEO_RESOLUTIONS},
                    "aspect_ratio": {"type": "string", "enum": VIDEO_ASPECT_RATIOS},
                    "first_frame_asset_id": {"type": "string", "description": "Image asset to start from."},
                    "last_frame_asset_id": {"type": "string", "description": "Image asset to end on."},
                    "reference_asset_ids": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_VIDEO_REFERENCES}
                },
                "required": ["prompt"],
                "additionalProperties": false
            }),
        ),
        ToolName::EmitOutput => function(
            tool,
            "Compose your final answer to the user and end your turn. Generated media reaches the user ONLY through this call: name each asset in parts, or set include_artifacts_inline to attach every asset produced in this turn. Text in content comes first, then parts in order.",
            json!({
                "type": "object",
                "properties": {
                    "content": {"type": "string", "description": "Answer text shown first."},
                    "parts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string", "enum": ["text", "asset"]},
                                "text": {"type": "string", "description": "For type text."},
                                "asset_id": {"type": "string", "description": "For type asset."}
                            },
                            "required": ["type"],
                            "additionalProperties": false
                        }
                    },
                    "include_artifacts_inline": {"type": "boolean", "description": "Attach every asset produced in this turn after the parts."}
                },
                "additionalProperties": false
            }),
        ),
    }
}

/// The tools a route's capabilities allow, in [`ToolName::ALL`] order: the media tools
/// whose flag is on, and `emit_output` when at least one media tool is offered. Empty when
/// every media capability is off.
pub fn offered(caps: &Capabilities) -> Vec<ToolName> {
    let media: Vec<ToolName> = ToolName::MEDIA
        .into_iter()
        .filter(|t| t.allowed_by(caps))
        .collect();
    if media.is_empty() {
        return media;
    }
    let mut out = media;
    out.push(ToolName::EmitOutput);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_config::DriverKind;

    #[test]
    fn every_definition_is_a_function_with_an_object_schema() {
        for tool in ToolName::ALL {
            let d = definition(tool);
            assert_eq!(d["type"], "function");
            assert_eq!(d["function"]["name"], tool.as_str());
            assert!(d["function"]["description"].as_str().unwrap().len() > 40);
            assert_eq!(d["function"]["parameters"]["type"], "object");
            assert_eq!(d["function"]["parameters"]["additionalProperties"], false);
        }
        assert_eq!(
            definition(ToolName::GenerateImage)["function"]["parameters"]["properties"]
                ["aspect_ratio"]["enum"][8],
            "16:9"
        );
    }

    #[test]
    fn offered_follows_capabilities() {
        let mut caps = Capabilities::defaults_for(DriverKind::OpenRouter);
        assert_eq!(offered(&caps), ToolName::ALL.to_vec());
        caps.image_generation = false;
        caps.video_generation = false;
        assert_eq!(
            offered(&caps),
            vec![
                ToolName::EditImage,
                ToolName::GenerateAudio,
                ToolName::TranscribeAudio,
                ToolName::EmitOutput
            ]
        );
        caps.image_edit = false;
        caps.audio_generation = false;
        caps.transcription = false;
        assert!(offered(&caps).is_empty());
    }
}

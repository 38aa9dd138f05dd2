//! Tool results: what the model is told of each tool call (the content of its `tool`
//! message). A failure is never a failed run: the model reads the error and can recover.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::event::ToolError;

/// An asset as the output and the tool results describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetRef {
    /// The asset id (`ast_…`).
    pub asset_id: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What the model is told when a media tool succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaToolResult {
    /// Always true.
    pub ok: bool,
    /// The tool.
    pub tool: String,
    /// The model that made the media.
    pub model: String,
    /// The stored assets (left out when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<AssetRef>,
    /// How to show the assets to the user (with `assets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The prompt the tool was called with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Text the tool produced (a transcript).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A video's duration as submitted (null when the request had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Value>,
}

/// What the model is told when `emit_output` composed the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputEmitted {
    /// Always true.
    pub ok: bool,
    /// How many parts the answer has.
    pub parts: usize,
}

/// What the model is told when a tool call failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolFailure {
    /// Always false.
    pub ok: bool,
    /// Why.
    pub error: ToolError,
}

impl ToolFailure {
    /// The failure with `error`.
    pub fn new(error: ToolError) -> Self {
        ToolFailure { ok: false, error }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ProblemCode;

    #[test]
    fn results_keep_their_wire_shapes() {
        let failure = ToolFailure::new(ToolError {
            code: ProblemCode::OutputAlreadyEmitted,
            message: "once".into(),
        });
        assert_eq!(
            serde_json::to_string(&failure).unwrap(),
            r#"{"ok":false,"error":{"code":"output_already_emitted","message":"once"}}"#
        );
        let emitted = OutputEmitted { ok: true, parts: 2 };
        assert_eq!(
            serde_json::to_value(&emitted).unwrap(),
            json!({"ok": true, "parts": 2})
        );
        let bare = MediaToolResult {
            ok: true,
            tool: "transcribe_audio".into(),
            model: "m/stt".into(),
            assets: Vec::new(),
            note: None,
            prompt: None,
            text: Some("hello".into()),
            duration: None,
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"ok":true,"tool":"transcribe_audio","model":"m/stt","text":"hello"}"#
        );
        let video = MediaToolResult {
            tool: "generate_video".into(),
            assets: vec![AssetRef {
                asset_id: "ast_1".into(),
                media_type: "video/mp4".into(),
                size: 9,
            }],
            note: Some("n".into()),
            prompt: Some("a fox".into()),
            text: None,
            duration: Some(serde_json::Value::Null),
            ..bare
        };
        assert_eq!(
            serde_json::to_string(&video).unwrap(),
            r#"{"ok":true,"tool":"generate_video","model":"m/stt","assets":[{"asset_id":"ast_1","media_type":"video/mp4","size":9}],"note":"n","prompt":"a fox","duration":null}"#
        );
    }
}

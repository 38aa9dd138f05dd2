//! Where a tool runs ([`ToolCtx`]) and the route's capability gate for it
//! ([`require_tool`]), shared by the media tools, video jobs and the tool loop.

use ferry_config::Route;

use super::ToolName;
use crate::EngineError;

/// Where and how a tool runs.
#[derive(Debug, Clone)]
pub(crate) struct ToolCtx<'a> {
    /// The route whose key, media models and capabilities apply.
    pub route: &'a Route,
    /// A media model overriding the route's (direct calls only).
    pub model: Option<String>,
    /// An image deadline overriding `media.image_timeout_ms` (direct calls only).
    pub timeout_ms: Option<u64>,
    /// The run whose tool call this is.
    pub run_id: Option<&'a str>,
}

/// Refuses a tool whose capability is off on the route.
pub(crate) fn require_tool(route: &Route, tool: ToolName) -> Result<(), EngineError> {
    if tool.allowed_by(&route.capabilities) {
        return Ok(());
    }
    let flag = tool.capability().unwrap_or("tools");
    Err(EngineError::BadInput {
        code: match tool {
            ToolName::GenerateImage => "image_generation_disabled",
            ToolName::EditImage => "image_edit_disabled",
            ToolName::GenerateAudio => "audio_generation_disabled",
            ToolName::TranscribeAudio => "transcription_disabled",
            ToolName::GenerateVideo => "video_generation_disabled",
            ToolName::EmitOutput => "tool_disabled",
        },
        message: format!(
            "{tool} is not available on route {}: its {flag} capability is off; set {flag} = true in [routes.{}] or use a route that allows it",
            route.id, route.id
        ),
    })
}

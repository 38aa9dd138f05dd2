//! The tools ferry offers models and runs directly, and the capability flag each needs.

use std::fmt;

use ferry_config::Capabilities;

/// One of ferry's tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolName {
    GenerateImage,
    EditImage,
    GenerateAudio,
    TranscribeAudio,
    GenerateVideo,
    EmitOutput,
}

impl ToolName {
    /// Every tool, in the order they are offered.
    pub const ALL: [ToolName; 6] = [
        ToolName::GenerateImage,
        ToolName::EditImage,
        ToolName::GenerateAudio,
        ToolName::TranscribeAudio,
        ToolName::GenerateVideo,
        ToolName::EmitOutput,
    ];

    /// The media tools (everything but `emit_output`): what `POST /v1/tools/{name}` runs.
    pub const MEDIA: [ToolName; 5] = [
        ToolName::GenerateImage,
        ToolName::EditImage,
        ToolName::GenerateAudio,
        ToolName::TranscribeAudio,
        ToolName::GenerateVideo,
    ];

    /// The function name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::GenerateImage => "generate_image",
            ToolName::EditImage => "edit_image",
            ToolName::GenerateAudio => "generate_audio",
            ToolName::TranscribeAudio => "transcribe_audio",
            ToolName::GenerateVideo => "generate_video",
            ToolName::EmitOutput => "emit_output",
        }
    }

    /// Parses a function name.
    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The capability flag the tool needs (`None` for `emit_output`, which needs none).
    pub fn capability(self) -> Option<&'static str> {
        Some(match self {
            ToolName::GenerateImage => "image_generation",
            ToolName::EditImage => "image_edit",
            ToolName::GenerateAudio => "audio_generation",
            ToolName::TranscribeAudio => "transcription",
            ToolName::GenerateVideo => "video_generation",
            ToolName::EmitOutput => return None,
        })
    }

    /// Whether `caps` allow the tool.
    pub fn allowed_by(self, caps: &Capabilities) -> bool {
        match self {
            ToolName::GenerateImage => caps.image_generation,
            ToolName::EditImage => caps.image_edit,
            ToolName::GenerateAudio => caps.audio_generation,
            ToolName::TranscribeAudio => caps.transcription,
            ToolName::GenerateVideo => caps.video_generation,
            ToolName::EmitOutput => true,
        }
    }

    /// The names of the media tools, comma-separated (for error messages).
    pub fn media_list() -> String {
        ToolName::MEDIA
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_config::DriverKind;

    #[test]
    fn names_round_trip() {
        for t in ToolName::ALL {
            assert_eq!(ToolName::parse(t.as_str()), Some(t));
        }
        assert_eq!(ToolName::parse("generate_images"), None);
    }

    #[test]
    fn capabilities_gate_media_tools_only() {
        let mut caps = Capabilities::defaults_for(DriverKind::OpenRouter);
        assert!(ToolName::ALL.iter().all(|t| t.allowed_by(&caps)));
        caps.video_generation = false;
        assert!(!ToolName::GenerateVideo.allowed_by(&caps));
        assert!(ToolName::EmitOutput.allowed_by(&caps));
        assert_eq!(
            ToolName::GenerateVideo.capability(),
            Some("video_generation")
        );
        for t in ToolName::MEDIA {
            assert!(Capabilities::KEYS.contains(&t.capability().unwrap()));
        }
    }
}

//! The accepted media types (spec §10) with their canonical names, accepted aliases,
//! broad kind and the speech-to-text format OpenRouter expects for each audio type.

use std::fmt;

use serde::Serialize;

/// One of the accepted media types. Anything else is refused at upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    ImagePng,
    ImageJpeg,
    ImageWebp,
    ImageGif,
    AudioWav,
    AudioWebm,
    AudioMpeg,
    AudioMp4,
    AudioOgg,
    AudioFlac,
    AudioAac,
    /// Raw signed 16-bit little-endian PCM (`audio/L16`); it has no header, so it is only
    /// accepted when declared.
    AudioPcm,
    VideoMp4,
    VideoWebm,
    ApplicationPdf,
    TextPlain,
    TextMarkdown,
    TextCsv,
    ApplicationJson,
}

/// What broad kind of content an asset is; decides how it reaches a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Audio,
    Video,
    Document,
    Text,
}

impl Kind {
    /// The kind's name, as used in `?kind=` filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::Document => "document",
            Kind::Text => "text",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "image" => Kind::Image,
            "audio" => Kind::Audio,
            "video" => Kind::Video,
            "document" => Kind::Document,
            "text" => Kind::Text,
            _ => return None,
        })
    }

    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Image,
        Kind::Audio,
        Kind::Video,
        Kind::Document,
        Kind::Text,
    ];
}

impl MediaType {
    /// Every accepted type, in the order they are listed to users.
    pub const ALL: [MediaType; 19] = [
        MediaType::ImagePng,
        MediaType::ImageJpeg,
        MediaType::ImageWebp,
        MediaType::ImageGif,
        MediaType::AudioWav,
        MediaType::AudioWebm,
        MediaType::AudioMpeg,
        MediaType::AudioMp4,
        MediaType::AudioOgg,
        MediaType::AudioFlac,
        MediaType::AudioAac,
        MediaType::AudioPcm,
        MediaType::VideoMp4,
        MediaType::VideoWebm,
        MediaType::ApplicationPdf,
        MediaType::TextPlain,
        MediaType::TextMarkdown,
        MediaType::TextCsv,
        MediaType::ApplicationJson,
    ];

    /// The canonical media type string.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::ImagePng => "image/png",
            MediaType::ImageJpeg => "image/jpeg",
            MediaType::ImageWebp => "image/webp",
            MediaType::ImageGif => "image/gif",
            MediaType::AudioWav => "audio/wav",
            MediaType::AudioWebm => "audio/webm",
            MediaType::AudioMpeg => "audio/mpeg",
            MediaType::AudioMp4 => "audio/mp4",
            MediaType::AudioOgg => "audio/ogg",
            MediaType::AudioFlac => "audio/flac",
            MediaType::AudioAac => "audio/aac",
            MediaType::AudioPcm => "audio/pcm",
            MediaType::VideoMp4 => "video/mp4",
            MediaType::VideoWebm => "video/webm",
            MediaType::ApplicationPdf => "application/pdf",
            MediaType::TextPlain => "text/plain",
            MediaType::TextMarkdown => "text/markdown",
            MediaType::TextCsv => "text/csv",
            MediaType::ApplicationJson => "application/json",
        }
    }

    /// Parses a media type as declared by a client: parameters (`; charset=…`) are
    /// dropped, case is ignored, and common aliases (`audio/x-wav`, `audio/mp3`,
    /// `audio/x-m4a`, `image/jpg`, `audio/L16`…) map to the canonical type.
    pub fn parse(declared: &str) -> Option<MediaType> {
        let essence = declared.split(';').next().unwrap_or("").trim();
        let lower = essence.to_ascii_lowercase();
        Some(match lower.as_str() {
            "image/png" => MediaType::ImagePng,
            "image/jpeg" | "image/jpg" | "image/pjpeg" => MediaType::ImageJpeg,
            "image/webp" => MediaType::ImageWebp,
            "image/gif" => MediaType::ImageGif,
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => MediaType::AudioWav,
            "audio/webm" => MediaType::AudioWebm,
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mp3" => MediaType::AudioMpeg,
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" => MediaType::AudioMp4,
            "audio/ogg" | "audio/opus" | "application/ogg" => MediaType::AudioOgg,
            "audio/flac" | "audio/x-flac" => MediaType::AudioFlac,
            "audio/aac" | "audio/x-aac" | "audio/aacp" => MediaType::AudioAac,
            "audio/pcm" | "audio/l16" | "audio/x-pcm" | "audio/pcm16" => MediaType::AudioPcm,
            "video/mp4" => MediaType::VideoMp4,
            "video/webm" => MediaType::VideoWebm,
            "application/pdf" | "application/x-pdf" => MediaType::ApplicationPdf,
            "text/plain" => MediaType::TextPlain,
            "text/markdown" | "text/x-markdown" => MediaType::TextMarkdown,
            "text/csv" => MediaType::TextCsv,
            "application/json" | "text/json" => MediaType::ApplicationJson,
            _ => return None,
        })
    }

    /// The broad kind.
    pub fn kind(self) -> Kind {
        use MediaType::*;
        match self {
            ImagePng | ImageJpeg | ImageWebp | ImageGif => Kind::Image,
            AudioWav | AudioWebm | AudioMpeg | AudioMp4 | AudioOgg | AudioFlac | AudioAac
            | AudioPcm => Kind::Audio,
            VideoMp4 | VideoWebm => Kind::Video,
            ApplicationPdf => Kind::Document,
            TextPlain | TextMarkdown | TextCsv | ApplicationJson => Kind::Text,
        }
    }

    /// Whether the type is text (decided from UTF-8 content, not magic bytes).
    pub fn is_text(self) -> bool {
        self.kind() == Kind::Text
    }

    /// The `input_audio.format` OpenRouter's speech-to-text expects, for audio types.
    pub fn stt_format(self) -> Option<&'static str> {
        Some(match self {
            MediaType::AudioWav => "wav",
            MediaType::AudioWebm => "webm",
            MediaType::AudioMpeg => "mp3",
            MediaType::AudioMp4 => "m4a",
            MediaType::AudioOgg => "ogg",
            MediaType::AudioFlac => "flac",
            MediaType::AudioAac => "aac",
            MediaType::AudioPcm => "pcm16",
            _ => return None,
        })
    }

    /// A usual file extension (for downloads without a file name).
    pub fn extension(self) -> &'static str {
        match self {
            MediaType::ImagePng => "png",
            MediaType::ImageJpeg => "jpg",
            MediaType::ImageWebp => "webp",
            MediaType::ImageGif => "gif",
            MediaType::AudioWav => "wav",
            MediaType::AudioWebm => "weba",
            MediaType::AudioMpeg => "mp3",
            MediaType::AudioMp4 => "m4a",
            MediaType::AudioOgg => "ogg",
            MediaType::AudioFlac => "flac",
            MediaType::AudioAac => "aac",
            MediaType::AudioPcm => "pcm",
            MediaType::VideoMp4 => "mp4",
            MediaType::VideoWebm => "webm",
            MediaType::ApplicationPdf => "pdf",
            MediaType::TextPlain => "txt",
            MediaType::TextMarkdown => "md",
            MediaType::TextCsv => "csv",
            MediaType::ApplicationJson => "json",
        }
    }

    /// The accepted types as one comma-separated list, for error messages.
    pub fn accepted_list() -> String {
        MediaType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_round_trip() {
        for t in MediaType::ALL {
            assert_eq!(MediaType::parse(t.as_str()), Some(t), "{t}");
        }
    }

    #[test]
    fn aliases_and_parameters() {
        assert_eq!(MediaType::parse("Audio/X-WAV"), Some(MediaType::AudioWav));
        assert_eq!(
            MediaType::parse("text/plain; charset=utf-8"),
            Some(MediaType::TextPlain)
        );
        assert_eq!(MediaType::parse("audio/mp3"), Some(MediaType::AudioMpeg));
        assert_eq!(MediaType::parse("audio/x-m4a"), Some(MediaType::AudioMp4));
        assert_eq!(MediaType::parse("audio/L16"), Some(MediaType::AudioPcm));
        assert_eq!(MediaType::parse("image/tiff"), None);
    }

    #[test]
    fn stt_formats_cover_every_audio_type() {
        for t in MediaType::ALL {
            assert_eq!(t.stt_format().is_some(), t.kind() == Kind::Audio, "{t}");
        }
        assert_eq!(MediaType::AudioPcm.stt_format(), Some("pcm16"));
        assert_eq!(MediaType::AudioMp4.stt_format(), Some("m4a"));
    }
}

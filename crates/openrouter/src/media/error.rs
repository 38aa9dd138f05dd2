//! [`MediaError`]: everything that can go wrong in a media call, with a stable problem
//! code, the HTTP status ferry answers with, and whether trying again may help.

use super::fetch::FetchError;
use super::video::VideoStatus;
use crate::error::UpstreamError;

/// A failed media call. Messages are actionable and never carry the API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    /// The request itself is invalid (bad aspect ratio, empty prompt, too many inputs…).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The upstream call failed.
    #[error("{0}")]
    Upstream(Box<UpstreamError>),
    /// An image request was answered without any image.
    #[error("model {model} returned no image{}", quoted(text))]
    NoImages { model: String, text: String },
    /// A result URL could not be downloaded (or was refused by the SSRF guard).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// A video job ended without a video.
    #[error("video job {job_id} ended {status}{}", detail(message))]
    VideoEnded {
        job_id: String,
        status: VideoStatus,
        message: Option<String>,
    },
    /// The upstream answered 2xx with something that is not the promised media.
    #[error("{0}")]
    Malformed(String),
}

fn quoted(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        " and no text — try another image model or rephrase the prompt".into()
    } else {
        let shown: String = text.chars().take(500).collect();
        let more = if text.chars().count() > 500 {
            "…"
        } else {
            ""
        };
        format!("; it said: \"{shown}{more}\"")
    }
}

fn detail(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.trim().is_empty() => format!(": {}", m.trim()),
        _ => String::new(),
    }
}

impl From<UpstreamError> for MediaError {
    fn from(e: UpstreamError) -> Self {
        MediaError::Upstream(Box::new(e))
    }
}

impl MediaError {
    /// Shorthand for [`MediaError::Invalid`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        MediaError::Invalid {
            code,
            message: message.into(),
        }
    }

    /// Stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Invalid { code, .. } => code,
            MediaError::Upstream(e) => e.code(),
            MediaError::NoImages { .. } => "no_image_returned",
            MediaError::Fetch(e) => e.code(),
            MediaError::VideoEnded { status, .. } => match status {
                VideoStatus::Cancelled => "video_cancelled",
                VideoStatus::Expired => "video_expired",
                _ => "video_failed",
            },
            MediaError::Malformed(_) => "upstream_protocol_error",
        }
    }

    /// HTTP status ferry answers with.
    pub fn status(&self) -> u16 {
        match self {
            MediaError::Invalid { .. } => 400,
            MediaError::Upstream(e) => e.problem_status(),
            MediaError::Fetch(FetchError::Timeout { .. }) => 504,
            MediaError::NoImages { .. }
            | MediaError::Fetch(_)
            | MediaError::VideoEnded { .. }
            | MediaError::Malformed(_) => 502,
        }
    }

    /// Whether the same request later may succeed.
    pub fn retryable(&self) -> bool {
        use crate::UpstreamErrorKind as K;
        match self {
            MediaError::Upstream(e) => matches!(
                e.kind,
                K::RateLimited
                    | K::Unavailable
                    | K::Timeout
                    | K::Connect
                    | K::Stream
                    | K::ChoiceError
            ),
            MediaError::Fetch(e) => e.is_transient(),
            MediaError::VideoEnded { status, .. } => *status == VideoStatus::Expired,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_images_quotes_the_text() {
        let e = MediaError::NoImages {
            model: "m/x".into(),
            text: "I cannot draw that.".into(),
        };
        assert_eq!(
            e.to_string(),
            "model m/x returned no image; it said: \"I cannot draw that.\""
        );
        assert_eq!(e.code(), "no_image_returned");
        assert_eq!(e.status(), 502);
        let silent = MediaError::NoImages {
            model: "m/x".into(),
            text: " ".into(),
        };
        assert!(silent.to_string().contains("and no text"));
    }

    #[test]
    fn video_codes() {
        let e = MediaError::VideoEnded {
            job_id: "j1".into(),
            status: VideoStatus::Failed,
            message: Some("content policy".into()),
        };
        assert_eq!(e.to_string(), "video job j1 ended failed: content policy");
        assert_eq!(e.code(), "video_failed");
        let e = MediaError::VideoEnded {
            job_id: "j1".into(),
            status: VideoStatus::Expired,
            message: None,
        };
        assert_eq!(e.code(), "video_expired");
        assert!(e.retryable());
    }
}

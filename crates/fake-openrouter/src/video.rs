//! [`VideoScript`]: how one fake video job behaves — the statuses its successive polls
//! report, how it ends, the polling URL shape and where its video can be downloaded.

/// How a scripted job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VideoEnding {
    Completed,
    Failed(String),
    Cancelled,
    Expired,
}

/// Where a completed job's video is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Download {
    /// `unsigned_urls: ["<this fake>/files/videos/<id>.mp4"]` (the fake's own origin).
    OwnFile,
    /// `unsigned_urls: [url]`, served by someone else.
    Url(String),
    /// No `unsigned_urls`: only `GET /videos/{id}/content?index=0` (auth required).
    ContentEndpoint,
}

/// The script of the next video job ([`crate::FakeOpenRouter::push_video`]).
///
/// Default: the first poll reports `pending`, the second `in_progress`, the third and
/// later `completed` with `unsigned_urls` on the fake's own origin; the `polling_url` is
/// relative (`/api/v1/videos/{id}`), as OpenRouter documents it.
#[derive(Debug, Clone)]
pub struct VideoScript {
    pub(crate) pending_polls: u32,
    pub(crate) in_progress_polls: u32,
    pub(crate) ending: VideoEnding,
    pub(crate) absolute_polling_url: bool,
    pub(crate) download: Download,
    pub(crate) bytes: Option<Vec<u8>>,
    pub(crate) cost: f64,
}

impl Default for VideoScript {
    fn default() -> Self {
        VideoScript {
            pending_polls: 1,
            in_progress_polls: 1,
            ending: VideoEnding::Completed,
            absolute_polling_url: false,
            download: Download::OwnFile,
            bytes: None,
            cost: 0.5,
        }
    }
}

impl VideoScript {
    /// The default script (pending, in_progress, completed).
    pub fn new() -> VideoScript {
        VideoScript::default()
    }

    /// How many polls report `pending`, then `in_progress`, before the ending.
    pub fn polls(mut self, pending: u32, in_progress: u32) -> VideoScript {
        self.pending_polls = pending;
        self.in_progress_polls = in_progress;
        self
    }

    /// Ends `failed` with `error: message`.
    pub fn fails(mut self, message: impl Into<String>) -> VideoScript {
        self.ending = VideoEnding::Failed(message.into());
        self
    }

    /// Ends `cancelled`.
    pub fn cancelled(mut self) -> VideoScript {
        self.ending = VideoEnding::Cancelled;
        self
    }

    /// Ends `expired`.
    pub fn expires(mut self) -> VideoScript {
        self.ending = VideoEnding::Expired;
        self
    }

    /// Answers with an absolute `polling_url` (`http://host:port/api/v1/videos/{id}`).
    pub fn absolute_polling_url(mut self) -> VideoScript {
        self.absolute_polling_url = true;
        self
    }

    /// Offers the video at `url` (another server) in `unsigned_urls`.
    pub fn unsigned_url(mut self, url: impl Into<String>) -> VideoScript {
        self.download = Download::Url(url.into());
        self
    }

    /// Offers no `unsigned_urls`: the video is only at `/videos/{id}/content?index=0`.
    pub fn content_endpoint_only(mut self) -> VideoScript {
        self.download = Download::ContentEndpoint;
        self
    }

    /// The video bytes (default: a small valid MP4 header unique to the job).
    pub fn with_bytes(mut self, bytes: Vec<u8>) -> VideoScript {
        self.bytes = Some(bytes);
        self
    }
}

/// A small MP4 (`ftyp` + `mdat`) whose payload carries `tag`, so every job's video is
/// distinct and recognisable.
pub(crate) fn fake_mp4(tag: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tag.len());
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&0x200u32.to_be_bytes());
    out.extend_from_slice(b"isomiso2");
    let payload = format!("fake video {tag}");
    out.extend_from_slice(&(8 + payload.len() as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(payload.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders() {
        let s = VideoScript::new()
            .polls(2, 3)
            .fails("policy")
            .absolute_polling_url()
            .content_endpoint_only();
        assert_eq!((s.pending_polls, s.in_progress_polls), (2, 3));
        assert_eq!(s.ending, VideoEnding::Failed("policy".into()));
        assert!(s.absolute_polling_url);
        assert_eq!(s.download, Download::ContentEndpoint);
    }

    #[test]
    fn mp4_starts_with_ftyp() {
        let v = fake_mp4("job-1");
        assert_eq!(&v[4..8], b"ftyp");
        assert!(v.ends_with(b"fake video job-1"));
    }
}

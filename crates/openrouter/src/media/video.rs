//! Video generation (`POST /videos`, spec §9): request validation and body, duration
//! snapping to what the model supports, the job status document, polling-URL resolution
//! and the polling backoff. Pure; transport is in the client.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};
use url::Url;

use super::error::MediaError;
use super::image::{canonical_choice, check_prompt};
use crate::catalog::string_list;

/// Durations (seconds) assumed when `/videos/models` does not describe the model.
pub const DEFAULT_VIDEO_DURATIONS: &[u32] = &[4, 6, 8];
/// `aspect_ratio` values of `POST /videos`.
pub const VIDEO_ASPECT_RATIOS: &[&str] = &[
    "16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21",
];
/// `resolution` values of `POST /videos`.
pub const VIDEO_RESOLUTIONS: &[&str] = &["480p", "720p", "768p", "1080p", "1K", "2K", "4K"];
/// Most reference images one job may carry.
pub const MAX_VIDEO_REFERENCES: usize = 4;

/// A video job's status as OpenRouter reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Expired,
}

impl VideoStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::Pending => "pending",
            VideoStatus::InProgress => "in_progress",
            VideoStatus::Completed => "completed",
            VideoStatus::Failed => "failed",
            VideoStatus::Cancelled => "cancelled",
            VideoStatus::Expired => "expired",
        }
    }

    /// Parses the wire spelling (also `processing`/`queued`, seen from some providers).
    pub fn parse(s: &str) -> Option<VideoStatus> {
        Some(match s {
            "pending" | "queued" => VideoStatus::Pending,
            "in_progress" | "processing" | "running" => VideoStatus::InProgress,
            "completed" | "succeeded" => VideoStatus::Completed,
            "failed" | "error" => VideoStatus::Failed,
            "cancelled" | "canceled" => VideoStatus::Cancelled,
            "expired" => VideoStatus::Expired,
            _ => return None,
        })
    }

    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, VideoStatus::Pending | VideoStatus::InProgress)
    }
}

impl fmt::Display for VideoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The supported-duration list a catalog entry of `/videos/models` gives for `model`, if
/// it lists the model with any.
pub fn supported_durations(videos_models: &Value, model: &str) -> Option<Vec<u32>> {
    let entry = videos_models
        .get("data")
        .and_then(Value::as_array)?
        .iter()
        .find(|m| {
            m.get("id").and_then(Value::as_str) == Some(model)
                || m.get("canonical_slug").and_then(Value::as_str) == Some(model)
        })?;
    let mut durations: Vec<u32> = entry
        .get("supported_durations")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_u64)
        .filter_map(|d| u32::try_from(d).ok())
        .filter(|d| *d > 0)
        .collect();
    durations.sort_unstable();
    durations.dedup();
    (!durations.is_empty()).then_some(durations)
}

/// The supported duration nearest to `requested`; ties go to the larger one (5 with
/// 4/6/8 → 6). `supported` must be non-empty, else `requested` is returned.
pub fn snap_duration(requested: u32, supported: &[u32]) -> u32 {
    supported
        .iter()
        .copied()
        .min_by_key(|d| (d.abs_diff(requested), std::cmp::Reverse(*d)))
        .unwrap_or(requested)
}

/// One video generation.
#[derive(Debug, Clone, Default)]
pub struct VideoRequest {
    /// Wire model id.
    pub model: String,
    pub prompt: String,
    /// Seconds (already snapped).
    pub duration: u32,
    pub resolution: Option<String>,
    pub aspect_ratio: Option<String>,
    /// First frame image as a `data:` URL.
    pub first_frame: Option<String>,
    /// Last frame image as a `data:` URL.
    pub last_frame: Option<String>,
    /// Reference images as `data:` URLs.
    pub references: Vec<String>,
}

impl VideoRequest {
    /// Validates and canonicalises resolution and aspect ratio.
    pub fn validate(&mut self) -> Result<(), MediaError> {
        check_prompt(&self.prompt)?;
        if self.duration == 0 {
            return Err(MediaError::invalid(
                "invalid_duration",
                "the duration must be a positive number of seconds",
            ));
        }
        if let Some(r) = &self.resolution {
            self.resolution = Some(
                canonical_choice(r, VIDEO_RESOLUTIONS, "invalid_resolution", "resolution")?
                    .to_owned(),
            );
        }
        if let Some(ar) = &self.aspect_ratio {
            self.aspect_ratio = Some(
                canonical_choice(
                    ar,
                    VIDEO_ASPECT_RATIOS,
                    "invalid_aspect_ratio",
                    "aspect ratio",
                )?
                .to_owned(),
            );
        }
        if self.references.len() > MAX_VIDEO_REFERENCES {
            return Err(MediaError::invalid(
                "too_many_references",
                format!(
                    "a video takes at most {MAX_VIDEO_REFERENCES} reference images; {} were given",
                    self.references.len()
                ),
            ));
        }
        Ok(())
    }

    /// The JSON body of `POST /videos`.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("prompt".into(), json!(self.prompt));
        body.insert("duration".into(), json!(self.duration));
        if let Some(r) = &self.resolution {
            body.insert("resolution".into(), json!(r));
        }
        if let Some(ar) = &self.aspect_ratio {
            body.insert("aspect_ratio".into(), json!(ar));
        }
        let frames: Vec<Value> = [
            (&self.first_frame, "first_frame"),
            (&self.last_frame, "last_frame"),
        ]
        .into_iter()
        .filter_map(|(url, kind)| {
            url.as_ref()
                .map(|u| json!({"type": "image_url", "image_url": {"url": u}, "frame_type": kind}))
        })
        .collect();
        if !frames.is_empty() {
            body.insert("frame_images".into(), Value::Array(frames));
        }
        if !self.references.is_empty() {
            let refs: Vec<Value> = self
                .references
                .iter()
                .map(|u| json!({"type": "image_url", "image_url": {"url": u}}))
                .collect();
            body.insert("input_references".into(), Value::Array(refs));
        }
        Value::Object(body)
    }
}

/// A video job document (`POST /videos` answer or `GET /videos/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoJobState {
    /// Upstream job id.
    pub id: String,
    /// Where to poll, as given (relative or absolute).
    pub polling_url: Option<String>,
    pub status: VideoStatus,
    /// Download URLs once completed.
    pub unsigned_urls: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// `usage.cost`.
    pub cost: Option<f64>,
    pub generation_id: Option<String>,
}

/// Parses a job document.
pub fn parse_job(v: &Value) -> Result<VideoJobState, MediaError> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MediaError::Malformed("the video job document has no id".into()))?;
    let status_text = v.get("status").and_then(Value::as_str).unwrap_or_default();
    let status = VideoStatus::parse(status_text).ok_or_else(|| {
        MediaError::Malformed(format!(
            "video job {id} has an unknown status {status_text:?}"
        ))
    })?;
    let error = match v.get("error") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Object(o)) => o
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| Some(Value::Object(o.clone()).to_string())),
        _ => None,
    };
    Ok(VideoJobState {
        id: id.to_owned(),
        polling_url: v
            .get("polling_url")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        status,
        unsigned_urls: string_list(v.get("unsigned_urls")),
        error,
        cost: v
            .get("usage")
            .and_then(|u| u.get("cost"))
            .and_then(Value::as_f64),
        generation_id: v
            .get("generation_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Where to poll a job: the `polling_url` resolved against the base URL when it is
/// relative (`/api/v1/videos/…` is origin-relative), kept when it is absolute on the
/// base URL's own origin. An absolute URL on another origin is not followed — it would
/// receive the API key — and `{base}/videos/{id}` is polled instead, as it is when there
/// is no polling URL.
pub fn poll_url(base: &Url, job_id: &str, polling_url: Option<&str>) -> Url {
    let fallback = || {
        let mut url = base.clone();
        url.path_segments_mut()
            .map(|mut s| {
                s.pop_if_empty().push("videos").push(job_id);
            })
            .ok();
        url
    };
    let Some(given) = polling_url.map(str::trim).filter(|s| !s.is_empty()) else {
        return fallback();
    };
    let resolved = if given.starts_with('/') || given.contains("://") {
        base.join(given).ok()
    } else {
        let mut dir = base.clone();
        if !dir.path().ends_with('/') {
            let path = format!("{}/", dir.path());
            dir.set_path(&path);
        }
        dir.join(given).ok()
    };
    match resolved {
        Some(url) if url.origin() == base.origin() => url,
        _ => fallback(),
    }
}

/// `{base}/videos/{id}/content?index=0`.
pub fn content_url(base: &Url, job_id: &str) -> Url {
    let mut url = poll_url(base, job_id, None);
    url.path_segments_mut()
        .map(|mut s| {
            s.push("content");
        })
        .ok();
    url.set_query(Some("index=0"));
    url
}

/// Polling intervals: starts at `initial`, grows by half each poll, capped at `max`.
#[derive(Debug, Clone)]
pub struct PollBackoff {
    next: Duration,
    max: Duration,
}

impl PollBackoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        PollBackoff {
            next: initial.min(max),
            max,
        }
    }

    /// The wait before the next poll.
    pub fn next_delay(&mut self) -> Duration {
        let current = self.next;
        self.next = (current + current / 2).min(self.max);
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_prefers_nearest_then_larger() {
        assert_eq!(snap_duration(5, DEFAULT_VIDEO_DURATIONS), 6);
        assert_eq!(snap_duration(7, DEFAULT_VIDEO_DURATIONS), 8);
        assert_eq!(snap_duration(1, DEFAULT_VIDEO_DURATIONS), 4);
        assert_eq!(snap_duration(30, DEFAULT_VIDEO_DURATIONS), 8);
        assert_eq!(snap_duration(6, DEFAULT_VIDEO_DURATIONS), 6);
        assert_eq!(snap_duration(6, &[5, 8]), 5);
        assert_eq!(snap_duration(7, &[5, 8]), 8);
        assert_eq!(snap_duration(3, &[]), 3);
    }

    #[test]
    fn durations_from_the_video_catalog() {
        let doc = json!({"data": [
            {"id": "google/veo-3.1", "supported_durations": [8, 5, 8]},
            {"id": "x/empty", "supported_durations": null}
        ]});
        assert_eq!(
            supported_durations(&doc, "google/veo-3.1"),
            Some(vec![5, 8])
        );
        assert_eq!(supported_durations(&doc, "x/empty"), None);
        assert_eq!(supported_durations(&doc, "x/missing"), None);
        assert_eq!(supported_durations(&json!({}), "google/veo-3.1"), None);
    }

    #[test]
    fn body_with_frames_and_references() {
        let mut r = VideoRequest {
            model: "google/veo-3.1-fast".into(),
            prompt: "a fox runs".into(),
            duration: 6,
            resolution: Some("720P".into()),
            aspect_ratio: Some("16:9".into()),
            first_frame: Some("data:image/png;base64,AA==".into()),
            last_frame: None,
            references: vec!["data:image/png;base64,AQ==".into()],
        };
        r.validate().unwrap();
        assert_eq!(
            r.body(),
            json!({"model": "google/veo-3.1-fast", "prompt": "a fox runs", "duration": 6,
                "resolution": "720p", "aspect_ratio": "16:9",
                "frame_images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}, "frame_type": "first_frame"}],
                "input_references": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AQ=="}}]})
        );
        let mut bad = r.clone();
        bad.resolution = Some("360p".into());
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_resolution");
        let mut bad = r.clone();
        bad.aspect_ratio = Some("5:4".into());
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_aspect_ratio");
        let mut bad = r;
        bad.references = vec!["data:,".into(); 5];
        assert_eq!(bad.validate().unwrap_err().code(), "too_many_references");
    }

    #[test]
    fn job_documents() {
        let j = parse_job(
            &json!({"id": "job-1", "polling_url": "/api/v1/videos/job-1", "status": "pending"}),
        )
        .unwrap();
        assert_eq!(j.status, VideoStatus::Pending);
        assert_eq!(j.polling_url.as_deref(), Some("/api/v1/videos/job-1"));
        let j = parse_job(&json!({"id": "job-1", "status": "completed",
            "unsigned_urls": ["https://cdn/x.mp4"], "usage": {"cost": 0.5}}))
        .unwrap();
        assert_eq!(j.unsigned_urls, vec!["https://cdn/x.mp4"]);
        assert_eq!(j.cost, Some(0.5));
        assert!(j.status.is_terminal());
        let j = parse_job(&json!({"id": "j", "status": "failed", "error": "blocked by policy"}))
            .unwrap();
        assert_eq!(j.error.as_deref(), Some("blocked by policy"));
        let j = parse_job(&json!({"id": "j", "status": "failed", "error": {"message": "boom"}}))
            .unwrap();
        assert_eq!(j.error.as_deref(), Some("boom"));
        assert!(parse_job(&json!({"status": "pending"})).is_err());
        assert!(parse_job(&json!({"id": "j", "status": "weird"})).is_err());
    }

    #[test]
    fn polling_urls_relative_absolute_and_foreign() {
        let base = Url::parse("http://127.0.0.1:9000/api/v1").unwrap();
        assert_eq!(
            poll_url(&base, "job-1", Some("/api/v1/videos/job-1")).as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job-1"
        );
        assert_eq!(
            poll_url(&base, "job-1", Some("videos/job-1")).as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job-1"
        );
        assert_eq!(
            poll_url(
                &base,
                "job-1",
                Some("http://127.0.0.1:9000/api/v1/videos/job-1?x=1")
            )
            .as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job-1?x=1"
        );
        assert_eq!(
            poll_url(&base, "job-1", Some("https://evil.example/steal")).as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job-1",
            "a foreign origin never gets the key"
        );
        assert_eq!(
            poll_url(&base, "job 1", None).as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job%201"
        );
        assert_eq!(
            content_url(&base, "job-1").as_str(),
            "http://127.0.0.1:9000/api/v1/videos/job-1/content?index=0"
        );
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let mut b = PollBackoff::new(Duration::from_millis(100), Duration::from_millis(300));
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 150, 225, 300, 300]);
    }
}

//! The media endpoints: `POST /audio/speech`, the video job API (`POST /videos`,
//! `GET /videos/{id}`, `GET /videos/{id}/content`, `GET /videos/models`) and plain file
//! downloads outside `/api/v1` (what `unsigned_urls` and image URLs point at).
//!
//! Request bodies are validated the way OpenRouter does (400 with its error body), so a
//! client that sends a duration the model lacks, an unknown resolution or a malformed
//! frame image finds out here rather than in production.

use std::collections::{HashMap, VecDeque};

use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::body::ScriptBody;
use crate::generation::{new_generation_id, unix_now};
use crate::respond::{self, FakeResponse};
use crate::state::Shared;
use crate::video::{fake_mp4, Download, VideoEnding, VideoScript};

/// The media endpoints whose next answer can be scripted to fail
/// ([`crate::FakeOpenRouter::fail_next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaEndpoint {
    /// `POST /audio/speech`.
    Speech,
    /// `POST /videos`.
    CreateVideo,
    /// `GET /videos/{id}`.
    PollVideo,
    /// `GET /videos/{id}/content`.
    VideoContent,
    /// `GET /videos/models`.
    VideoModels,
    /// `POST /embeddings`.
    Embeddings,
    /// `POST /images` (the dedicated image API).
    Images,
}

/// A file served outside `/api/v1`.
#[derive(Debug, Clone)]
pub(crate) enum StaticFile {
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    Redirect(String),
}

/// One video job.
#[derive(Debug, Clone)]
struct Job {
    script: VideoScript,
    polls: u32,
    bytes: Vec<u8>,
    generation_id: String,
}

/// The media part of the fake's state.
#[derive(Debug)]
pub(crate) struct MediaState {
    pub(crate) video_scripts: VecDeque<VideoScript>,
    pub(crate) video_models: Value,
    pub(crate) files: HashMap<String, StaticFile>,
    pub(crate) failures: HashMap<MediaEndpoint, VecDeque<(u16, String)>>,
    jobs: HashMap<String, Job>,
    next_job: u64,
}

impl MediaState {
    pub(crate) fn new() -> MediaState {
        MediaState {
            video_scripts: VecDeque::new(),
            video_models: default_video_models(),
            files: HashMap::new(),
            failures: HashMap::new(),
            jobs: HashMap::new(),
            next_job: 0,
        }
    }
}

/// The default `data` of `GET /videos/models`.
pub(crate) fn default_video_models() -> Value {
    json!([
        {
            "id": "google/veo-3.1-fast",
            "canonical_slug": "google/veo-3.1-fast",
            "name": "Google: Veo 3.1 Fast",
            "created": 1_760_000_000u64,
            "description": "Google: Veo 3.1 Fast (fake catalog entry).",
            "generate_audio": true,
            "seed": true,
            "pricing_skus": {"generate": "0.15"},
            "supported_durations": [4, 6, 8],
            "supported_resolutions": ["720p", "1080p"],
            "supported_aspect_ratios": ["16:9", "9:16"],
            "supported_frame_images": ["first_frame", "last_frame"],
            "supported_sizes": null,
            "allowed_passthrough_parameters": []
        },
        {
            "id": "openai/sora-2",
            "canonical_slug": "openai/sora-2",
            "name": "OpenAI: Sora 2",
            "created": 1_760_000_000u64,
            "description": "OpenAI: Sora 2 (fake catalog entry).",
            "generate_audio": true,
            "seed": null,
            "pricing_skus": {"generate": "0.10"},
            "supported_durations": [4, 8, 12],
            "supported_resolutions": ["720p"],
            "supported_aspect_ratios": ["16:9", "9:16"],
            "supported_frame_images": ["first_frame"],
            "supported_sizes": null,
            "allowed_passthrough_parameters": []
        }
    ])
}

const RESOLUTIONS: &[&str] = &["480p", "720p", "768p", "1080p", "1K", "2K", "4K"];
const ASPECT_RATIOS: &[&str] = &[
    "16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21",
];

/// Which media endpoint a request under `/api/v1` is, if any.
pub(crate) fn endpoint_of(method: &Method, endpoint: &str) -> Option<MediaEndpoint> {
    match (method, endpoint) {
        (&Method::POST, "/audio/speech") => Some(MediaEndpoint::Speech),
        (&Method::POST, "/embeddings") => Some(MediaEndpoint::Embeddings),
        (&Method::POST, "/images") => Some(MediaEndpoint::Images),
        (&Method::POST, "/videos") => Some(MediaEndpoint::CreateVideo),
        (&Method::GET, "/videos/models") => Some(MediaEndpoint::VideoModels),
        (&Method::GET, e) => {
            let rest = e.strip_prefix("/videos/")?;
            match rest.split_once('/') {
                None if !rest.is_empty() => Some(MediaEndpoint::PollVideo),
                Some((id, "content")) if !id.is_empty() => Some(MediaEndpoint::VideoContent),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Answers a media endpoint. `endpoint` is the path after `/api/v1`.
pub(crate) fn handle(
    shared: &Shared,
    which: MediaEndpoint,
    endpoint: &str,
    query: Option<&str>,
    body: Option<&Value>,
) -> FakeResponse {
    let mut state = shared.lock();
    let origin = state.origin.clone();
    let media = &mut state.media;
    if let Some((status, message)) = media.failures.get_mut(&which).and_then(VecDeque::pop_front) {
        return respond::openrouter_error(status, &message);
    }
    match which {
        MediaEndpoint::Speech => speech(body),
        MediaEndpoint::Embeddings => crate::embeddings::answer(body),
        MediaEndpoint::Images => crate::images::answer(body),
        MediaEndpoint::CreateVideo => create_video(media, &origin, body),
        MediaEndpoint::VideoModels => {
            respond::json(StatusCode::OK, &json!({"data": media.video_models}))
        }
        MediaEndpoint::PollVideo => {
            let id = endpoint.trim_start_matches("/videos/");
            match media.jobs.get_mut(id) {
                Some(job) => {
                    job.polls += 1;
                    respond::json(StatusCode::OK, &job_document(id, job, &origin))
                }
                None => respond::openrouter_error(404, &format!("Video job {id} not found")),
            }
        }
        MediaEndpoint::VideoContent => {
            let id = endpoint
                .trim_start_matches("/videos/")
                .trim_end_matches("/content");
            let index = query
                .and_then(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "index")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_else(|| "0".into());
            match media.jobs.get(id) {
                Some(_) if index != "0" => {
                    respond::openrouter_error(404, &format!("Video {id} has no output {index}"))
                }
                Some(job) if status_of(job) == "completed" => {
                    bytes_response("video/mp4", job.bytes.clone())
                }
                Some(_) => {
                    respond::openrouter_error(400, &format!("Video job {id} is not completed"))
                }
                None => respond::openrouter_error(404, &format!("Video job {id} not found")),
            }
        }
    }
}

/// `GET` of a path outside `/api/v1`: a served file, a redirect, or a job's video.
pub(crate) fn file(shared: &Shared, path: &str) -> FakeResponse {
    let state = shared.lock();
    if let Some(id) = path
        .strip_prefix("/files/videos/")
        .and_then(|p| p.strip_suffix(".mp4"))
    {
        if let Some(job) = state.media.jobs.get(id) {
            if status_of(job) == "completed" {
                return bytes_response("video/mp4", job.bytes.clone());
            }
        }
    }
    match state.media.files.get(path) {
        Some(StaticFile::Bytes {
            content_type,
            bytes,
        }) => bytes_response(content_type, bytes.clone()),
        Some(StaticFile::Redirect(location)) => {
            let mut response = Response::new(ScriptBody::full(Vec::new()));
            *response.status_mut() = StatusCode::FOUND;
            if let Ok(v) = HeaderValue::from_str(location) {
                response.headers_mut().insert(LOCATION, v);
            }
            response
        }
        None => respond::openrouter_error(404, "Not Found"),
    }
}

fn bytes_response(content_type: &str, bytes: Vec<u8>) -> FakeResponse {
    let mut response = Response::new(ScriptBody::full(bytes));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

fn bad(message: &str) -> FakeResponse {
    respond::openrouter_error(400, message)
}

fn speech(body: Option<&Value>) -> FakeResponse {
    let Some(body) = body.filter(|b| b.is_object()) else {
        return bad("Invalid JSON body: expected an object");
    };
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return bad("model is required");
    }
    let Some(input) = body
        .get("input")
        .and_then(Value::as_str)
        .filter(|i| !i.trim().is_empty())
    else {
        return bad("input is required and must be a non-empty string");
    };
    if let Some(voice) = body.get("voice") {
        if voice.as_str().is_none_or(str::is_empty) {
            return bad("voice must be a non-empty string");
        }
    }
    if let Some(speed) = body.get("speed") {
        if !speed.is_number() {
            return bad("speed must be a number");
        }
    }
    match body
        .get("response_format")
        .map(|f| f.as_str())
        .unwrap_or(Some("pcm"))
    {
        Some("mp3") => bytes_response("audio/mpeg", fake_mp3(input)),
        Some("pcm") => bytes_response("audio/pcm", fake_pcm(input)),
        _ => bad("response_format must be one of: mp3, pcm"),
    }
}

/// An ID3v2 header and a few MPEG-1 Layer III frames (128 kbps, 44.1 kHz) whose padding
/// carries the text, so different inputs give different bytes.
pub(crate) fn fake_mp3(text: &str) -> Vec<u8> {
    const FRAME_LEN: usize = 417;
    let frames = 2 + text.len() / 64;
    let mut out = Vec::with_capacity(10 + frames * FRAME_LEN);
    out.extend_from_slice(b"ID3\x04\x00\x00\x00\x00\x00\x00");
    let tag = text.as_bytes();
    for f in 0..frames {
        let start = out.len();
        out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        let chunk = tag
            .get(f * 64..((f + 1) * 64).min(tag.len()))
            .unwrap_or(&[]);
        out.extend_from_slice(chunk);
        out.resize(start + FRAME_LEN, 0);
    }
    out
}

/// 16-bit little-endian mono samples derived from the text (four samples a character).
pub(crate) fn fake_pcm(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 8);
    for b in text.bytes() {
        for k in 0..4i16 {
            let sample = (i16::from(b) - 64) * 128 + k * 16;
            out.extend_from_slice(&sample.to_le_bytes());
        }
    }
    out
}

fn supported_durations(models: &Value, model: &str) -> Option<Vec<u64>> {
    models
        .as_array()?
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(model))?
        .get("supported_durations")?
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
}

fn check_image_part(part: &Value, what: &str) -> Result<(), String> {
    let ok = part.get("type").and_then(Value::as_str) == Some("image_url")
        && part
            .get("image_url")
            .and_then(|u| u.get("url"))
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} must be {{\"type\": \"image_url\", \"image_url\": {{\"url\": …}}}}"
        ))
    }
}

fn validate_video(models: &Value, body: &Value) -> Result<String, String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("model is required")?;
    let frames = body.get("frame_images").and_then(Value::as_array);
    let prompt_ok = body
        .get("prompt")
        .and_then(Value::as_str)
        .is_some_and(|p| !p.trim().is_empty());
    if !prompt_ok && frames.is_none_or(|f| f.is_empty()) {
        return Err("prompt is required".into());
    }
    if let Some(d) = body.get("duration") {
        let d = d
            .as_u64()
            .filter(|d| *d >= 1)
            .ok_or("duration must be an integer >= 1")?;
        if let Some(supported) = supported_durations(models, model) {
            if !supported.contains(&d) {
                let list: Vec<String> = supported.iter().map(u64::to_string).collect();
                return Err(format!(
                    "duration {d} is not supported by {model}; supported durations: {}",
                    list.join(", ")
                ));
            }
        }
    }
    for (key, valid) in [("resolution", RESOLUTIONS), ("aspect_ratio", ASPECT_RATIOS)] {
        if let Some(v) = body.get(key) {
            if !v.as_str().is_some_and(|v| valid.contains(&v)) {
                return Err(format!("{key} must be one of: {}", valid.join(", ")));
            }
        }
    }
    for frame in frames.into_iter().flatten() {
        check_image_part(frame, "each frame_images entry")?;
        let kind = frame.get("frame_type").and_then(Value::as_str);
        if !matches!(kind, Some("first_frame" | "last_frame")) {
            return Err("frame_type must be first_frame or last_frame".into());
        }
    }
    if let Some(refs) = body.get("input_references") {
        for r in refs.as_array().ok_or("input_references must be an array")? {
            check_image_part(r, "each input_references entry")?;
        }
    }
    Ok(model.to_owned())
}

fn create_video(media: &mut MediaState, origin: &str, body: Option<&Value>) -> FakeResponse {
    let Some(body) = body.filter(|b| b.is_object()) else {
        return bad("Invalid JSON body: expected an object");
    };
    if let Err(message) = validate_video(&media.video_models, body) {
        return bad(&message);
    }
    media.next_job += 1;
    let id = format!("job-{}-{:x}", media.next_job, unix_now() & 0xffff);
    let script = media.video_scripts.pop_front().unwrap_or_default();
    let bytes = script.bytes.clone().unwrap_or_else(|| fake_mp4(&id));
    let job = Job {
        script,
        polls: 0,
        bytes,
        generation_id: new_generation_id(unix_now()),
    };
    let document = job_document(&id, &job, origin);
    media.jobs.insert(id, job);
    respond::json(StatusCode::ACCEPTED, &document)
}

fn status_of(job: &Job) -> &'static str {
    let s = &job.script;
    if job.polls <= s.pending_polls {
        "pending"
    } else if job.polls <= s.pending_polls + s.in_progress_polls {
        "in_progress"
    } else {
        match s.ending {
            VideoEnding::Completed => "completed",
            VideoEnding::Failed(_) => "failed",
            VideoEnding::Cancelled => "cancelled",
            VideoEnding::Expired => "expired",
        }
    }
}

fn job_document(id: &str, job: &Job, origin: &str) -> Value {
    let relative = format!("/api/v1/videos/{id}");
    let polling_url = if job.script.absolute_polling_url {
        format!("{origin}{relative}")
    } else {
        relative
    };
    let status = status_of(job);
    let mut doc = json!({
        "id": id,
        "polling_url": polling_url,
        "status": status,
        "generation_id": job.generation_id,
    });
    match (status, &job.script.ending) {
        ("completed", _) => {
            match &job.script.download {
                Download::OwnFile => {
                    doc["unsigned_urls"] = json!([format!("{origin}/files/videos/{id}.mp4")]);
                }
                Download::Url(url) => doc["unsigned_urls"] = json!([url]),
                Download::ContentEndpoint => {}
            }
            doc["usage"] = json!({"cost": job.script.cost});
        }
        ("failed", VideoEnding::Failed(message)) => doc["error"] = json!(message),
        _ => {}
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_recognised() {
        assert_eq!(
            endpoint_of(&Method::POST, "/audio/speech"),
            Some(MediaEndpoint::Speech)
        );
        assert_eq!(
            endpoint_of(&Method::POST, "/videos"),
            Some(MediaEndpoint::CreateVideo)
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/videos/models"),
            Some(MediaEndpoint::VideoModels)
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/videos/job-1"),
            Some(MediaEndpoint::PollVideo)
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/videos/job-1/content"),
            Some(MediaEndpoint::VideoContent)
        );
        assert_eq!(endpoint_of(&Method::GET, "/videos/"), None);
        assert_eq!(endpoint_of(&Method::DELETE, "/videos/job-1"), None);
    }

    #[test]
    fn video_validation_follows_the_catalog() {
        let models = default_video_models();
        let ok = json!({"model": "google/veo-3.1-fast", "prompt": "p", "duration": 6, "resolution": "720p", "aspect_ratio": "16:9"});
        assert!(validate_video(&models, &ok).is_ok());
        let bad_duration = json!({"model": "google/veo-3.1-fast", "prompt": "p", "duration": 5});
        assert!(validate_video(&models, &bad_duration)
            .unwrap_err()
            .contains("supported durations: 4, 6, 8"));
        let bad_frame = json!({"model": "m", "prompt": "p", "frame_images": [{"type": "image_url", "image_url": {"url": "x"}, "frame_type": "middle"}]});
        assert!(validate_video(&models, &bad_frame).is_err());
        assert!(validate_video(&models, &json!({"model": "m"})).is_err());
    }

    #[test]
    fn speech_bytes_differ_by_text() {
        assert_ne!(fake_mp3("a"), fake_mp3("b"));
        assert_eq!(&fake_mp3("a")[..3], b"ID3");
        assert_eq!(fake_pcm("ab").len(), 16);
    }
}

//! The OpenAI facade's media endpoints (spec §13): images and audio in OpenAI's request
//! and response shapes, served by ferry's media path (spec §9) — images through the
//! route's image model (chat with `modalities`), speech through `/audio/speech`,
//! transcriptions through `/audio/transcriptions` with the transcript cache. Results are
//! stored as assets like every generated medium. `model` is a ferry selector; left out,
//! the route's media model serves.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ferry_assets::Source;
use ferry_engine::{DirectResult, EngineError, FacadeRunEnd, TranscribeOptions};
use ferry_metrics::Api;
use ferry_openrouter::Usage;
use ferry_types::{
    ImageDatum, ImagesAnswer, ImagesUsage, ProblemCode, ToolOutput, TranscriptText,
    TranscriptionAnswer, VerboseTranscript,
};
use serde_json::{json, Map, Value};

use crate::extract::ApiJson;
use crate::facade::forward::record_start;
use crate::facade::ErrorShape;
use crate::json_reply::Json;
use crate::problem::Problem;
use crate::upload::{read_form, Form};
use crate::AppState;

/// OpenAI image fields that have no OpenRouter counterpart: accepted and dropped.
const IMAGE_DROPPED: &[&str] = &[
    "quality",
    "style",
    "user",
    "background",
    "moderation",
    "output_compression",
    "output_format",
    "partial_images",
    "stream",
    "input_fidelity",
];

/// Aspect ratios OpenRouter's image models take, as (ratio name, width / height).
const ASPECT_RATIOS: &[(&str, f64)] = &[
    ("1:1", 1.0),
    ("2:3", 2.0 / 3.0),
    ("3:2", 1.5),
    ("3:4", 0.75),
    ("4:3", 4.0 / 3.0),
    ("4:5", 0.8),
    ("5:4", 1.25),
    ("9:16", 9.0 / 16.0),
    ("16:9", 16.0 / 9.0),
    ("21:9", 21.0 / 9.0),
];

fn bad(code: &'static str, message: impl Into<String>) -> Problem {
    EngineError::bad_input(code, message).into()
}

fn fail(s: &AppState, api: Api, problem: Problem) -> Response {
    s.engine
        .metrics()
        .request(api, "-", "-", &problem.status.to_string());
    ErrorShape::OpenAi.respond(problem)
}

/// OpenAI's `size` (`"1536x1024"`, `"auto"`) as OpenRouter's `image_config`: the nearest
/// aspect ratio, and `2K`/`4K` for large sizes.
fn image_config(size: &str) -> Result<(Option<&'static str>, Option<&'static str>), Problem> {
    if size == "auto" {
        return Ok((None, None));
    }
    let parsed = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0);
    let Some((w, h)) = parsed else {
        return Err(bad(
            "invalid_size",
            format!("size {size:?} is not WIDTHxHEIGHT (e.g. 1024x1024) or auto"),
        ));
    };
    let ratio = f64::from(w) / f64::from(h);
    let (name, _) = ASPECT_RATIOS
        .iter()
        .min_by(|a, b| (a.1 - ratio).abs().total_cmp(&(b.1 - ratio).abs()))
        .copied()
        .unwrap_or(("1:1", 1.0));
    let longest = w.max(h);
    let image_size = if longest > 3072 {
        Some("4K")
    } else if longest > 1536 {
        Some("2K")
    } else {
        None
    };
    Ok((Some(name), image_size))
}

/// `mask`, as a text field or a file part: OpenRouter's image models have no masked edit.
fn mask_unsupported() -> Problem {
    bad(
        "unsupported_parameter",
        "mask is not supported: OpenRouter's image models edit from the prompt; describe the area to change instead, and send no mask",
    )
}

/// The image tool's arguments from an OpenAI images request (JSON body or form fields).
struct ImageAsk {
    tool_args: Map<String, Value>,
    as_url: bool,
}

fn image_ask(s: &AppState, fields: Map<String, Value>) -> Result<ImageAsk, Problem> {
    let mut args = Map::new();
    let mut as_url = false;
    for (key, value) in fields {
        if value.is_null() || IMAGE_DROPPED.contains(&key.as_str()) {
            continue;
        }
        let text = || value.as_str().map(str::to_owned);
        match key.as_str() {
            "prompt" => {
                args.insert(key.clone(), value.clone());
            }
            "n" => {
                let n = value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|t| t.parse().ok()))
                    .ok_or_else(|| bad("invalid_n", "n must be an integer from 1 to 4"))?;
                args.insert("n".into(), json!(n));
            }
            "size" => {
                let size = text().ok_or_else(|| bad("invalid_size", "size must be a string"))?;
                let (ratio, image_size) = image_config(&size)?;
                if let Some(r) = ratio {
                    args.insert("aspect_ratio".into(), json!(r));
                }
                if let Some(z) = image_size {
                    args.insert("image_size".into(), json!(z));
                }
            }
            "response_format" => match text().as_deref() {
                Some("url") => as_url = true,
                Some("b64_json") => as_url = false,
                _ => {
                    return Err(bad(
                        "invalid_response_format",
                        "response_format must be b64_json or url",
                    ))
                }
            },
            "model" => {
                let selector = text().ok_or_else(|| bad("invalid_model", "model must be a string"))?;
                let target = s.engine.facade_target(&selector).map_err(Problem::from)?;
                args.insert("route".into(), json!(target.route));
                args.insert("model".into(), json!(target.model));
            }
            "mask" => return Err(mask_unsupported()),
            other => {
                return Err(bad(
                    "unknown_parameter",
                    format!("unrecognized request argument supplied: {other}; the images endpoints take prompt, model, n, size and response_format"),
                ))
            }
        }
    }
    if args
        .get("prompt")
        .and_then(Value::as_str)
        .is_none_or(|t| t.trim().is_empty())
    {
        return Err(bad(
            "missing_prompt",
            "prompt is required: describe the image",
        ));
    }
    Ok(ImageAsk {
        tool_args: args,
        as_url,
    })
}

/// `{created, data: [{b64_json} | {url}], usage?}` for the stored images.
async fn images_answer(
    s: &AppState,
    headers: &HeaderMap,
    out: &ToolOutput,
    as_url: bool,
) -> Result<Response, Problem> {
    let mut data = Vec::with_capacity(out.assets.len());
    for asset in &out.assets {
        data.push(if as_url {
            ImageDatum {
                b64_json: None,
                url: Some(asset_url(headers, &asset.asset_id)),
            }
        } else {
            let bytes = read_asset(s, &asset.asset_id).await?;
            ImageDatum {
                b64_json: Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                url: None,
            }
        });
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = ImagesAnswer {
        created,
        data,
        usage: out.cost.map(|cost| ImagesUsage { cost }),
    };
    s.engine
        .metrics()
        .request(Api::Images, &out.route, &out.model, "200");
    Ok(Json(body).into_response())
}

/// The absolute `/raw` URL of an asset on this daemon, as the client reached it.
fn asset_url(headers: &HeaderMap, id: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4000");
    format!("http://{host}/v1/assets/{id}/raw")
}

/// What a recorded media call amounted to: route, model, cost and text.
type Summary = (Option<String>, Option<String>, Option<f64>, Option<String>);

/// Runs `work`, recorded as a run of `api` with `--record-facade-runs`.
async fn recorded<T>(
    s: &AppState,
    headers: &HeaderMap,
    api: &'static str,
    request: Value,
    work: impl std::future::Future<Output = Result<T, Problem>>,
    summary: impl FnOnce(&T) -> Summary,
) -> Result<T, Problem> {
    let record = record_start(s, headers, api, || request).await?;
    let started = std::time::Instant::now();
    let result = work.await;
    if let Some((run_id, session)) = record {
        let (route, model, cost, text) = result.as_ref().map(summary).unwrap_or_default();
        s.engine.facade_record_finish(
            run_id,
            session,
            FacadeRunEnd {
                api,
                route,
                model,
                usage: Some(Usage {
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    cost,
                }),
                text,
                error: result
                    .as_ref()
                    .err()
                    .map(|p| (p.code.as_str().to_owned(), p.detail.clone())),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                ..FacadeRunEnd::default()
            },
        );
    }
    result
}

/// Runs media tool `name` (not video) with `args` to its end, recorded as a run of `api`.
async fn run_tool(
    s: &AppState,
    headers: &HeaderMap,
    api: &'static str,
    name: &str,
    args: Map<String, Value>,
) -> Result<ToolOutput, Problem> {
    let request = Value::Object(args.clone());
    let work = async {
        match s
            .engine
            .run_direct_tool(name, Value::Object(args), true)
            .await
        {
            Ok(DirectResult::Done(out)) => Ok(*out),
            Ok(DirectResult::VideoStarted(_)) => Err(Problem::new(
                500,
                ProblemCode::InternalError,
                format!("{name} started a video"),
            )),
            Err(e) => Err(Problem::from(e)),
        }
    };
    recorded(s, headers, api, request, work, |out: &ToolOutput| {
        (
            Some(out.route.clone()),
            Some(out.model.clone()),
            out.cost,
            out.text.clone(),
        )
    })
    .await
}

/// The verified bytes of a stored asset.
async fn read_asset(s: &AppState, id: &str) -> Result<bytes::Bytes, Problem> {
    let (_, bytes) = s
        .engine
        .assets()
        .read(id)
        .await
        .map_err(|e| Problem::from(EngineError::from(e)))?;
    Ok(bytes)
}

/// `POST /openai/v1/images/generations`: OpenAI's image generation over the route's image
/// model; the images are stored as assets.
#[utoipa::path(
    post,
    path = "/openai/v1/images/generations",
    tag = "openai",
    request_body(content = Object, description = "OpenAI images request: prompt, model? (a ferry selector; default the route's image model), n?, size?, response_format? (b64_json | url)"),
    responses(
        (status = 200, description = "`{created, data: [{b64_json} | {url}]}`; `url` is the asset's `/v1/assets/{id}/raw`", body = ImagesAnswer),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn images_generations(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Response {
    let result = async {
        let ask = image_ask(&s, body)?;
        let out = run_tool(
            &s,
            &headers,
            "openai.images",
            "generate_image",
            ask.tool_args,
        )
        .await?;
        images_answer(&s, &headers, &out, ask.as_url).await
    }
    .await;
    result.unwrap_or_else(|p| fail(&s, Api::Images, p))
}

/// `POST /openai/v1/images/edits`: OpenAI's image edit (multipart: `image` — or several
/// `image[]` — and `prompt`) over the route's image model.
#[utoipa::path(
    post,
    path = "/openai/v1/images/edits",
    tag = "openai",
    request_body(content = Object, description = "multipart/form-data: image (one or more, ≤ 5), prompt, model?, n?, size?, response_format?", content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "`{created, data: [{b64_json} | {url}]}`", body = ImagesAnswer),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn images_edits(State(s): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let result = async {
        let form = read_form(req, s.engine.assets().max_bytes()).await?;
        // Every part is checked before an image is stored or anything goes upstream: a
        // part the edit would not use (a mask file above all) is refused, never dropped.
        let mut images = Vec::new();
        for (name, upload) in form.files {
            match name.as_str() {
                "image" | "image[]" => images.push(upload),
                "mask" => return Err(mask_unsupported()),
                other => {
                    return Err(bad(
                        "unknown_parameter",
                        format!("unrecognized file part supplied: {other:?}; an edit takes the images to edit as file parts named image (or image[])"),
                    ))
                }
            }
        }
        if images.is_empty() {
            return Err(bad(
                "missing_image",
                "image is required: send the image to edit as a file part named image",
            ));
        }
        let fields: Map<String, Value> = form
            .fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut ask = image_ask(&s, fields)?;
        if let Some(n) = ask.tool_args.remove("n") {
            if n != json!(1) {
                return Err(bad("unsupported_parameter", "n must be 1 for edits"));
            }
        }
        let mut ids = Vec::with_capacity(images.len());
        for upload in images {
            ids.push(store_upload(&s, upload).await?);
        }
        ask.tool_args.insert("image_asset_ids".into(), json!(ids));
        let out = run_tool(&s, &headers, "openai.images", "edit_image", ask.tool_args).await?;
        images_answer(&s, &headers, &out, ask.as_url).await
    }
    .await;
    result.unwrap_or_else(|p| fail(&s, Api::Images, p))
}

async fn store_upload(s: &AppState, upload: crate::upload::Upload) -> Result<String, Problem> {
    let stored = s
        .engine
        .assets()
        .ingest(upload.bytes, upload.declared, Source::Upload)
        .await
        .map_err(|e| Problem::from(EngineError::from(e)))?;
    Ok(stored.view.asset.id)
}

/// `POST /openai/v1/audio/speech`: text to speech through the route's speech model.
/// `response_format` mp3 (default), wav (OpenRouter's PCM in a WAV container) or pcm
/// (16-bit LE mono); the audio is also stored as an asset (`x-ferry-asset-id`).
#[utoipa::path(
    post,
    path = "/openai/v1/audio/speech",
    tag = "openai",
    request_body(content = Object, description = "OpenAI speech request: input, voice?, model? (a ferry selector; default the route's tts_model), response_format? (mp3 | wav | pcm), speed?"),
    responses(
        (status = 200, description = "The audio bytes (audio/mpeg, audio/wav or audio/pcm)", content_type = "audio/mpeg"),
        (status = 400, description = "Invalid request, or a format OpenRouter cannot make (OpenAI-style error body)"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn speech(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Response {
    let result = async {
        let mut args = Map::new();
        let mut format = "mp3".to_owned();
        for (key, value) in body {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "input" => {
                    args.insert("text".into(), value);
                }
                "voice" | "speed" => {
                    args.insert(key, value);
                }
                "instructions" | "stream_format" => {}
                "response_format" => {
                    format = value.as_str().unwrap_or_default().to_owned();
                }
                "model" => {
                    let selector = value.as_str().ok_or_else(|| bad("invalid_model", "model must be a string"))?;
                    let target = s.engine.facade_target(selector).map_err(Problem::from)?;
                    args.insert("route".into(), json!(target.route));
                    args.insert("model".into(), json!(target.model));
                }
                other => {
                    return Err(bad(
                        "unknown_parameter",
                        format!("unrecognized request argument supplied: {other}; speech takes input, voice, model, response_format and speed"),
                    ))
                }
            }
        }
        let upstream_format = match format.as_str() {
            "mp3" => "mp3",
            "wav" | "pcm" => "pcm",
            other => {
                return Err(bad(
                    "unsupported_audio_format",
                    format!("response_format {other:?} is not available: OpenRouter makes mp3 and pcm; ask for mp3, wav or pcm"),
                ))
            }
        };
        args.insert("format".into(), json!(upstream_format));
        let out = run_tool(&s, &headers, "openai.audio", "generate_audio", args).await?;
        let asset = out
            .assets
            .first()
            .ok_or_else(|| Problem::new(502, ProblemCode::UpstreamError, "the speech call returned no audio"))?;
        let bytes = read_asset(&s, &asset.asset_id).await?;
        let (content_type, bytes) = match format.as_str() {
            "mp3" => ("audio/mpeg", bytes),
            "wav" => ("audio/wav", bytes),
            _ => ("audio/pcm", wav_samples(bytes)),
        };
        s.engine.metrics().request(Api::Audio, &out.route, &out.model, "200");
        let mut resp = (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            Body::from(bytes),
        )
            .into_response();
        if let Ok(id) = HeaderValue::from_str(&asset.asset_id) {
            resp.headers_mut().insert("x-ferry-asset-id", id);
        }
        Ok(resp)
    }
    .await;
    result.unwrap_or_else(|p| fail(&s, Api::Audio, p))
}

/// The samples of a WAV file (the bytes after its `data` chunk header); the whole input
/// when it is not one.
fn wav_samples(wav: bytes::Bytes) -> bytes::Bytes {
    let mut at = 12;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]) as usize;
        if id == b"data" {
            let end = (at + 8 + len).min(wav.len());
            return wav.slice(at + 8..end);
        }
        at += 8 + len + (len & 1);
    }
    wav
}

/// `POST /openai/v1/audio/transcriptions`: speech to text (multipart `file`, `model?`,
/// `language?`, `response_format?` json | text | verbose_json). The audio is stored as an
/// asset and transcribed once per asset and model (the transcript cache of spec §7).
#[utoipa::path(
    post,
    path = "/openai/v1/audio/transcriptions",
    tag = "openai",
    request_body(content = Object, description = "multipart/form-data: file, model? (a ferry selector; default the route's stt_model), language?, response_format?", content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "`{text}` (json), the text (text), or `{task, language, text}` (verbose_json)", body = TranscriptionAnswer),
        (status = 400, description = "Invalid request (OpenAI-style error body)"),
        (status = 415, description = "The file is not accepted audio"),
        (status = 502, description = "Upstream failure"),
        (status = 503, description = "The route is not ready: its secret is missing or the secret store is locked")
    )
)]
pub async fn transcriptions(State(s): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let result = async {
        let form: Form = read_form(req, s.engine.assets().max_bytes()).await?;
        let format = form.field("response_format").unwrap_or("json").to_owned();
        if !matches!(format.as_str(), "json" | "text" | "verbose_json") {
            return Err(bad(
                "unsupported_response_format",
                format!(
                    "response_format {format:?} is not available; use json, text or verbose_json"
                ),
            ));
        }
        let mut options = TranscribeOptions {
            language: form
                .field("language")
                .map(str::to_owned)
                .filter(|l| !l.is_empty()),
            ..TranscribeOptions::default()
        };
        if let Some(selector) = form.field("model").filter(|m| !m.is_empty()) {
            let target = s.engine.facade_target(selector).map_err(Problem::from)?;
            options.route = Some(target.route);
            options.model = Some(target.model);
        }
        let Some((_, upload)) = form.files.into_iter().find(|(n, _)| n == "file") else {
            return Err(bad(
                "missing_file",
                "file is required: send the audio as a file part named file",
            ));
        };
        let asset_id = store_upload(&s, upload).await?;
        let request =
            json!({"asset_id": asset_id, "model": options.model, "language": options.language});
        let work = async {
            s.engine
                .transcribe_asset(&asset_id, &options)
                .await
                .map_err(Problem::from)
        };
        let route = options.route.clone();
        let t = recorded(&s, &headers, "openai.audio", request, work, |t| {
            (route, Some(t.model.clone()), t.cost, Some(t.text.clone()))
        })
        .await?;
        s.engine.metrics().request(
            Api::Audio,
            options.route.as_deref().unwrap_or("-"),
            &t.model,
            "200",
        );
        Ok(match format.as_str() {
            "text" => (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                t.text,
            )
                .into_response(),
            "verbose_json" => Json(TranscriptionAnswer::Verbose(VerboseTranscript {
                task: "transcribe".into(),
                language: t.language,
                text: t.text,
            }))
            .into_response(),
            _ => Json(TranscriptionAnswer::Text(TranscriptText { text: t.text })).into_response(),
        })
    }
    .await;
    result.unwrap_or_else(|p| fail(&s, Api::Audio, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_become_the_nearest_aspect_ratio_and_size() {
        assert_eq!(image_config("1024x1024").unwrap(), (Some("1:1"), None));
        assert_eq!(image_config("1536x1024").unwrap(), (Some("3:2"), None));
        assert_eq!(
            image_config("1024x1792").unwrap(),
            (Some("9:16"), Some("2K"))
        );
        assert_eq!(
            image_config("4096x2304").unwrap(),
            (Some("16:9"), Some("4K"))
        );
        assert_eq!(image_config("auto").unwrap(), (None, None));
        assert_eq!(
            image_config("big").unwrap_err().code.as_str(),
            "invalid_size"
        );
    }

    #[test]
    fn wav_samples_skip_the_header() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        wav.extend_from_slice(&[0u8; 16]);
        wav.extend_from_slice(b"data\x04\0\0\0\x01\x02\x03\x04");
        assert_eq!(&wav_samples(bytes::Bytes::from(wav))[..], &[1, 2, 3, 4]);
        assert_eq!(&wav_samples(bytes::Bytes::from_static(b"xyz"))[..], b"xyz");
    }
}

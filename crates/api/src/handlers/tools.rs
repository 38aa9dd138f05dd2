//! Media tools run directly: `POST /v1/tools/{name}` for `generate_image`, `edit_image`,
//! `generate_audio` and `generate_video` (the tool's arguments plus `route`, `model`,
//! `timeout_ms`), `POST /v1/tools/transcribe_audio` (speech-to-text of a stored audio
//! asset, cached per asset and model), and the video jobs: `GET /v1/videos[/{id}]`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::{DirectResult, TranscribeOptions};
use ferry_types::{ToolOutput, TranscriptView, VideoJobList, VideoJobView};
use serde::Deserialize;
use serde_json::Value;

use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::ApiResult;
use crate::AppState;

/// Body of `POST /v1/tools/transcribe_audio`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeBody {
    /// The audio asset (upload it first with `POST /v1/assets`).
    #[schema(pattern = "^ast_[0-9a-f]{32}$")]
    pub asset_id: String,
    /// STT model overriding the route's `media.stt_model`.
    #[serde(default)]
    pub model: Option<String>,
    /// ISO 639-1 language hint.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$")]
    pub language: Option<String>,
    /// Route whose key and STT model to use (default route).
    #[serde(default)]
    pub route: Option<String>,
}

/// `POST /v1/tools/transcribe_audio`.
#[utoipa::path(post, path = "/v1/tools/transcribe_audio", tag = "tools", request_body = TranscribeBody,
    responses((status = 200, description = "The transcript (cached per asset and STT model)", body = TranscriptView),
              (status = 404, description = "No such asset (problem+json)")))]
pub async fn transcribe_audio(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<TranscribeBody>,
) -> ApiResult<Json<TranscriptView>> {
    let view = s
        .engine
        .transcribe_asset(
            &body.asset_id,
            &TranscribeOptions {
                route: body.route,
                model: body.model,
                language: body.language,
            },
        )
        .await?;
    Ok(Json(view))
}

/// `?wait=true`: wait for a video job to end.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct WaitQuery {
    /// Wait until the job ends before answering.
    pub wait: Option<bool>,
    /// Page size of the job list (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `POST /v1/tools/{name}`: 200 with the stored assets, or for `generate_video` 202 with
/// the running job (`Location: /v1/videos/{id}`) unless `?wait=true`.
#[utoipa::path(post, path = "/v1/tools/{name}", tag = "tools",
    params(("name" = String, Path, description = "generate_image, edit_image, generate_audio or generate_video"), WaitQuery),
    request_body(content = Object, description = "The tool's arguments, plus optional route, model and (images) timeout_ms"),
    responses((status = 200, description = "The tool's stored assets, text and cost", body = ToolOutput),
              (status = 202, description = "generate_video: the running job (Location: /v1/videos/{id})", body = VideoJobView),
              (status = 400, description = "Invalid arguments or the route's capability is off (problem+json)"),
              (status = 404, description = "No such tool (problem+json)"),
              (status = 502, description = "The upstream failed, returned no image, or a download was refused (problem+json)")))]
pub async fn run(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<WaitQuery>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let wait = q.wait.unwrap_or(false);
    match s.engine.run_direct_tool(&name, body, wait).await? {
        DirectResult::Done(out) => Ok(Json(*out).into_response()),
        DirectResult::VideoStarted(job) => Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/v1/videos/{}", job.id))],
            Json(*job),
        )
            .into_response()),
    }
}

/// `GET /v1/videos/{id}[?wait=true]`: a video job.
#[utoipa::path(get, path = "/v1/videos/{id}", tag = "tools",
    params(("id" = String, Path, description = "Video job id (vid_…)"), WaitQuery),
    responses((status = 200, description = "The job: status, request, asset once completed, error once failed", body = VideoJobView),
              (status = 404, description = "No such job (problem+json)")))]
pub async fn video(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<VideoJobView>> {
    let view = if q.wait.unwrap_or(false) {
        s.engine.wait_video(&id, |_| {}).await?
    } else {
        s.engine.video_job(&id).await?
    };
    Ok(Json(view))
}

/// `GET /v1/videos?limit=`: the most recent video jobs.
#[utoipa::path(get, path = "/v1/videos", tag = "tools", params(WaitQuery),
    responses((status = 200, description = "The jobs, newest first", body = VideoJobList)))]
pub async fn videos(
    State(s): State<AppState>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<VideoJobList>> {
    let jobs = s
        .engine
        .video_jobs(super::sessions::page_limit(q.limit, 50)?)
        .await?;
    Ok(Json(VideoJobList { jobs }))
}

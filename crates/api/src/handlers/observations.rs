//! `POST /v1/observations?session=ID&source=microphone_segment`: an audio observation is
//! stored, transcribed and appended to the session as user input.

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use ferry_engine::MICROPHONE_SEGMENT;
use ferry_types::{ObservationView, ProblemCode};
use serde::Deserialize;

use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::upload::read_upload;
use crate::AppState;

/// Query of the observation endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ObservationQuery {
    /// The session to append to (created on first use).
    pub session: Option<String>,
    /// The observation source (default `microphone_segment`).
    pub source: Option<String>,
    /// The file name of a raw upload.
    pub file_name: Option<String>,
}

/// `POST /v1/observations`.
#[utoipa::path(post, path = "/v1/observations", tag = "sessions", params(ObservationQuery),
    request_body(content = Vec<u8>, description = "audio/wav or audio/webm bytes, raw (the bytes decide the type) or as multipart/form-data with a `file` part", content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored, transcribed and appended to the session", body = ObservationView),
              (status = 415, description = "Not audio/wav or audio/webm (problem+json)")))]
pub async fn observe(
    State(s): State<AppState>,
    Query(q): Query<ObservationQuery>,
    req: Request,
) -> ApiResult<(StatusCode, Json<ObservationView>)> {
    let Some(session) = q.session.filter(|s| !s.trim().is_empty()) else {
        return Err(Problem::new(
            400,
            ProblemCode::MissingSession,
            "say which session the observation belongs to: POST /v1/observations?session=ID&source=microphone_segment",
        ));
    };
    let source = q.source.unwrap_or_else(|| MICROPHONE_SEGMENT.to_owned());
    let upload = read_upload(req, s.engine.assets().max_bytes(), q.file_name).await?;
    let view = s
        .engine
        .observe(&session, &source, upload.bytes, upload.declared)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

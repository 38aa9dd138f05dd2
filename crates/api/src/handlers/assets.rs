//! Assets: upload (raw body or multipart), list (filters, cursor), show (with
//! derivations), raw download (verified hash, ETag = SHA-256, Range) and delete.

use axum::extract::{Path, Query, Request, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, LOCATION, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferry_assets::{AssetView, Kind, MediaType, Source};
use ferry_engine::{asset_info, EngineError};
use ferry_store::AssetFilter;
use ferry_types::{AssetDeleted, AssetDetail, AssetPage, AssetUpload, ProblemCode};
use http_range_header::RangeUnsatisfiableError;
use serde::Deserialize;

use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::upload::read_upload;
use crate::AppState;

/// `?file_name=` of a raw upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// The file name to keep with the asset.
    pub file_name: Option<String>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `image`, `audio`, `video`, `document` or `text`.
    #[param(pattern = "^(image|audio|video|document|text)$")]
    pub kind: Option<String>,
    /// An exact media type, e.g. `image/png`.
    pub media_type: Option<String>,
    /// `upload`, `workspace`, `inline`, `observation` or `generated`.
    #[param(pattern = "^(|upload|workspace|inline|observation|generated)$")]
    pub source: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn engine_problem(e: impl Into<EngineError>) -> Problem {
    Problem::from(e.into())
}

/// `POST /v1/assets`.
#[utoipa::path(post, path = "/v1/assets", tag = "assets",
    params(UploadQuery),
    request_body(content = Vec<u8>, description = "The raw bytes with their Content-Type, or multipart/form-data with a `file` part", content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored", body = AssetUpload),
              (status = 200, description = "The same bytes and type were already stored: that asset", body = AssetUpload),
              (status = 413, description = "Larger than the asset size limit (problem+json)"),
              (status = 415, description = "Type not accepted, or the declared type contradicts the bytes (problem+json)")))]
pub async fn upload(
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> ApiResult<Response> {
    let assets = s.engine.assets();
    let upload = read_upload(req, assets.max_bytes(), q.file_name).await?;
    let stored = assets
        .ingest(upload.bytes, upload.declared, Source::Upload)
        .await
        .map_err(engine_problem)?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/assets/{}", stored.view.asset.id);
    let body = AssetUpload {
        asset: asset_info(stored.view),
        created: stored.created,
    };
    Ok((status, [(LOCATION, location)], Json(body)).into_response())
}

fn list_filter(q: &ListQuery) -> Result<AssetFilter, Problem> {
    let mut media_types = Vec::new();
    if let Some(kind) = &q.kind {
        let kind = Kind::parse(kind).ok_or_else(|| {
            Problem::new(
                400,
                ProblemCode::InvalidFilter,
                format!("unknown kind {kind:?}; use image, audio, video, document or text"),
            )
        })?;
        media_types.extend(
            MediaType::ALL
                .iter()
                .filter(|t| t.kind() == kind)
                .map(|t| t.as_str().to_owned()),
        );
    }
    if let Some(mt) = &q.media_type {
        let t = MediaType::parse(mt).ok_or_else(|| {
            Problem::new(
                400,
                ProblemCode::InvalidFilter,
                format!(
                    "{mt:?} is not an accepted media type; accepted: {}",
                    MediaType::accepted_list()
                ),
            )
        })?;
        if !media_types.is_empty() && !media_types.iter().any(|m| m == t.as_str()) {
            media_types = vec!["-".into()]; // kind and media_type disagree: nothing matches
        } else {
            media_types = vec![t.as_str().to_owned()];
        }
    }
    let before = match &q.cursor {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            Problem::new(
                400,
                ProblemCode::InvalidCursor,
                "the cursor is not one this API returned; pass next_cursor from the previous page",
            )
        })?),
        None => None,
    };
    let source = match q.source.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            Source::parse(s)
                .ok_or_else(|| {
                    Problem::new(
                        400,
                        ProblemCode::InvalidFilter,
                        "unknown source; use upload, workspace, inline, observation or generated",
                    )
                })?
                .as_str()
                .to_owned(),
        ),
    };
    Ok(AssetFilter {
        media_types,
        source,
        before,
        limit: super::sessions::page_limit(q.limit, 100)?,
    })
}

/// `GET /v1/assets`.
#[utoipa::path(get, path = "/v1/assets", tag = "assets", params(ListQuery),
    responses((status = 200, description = "Assets, newest first, with `next_cursor`", body = AssetPage)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<AssetPage>> {
    let filter = list_filter(&q)?;
    let limit = filter.limit as usize;
    let assets = s
        .engine
        .assets()
        .list(filter)
        .await
        .map_err(engine_problem)?;
    let next = (assets.len() == limit)
        .then(|| assets.last().map(|a| a.asset.seq.to_string()))
        .flatten();
    Ok(Json(AssetPage {
        assets: assets.into_iter().map(asset_info).collect(),
        next_cursor: next,
    }))
}

/// `GET /v1/assets/{id}`: the asset with its derivations (transcripts).
#[utoipa::path(get, path = "/v1/assets/{id}", tag = "assets",
    params(("id" = String, Path, description = "Asset id")),
    responses((status = 200, description = "The asset and its derivations", body = AssetDetail),
              (status = 404, description = "No such asset (problem+json)")))]
pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetDetail>> {
    let view = s.engine.assets().get(&id).await.map_err(engine_problem)?;
    let derivations = s
        .engine
        .store()
        .derivations(&id)
        .await
        .map_err(engine_problem)?;
    Ok(Json(AssetDetail {
        asset: asset_info(view),
        derivations,
    }))
}

/// `DELETE /v1/assets/{id}`.
#[utoipa::path(delete, path = "/v1/assets/{id}", tag = "assets",
    params(("id" = String, Path, description = "Asset id")),
    responses((status = 200, description = "Deleted", body = AssetDeleted),
              (status = 404, description = "No such asset (problem+json)")))]
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetDeleted>> {
    let view = s
        .engine
        .assets()
        .delete(&id)
        .await
        .map_err(engine_problem)?;
    Ok(Json(AssetDeleted {
        deleted: true,
        asset: asset_info(view),
    }))
}

/// `GET /v1/assets/{id}/raw`: the bytes after re-checking their SHA-256.
#[utoipa::path(get, path = "/v1/assets/{id}/raw", tag = "assets",
    params(("id" = String, Path, description = "Asset id"),
           ("Range" = Option<String>, Header, description = "A byte range, e.g. bytes=0-99")),
    responses((status = 200, description = "The bytes with their media type (ETag = SHA-256)", content_type = "*/*"),
              (status = 206, description = "The requested range"),
              (status = 304, description = "Not modified (If-None-Match)"),
              (status = 404, description = "No such asset (problem+json)"),
              (status = 416, description = "Range not satisfiable"),
              (status = 500, description = "The stored bytes no longer match their hash (problem+json)")))]
pub async fn raw(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (view, bytes) = s.engine.assets().read(&id).await.map_err(engine_problem)?;
    let etag = format!("\"{}\"", view.asset.sha256);
    let mut response = if etag_matches(&headers, IF_NONE_MATCH, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ranged(&headers, &etag, bytes)
    };
    let status = response.status();
    let h = response.headers_mut();
    for (name, value) in [
        (ETAG, etag.as_str().to_owned()),
        (ACCEPT_RANGES, "bytes".to_owned()),
        (
            CACHE_CONTROL,
            "private, max-age=31536000, immutable".to_owned(),
        ),
        (CONTENT_DISPOSITION, disposition(&view)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if status != StatusCode::RANGE_NOT_SATISFIABLE {
        h.insert(CONTENT_TYPE, content_type(&view));
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The full body, or one requested range (206), or 416 for a range outside the bytes.
/// Malformed, multi-range or overlapping requests get the whole body (RFC 9110 lets a server ignore
/// Range); `If-Range` with another validator also gets the whole body.
fn ranged(headers: &HeaderMap, etag: &str, bytes: Bytes) -> Response {
    let len = bytes.len() as u64;
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let if_range_ok = headers
        .get(IF_RANGE)
        .is_none_or(|_| etag_matches(headers, IF_RANGE, etag));
    let Some(range) = range.filter(|_| if_range_ok) else {
        return bytes.into_response();
    };
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return bytes.into_response();
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 && len > 0 => {
            let (start, end) = (*ranges[0].start(), *ranges[0].end());
            let part = bytes.slice(start as usize..=end as usize);
            let mut resp = (StatusCode::PARTIAL_CONTENT, part).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            resp
        }
        // A range that starts past the end validates as "reversed": the one 416. The
        // detail does not echo the header (it is the client's text, of any length).
        Err(RangeUnsatisfiableError::RangeReversed) => {
            let mut resp = Problem::new(
                416,
                ProblemCode::RangeNotSatisfiable,
                format!(
                    "the requested range starts beyond the asset's {len} bytes; valid ranges lie within bytes=0-{}",
                    len.saturating_sub(1)
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            resp
        }
        // Overlapping (`bytes=0-0,0-0`), multiple or over-long suffix ranges: the whole
        // body, as for malformed ones.
        _ => bytes.into_response(),
    }
}

fn etag_matches(headers: &HeaderMap, name: axum::http::HeaderName, etag: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

fn content_type(view: &AssetView) -> HeaderValue {
    let text = view.media_type().is_some_and(MediaType::is_text);
    let value = if text {
        format!("{}; charset=utf-8", view.asset.media_type)
    } else {
        view.asset.media_type.clone()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// `inline; filename="…"` with a safe ASCII name (the stored name or the id + extension).
fn disposition(view: &AssetView) -> String {
    let fallback = || {
        let ext = view.media_type().map(MediaType::extension).unwrap_or("bin");
        format!("{}.{ext}", view.asset.id)
    };
    let name = view.asset.file_name.clone().unwrap_or_else(fallback);
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("inline; filename=\"{safe}\"")
}

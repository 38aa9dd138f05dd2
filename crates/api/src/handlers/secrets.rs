//! `/v1/secrets`: metadata on read; values only ever travel inward.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// Body of `POST /v1/secrets`. The value is moved into a zeroizing string at once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// Slot name, e.g. `openrouter.primary`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Provider, e.g. `openrouter`.
    pub provider: String,
    /// The secret value.
    pub value: Zeroizing<String>,
}

/// `GET /v1/secrets`.
pub async fn list(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"secrets": s.engine.secrets().list(), "locked": s.engine.secrets().is_locked()}))
}

/// `POST /v1/secrets`.
pub async fn set(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<SetSecret>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let SetSecret {
        reference,
        provider,
        value,
    } = body;
    let engine = s.engine.clone();
    // Sealing (and possibly Argon2) and the atomic file write are blocking work.
    let outcome =
        tokio::task::spawn_blocking(move || engine.secrets().set(&reference, &provider, value))
            .await
            .map_err(|e| Problem::new(500, "internal_error", e.to_string()))?
            .map_err(|e| Problem::from(ferry_engine::EngineError::from(e)))?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(
            json!({"secret": outcome.meta, "created": outcome.created, "warnings": outcome.warnings}),
        ),
    ))
}

/// `DELETE /v1/secrets/{ref}`.
pub async fn delete(
    State(s): State<AppState>,
    Path(reference): Path<String>,
) -> ApiResult<Json<Value>> {
    let engine = s.engine.clone();
    let r = reference.clone();
    let deleted = tokio::task::spawn_blocking(move || engine.secrets().delete(&r))
        .await
        .map_err(|e| Problem::new(500, "internal_error", e.to_string()))?
        .map_err(|e| Problem::from(ferry_engine::EngineError::from(e)))?;
    if !deleted {
        return Err(Problem::new(
            404,
            "secret_not_found",
            format!("no secret named {reference}; list them with `ferry secrets list`"),
        ));
    }
    Ok(Json(json!({"deleted": reference})))
}

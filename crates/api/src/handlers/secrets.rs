//! `/v1/secrets`: metadata on read; values only ever travel inward.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_types::{ProblemCode, SecretDeleted, SecretList, SecretStored};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// Body of `POST /v1/secrets`. The value is moved into a zeroizing string at once.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// Slot name, e.g. `openrouter.primary`.
    #[serde(rename = "ref")]
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,127}$")]
    pub reference: String,
    /// Provider, e.g. `openrouter`.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub provider: String,
    /// The secret value (not empty or only whitespace).
    #[schema(value_type = String, format = Password, pattern = "\\S")]
    pub value: Zeroizing<String>,
}

/// `GET /v1/secrets`.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets",
    responses((status = 200, description = "Metadata of every secret (ref, provider, fingerprint, updated time), never a value", body = SecretList)))]
pub async fn list(State(s): State<AppState>) -> Json<SecretList> {
    Json(SecretList {
        secrets: s.engine.secrets().list(),
        locked: s.engine.secrets().is_locked(),
    })
}

/// `POST /v1/secrets`.
#[utoipa::path(post, path = "/v1/secrets", tag = "secrets", request_body = SetSecret,
    responses((status = 201, description = "Stored (metadata and warnings)", body = SecretStored),
              (status = 200, description = "Replaced", body = SecretStored),
              (status = 503, description = "The daemon has no master key (problem+json)")))]
pub async fn set(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<SetSecret>,
) -> ApiResult<(StatusCode, Json<SecretStored>)> {
    let SetSecret {
        reference,
        provider,
        value,
    } = body;
    let outcome = s
        .engine
        .secrets()
        .set(&reference, &provider, value)
        .await
        .map_err(|e| Problem::from(ferry_engine::EngineError::from(e)))?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SecretStored::from(outcome))))
}

/// `DELETE /v1/secrets/{ref}`.
#[utoipa::path(delete, path = "/v1/secrets/{ref}", tag = "secrets",
    params(("ref" = String, Path, description = "The secret's ref")),
    responses((status = 200, description = "Deleted", body = SecretDeleted),
              (status = 404, description = "No such secret (problem+json)")))]
pub async fn delete(
    State(s): State<AppState>,
    Path(reference): Path<String>,
) -> ApiResult<Json<SecretDeleted>> {
    let deleted = s
        .engine
        .secrets()
        .delete(&reference)
        .await
        .map_err(|e| Problem::from(ferry_engine::EngineError::from(e)))?;
    if !deleted {
        return Err(Problem::new(
            404,
            ProblemCode::SecretNotFound,
            format!("no secret named {reference}; list them with `ferry secrets list`"),
        ));
    }
    Ok(Json(SecretDeleted { deleted: reference }))
}

//! Model endpoints: `GET /v1/models?route=R[&modality=M][&search=S][&refresh=true]` (the
//! route's model catalog, cached from OpenRouter's `/models`) and `GET /v1/models/status`
//! (the route key's credit and limits).

use axum::extract::{Query, State};
use ferry_engine::ModelsQuery;
use ferry_types::{KeyStatus, ModelsView};
use serde::Deserialize;

use crate::json_reply::Json;
use crate::problem::ApiResult;
use crate::AppState;

/// Query of the models list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ModelsParams {
    /// Route id (default route when absent).
    pub route: Option<String>,
    /// Only models taking or producing this modality.
    pub modality: Option<String>,
    /// Substring of the id or name.
    pub search: Option<String>,
    /// Fetch a fresh catalog now.
    pub refresh: Option<bool>,
}

/// `GET /v1/models`.
#[utoipa::path(get, path = "/v1/models", tag = "models", params(ModelsParams),
    responses((status = 200, description = "The route's model catalog (cached from OpenRouter)", body = ModelsView)))]
pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ModelsParams>,
) -> ApiResult<Json<ModelsView>> {
    let view = s
        .engine
        .models(&ModelsQuery {
            route: p.route,
            modality: p.modality,
            search: p.search,
            refresh: p.refresh.unwrap_or(false),
        })
        .await?;
    Ok(Json(view))
}

/// `?route=R`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RouteQuery {
    /// Route id; the default route when omitted.
    pub route: Option<String>,
}

/// `GET /v1/models/status`.
#[utoipa::path(get, path = "/v1/models/status", tag = "models", params(RouteQuery),
    responses((status = 200, description = "The route key's label, limit, remaining credit, usage and free tier (OpenRouter GET /key, passed through)", body = KeyStatus),
              (status = 502, description = "OpenRouter rejected the key (problem+json)")))]
pub async fn status(
    State(s): State<AppState>,
    Query(q): Query<RouteQuery>,
) -> ApiResult<Json<KeyStatus>> {
    Ok(Json(s.engine.key_status(q.route.as_deref()).await?))
}

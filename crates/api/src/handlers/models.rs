//! Model endpoints: `GET /v1/models/status` (the route key's credit and limits).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use crate::problem::ApiResult;
use crate::AppState;

/// `?route=R`.
#[derive(Debug, Deserialize)]
pub struct RouteQuery {
    /// Route id; the default route when omitted.
    pub route: Option<String>,
}

/// `GET /v1/models/status`.
pub async fn status(
    State(s): State<AppState>,
    Query(q): Query<RouteQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.engine.key_status(q.route.as_deref()).await?))
}

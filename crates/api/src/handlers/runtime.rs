//! `GET /v1/runtime` and `POST /v1/runtime/model`.

use axum::extract::State;
use ferry_types::RuntimeView;
use serde::Deserialize;

use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::ApiResult;
use crate::AppState;

/// Body of `POST /v1/runtime/model`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetModel {
    /// A selector such as `openrouter/openai/gpt-5.4-mini`.
    #[schema(min_length = 1, pattern = "\\S")]
    pub selector: String,
}

/// The runtime view.
#[utoipa::path(get, path = "/v1/runtime", tag = "runtime",
    responses((status = 200, description = "Default route, runtime model, active target, each route's capabilities and readiness", body = RuntimeView)))]
pub async fn get_runtime(State(s): State<AppState>) -> Json<RuntimeView> {
    Json(s.engine.runtime_view())
}

/// Sets and persists the active model.
#[utoipa::path(post, path = "/v1/runtime/model", tag = "runtime", request_body = SetModel,
    responses((status = 200, description = "The runtime view after the change", body = RuntimeView),
              (status = 400, description = "Invalid selector (problem+json)")))]
pub async fn set_model(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<SetModel>,
) -> ApiResult<Json<RuntimeView>> {
    Ok(Json(s.engine.set_runtime_model(&body.selector).await?))
}

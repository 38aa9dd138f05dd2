//! `GET /v1/config`: the routes configuration exactly as the daemon loaded it, with every
//! default filled in — never a secret: keys are named by `auth_ref`/`api_key_env` only, and
//! routes.toml refuses credentials in URLs (`base_url`, `proxy`) at load time.

use axum::extract::{Query, State};
use axum::Json;
use ferry_engine::EngineError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `?route=R`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// Show only this route.
    pub route: Option<String>,
}

/// `GET /v1/config`.
#[utoipa::path(get, path = "/v1/config", tag = "runtime", params(ConfigQuery),
    responses((status = 200, description = "The effective routes configuration (defaults filled in, secrets never shown)", body = Object),
              (status = 404, description = "No such route (problem+json)")))]
pub async fn show(
    State(s): State<AppState>,
    Query(q): Query<ConfigQuery>,
) -> ApiResult<Json<Value>> {
    let file = s.engine.routes().file();
    let mut doc = serde_json::to_value(file)
        .map_err(|e| Problem::from(EngineError::Internal(format!("config encoding: {e}"))))?;
    if let Some(routes) = doc.get_mut("routes").and_then(Value::as_object_mut) {
        if let Some(only) = &q.route {
            let Some(route) = routes.remove(only) else {
                return Err(EngineError::NotFound {
                    what: "route",
                    id: only.clone(),
                }
                .into());
            };
            routes.clear();
            routes.insert(only.clone(), route);
        }
    }
    doc["path"] = json!(file.path.display().to_string());
    doc["facade_recording"] = json!(s.engine.facade_recording());
    Ok(Json(doc))
}

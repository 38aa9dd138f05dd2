//! `GET /v1/config`: the routes configuration exactly as the daemon loaded it, with every
//! default filled in — never a secret: keys are named by `auth_ref`/`api_key_env` only, and
//! routes.toml refuses credentials in URLs (`base_url`, `proxy`) at load time.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ferry_engine::EngineError;
use ferry_types::ConfigView;
use serde::Deserialize;

use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// `?route=R&format=toml`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// Show only this route (in TOML it also becomes `default_route`, so the text stays a
    /// valid routes file).
    pub route: Option<String>,
    /// `json` (default) or `toml`: a valid routes file (`application/toml`).
    #[param(pattern = "^(json|toml)$")]
    pub format: Option<String>,
}

/// `GET /v1/config`.
#[utoipa::path(get, path = "/v1/config", tag = "runtime", params(ConfigQuery),
    responses((status = 200, description = "The effective routes configuration (defaults filled in, secrets never shown); with `format=toml` a routes file that loads to the same configuration", content((ConfigView = "application/json"), (String = "application/toml"))),
              (status = 400, description = "Unknown format (problem+json)"),
              (status = 404, description = "No such route (problem+json)")))]
pub async fn show(State(s): State<AppState>, Query(q): Query<ConfigQuery>) -> ApiResult<Response> {
    let loaded = s.engine.routes().file();
    let mut file = loaded.clone();
    if let Some(only) = &q.route {
        let Some(route) = file.routes.remove(only) else {
            return Err(EngineError::NotFound {
                what: "route",
                id: only.clone(),
            }
            .into());
        };
        file.routes.clear();
        file.routes.insert(only.clone(), route);
    }
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let routes = serde_json::to_value(&file.routes).map_err(|e| {
                Problem::from(EngineError::Internal(format!("config encoding: {e}")))
            })?;
            Ok(Json(ConfigView {
                version: file.version,
                default_route: file.default_route,
                routes,
                retention_days: file.retention_days,
                path: loaded.path.display().to_string(),
                facade_recording: s.engine.facade_recording(),
            })
            .into_response())
        }
        "toml" => {
            if let Some(only) = &q.route {
                file.default_route = only.clone();
            }
            let text = ferry_config::to_routes_toml(&file)
                .map_err(|e| Problem::from(EngineError::Internal(e.to_string())))?;
            Ok((
                [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
                text,
            )
                .into_response())
        }
        other => Err(EngineError::bad_input(
            "invalid_format",
            format!("format {other:?} is not one of json, toml"),
        )
        .into()),
    }
}

//! `GET /v1/config`: the routes configuration exactly as the daemon loaded it, with every
//! default filled in — never a secret (keys are named by `auth_ref`/`api_key_env` only, and
//! a proxy password is masked).

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

/// What replaces a proxy password.
const MASK: &str = "***";

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
        for route in routes.values_mut() {
            mask_proxy_password(route);
        }
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

fn mask_proxy_password(route: &mut Value) {
    let Some(proxy) = route.pointer_mut("/network/proxy") else {
        return;
    };
    let Some(mut url) = proxy.as_str().and_then(|p| url::Url::parse(p).ok()) else {
        return;
    };
    if url.password().is_some() && url.set_password(Some(MASK)).is_ok() {
        *proxy = json!(url.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_masked() {
        let mut route = json!({"network": {"proxy": "http://me:hunter2@proxy.internal:3128/"}});
        mask_proxy_password(&mut route);
        assert_eq!(
            route["network"]["proxy"],
            "http://me:***@proxy.internal:3128/"
        );
        let mut route = json!({"network": {"proxy": null}});
        mask_proxy_password(&mut route);
        assert_eq!(route["network"]["proxy"], Value::Null);
    }
}

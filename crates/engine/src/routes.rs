//! The loaded routes: one driver client per route, API-key lookup, and each route's
//! readiness with a reason and a fix hint. Readiness is computed on demand, so a secret
//! added online makes a route ready without a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_config::{AuthSource, Route, RoutesFile};
use ferry_openrouter::OpenRouterClient;
use tokio_util::task::TaskTracker;
use zeroize::Zeroizing;

use crate::secrets::SecretsHandle;
use crate::EngineError;

pub use ferry_types::RouteStatus;

/// The routes with their clients.
pub struct RouteTable {
    routes: RoutesFile,
    clients: BTreeMap<String, Result<Arc<OpenRouterClient>, String>>,
}

impl RouteTable {
    /// Builds one client per route, its background work on `background`. A route whose
    /// transport cannot be built (bad CA file…) stays loaded but not ready, with the reason.
    pub fn new(routes: RoutesFile, background: &TaskTracker) -> Self {
        let clients = routes
            .routes
            .iter()
            .map(|(id, route)| {
                let client = OpenRouterClient::with_tasks(route, background.clone())
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
                (id.clone(), client)
            })
            .collect();
        RouteTable { routes, clients }
    }

    /// The parsed routes file.
    pub fn file(&self) -> &RoutesFile {
        &self.routes
    }

    /// One route.
    pub fn route(&self, id: &str) -> Result<&Route, EngineError> {
        self.routes.route(id).ok_or_else(|| EngineError::NotFound {
            what: "route",
            id: id.to_string(),
        })
    }

    /// The route's concrete OpenRouter client (for catalog and key endpoints).
    pub fn openrouter_client(&self, id: &str) -> Result<Arc<OpenRouterClient>, EngineError> {
        match self.clients.get(id) {
            Some(Ok(c)) => Ok(c.clone()),
            Some(Err(reason)) => Err(EngineError::RouteNotReady {
                route: id.to_string(),
                message: format!("route {id} is not ready: {reason}"),
            }),
            None => Err(EngineError::NotFound {
                what: "route",
                id: id.to_string(),
            }),
        }
    }

    /// The API key for a route, from the secret store or the daemon's environment.
    pub fn api_key(
        &self,
        route: &Route,
        secrets: &SecretsHandle,
    ) -> Result<Zeroizing<String>, EngineError> {
        Self::api_key_of(route, secrets)
    }

    /// [`RouteTable::api_key`] (the lookup needs no table).
    pub(crate) fn api_key_of(
        route: &Route,
        secrets: &SecretsHandle,
    ) -> Result<Zeroizing<String>, EngineError> {
        match &route.auth {
            AuthSource::Ref(r) => secrets
                .get(r)
                .or_else(|| route.auth_env_fallback.as_deref().and_then(env_key))
                .ok_or_else(|| EngineError::RouteNotReady {
                    route: route.id.clone(),
                    message: format!(
                        "route {} is not ready: {}; fix: {}",
                        route.id,
                        missing_secret_reason(r, route),
                        missing_secret_fix(r, route, secrets.is_locked())
                    ),
                }),
            AuthSource::Env(var) => match env_key(var) {
                Some(v) => Ok(v),
                None => Err(EngineError::RouteNotReady {
                    route: route.id.clone(),
                    message: format!(
                        "route {} is not ready: {}; fix: {}",
                        route.id,
                        missing_env_reason(var),
                        missing_env_fix(var)
                    ),
                }),
            },
        }
    }

    /// Readiness of every route, default route first.
    pub fn statuses(&self, secrets: &SecretsHandle) -> Vec<RouteStatus> {
        let mut out: Vec<RouteStatus> = self
            .routes
            .routes
            .values()
            .map(|route| self.status_of(route, secrets))
            .collect();
        out.sort_by_key(|s| (!s.is_default, s.id.clone()));
        out
    }

    fn status_of(&self, route: &Route, secrets: &SecretsHandle) -> RouteStatus {
        let (ready, reason, fix) = match self.clients.get(&route.id) {
            Some(Err(e)) => (
                false,
                Some(e.clone()),
                Some(format!(
                    "fix [routes.{}.network] in {} and restart ferry",
                    route.id,
                    self.routes.path.display()
                )),
            ),
            _ => match &route.auth {
                AuthSource::Ref(r)
                    if !secrets.contains(r)
                        && route
                            .auth_env_fallback
                            .as_deref()
                            .and_then(env_key)
                            .is_none() =>
                {
                    (
                        false,
                        Some(if secrets.is_locked() {
                            format!(
                                "{} (the daemon has no master key, so it cannot store secrets)",
                                missing_secret_reason(r, route)
                            )
                        } else {
                            missing_secret_reason(r, route)
                        }),
                        Some(missing_secret_fix(r, route, secrets.is_locked())),
                    )
                }
                AuthSource::Env(var) if env_key(var).is_none() => (
                    false,
                    Some(missing_env_reason(var)),
                    Some(missing_env_fix(var)),
                ),
                _ => (true, None, None),
            },
        };
        RouteStatus {
            id: route.id.clone(),
            driver: "openrouter".to_string(),
            default_model: route.default_model.clone(),
            is_default: route.id == self.routes.default_route,
            ready,
            reason,
            fix,
            verified_openrouter: route.is_verified_openrouter(),
            base_url: route.effective_base_url().to_string(),
            auth: match (&route.auth, &route.auth_env_fallback) {
                (AuthSource::Ref(r), Some(var)) => format!("auth_ref {r}, else ${var}"),
                (AuthSource::Ref(r), None) => format!("auth_ref {r}"),
                (AuthSource::Env(v), _) => format!("api_key_env {v}"),
            },
            capabilities: crate::views::route_capabilities(route.capabilities),
            capability_notes: Vec::new(),
            unreachable: None,
            model_support: format!("{:?}", route.model_support).to_lowercase(),
        }
    }
}

/// A non-empty key from the daemon's environment.
fn env_key(var: &str) -> Option<Zeroizing<String>> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(Zeroizing::new(v)),
        _ => None,
    }
}

fn missing_secret_reason(r: &str, route: &Route) -> String {
    match &route.auth_env_fallback {
        Some(var) => {
            format!("secret {r} is missing and {var} is not set in the daemon's environment")
        }
        None => format!("secret {r} is missing"),
    }
}

fn missing_secret_fix(r: &str, route: &Route, locked: bool) -> String {
    let store =
        format!("run `ferry secrets set {r} --provider openrouter --from-env OPENROUTER_API_KEY`");
    let store = if locked {
        format!("start ferry with FERRY_MASTER_KEY (or FERRY_MASTER_KEY_FILE) set, then {store}")
    } else {
        store
    };
    match &route.auth_env_fallback {
        Some(var) => format!(
            "export {var}=sk-or-… and restart `ferry serve`, or {store} (or run `ferry onboard`)"
        ),
        None => store,
    }
}

fn missing_env_reason(var: &str) -> String {
    format!("environment variable {var} is not set in the daemon's environment")
}

fn missing_env_fix(var: &str) -> String {
    format!("export {var}=sk-or-… before `ferry serve`, or switch the route to auth_ref and store the key with `ferry secrets set`")
}

//! Authentication and scopes for every route (spec §11, §14). The credential is read by
//! [`presented_credential`] (`Authorization: Bearer …`, else on `/anthropic/…` `x-api-key`, which
//! Anthropic clients send); the engine decides who it is (the operator token, compared in
//! constant time, or an `fk-…` virtual key, looked up by its SHA-256). The path decides the
//! scope needed ([`scope_for`]). The caller is handed to the handler as an extension and
//! as the task's caller, so every paid call the request makes is admitted and charged for
//! it; a facade response of a key with rate limits carries OpenAI's `x-ratelimit-*` headers.
//! `/healthz` and `/readyz` stay open so supervisors can probe without credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use ferry_engine::{with_caller, with_rate_report, AccessError, Engine, EngineError, Scope};
use zeroize::Zeroizing;

use crate::facade::dialect::{ANTHROPIC_PREFIX, OPENAI_PREFIX};
use crate::facade::ErrorShape;
use crate::problem::{ratelimit_headers, Problem};

/// How the daemon authenticates: the operator token (if any) and whether a loopback
/// daemon without a token still requires a credential (`serve --require-keys`).
#[derive(Clone, Default)]
pub struct AuthConfig {
    token: Option<Arc<Zeroizing<String>>>,
    require_keys: bool,
}

impl AuthConfig {
    /// No token: requests without a credential are the operator (loopback binds only).
    pub fn open() -> Self {
        AuthConfig::default()
    }

    /// Requests must carry the token (or a virtual key).
    pub fn bearer(token: Zeroizing<String>) -> Self {
        AuthConfig {
            token: Some(Arc::new(token)),
            require_keys: false,
        }
    }

    /// Requires a credential even without a token (`serve --require-keys`).
    pub fn require_keys(mut self, on: bool) -> Self {
        self.require_keys = on;
        self
    }

    /// Hands the settings to the engine's access service.
    pub(crate) fn apply(&self, engine: &Engine) {
        engine.configure_access(
            self.token
                .as_ref()
                .map(|t| Zeroizing::new(t.as_str().to_owned())),
            self.require_keys,
        );
    }
}

/// The credential a request presents: `Authorization: Bearer X`, or on the Anthropic
/// facade also `x-api-key: X` (what Anthropic SDKs and Claude Code send). Every protocol
/// uses this one function.
pub fn presented_credential<'a>(headers: &'a HeaderMap, path: &str) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty());
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .filter(|_| path.starts_with(ANTHROPIC_PREFIX))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// What a path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// No credential (`/healthz`, `/readyz`).
    Open,
    /// Any accepted credential (status, the OpenAPI document).
    Any,
    /// A scope.
    Scope(Scope),
}

/// The scope a path needs: the client protocols need `facade`; sessions, runs, assets,
/// observations, media tools and the model catalog need `sessions`; everything else
/// (keys, spend, secrets, config, runtime, metrics, unknown paths) needs `admin`.
pub fn scope_for(path: &str) -> Need {
    const SESSIONS: &[&str] = &[
        "/v1/sessions",
        "/v1/runs",
        "/v1/assets",
        "/v1/observations",
        "/v1/tools",
        "/v1/models",
    ];
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    match path {
        "/healthz" | "/readyz" => Need::Open,
        "/v1/status" | "/v1/openapi.json" => Need::Any,
        _ if path.starts_with(OPENAI_PREFIX) || path.starts_with(ANTHROPIC_PREFIX) => {
            Need::Scope(Scope::Facade)
        }
        _ if SESSIONS.iter().any(|p| under(p)) => Need::Scope(Scope::Sessions),
        _ => Need::Scope(Scope::Admin),
    }
}

/// Renders an access refusal in the path's protocol shape.
pub(crate) fn refusal(path: &str, e: AccessError) -> Response {
    ErrorShape::for_path(path).respond(Problem::from(EngineError::from(e)))
}

/// Middleware: authenticates, checks the path's scope, and runs the handler as the
/// caller.
pub async fn require_token(State(engine): State<Engine>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let need = scope_for(&path);
    if need == Need::Open {
        return next.run(req).await;
    }
    let caller = match engine.authenticate(presented_credential(req.headers(), &path)) {
        Ok(c) => c,
        Err(e) => {
            let mut resp = refusal(&path, e);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"ferry\""),
            );
            return resp;
        }
    };
    if let Need::Scope(scope) = need {
        if let Err(e) = caller.require(scope) {
            return refusal(&path, e);
        }
    }
    req.extensions_mut().insert(caller.clone());
    if need != Need::Scope(Scope::Facade) || !caller.has_rate_limits() {
        return with_caller(caller, next.run(req)).await;
    }
    // Like OpenAI, every facade response of a key with rate limits says what is left.
    let (mut resp, rate) = with_rate_report(with_caller(caller, next.run(req))).await;
    for remaining in rate.iter().flat_map(|r| r.each()) {
        for (name, value) in ratelimit_headers(remaining) {
            if let Ok(v) = header::HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_need_their_scope() {
        assert_eq!(scope_for("/healthz"), Need::Open);
        assert_eq!(scope_for("/v1/status"), Need::Any);
        assert_eq!(
            scope_for("/openai/v1/chat/completions"),
            Need::Scope(Scope::Facade)
        );
        assert_eq!(
            scope_for("/anthropic/v1/messages"),
            Need::Scope(Scope::Facade)
        );
        assert_eq!(
            scope_for("/v1/sessions/s1/input"),
            Need::Scope(Scope::Sessions)
        );
        assert_eq!(scope_for("/v1/sessionsx"), Need::Scope(Scope::Admin));
        assert_eq!(scope_for("/v1/secrets"), Need::Scope(Scope::Admin));
        assert_eq!(scope_for("/v1/keys/key_1"), Need::Scope(Scope::Admin));
        assert_eq!(scope_for("/metrics"), Need::Scope(Scope::Admin));
    }

    #[test]
    fn credential_from_bearer_or_x_api_key() {
        let mut h = HeaderMap::new();
        let m = "/anthropic/v1/messages";
        assert_eq!(presented_credential(&h, m), None);
        h.insert("x-api-key", "fk-abc".parse().unwrap());
        assert_eq!(presented_credential(&h, m), Some("fk-abc"));
        assert_eq!(presented_credential(&h, "/openai/v1/models"), None);
        h.insert(header::AUTHORIZATION, "Bearer tok".parse().unwrap());
        assert_eq!(presented_credential(&h, m), Some("tok"));
    }
}

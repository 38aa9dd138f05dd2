//! Authentication and scopes for every route (spec §11, §14). The credential is read by
//! [`presented_credential`] (`Authorization: Bearer …`, else on `/anthropic/…` `x-api-key`, which
//! Anthropic clients send); the engine decides who it is (the operator token, compared in
//! constant time, or an `fk-…` virtual key, looked up by its SHA-256). The path decides the
//! scope needed ([`scope_for`]). The caller is handed to the handler as an extension and
//! as the task's caller, so every paid call the request makes is admitted and charged for
//! it; a facade response of a key with rate limits carries OpenAI's `x-ratelimit-*` headers.
//! `/healthz` and `/readyz` stay open so supervisors can probe without credentials.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::response::Response;
use ferry_engine::{
    with_caller, with_rate_report, AccessError, Caller, Engine, EngineError, Scope,
};
use zeroize::Zeroizing;

use crate::console::session::{cookie_value, Live, Principal, DEFAULT_TTL};
use crate::facade::dialect::{ANTHROPIC_PREFIX, OPENAI_PREFIX};
use crate::facade::ErrorShape;
use crate::problem::{insert_ratelimit_headers, Problem};
use crate::AppState;

/// How the daemon authenticates: the operator token (if any) and whether a loopback
/// daemon without a token still requires a credential (`serve --require-keys`).
#[derive(Clone)]
pub struct AuthConfig {
    token: Option<Arc<Zeroizing<String>>>,
    require_keys: bool,
    console_ttl: std::time::Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token: None,
            require_keys: false,
            console_ttl: DEFAULT_TTL,
        }
    }
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
            ..AuthConfig::default()
        }
    }

    /// Requires a credential even without a token (`serve --require-keys`).
    pub fn require_keys(mut self, on: bool) -> Self {
        self.require_keys = on;
        self
    }

    /// How long a console sign-in lasts (`serve --console-session-ttl`).
    pub fn console_session_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.console_ttl = ttl;
        self
    }

    pub(crate) fn console_ttl(&self) -> std::time::Duration {
        self.console_ttl
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
/// observations, media tools and the model catalog need `sessions`; the console's pages
/// under `/ui` check the caller themselves (they redirect to sign-in instead of a 401);
/// everything else (keys, spend, secrets, config, runtime, metrics, unknown paths) needs
/// `admin`.
pub fn scope_for(path: &str) -> Need {
    const SESSIONS: &[&str] = &[
        "/v1/sessions",
        "/v1/runs",
        "/v1/assets",
        "/v1/observations",
        "/v1/tools",
        "/v1/models",
    ];
    let under = |p: &str| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    match path {
        "/healthz" | "/readyz" => Need::Open,
        _ if under(crate::console::PREFIX) => Need::Open,
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

/// Who is calling: the presented credential; else the console's session cookie, whose
/// state-changing requests must also pass the CSRF rule ([`check_csrf`]); else nobody
/// (the operator of an open loopback daemon, or a 401 from the engine).
pub(crate) fn identify(s: &AppState, req: &Request) -> Result<Caller, AccessError> {
    let engine = &s.engine;
    if let Some(credential) = presented_credential(req.headers(), req.uri().path()) {
        return engine.authenticate(Some(credential));
    }
    let Some(cookie) = cookie_value(req.headers()) else {
        return engine.authenticate(None);
    };
    let live = match s.console.lookup(cookie) {
        Ok(live) => live,
        // A stale cookie on a daemon that needs no credential is no credential.
        Err(_) if !engine.credentials_required() => return engine.authenticate(None),
        Err(e) => return Err(AccessError::Unauthorized(e.to_string())),
    };
    check_same_site(req)?;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        check_csrf(req, &live)?;
    }
    match live.principal {
        Principal::Operator => Ok(Caller::Operator),
        Principal::Key(hash) => engine.authenticate_key_hash(&hash),
    }
}

/// The console cookie is honoured only for the console's own requests: a browser marks
/// every request with `Sec-Fetch-Site`, and one a page of another origin makes (even
/// same-site, e.g. another port on localhost, which `SameSite=Strict` does not stop) is
/// refused unless it is a top-level navigation to a console page. Requests without the
/// header (older browsers, non-browser clients) fall to the Origin and CSRF rules.
fn check_same_site(req: &Request) -> Result<(), AccessError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let site = header("sec-fetch-site");
    if matches!(site, "" | "same-origin" | "none") || header("sec-fetch-mode") == "navigate" {
        return Ok(());
    }
    Err(AccessError::Forbidden {
        code: "cookie_cross_site",
        message: format!(
            "the console's session cookie is accepted only on requests made by the console's own pages (this one is {site}); scripts and other web apps should send `Authorization: Bearer <token or fk-… key>`"
        ),
    })
}

/// A write authenticated by the console cookie must come from the console's own page:
/// an `Origin` of this server (a browser always sends one on a script's `POST`, `PATCH`
/// and `DELETE`) and the session's CSRF token in `X-Ferry-Csrf`, which only a page
/// served to the signed-in user can read.
fn check_csrf(req: &Request, live: &Live) -> Result<(), AccessError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let authority = crate::browser::authority(req);
    if !origin.is_some_and(|o| crate::browser::same_origin(o, authority)) {
        return Err(AccessError::Forbidden {
            code: "csrf_origin_required",
            message: "a request that changes state with the console's session cookie must come from the console's own page (an Origin header of this server); scripts should send `Authorization: Bearer <token or fk-… key>` instead of the cookie".into(),
        });
    }
    let token = req
        .headers()
        .get(crate::console::session::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    if !live.csrf_matches(token) {
        return Err(AccessError::Forbidden {
            code: "csrf_token_invalid",
            message: "a request that changes state with the console's session cookie must carry the session's CSRF token in X-Ferry-Csrf (the console's pages send it; reload the page if you signed in again); scripts should send `Authorization: Bearer …` instead".into(),
        });
    }
    Ok(())
}

/// Authenticates, checks the path's scope, and runs `inner` as the caller; part of the
/// front door ([`crate::front_door`]).
pub(crate) async fn authorized<F, Fut>(s: &AppState, mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let need = scope_for(req.uri().path());
    if need == Need::Open {
        return inner(req).await;
    }
    let caller = match identify(s, &req) {
        Ok(c) => c,
        Err(e) => {
            let mut resp = refusal(req.uri().path(), e);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"ferry\""),
            );
            return resp;
        }
    };
    if let Need::Scope(scope) = need {
        if let Err(e) = caller.require(scope) {
            return refusal(req.uri().path(), e);
        }
    }
    req.extensions_mut().insert(caller.clone());
    if need != Need::Scope(Scope::Facade) || !caller.has_rate_limits() {
        return with_caller(caller, inner(req)).await;
    }
    // Like OpenAI, every facade response of a key with rate limits says what is left.
    let (mut resp, rate) = with_rate_report(with_caller(caller, inner(req))).await;
    let headers = resp.headers_mut();
    headers.reserve(6);
    for remaining in rate.iter().flat_map(|r| r.each()) {
        insert_ratelimit_headers(headers, remaining);
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

//! Bearer-token authentication for the control API. Tokens are compared in constant time;
//! `/healthz` and `/readyz` stay open so supervisors can probe without credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::facade::dialect::ANTHROPIC_PREFIX;
use crate::facade::ErrorShape;
use crate::problem::Problem;

/// The configured token, if any.
#[derive(Clone, Default)]
pub struct AuthConfig {
    token: Option<Arc<Zeroizing<String>>>,
}

impl AuthConfig {
    /// No token: every request is allowed (loopback binds only).
    pub fn open() -> Self {
        AuthConfig { token: None }
    }

    /// Requests must carry `Authorization: Bearer <token>`.
    pub fn bearer(token: Zeroizing<String>) -> Self {
        AuthConfig {
            token: Some(Arc::new(token)),
        }
    }

    /// Whether a token is required.
    pub fn is_required(&self) -> bool {
        self.token.is_some()
    }

    fn accepts(&self, presented: Option<&str>) -> bool {
        match (&self.token, presented) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(expected), Some(got)) => bool::from(expected.as_bytes().ct_eq(got.as_bytes())),
        }
    }
}

/// The credential a request presents: `Authorization: Bearer …`, or on the Anthropic
/// facade also `x-api-key` (what Anthropic SDKs and Claude Code send).
pub fn presented_credential<'a>(headers: &'a HeaderMap, path: &str) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let api_key = || {
        headers
            .get("x-api-key")
            .filter(|_| path.starts_with(ANTHROPIC_PREFIX))
            .and_then(|v| v.to_str().ok())
    };
    bearer.or_else(api_key).map(str::trim)
}

/// Middleware enforcing [`AuthConfig`].
pub async fn require_token(State(auth): State<AuthConfig>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !auth.is_required() || path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let presented = presented_credential(req.headers(), path);
    if auth.accepts(presented) {
        return next.run(req).await;
    }
    let detail = if presented.is_none() {
        "this ferry requires a bearer token: pass --token/--token-file or set FERRY_TOKEN/FERRY_TOKEN_FILE"
    } else {
        "the bearer token was not accepted: check --token/--token-file or FERRY_TOKEN/FERRY_TOKEN_FILE"
    };
    let problem = Problem::new(401, "unauthorized", detail);
    let mut resp = ErrorShape::for_path(path).respond(problem);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"ferry\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_accepts_only_the_token() {
        let auth = AuthConfig::bearer(Zeroizing::new("s3cret-token".into()));
        assert!(auth.accepts(Some("s3cret-token")));
        assert!(!auth.accepts(Some("s3cret-toke")));
        assert!(!auth.accepts(Some("s3cret-token2")));
        assert!(!auth.accepts(None));
        assert!(AuthConfig::open().accepts(None));
    }
}

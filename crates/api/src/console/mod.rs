//! The web console (spec §16, docs/console.md): server-delivered HTML pages under `/ui/`
//! with small hand-written ES modules that call the public `/v1` API and follow runs over
//! its SSE streams. This module serves the pages and their embedded files with strict
//! security headers, and handles sign-in/sign-out (an opaque session cookie, see
//! [`session`]). Pages check the visitor themselves: without a usable credential they
//! redirect (303) to `/ui/sign-in`, never answer a 401.

pub mod files;
pub mod pages;
pub mod session;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ferry_engine::{Caller, EngineError, Scope};
use ferry_types::ProblemCode;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::auth::identify;
use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::Problem;
use crate::AppState;
use session::{clear_cookie, cookie_value, set_cookie, Principal};

/// Where the console lives.
pub const PREFIX: &str = "/ui";

/// The Content-Security-Policy of every console response: scripts only from the daemon
/// (no inline script), nothing framed, nothing fetched from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The console's routes (not part of the JSON API or its OpenAPI document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ui",
            get(|| async { redirect("/ui/", StatusCode::PERMANENT_REDIRECT) }),
        )
        .route("/ui/", get(overview))
        .route("/ui/sign-in", get(sign_in_page).post(sign_in))
        .route("/ui/sign-out", post(sign_out))
        .route("/ui/static/{version}/{name}", get(static_file))
        .route("/ui/{page}", get(page))
}

fn redirect(to: &str, status: StatusCode) -> Response {
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    secure(resp.headers_mut());
    resp
}

/// The security headers of every console response.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    resp
}

async fn overview(state: State<AppState>, req: Request) -> Response {
    show(&state, "", req)
}

async fn sign_in_page(state: State<AppState>, req: Request) -> Response {
    show(&state, "sign-in", req)
}

async fn page(state: State<AppState>, Path(slug): Path<String>, req: Request) -> Response {
    show(&state, &slug, req)
}

/// Whether a caller may use the console (the pages it may not see fail inline).
fn console_caller(caller: &Caller) -> bool {
    caller.allows(Scope::Sessions) || caller.allows(Scope::Admin)
}

fn describe(caller: &Caller) -> String {
    match caller {
        Caller::Operator => "operator".into(),
        Caller::Key(k) => format!("{} ({})", k.name, k.id),
    }
}

fn show(s: &AppState, slug: &str, req: Request) -> Response {
    let Some(page) = pages::find(slug) else {
        return html(
            StatusCode::NOT_FOUND,
            format!(
                "<!doctype html><title>Not found · ferry</title><p>No console page /ui/{}. <a href=\"/ui/\">Overview</a></p>",
                slug.chars().filter(char::is_ascii_alphanumeric).collect::<String>()
            ),
        );
    };
    let live = cookie_value(req.headers()).and_then(|c| s.console.lookup(c).ok());
    if page.slug == "sign-in" {
        let visitor = pages::Visitor {
            csrf: "",
            signed_in: None,
        };
        return html(StatusCode::OK, page.render(&visitor));
    }
    match identify(s, &req) {
        Ok(caller) if console_caller(&caller) => {
            let visitor = pages::Visitor {
                csrf: live.as_ref().map_or("", |l| l.csrf.as_str()),
                signed_in: live.as_ref().map(|_| describe(&caller)),
            };
            html(StatusCode::OK, page.render(&visitor))
        }
        _ => redirect(
            &format!("/ui/sign-in?next=/ui/{}", page.slug),
            StatusCode::SEE_OTHER,
        ),
    }
}

async fn static_file(Path((version, name)): Path<(String, String)>) -> Response {
    let Some(file) = files::find(&name) else {
        let mut resp = Problem::new(
            404,
            ProblemCode::NotFound,
            format!("the console has no file {name:?}"),
        )
        .into_response();
        secure(resp.headers_mut());
        return resp;
    };
    // Versioned paths never change; a page from an older build still gets today's file.
    let cache = if version == files::version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = file.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(h);
    resp
}

/// `POST /ui/sign-in` body.
#[derive(Deserialize)]
struct SignIn {
    /// The operator token or an `fk-…` key.
    credential: String,
}

async fn sign_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, Problem> {
    let credential = Zeroizing::new(body.credential);
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(Problem::new(
            400,
            ProblemCode::CredentialRequired,
            "paste the operator token (serve --token) or an fk-… key with the admin or sessions scope",
        ));
    }
    let caller = s
        .engine
        .authenticate(Some(credential))
        .map_err(|e| Problem::from(EngineError::from(e)))?;
    if !console_caller(&caller) {
        return Err(Problem::new(
            403,
            ProblemCode::ConsoleScopeDenied,
            format!(
                "{} may not use the console: it needs the admin or sessions scope (this key has only the facade scope); ask an admin to `ferry keys update ID --scope sessions`",
                describe(&caller)
            ),
        ));
    }
    let principal = match &caller {
        Caller::Operator => Principal::Operator,
        Caller::Key(_) => Principal::Key(ferry_engine::secret_hash(credential)),
    };
    let created = s.console.create(principal);
    // Served over HTTPS (a TLS proxy in front): the cookie is only ever sent back over it.
    let https = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"));
    let cookie = set_cookie(&created, https);
    let mut resp = Json(json!({
        "signed_in": describe(&caller),
        "expires_in_seconds": created.ttl.as_secs(),
    }))
    .into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    Ok(resp)
}

async fn sign_out(State(s): State<AppState>, req: Request) -> Response {
    if let Some(cookie) = cookie_value(req.headers()) {
        // The same CSRF rule as every other cookie write: a page elsewhere cannot sign
        // the user out. An unknown or expired cookie is cleared all the same.
        if let Err(e @ ferry_engine::AccessError::Forbidden { .. }) = identify(&s, &req) {
            return Problem::from(EngineError::from(e)).into_response();
        }
        s.console.remove(cookie);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie()) {
        h.insert(header::SET_COOKIE, v);
    }
    secure(h);
    resp
}

#[cfg(test)]
mod tests;

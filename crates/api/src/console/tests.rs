//! The console's rules on the real router: pages redirect to sign-in without a usable
//! credential; sign-in sets an opaque HttpOnly cookie the API accepts within the
//! principal's scopes; cookie writes need the same Origin and the CSRF token; expired,
//! signed-out and revoked sessions are refused; files carry their types and headers.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use zeroize::Zeroizing;

use super::{files, pages};
use crate::{router, AuthConfig, BrowserPolicy};

const TOKEN: &str = "console-test-token";
const HOST: &str = "127.0.0.1:4000";
const ORIGIN: &str = "http://127.0.0.1:4000";

async fn app(dir: &std::path::Path, auth: AuthConfig) -> Router {
    router(
        crate::route_walk::engine(dir).await,
        auth,
        BrowserPolicy::loopback(),
    )
}

fn bearer() -> AuthConfig {
    AuthConfig::bearer(Zeroizing::new(TOKEN.into()))
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Signs in; returns the `Cookie` header value and the page's CSRF token.
async fn sign_in(app: &Router, credential: &str) -> (String, String) {
    let r = call(
        app,
        "POST",
        "/ui/sign-in",
        &[("origin", ORIGIN)],
        Some(json!({"credential": credential})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let set = r.header(header::SET_COOKIE).to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(
        !set.contains(credential),
        "the credential must never be in the cookie"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = call(app, "GET", "/ui/", &[("cookie", &cookie)], None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csrf = page
        .text
        .split("name=\"ferry-csrf\" content=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_owned();
    assert!(csrf.len() >= 40, "{csrf}");
    (cookie, csrf)
}

#[tokio::test]
async fn without_a_cookie_every_page_redirects_to_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), bearer()).await;
    for p in pages::PAGES.iter().filter(|p| p.slug != "sign-in") {
        let r = call(&app, "GET", &format!("/ui/{}", p.slug), &[], None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "/ui/{}", p.slug);
        assert_eq!(
            r.header(header::LOCATION),
            format!("/ui/sign-in?next=/ui/{}", p.slug)
        );
        // A stale or forged cookie is no better.
        let r = call(
            &app,
            "GET",
            &format!("/ui/{}", p.slug),
            &[("cookie", "ferry_console=forged")],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "/ui/{}", p.slug);
    }
    let r = call(&app, "GET", "/ui", &[], None).await;
    assert_eq!(r.header(header::LOCATION), "/ui/");
    let r = call(&app, "GET", "/ui/sign-in", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(r.header(header::CONTENT_SECURITY_POLICY), super::CSP);
    assert!(
        super::CSP.contains("script-src 'self'") && super::CSP.contains("frame-ancestors 'none'")
    );
    assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    // The API itself still answers 401, not a redirect.
    let r = call(&app, "GET", "/v1/sessions", &[], None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn static_files_have_types_cache_and_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), bearer()).await;
    for f in files::FILES {
        let r = call(
            &app,
            "GET",
            &format!("/ui/static/{}/{}", files::version(), f.name),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", f.name);
        assert_eq!(r.header(header::CONTENT_TYPE), f.content_type);
        assert_eq!(
            r.header(header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(r.header(header::CONTENT_SECURITY_POLICY), super::CSP);
    }
    let r = call(&app, "GET", "/ui/static/old/api.js", &[], None).await;
    assert_eq!(r.header(header::CACHE_CONTROL), "no-cache");
    let r = call(
        &app,
        "GET",
        &format!("/ui/static/{}/nope.js", files::version()),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(&app, "GET", "/ui/nope", &[], None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn cookie_writes_need_the_same_origin_and_the_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), bearer()).await;
    let (cookie, csrf) = sign_in(&app, TOKEN).await;
    let c = ("cookie", cookie.as_str());
    let r = call(&app, "GET", "/v1/sessions", &[c], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let create = |headers: Vec<(&'static str, String)>| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let mut all = vec![("cookie", cookie.as_str())];
            all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            let r = call(
                &app,
                "POST",
                "/v1/sessions",
                &all,
                Some(json!({"id": "s1"})),
            )
            .await;
            let code = r.json()["code"].as_str().unwrap_or_default().to_owned();
            (r.status.as_u16(), code)
        }
    };
    let origin = || ("origin", ORIGIN.to_owned());
    let token = |t: &str| ("x-ferry-csrf", t.to_owned());
    let refused = |code: &str| (403, code.to_owned());
    assert_eq!(create(vec![origin()]).await, refused("csrf_token_invalid"));
    assert_eq!(
        create(vec![origin(), token("wrong")]).await,
        refused("csrf_token_invalid")
    );
    assert_eq!(
        create(vec![token(&csrf)]).await,
        refused("csrf_origin_required")
    );
    assert_eq!(
        create(vec![("origin", "http://evil.example".into()), token(&csrf)]).await,
        refused("origin_not_allowed")
    );
    assert_eq!(
        create(vec![origin(), token(&csrf)]).await,
        (201, String::new())
    );

    // Reads with the cookie: the console's own (same-origin) fetches and navigations to its
    // pages, never a request another origin's page makes, same-site or not.
    let fetch = |site: &'static str, mode: &'static str| {
        [c, ("sec-fetch-site", site), ("sec-fetch-mode", mode)]
    };
    let r = call(
        &app,
        "GET",
        "/v1/sessions",
        &fetch("same-origin", "cors"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for site in ["same-site", "cross-site"] {
        let r = call(&app, "GET", "/v1/sessions", &fetch(site, "no-cors"), None).await;
        assert_eq!(r.json()["code"], "cookie_cross_site", "{}", r.text);
    }
    let r = call(
        &app,
        "GET",
        "/ui/keys",
        &fetch("same-site", "navigate"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Sign-out follows the same rule, then the cookie is worthless.
    let r = call(&app, "POST", "/ui/sign-out", &[c, ("origin", ORIGIN)], None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call(
        &app,
        "POST",
        "/ui/sign-out",
        &[c, ("origin", ORIGIN), ("x-ferry-csrf", &csrf)],
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.header(header::SET_COOKIE).contains("Max-Age=0"));
    let r = call(&app, "GET", "/v1/sessions", &[c], None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        bearer().console_session_ttl(std::time::Duration::ZERO),
    )
    .await;
    let r = call(
        &app,
        "POST",
        "/ui/sign-in",
        &[("origin", ORIGIN)],
        Some(json!({"credential": TOKEN})),
    )
    .await;
    assert_eq!(r.status, 200);
    let cookie = r
        .header(header::SET_COOKIE)
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = call(&app, "GET", "/v1/sessions", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("expired"),
        "{}",
        r.text
    );
    let r = call(&app, "GET", "/ui/", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn keys_sign_in_within_their_scopes_and_revocation_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), bearer()).await;
    let auth = format!("Bearer {TOKEN}");
    let admin = [("authorization", auth.as_str())];
    let create = |scopes: Value| Some(json!({"name": "web", "scopes": scopes}));
    let r = call(
        &app,
        "POST",
        "/v1/keys",
        &admin,
        create(json!(["sessions"])),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (id, secret) = (
        r.json()["key"]["id"].as_str().unwrap().to_owned(),
        r.json()["secret"].as_str().unwrap().to_owned(),
    );

    let (cookie, _) = sign_in(&app, &secret).await;
    let c = ("cookie", cookie.as_str());
    assert_eq!(
        call(&app, "GET", "/v1/sessions", &[c], None).await.status,
        200
    );
    let r = call(&app, "GET", "/v1/keys", &[c], None).await;
    assert_eq!(r.json()["code"], "scope_denied", "{}", r.text);

    let r = call(&app, "DELETE", &format!("/v1/keys/{id}"), &admin, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(&app, "GET", "/v1/sessions", &[c], None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("revoked"),
        "{}",
        r.text
    );

    let r = call(&app, "POST", "/v1/keys", &admin, create(json!(["facade"]))).await;
    let facade = r.json()["secret"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        "POST",
        "/ui/sign-in",
        &[("origin", ORIGIN)],
        Some(json!({"credential": facade})),
    )
    .await;
    assert_eq!(r.json()["code"], "console_scope_denied", "{}", r.text);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    let r = call(
        &app,
        "POST",
        "/ui/sign-in",
        &[("origin", ORIGIN)],
        Some(json!({"credential": "wrong"})),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(!r.text.contains("wrong\""), "{}", r.text);
    // A form post (no JSON) is refused by the browser guard like any simple write.
    let mut req = Request::builder()
        .method("POST")
        .uri("/ui/sign-in")
        .header(header::HOST, HOST);
    req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let resp = app
        .clone()
        .oneshot(req.body(Body::from("credential=x")).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn an_open_loopback_daemon_needs_no_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), AuthConfig::open()).await;
    let r = call(&app, "GET", "/ui/", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("id=\"sign-out\""));
    let r = call(
        &app,
        "GET",
        "/ui/keys",
        &[("cookie", "ferry_console=stale")],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
}

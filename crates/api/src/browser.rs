//! Browser protection for every route (docs/security.md, "Web pages"): a daemon on
//! loopback is reachable by every web page the user visits, so three rules run before
//! anything else, for every bind and every route (facades included):
//!
//! 1. **Host allow-list** (DNS rebinding): the `Host` must be an IP literal, `localhost`,
//!    or a `serve --allowed-host` name. A rebinding page's requests carry its own name.
//! 2. **Origin check** (CSRF, cross-origin reads): a request that carries an `Origin` (or
//!    that the browser marks `Sec-Fetch-Site: cross-site`/`same-site`) must come from ferry's
//!    own origin or a `serve --allowed-origin` entry; preflights from any other origin are
//!    refused, and allowed origins get CORS headers.
//! 3. **No simple requests that write** (CSRF without an `Origin`): a state-changing
//!    request must be one a page cannot send without a preflight — a JSON route takes only
//!    `Content-Type: application/json`; a raw upload (or a body-less `POST`) must carry a
//!    header no form or `no-cors` fetch can set: `Authorization`, `X-Api-Key` or any
//!    `X-Ferry-*` (the CLI sends `X-Ferry-Client`).
//!
//! Each refusal is a 403 in the path's error shape (`facade::ErrorShape`) whose
//! code names the rule, and whose detail names the flag or header that relaxes it.

use ferry_types::ProblemCode;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// The header the ferry CLI sends on every request; any `X-Ferry-*` header proves the
/// request is not a simple cross-site one.
pub const CLIENT_HEADER: &str = "x-ferry-client";

/// Which hosts and origins the browser rules admit beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    hosts: Arc<[String]>,
    origins: Arc<[String]>,
}

/// A `--allowed-host` / `--allowed-origin` entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("--allowed-host {0:?} is not a host name: give the bare name a client puts in `Host` (like ferry.example.com), without scheme, port or path")]
    Host(String),
    #[error("--allowed-origin {0:?} is not an origin: give scheme://host[:port] exactly as the browser sends it (like https://app.example.com), without a path")]
    Origin(String),
}

impl BrowserPolicy {
    /// Loopback names and IP literals only; only same-origin browser requests.
    pub fn loopback() -> Self {
        Self::default()
    }

    /// The defaults plus `hosts` (reverse-proxy names) and `origins` (web apps allowed to
    /// call ferry from the browser, with CORS). Empty entries are ignored.
    pub fn new(hosts: &[String], origins: &[String]) -> Result<Self, PolicyError> {
        let hosts = hosts
            .iter()
            .map(|h| h.trim())
            .filter(|h| !h.is_empty())
            .map(|h| normalize_host(h).ok_or_else(|| PolicyError::Host(h.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        let origins = origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| normalize_origin(o).ok_or_else(|| PolicyError::Origin(o.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BrowserPolicy {
            hosts: hosts.into(),
            origins: origins.into(),
        })
    }

    fn host_allowed(&self, host: &str) -> bool {
        // No allocation: this runs on every request.
        let host = host.trim_end_matches('.');
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok()
            || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn origin_listed(&self, origin: &str) -> bool {
        normalize_origin(origin).is_some_and(|o| self.origins.contains(&o))
    }
}

/// A lower-cased host name (letters, digits, `-`, `.`, `_`), or `None`.
fn normalize_host(h: &str) -> Option<String> {
    let h = h.trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    ok.then_some(h)
}

/// `scheme://host[:port]` as browsers serialize it (default ports dropped), or `None`.
fn normalize_origin(o: &str) -> Option<String> {
    let url = url::Url::parse(o).ok()?;
    let bare = matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !bare || !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The host of a `Host` value (`name[:port]`, `[v6][:port]`, `v4[:port]`).
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// The request's authority: the `Host` header, else the URI's (HTTP/2).
pub(crate) fn authority(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// Whether `origin` is this server as the request addressed it (same host and port).
pub(crate) fn same_origin(origin: &str, authority: Option<&str>) -> bool {
    let (Some(origin), Some(authority)) = (normalize_origin(origin), authority) else {
        return false;
    };
    // Compare through the same normalization (default ports dropped, lower case).
    ["http://", "https://"].iter().any(|scheme| {
        normalize_origin(&format!("{scheme}{authority}")).as_deref() == Some(origin.as_str())
    })
}

/// Whether the headers prove the request is not a simple cross-site one: a page cannot
/// set these without a CORS preflight, and ferry refuses preflights.
fn has_proof_header(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key("x-api-key")
        || headers.keys().any(|k| k.as_str().starts_with("x-ferry-"))
}

/// The essence (`type/subtype`) of the `Content-Type`, as sent (compare it ignoring
/// ASCII case); a value that is not visible ASCII is kept whole, lossily, for the error.
fn content_type(headers: &HeaderMap) -> Option<std::borrow::Cow<'_, str>> {
    let value = headers.get(header::CONTENT_TYPE)?;
    Some(match value.to_str() {
        Ok(v) => std::borrow::Cow::Borrowed(v.split(';').next().unwrap_or("").trim()),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    })
}

/// Whether the request has a body (or claims a type for one).
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0)
        || headers.contains_key(header::TRANSFER_ENCODING)
        || headers.contains_key(header::CONTENT_TYPE)
}

/// Routes whose request body is not JSON: uploads, observations and the facades'
/// multipart endpoints. Every other route takes JSON (or nothing).
pub fn takes_raw_body(path: &str) -> bool {
    matches!(
        path,
        "/v1/assets"
            | "/v1/observations"
            | "/openai/v1/audio/transcriptions"
            | "/openai/v1/audio/translations"
            | "/openai/v1/images/edits"
            | "/openai/v1/images/variations"
    )
}

/// Why a request is refused: the rule, in the problem's code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Host(String),
    Origin(String),
    Preflight(String),
    NotJson(String),
    NoProofHeader,
}

impl Refusal {
    fn problem(&self) -> Problem {
        match self {
            Refusal::Host(host) => Problem::new(
                403,
                ProblemCode::HostNotAllowed,
                format!(
                    "Host {:?} is not a name this ferry answers to (a web page may be using DNS rebinding); \
                     ferry answers to localhost and IP addresses — if you reach it through a reverse proxy or \
                     another name, start it with `serve --allowed-host NAME` (env FERRY_ALLOWED_HOSTS)",
                    shorten(host)
                ),
            ),
            Refusal::Origin(origin) => Problem::new(
                403,
                ProblemCode::OriginNotAllowed,
                format!(
                    "requests from the web page at {:?} are refused: ferry accepts browser requests only from \
                     its own origin; to let a web app call ferry, start it with `serve --allowed-origin ORIGIN` \
                     (env FERRY_ALLOWED_ORIGINS)",
                    shorten(origin)
                ),
            ),
            Refusal::Preflight(origin) => Problem::new(
                403,
                ProblemCode::OriginNotAllowed,
                format!(
                    "cross-origin request from {:?} refused (CORS preflight): to let a web app call ferry, \
                     start it with `serve --allowed-origin ORIGIN` (env FERRY_ALLOWED_ORIGINS)",
                    shorten(origin)
                ),
            ),
            Refusal::NotJson(ct) => Problem::new(
                403,
                ProblemCode::JsonContentTypeRequired,
                format!(
                    "this endpoint takes JSON and the body was sent as {ct:?}: send `Content-Type: application/json` \
                     (ferry refuses other types so a web page cannot post here with a form or a no-cors fetch)"
                ),
            ),
            Refusal::NoProofHeader => Problem::new(
                403,
                ProblemCode::ClientHeaderRequired,
                "this request changes state and carries no header a web page cannot forge: send \
                 `X-Ferry-Client: <your tool>` (the ferry CLI does), `Authorization: Bearer …` or \
                 `Content-Type: application/json`",
            ),
        }
    }
}

/// Header values are attacker-chosen: show at most 100 characters.
fn shorten(s: &str) -> String {
    s.chars().take(100).collect()
}

/// What the guard decided.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Pass to the router; `Some(origin)` gets CORS response headers.
    Pass(Option<String>),
    /// Answer a CORS preflight of an allowed origin.
    Preflight(String),
    Refuse(Refusal),
}

fn judge(policy: &BrowserPolicy, req: &Request) -> Verdict {
    let headers = req.headers();
    let authority = authority(req);
    if let Some(a) = authority {
        if !policy.host_allowed(host_part(a)) {
            return Verdict::Refuse(Refusal::Host(a.to_owned()));
        }
    }
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let method = req.method();
    let mut cors = None;
    match origin {
        Some(origin) => {
            let listed = policy.origin_listed(&origin);
            if method == Method::OPTIONS
                && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
            {
                return if listed {
                    Verdict::Preflight(origin)
                } else {
                    Verdict::Refuse(Refusal::Preflight(origin))
                };
            }
            if listed {
                cors = Some(origin);
            } else if !same_origin(&origin, authority) {
                return Verdict::Refuse(Refusal::Origin(origin));
            }
        }
        None => {
            let site = headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if matches!(site, "cross-site" | "same-site") && !is_safe(method) {
                return Verdict::Refuse(Refusal::Origin(format!("a {site} page")));
            }
        }
    }
    if !is_safe(method) {
        let ct = content_type(headers);
        let json = ct
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("application/json"));
        let proof = has_proof_header(headers);
        if takes_raw_body(req.uri().path()) {
            if !proof {
                return Verdict::Refuse(Refusal::NoProofHeader);
            }
        } else if has_body(headers) {
            if !json {
                return Verdict::Refuse(Refusal::NotJson(
                    ct.map_or_else(|| "no Content-Type".into(), |c| c.to_ascii_lowercase()),
                ));
            }
        } else if !proof && !json {
            return Verdict::Refuse(Refusal::NoProofHeader);
        }
    }
    Verdict::Pass(cors)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Enforces [`BrowserPolicy`] (see the module doc) before `inner` handles `req`; part of
/// the front door ([`crate::front_door`]).
pub(crate) async fn guarded<F, Fut>(policy: &BrowserPolicy, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    match judge(policy, &req) {
        Verdict::Pass(None) => inner(req).await,
        Verdict::Pass(Some(origin)) => {
            let mut resp = inner(req).await;
            allow_origin(resp.headers_mut(), &origin);
            resp
        }
        Verdict::Preflight(origin) => {
            let requested = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned();
            let mut resp = StatusCode::NO_CONTENT.into_response();
            let h = resp.headers_mut();
            allow_origin(h, &origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
            );
            if let Some(requested) = requested {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
            }
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            resp
        }
        Verdict::Refuse(r) => {
            tracing::warn!(path = %req.uri().path(), code = %r.problem().code, "browser guard refused a request");
            crate::facade::ErrorShape::for_path(req.uri().path()).respond(r.problem())
        }
    }
}

fn allow_origin(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    fn code(v: Verdict) -> String {
        match v {
            Verdict::Refuse(r) => r.problem().code.as_str().to_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn hosts_loopback_ip_literals_and_listed_names_only() {
        let p = BrowserPolicy::new(&["Proxy.Example.com.".into()], &[]).unwrap();
        for host in [
            "localhost:4000",
            "LOCALHOST",
            "localhost.:4000",
            "127.0.0.1:4000",
            "[::1]:4000",
            "192.168.1.5",
            "proxy.example.com",
            "proxy.example.com:443",
        ] {
            let v = judge(&p, &req("GET", "/v1/status", &[("host", host)]));
            assert_eq!(v, Verdict::Pass(None), "{host}");
        }
        for host in [
            "evil.example:4000",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
        ] {
            let v = judge(&p, &req("GET", "/v1/status", &[("host", host)]));
            assert_eq!(code(v), "host_not_allowed", "{host}");
        }
    }

    #[test]
    fn origins_same_origin_or_listed() {
        let p = BrowserPolicy::new(&[], &["https://app.example.com:443/".into()]).unwrap();
        let json = [
            ("content-type", "application/json"),
            ("content-length", "2"),
        ];
        let with = |host: &str, origin: &str| {
            let mut h = vec![("host", host), ("origin", origin)];
            h.extend(json);
            judge(&p, &req("POST", "/v1/sessions", &h))
        };
        assert_eq!(
            with("localhost:4000", "http://localhost:4000"),
            Verdict::Pass(None)
        );
        assert_eq!(
            with("localhost:4000", "https://app.example.com"),
            Verdict::Pass(Some("https://app.example.com".into()))
        );
        for origin in [
            "http://evil.example:4000",
            "http://localhost:3000",
            "null",
            "http://127.0.0.1:4000",
        ] {
            assert_eq!(
                code(with("localhost:4000", origin)),
                "origin_not_allowed",
                "{origin}"
            );
        }
        let preflight = |origin: &str| {
            judge(
                &p,
                &req(
                    "OPTIONS",
                    "/openai/v1/chat/completions",
                    &[
                        ("host", "localhost:4000"),
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                    ],
                ),
            )
        };
        assert_eq!(code(preflight("http://evil.example")), "origin_not_allowed");
        assert_eq!(
            preflight("https://app.example.com"),
            Verdict::Preflight("https://app.example.com".into())
        );
    }

    #[test]
    fn writes_must_be_non_simple() {
        let p = BrowserPolicy::loopback();
        let post = |path: &str, h: &[(&str, &str)]| code(judge(&p, &req("POST", path, h)));
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert_eq!(
                post(
                    "/openai/v1/chat/completions",
                    &[("content-type", ct), ("x-ferry-client", "cli")]
                ),
                "json_content_type_required"
            );
        }
        assert_eq!(
            post("/v1/sessions", &[("content-length", "5")]),
            "json_content_type_required"
        );
        assert_eq!(post("/v1/runs/run_1/cancel", &[]), "client_header_required");
        assert_eq!(
            post("/v1/observations", &[("content-type", "audio/wav")]),
            "client_header_required"
        );
        assert_eq!(post("/v1/assets", &[]), "client_header_required");
        assert_eq!(
            post(
                "/v1/assets",
                &[("content-type", "image/png"), ("x-ferry-client", "curl")]
            ),
            "Pass(None)"
        );
        assert_eq!(
            post("/v1/runs/run_1/cancel", &[("authorization", "Bearer t")]),
            "Pass(None)"
        );
        assert_eq!(
            post(
                "/anthropic/v1/messages",
                &[
                    ("content-type", "application/json"),
                    ("content-length", "9")
                ]
            ),
            "Pass(None)"
        );
        assert_eq!(
            post(
                "/v1/sessions",
                &[
                    ("content-type", "application/json"),
                    ("sec-fetch-site", "cross-site")
                ]
            ),
            "origin_not_allowed"
        );
        assert_eq!(
            code(judge(&p, &req("GET", "/v1/status", &[]))),
            "Pass(None)"
        );
    }

    #[test]
    fn bad_policy_entries_are_refused() {
        assert!(BrowserPolicy::new(&["http://x".into()], &[]).is_err());
        assert!(BrowserPolicy::new(&["x:80".into()], &[]).is_err());
        assert!(BrowserPolicy::new(&[], &["app.example.com".into()]).is_err());
        assert!(BrowserPolicy::new(&[], &["https://a.example/path".into()]).is_err());
        assert!(BrowserPolicy::new(&["".into()], &["".into()]).is_ok());
    }
}

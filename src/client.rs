//! The CLI's HTTP client for the control API, and the mapping from what happened to the
//! exit codes of spec §2 (0 ok, 1 error, 2 rejected input, 3 unreachable, 4 auth refused,
//! 5 not found, 7 retryable upstream failure).

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cli::GlobalArgs;

/// A failed command: the message for stderr and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// Human message.
    pub message: String,
    /// Process exit code.
    pub exit: i32,
    /// The problem document, for `--json`.
    pub problem: Option<Value>,
}

impl CliError {
    /// A plain error with exit code 1.
    pub fn fail(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit: 1,
            problem: None,
        }
    }

    /// Rejected input or usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit: 2,
            problem: None,
        }
    }

    /// Builds the error from a problem+json body and its HTTP status.
    pub fn from_problem(status: u16, problem: Value) -> Self {
        let code = problem.get("code").and_then(Value::as_str).unwrap_or("");
        let detail = problem
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("the daemon refused the request")
            .to_string();
        let retryable = problem
            .get("retryable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        CliError {
            message: if code.is_empty() {
                detail
            } else {
                format!("{detail} [{code}]")
            },
            exit: exit_code(status, code, retryable),
            problem: Some(problem),
        }
    }
}

/// Spec §2 exit codes from an HTTP status and problem code.
pub fn exit_code(status: u16, code: &str, retryable: bool) -> i32 {
    match status {
        401 if code == "unauthorized" => 4,
        404 => 5,
        _ if retryable => 7,
        400..=499 => 2,
        _ => 1,
    }
}

/// Headers every CLI request carries: `X-Ferry-Client` (see `ferry_api::CLIENT_HEADER`).
fn client_headers() -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        ferry_api::CLIENT_HEADER,
        reqwest::header::HeaderValue::from_static(concat!("ferry-cli/", env!("CARGO_PKG_VERSION"))),
    );
    h
}

/// Talks to one daemon.
pub struct ApiClient {
    base: String,
    token: Option<Zeroizing<String>>,
    http: reqwest::Client,
}

impl ApiClient {
    /// From the global flags (`--url`, `--token`, `--token-file`).
    pub fn new(global: &GlobalArgs) -> Result<Self, CliError> {
        let token = read_token(global)?;
        let base = daemon_url(&global.url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            // Proves to the daemon's browser guard that this is not a web page's request.
            .default_headers(client_headers())
            .build()
            .map_err(|e| CliError::fail(format!("cannot build the HTTP client: {e}")))?;
        Ok(ApiClient { base, token, http })
    }

    /// The daemon URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` with auth.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t.as_str());
        }
        rb
    }

    /// Sends and returns the response if 2xx, a [`CliError`] otherwise.
    pub async fn send(&self, rb: RequestBuilder) -> Result<Response, CliError> {
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(problem_of(resp).await)
    }

    /// GET returning JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let resp = self.send(self.request(Method::GET, path)).await?;
        json_of(resp).await
    }

    /// POST/DELETE with a JSON body returning JSON.
    pub async fn call_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let mut rb = self.request(method, path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.send(rb).await?;
        json_of(resp).await
    }

    /// Maps a transport failure: unreachable daemon → exit 3.
    pub fn transport_error(&self, e: reqwest::Error) -> CliError {
        if e.is_connect() || e.is_timeout() && !e.is_body() {
            CliError {
                message: format!(
                    "cannot reach ferry at {} — is `ferry serve` running?",
                    self.base
                ),
                exit: 3,
                problem: None,
            }
        } else {
            CliError::fail(format!("request to ferry at {} failed: {e}", self.base))
        }
    }
}

/// `--url` checked and without a trailing `/`: an absolute http(s) URL with a host.
pub fn daemon_url(raw: &str) -> Result<String, CliError> {
    let bad = |why: &str| {
        CliError::usage(format!(
            "--url {raw:?} {why}; give the daemon's URL like http://127.0.0.1:4000 (or set FERRY_URL)"
        ))
    };
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(bad("has no scheme (http:// or https://)"))
        }
        Err(e) => return Err(bad(&format!("is not a URL ({e})"))),
    };
    match url.scheme() {
        "http" | "https" => {}
        // `localhost:4000` parses with the scheme "localhost".
        s if url.cannot_be_a_base() || !raw.contains("://") => {
            return Err(bad(&format!(
                "has no http:// or https:// scheme ({s:?} was read as one)"
            )))
        }
        s => {
            return Err(bad(&format!(
                "uses the scheme {s:?}; ferry speaks http or https"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Reads a problem body from a non-2xx response. A body that is not a ferry problem means
/// something other than ferry answered.
pub async fn problem_of(resp: Response) -> CliError {
    let status = resp.status().as_u16();
    let origin = resp.url().origin().ascii_serialization();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.get("code").is_some() => CliError::from_problem(status, v),
        _ => CliError {
            message: format!(
                "{origin} answered HTTP {status} without a ferry problem document: it does not look like a ferry daemon; \
                 check --url / FERRY_URL (ferry serve listens on http://127.0.0.1:4000 unless --bind says otherwise)"
            ),
            exit: 3,
            problem: None,
        },
    }
}

/// Parses a JSON body.
pub async fn json_of(resp: Response) -> Result<Value, CliError> {
    resp.json::<Value>()
        .await
        .map_err(|e| CliError::fail(format!("ferry sent an unreadable response: {e}")))
}

fn read_token(global: &GlobalArgs) -> Result<Option<Zeroizing<String>>, CliError> {
    if let Some(t) = &global.token {
        return Ok(Some(Zeroizing::new(t.trim().to_string())));
    }
    if let Some(path) = &global.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read token file {}: {e}", path.display()))
        })?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(CliError::usage(format!(
                "token file {} is empty",
                path.display()
            )));
        }
        return Ok(Some(Zeroizing::new(token)));
    }
    Ok(None)
}

/// Shortest token `serve` accepts: a guessable token on a network bind is no protection.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The token configured for `serve` (same flags and env vars as the client); an empty,
/// whitespace-only or short token is refused rather than silently locking every client out.
pub fn serve_token(global: &GlobalArgs) -> Result<Option<Zeroizing<String>>, CliError> {
    let token = read_token(global)?;
    if let Some(t) = &token {
        if t.trim().is_empty() {
            return Err(CliError::usage(
                "the token (--token / FERRY_TOKEN) is empty: give a real token (`ferry secrets generate` prints a good one), or unset it on a loopback bind",
            ));
        }
        if t.chars().count() < MIN_TOKEN_CHARS {
            return Err(CliError::usage(format!(
                "the token is shorter than {MIN_TOKEN_CHARS} characters: use a long random one (`ferry secrets generate` prints one)"
            )));
        }
    }
    Ok(token)
}

//! The transport of the hot paths (the facade's pass-through and a session run's model
//! calls): one plain hyper client per route
//! (pooled keep-alive connections, rustls with ALPN for HTTPS) that sends an encoded body
//! to a protocol endpoint and hands back the response. reqwest does the same with a
//! redirect policy, a tower stack and two re-parses of the URL per request (measured:
//! about a fifth of a facade call's instructions); none of that is needed to POST to a
//! fixed endpoint that never redirects.
//!
//! A `http://` endpoint is reached over [`crate::h1_pool`]'s connections, each driven by
//! the task using it; a `https://` one over hyper-util's pooled client (ALPN may choose
//! HTTP/2).
//!
//! It has the chat transport's settings: connect timeout, read timeout (the longest wait
//! for the response head and between body chunks), TCP_NODELAY, a 90 s idle pool, the
//! same trust roots (webpki roots plus `network.ca_file` and `SSL_CERT_FILE`). A route
//! that needs what only reqwest does — a proxy (the route's or one from the environment)
//! or host pins — gets no direct transport and keeps using reqwest.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_config::Route;
use http_body::Body as HttpBody;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, USER_AGENT};
use url::Url;

use crate::error::DriverError;
use crate::h1_pool::{H1Pool, SendError};
use crate::idle_limit::IdleLimit;
use crate::types::Protocol;

/// Environment variables naming a proxy reqwest would use: a route run with any of them
/// set keeps reqwest (which honours them and `NO_PROXY`).
const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// A direct HTTP client for one route's protocol endpoints.
pub(crate) struct DirectTransport {
    connections: Connections,
    read_timeout: Option<Duration>,
    user_agent: HeaderValue,
    /// The protocol endpoints as request targets, by [`Protocol`], parsed once (in
    /// origin form on [`Connections::Plain`]).
    uris: [http::Uri; 4],
    /// The same endpoints as the responses' URLs: reqwest's conversion of a response
    /// without one parses a placeholder URL (thousands of instructions, every call).
    urls: [Url; 4],
}

/// How a route's requests travel.
enum Connections {
    /// A `http://` upstream: ferry's own keep-alive connections ([`crate::h1_pool`]).
    Plain(Arc<H1Pool>),
    /// A `https://` one (or endpoints on several hosts): hyper-util's pooled client.
    Pooled(Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>),
}

/// Why a direct request failed before a response head arrived.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// No response head within the read timeout.
    TimedOut,
    /// The connection could not be made or broke (the error's chain says why).
    Failed(SendError),
    /// The request could not be built (the API key is not a valid header value).
    BadRequest(String),
}

impl DirectTransport {
    /// The direct transport for `route`, or `None` when the route needs reqwest (a
    /// proxy, host pins). `extra_roots` are the PEM files whose certificates are trusted
    /// besides the webpki roots; `urls` are the protocol endpoints, by [`Protocol`].
    pub(crate) fn for_route(
        route: &Route,
        extra_roots: &[String],
        urls: &[Url; 4],
    ) -> Result<Option<Self>, DriverError> {
        let proxied_by_env = PROXY_VARIABLES
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|p| !p.is_empty()));
        if route.network.proxy.is_some() || !route.network.resolve.is_empty() || proxied_by_env {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for path in extra_roots {
            for cert in load_pem_roots(path)? {
                roots
                    .add(cert)
                    .map_err(|_| DriverError::CaFileInvalid { path: path.clone() })?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| DriverError::Build {
            route: route.id.clone(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        if route.connect_timeout_ms > 0 {
            http.set_connect_timeout(Some(Duration::from_millis(route.connect_timeout_ms)));
        }
        let uri = |url: &Url| {
            url.as_str()
                .parse::<http::Uri>()
                .map_err(|e| DriverError::Build {
                    route: route.id.clone(),
                    detail: format!("{url} is not a request target: {e}"),
                })
        };
        let mut uris = [
            uri(&urls[0])?,
            uri(&urls[1])?,
            uri(&urls[2])?,
            uri(&urls[3])?,
        ];
        // Every endpoint is on the base URL's host: one pool serves them all.
        let same_host = uris.iter().all(|u| u.authority() == uris[0].authority());
        let connections = match H1Pool::new(http.clone(), &uris[0]).filter(|_| same_host) {
            Some(pool) => {
                for uri in &mut uris {
                    *uri = origin_form(uri);
                }
                Connections::Plain(pool)
            }
            None => {
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(http);
                Connections::Pooled(Box::new(
                    Client::builder(TokioExecutor::new())
                        .pool_idle_timeout(Duration::from_secs(90))
                        .pool_timer(TokioTimer::new())
                        .timer(TokioTimer::new())
                        .build(connector),
                ))
            }
        };
        Ok(Some(DirectTransport {
            connections,
            read_timeout: (route.timeout_ms > 0).then(|| Duration::from_millis(route.timeout_ms)),
            user_agent: HeaderValue::from_static(concat!("ferry/", env!("CARGO_PKG_VERSION"))),
            uris,
            urls: urls.clone(),
        }))
    }

    /// POSTs `body` to `protocol`'s endpoint with `headers` and the bearer `api_key`; the
    /// response's body fails with a timed-out I/O error when it stalls longer than the
    /// read timeout.
    pub(crate) async fn post(
        &self,
        protocol: Protocol,
        api_key: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response, SendFailure> {
        let uri = self.uris[protocol as usize].clone();
        let mut value = String::with_capacity("Bearer ".len() + api_key.len());
        value.push_str("Bearer ");
        value.push_str(api_key);
        let mut bearer = HeaderValue::try_from(value).map_err(|_| {
            SendFailure::BadRequest("the API key is not a valid header value".into())
        })?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let url = &self.urls[protocol as usize];
        match &self.connections {
            Connections::Plain(pool) => {
                let response = self.within_read_timeout(pool.send(request)).await?;
                Ok(self.response(response, url))
            }
            Connections::Pooled(client) => {
                let sent = async {
                    client
                        .request(request)
                        .await
                        .map_err(|e| Box::new(e) as SendError)
                };
                let response = self.within_read_timeout(sent).await?;
                Ok(self.response(response, url))
            }
        }
    }

    /// `sent`, failing when no response head arrives within the read timeout.
    async fn within_read_timeout<T>(
        &self,
        sent: impl Future<Output = Result<T, SendError>>,
    ) -> Result<T, SendFailure> {
        match self.read_timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| SendFailure::TimedOut)?,
            None => sent.await,
        }
        .map_err(SendFailure::Failed)
    }

    /// The response as reqwest's, naming `url`, its body under the read timeout.
    fn response<B>(&self, response: http::Response<B>, url: &Url) -> reqwest::Response
    where
        B: HttpBody<Data = Bytes, Error = hyper::Error> + Send + Sync + Unpin + 'static,
    {
        let (mut parts, body) = response.into_parts();
        parts.extensions.extend(response_url(url));
        let body = IdleLimit::new(body, self.read_timeout, body_stalled);
        reqwest::Response::from(http::Response::from_parts(parts, reqwest::Body::wrap(body)))
    }
}

/// `uri`'s path and query alone (what HTTP/1.1 sends a server that is not a proxy).
fn origin_form(uri: &http::Uri) -> http::Uri {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    http::Uri::try_from(path).unwrap_or_else(|_| uri.clone())
}

fn load_pem_roots(
    path: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, DriverError> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|source| DriverError::CaFileRead {
        path: path.to_owned(),
        source,
    })?;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| DriverError::CaFileInvalid {
            path: path.to_owned(),
        })?;
    if certs.is_empty() {
        return Err(DriverError::CaFileInvalid {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Extensions that carry `url` as the URL reqwest reports for a response.
fn response_url(url: &Url) -> http::Extensions {
    use reqwest::ResponseBuilderExt;
    http::Response::builder()
        .url(url.clone())
        .body(())
        .map(|r| r.into_parts().0.extensions)
        .unwrap_or_default()
}

/// The error of a response body that stalled longer than the read timeout (reqwest's
/// `read_timeout` fails the same way per read).
fn body_stalled(_: Duration) -> crate::idle_limit::BodyFailure {
    Box::new(io::Error::new(
        io::ErrorKind::TimedOut,
        "the response body stalled",
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;
    use ferry_fake_openrouter::FakeOpenRouter;
    use reqwest::header::HeaderMap;

    use crate::error::ErrorContext;
    use crate::types::Protocol;
    use crate::OpenRouterClient;

    /// A direct response names the endpoint it came from, as reqwest's own responses do
    /// (not the placeholder reqwest parses for a response that names none).
    #[tokio::test]
    async fn a_direct_response_names_its_endpoint() {
        let fake = FakeOpenRouter::start();
        let routes = format!(
            "version = 1\n[routes.r]\ndriver = \"openrouter\"\ndefault_model = \"m\"\napi_key_env = \"K\"\nbase_url = \"{}\"\n",
            fake.base_url()
        );
        let route = ferry_config::parse_routes(&routes, Path::new("/tmp/routes.toml"))
            .expect("routes")
            .routes
            .get("r")
            .cloned()
            .expect("route r");
        let client = OpenRouterClient::new(&route).expect("client");
        let key = "sk-or-v1-direct-test";
        let ctx = ErrorContext {
            model: "m",
            api_key: key,
        };
        let body = Bytes::from_static(br#"{"model":"openai/text-embedding-3-small","input":"x"}"#);
        let response = client
            .send_protocol(None, key, Protocol::Embeddings, HeaderMap::new(), body, ctx)
            .await
            .expect("answered");
        assert_eq!(
            response.url().as_str(),
            format!("{}/embeddings", fake.base_url())
        );
    }
}

//! Downloads of media URLs. URLs a *model* produced (image results on another origin) go
//! through [`fetch_public`]: every hop's host is resolved here, every resolved address
//! must pass the SSRF policy of [`super::guard`], the connection is pinned to the vetted
//! address (no second lookup an attacker could rebind), redirects are followed by hand
//! and re-vetted, and size, redirect count and time are capped.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use url::{Host, Url};

use super::guard::refusal_reason;
use crate::body::{self, BodyError, Overflow};

/// Caps of one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Deadline of each hop (connect to last byte).
    pub timeout: Duration,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            max_bytes: 32 * 1024 * 1024,
            max_redirects: 3,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A downloaded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: Vec<u8>,
    /// The response's `Content-Type`, if any.
    pub content_type: Option<String>,
}

/// Why a download failed. URLs are shown without query or fragment (signed URLs carry
/// credentials there).
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("refused to download {url}: {host} is {reason} — ferry only downloads model-provided URLs from public internet addresses")]
    Blocked {
        url: String,
        host: String,
        reason: &'static str,
    },
    #[error("refused to download {url}: only http and https URLs are followed")]
    Scheme { url: String },
    #[error("cannot download {url}: the host does not resolve ({detail})")]
    Resolve { url: String, detail: String },
    #[error("download of {url} is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: usize },
    #[error("download of {url} redirected more than {limit} times")]
    TooManyRedirects { url: String, limit: usize },
    #[error("download of {url} failed with HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("download of {url} timed out")]
    Timeout { url: String },
    #[error("download of {url} failed: {detail}")]
    Transport { url: String, detail: String },
}

impl FetchError {
    /// Stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Blocked { .. } | FetchError::Scheme { .. } => "media_url_blocked",
            FetchError::TooLarge { .. } => "media_too_large",
            FetchError::TooManyRedirects { .. } => "media_too_many_redirects",
            FetchError::Timeout { .. } => "media_download_timeout",
            FetchError::Resolve { .. }
            | FetchError::Status { .. }
            | FetchError::Transport { .. } => "media_download_failed",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. } | FetchError::Transport { .. } => true,
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// `scheme://host[:port]/path` of a URL, without query or fragment.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// Which addresses a download may reach: `None` = allowed, else why not.
pub(crate) type AddressPolicy = fn(std::net::IpAddr) -> Option<&'static str>;

/// How a host name becomes addresses: the system resolver, or (tests) a fixed table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolver {
    System,
    #[cfg(test)]
    Table(&'static [(&'static str, &'static [std::net::IpAddr])]),
}

impl Resolver {
    async fn lookup(self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            Resolver::System => Ok(tokio::net::lookup_host((host, port)).await?.collect()),
            #[cfg(test)]
            Resolver::Table(table) => table
                .iter()
                .find(|(name, _)| *name == host)
                .map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                .ok_or_else(|| std::io::Error::other("unknown test host")),
        }
    }
}

/// Downloads a URL that came from a model, with the SSRF guard (see the module doc).
pub async fn fetch_public(url: &Url, limits: FetchLimits) -> Result<Downloaded, FetchError> {
    fetch_with_policy(url, limits, refusal_reason, Resolver::System).await
}

/// [`fetch_public`] with the address policy and resolver as parameters (tests use a
/// policy that admits one loopback address so a local server can play the remote side,
/// and a resolver table so names can map anywhere without `/etc/hosts`).
pub(crate) async fn fetch_with_policy(
    url: &Url,
    limits: FetchLimits,
    policy: AddressPolicy,
    resolver: Resolver,
) -> Result<Downloaded, FetchError> {
    let mut current = url.clone();
    for _ in 0..=limits.max_redirects {
        let shown = display_url(&current);
        let addr = vet(&current, &shown, policy, resolver).await?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .redirect(Policy::none())
            .no_proxy()
            .timeout(limits.timeout);
        if let Some(Host::Domain(domain)) = current.host() {
            builder = builder.resolve(domain, addr);
        }
        let client = builder.build().map_err(|e| FetchError::Transport {
            url: shown.clone(),
            detail: e.to_string(),
        })?;
        let response = client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| transport_error(&e, &shown))?;
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| current.join(loc).ok())
                .ok_or_else(|| FetchError::Transport {
                    url: shown.clone(),
                    detail: format!("HTTP {} without a usable Location", status.as_u16()),
                })?;
            current = next;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: shown,
                status: status.as_u16(),
            });
        }
        return read_body(response, limits.max_bytes, &shown).await;
    }
    Err(FetchError::TooManyRedirects {
        url: display_url(url),
        limit: limits.max_redirects,
    })
}

/// Reads a successful download's body with the size cap.
pub(crate) async fn read_body(
    response: reqwest::Response,
    max_bytes: usize,
    shown: &str,
) -> Result<Downloaded, FetchError> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = body::collect(response, max_bytes, Overflow::Fail)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => FetchError::TooLarge {
                url: shown.to_owned(),
                limit: max_bytes,
            },
            BodyError::Read(e) => transport_error(&e, shown),
        })?;
    Ok(Downloaded {
        bytes,
        content_type,
    })
}

pub(crate) fn transport_error(e: &reqwest::Error, shown: &str) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout {
            url: shown.to_owned(),
        }
    } else {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Transport {
            url: shown.to_owned(),
            detail,
        }
    }
}

/// Checks the scheme, resolves the host and returns the address to connect to; every
/// address the host resolves to must be public.
async fn vet(
    url: &Url,
    shown: &str,
    policy: AddressPolicy,
    resolver: Resolver,
) -> Result<SocketAddr, FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Scheme {
            url: shown.to_owned(),
        });
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let blocked = |host: String, reason| FetchError::Blocked {
        url: shown.to_owned(),
        host,
        reason,
    };
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(Host::Domain(domain)) => {
            resolver
                .lookup(domain, port)
                .await
                .map_err(|e| FetchError::Resolve {
                    url: shown.to_owned(),
                    detail: e.to_string(),
                })?
        }
        None => {
            return Err(FetchError::Scheme {
                url: shown.to_owned(),
            })
        }
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    for addr in &addrs {
        if let Some(reason) = policy(addr.ip()) {
            return Err(blocked(host, reason));
        }
    }
    addrs.first().copied().ok_or_else(|| FetchError::Resolve {
        url: shown.to_owned(),
        detail: "no addresses".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_drops_query_fragment_and_credentials() {
        let url = Url::parse("https://u:p@cdn.example.com/a/b.png?sig=SECRET#x").unwrap();
        assert_eq!(display_url(&url), "https://cdn.example.com/a/b.png");
    }

    /// How `fetch_public` refuses `url` (with the default limits).
    async fn refused(url: &str) -> FetchError {
        fetch_public(&Url::parse(url).unwrap(), FetchLimits::default())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn loopback_private_and_localhost_targets_are_blocked_before_connecting() {
        for url in [
            "http://127.0.0.1:9/x.png",
            "http://[::1]:9/x.png",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/x.png",
            "http://localhost:9/x.png",
            "http://[::ffff:127.0.0.1]:9/x.png",
        ] {
            let err = refused(url).await;
            assert!(matches!(err, FetchError::Blocked { .. }), "{url}: {err}");
            assert_eq!(err.code(), "media_url_blocked");
        }
    }

    /// Admits 127.0.0.1 only, so a local server can play the public internet.
    fn only_127_0_0_1(ip: std::net::IpAddr) -> Option<&'static str> {
        (ip != std::net::IpAddr::from([127, 0, 0, 1])).then_some("not 127.0.0.1")
    }

    #[tokio::test]
    async fn redirects_are_revetted_capped_and_sizes_limited() {
        let fake = ferry_fake_openrouter::FakeOpenRouter::start();
        let origin = fake.origin();
        let port = fake.addr().port();
        fake.serve_file("/files/a.png", "image/png", vec![7; 100]);
        fake.serve_redirect("/files/hop1", "/files/hop2");
        fake.serve_redirect("/files/hop2", "/files/a.png");
        fake.serve_redirect("/files/loop", "/files/loop");
        fake.serve_redirect(
            "/files/escape",
            &format!("http://127.0.0.2:{port}/files/a.png"),
        );
        let url = |p: &str| Url::parse(&format!("{origin}{p}")).unwrap();
        let limits = FetchLimits::default();

        let got = fetch_with_policy(
            &url("/files/hop1"),
            limits,
            only_127_0_0_1,
            Resolver::System,
        )
        .await
        .unwrap();
        assert_eq!(got.bytes, vec![7; 100]);
        assert_eq!(got.content_type.as_deref(), Some("image/png"));

        let err = fetch_with_policy(
            &url("/files/escape"),
            limits,
            only_127_0_0_1,
            Resolver::System,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, FetchError::Blocked { .. }), "{err}");

        let err = fetch_with_policy(
            &url("/files/loop"),
            limits,
            only_127_0_0_1,
            Resolver::System,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, FetchError::TooManyRedirects { limit: 3, .. }),
            "{err}"
        );

        let small = FetchLimits {
            max_bytes: 99,
            ..limits
        };
        let err = fetch_with_policy(
            &url("/files/a.png"),
            small,
            only_127_0_0_1,
            Resolver::System,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { limit: 99, .. }),
            "{err}"
        );

        let err = fetch_with_policy(
            &url("/files/missing.png"),
            limits,
            only_127_0_0_1,
            Resolver::System,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, FetchError::Status { status: 404, .. }),
            "{err}"
        );

        let err = fetch_public(&url("/files/a.png"), limits)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::Blocked { .. }),
            "the real policy: {err}"
        );
    }

    #[tokio::test]
    async fn names_are_judged_by_every_address_they_resolve_to() {
        use std::net::IpAddr;
        const LOOPBACK: &[IpAddr] = &[IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];
        const METADATA: &[IpAddr] = &[IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254))];
        // A rebinding-style answer: one public address, one private one.
        const MIXED: &[IpAddr] = &[
            IpAddr::V4(std::net::Ipv4Addr::new(93, 184, 216, 34)),
            IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        ];
        const TABLE: &[(&str, &[IpAddr])] = &[
            ("media.localtest", LOOPBACK),
            ("cdn.localtest", METADATA),
            ("mixed.localtest", MIXED),
        ];
        for url in [
            "http://media.localtest:9/x.mp4",
            "https://cdn.localtest/x.png",
            "https://mixed.localtest/x.png",
        ] {
            let err = fetch_with_policy(
                &Url::parse(url).unwrap(),
                FetchLimits::default(),
                refusal_reason,
                Resolver::Table(TABLE),
            )
            .await
            .unwrap_err();
            assert!(matches!(err, FetchError::Blocked { .. }), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn decimal_hex_and_octal_hosts_are_the_addresses_they_spell() {
        for url in [
            "http://2130706433/x.png",
            "http://0x7f000001/x.png",
            "http://0177.0.0.1/x.png",
            "http://0x7f.1/x.png",
            "http://[::ffff:7f00:1]/x.png",
            "http://[64:ff9b::a9fe:a9fe]/x.png",
        ] {
            let err = refused(url).await;
            assert!(matches!(err, FetchError::Blocked { .. }), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn non_http_schemes_are_refused() {
        for url in ["file:///etc/passwd", "ftp://example.com/x.png"] {
            let err = refused(url).await;
            assert!(matches!(err, FetchError::Scheme { .. }), "{url}: {err}");
        }
    }
}

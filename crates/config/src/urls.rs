//! URL rules for `base_url`, `attribution.referer` and `network.proxy`.

use url::Url;

/// OpenRouter's API base, without a trailing slash.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// The legacy spelling of [`OPENROUTER_BASE_URL`], normalised to it.
pub const LEGACY_OPENROUTER_BASE_URL: &str = "https://openrouter.ai/v1";

/// Which rules a URL must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlRule {
    /// `base_url`: absolute http(s), no userinfo, query or fragment.
    BaseUrl,
    /// `attribution.referer`: absolute http(s), no userinfo.
    Referer,
    /// `network.proxy`: absolute http, https, socks5 or socks5h, no userinfo, query or
    /// fragment (credentials do not belong in routes.toml).
    Proxy,
}

impl UrlRule {
    /// Completes "must be …" in error messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            UrlRule::BaseUrl => {
                "an absolute http(s) URL without user name, password, query or fragment"
            }
            UrlRule::Referer => "an absolute http(s) URL without user name or password",
            UrlRule::Proxy => {
                "an absolute http, https, socks5 or socks5h URL without user name, password, query or fragment (credentials do not belong in routes.toml)"
            }
        }
    }
}

/// Parses `s` under `rule`; `None` when it breaks the rule (the caller reports
/// [`UrlRule::expected`], never the URL).
pub(crate) fn parse_url(s: &str, rule: UrlRule) -> Option<Url> {
    let url = Url::parse(s).ok()?;
    let scheme_ok = match rule {
        UrlRule::BaseUrl | UrlRule::Referer => matches!(url.scheme(), "http" | "https"),
        UrlRule::Proxy => matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h"),
    };
    if !scheme_ok || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    if rule != UrlRule::Referer && (url.query().is_some() || url.fragment().is_some()) {
        return None;
    }
    Some(url)
}

/// `url` with trailing slashes removed from its path (`…/v1/` → `…/v1`).
pub(crate) fn trim_trailing_slashes(mut url: Url) -> Url {
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    url
}

/// The normalised form of a base URL: trailing slashes trimmed, legacy OpenRouter base
/// mapped to the current one.
pub(crate) fn normalise_base_url(url: &Url) -> Url {
    let url = trim_trailing_slashes(url.clone());
    if url.as_str() == LEGACY_OPENROUTER_BASE_URL {
        openrouter_base_url()
    } else {
        url
    }
}

/// [`OPENROUTER_BASE_URL`] as a [`Url`].
pub(crate) fn openrouter_base_url() -> Url {
    // Parsing a constant that the tests below parse too: cannot fail at runtime.
    #[allow(clippy::expect_used)]
    Url::parse(OPENROUTER_BASE_URL).expect("OPENROUTER_BASE_URL is a valid URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert!(parse_url("https://openrouter.ai/api/v1", UrlRule::BaseUrl).is_some());
        assert!(parse_url("http://127.0.0.1:8080/v1/", UrlRule::BaseUrl).is_some());
        for bad in [
            "openrouter.ai/api/v1",
            "/api/v1",
            "ftp://openrouter.ai/api/v1",
            "https://user:pw@openrouter.ai/api/v1",
            "https://user@openrouter.ai/api/v1",
            "https://openrouter.ai/api/v1?x=1",
            "https://openrouter.ai/api/v1#frag",
            "",
        ] {
            assert!(parse_url(bad, UrlRule::BaseUrl).is_none(), "{bad}");
        }
    }

    #[test]
    fn referer_and_proxy_rules() {
        assert!(parse_url("https://example.org/app?x=1", UrlRule::Referer).is_some());
        assert!(parse_url("https://u:p@example.org/", UrlRule::Referer).is_none());
        assert!(parse_url("mailto:a@b.c", UrlRule::Referer).is_none());
        for ok in [
            "http://proxy.internal:3128",
            "https://proxy.internal",
            "socks5://127.0.0.1:1080",
            "socks5h://127.0.0.1:1080",
        ] {
            assert!(parse_url(ok, UrlRule::Proxy).is_some(), "{ok}");
        }
        assert!(parse_url("http://u:p@proxy:3128", UrlRule::Proxy).is_none());
        assert!(parse_url("ftp://proxy:21", UrlRule::Proxy).is_none());
    }

    #[test]
    fn normalisation() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            normalise_base_url(&u("https://openrouter.ai/api/v1/")).as_str(),
            OPENROUTER_BASE_URL
        );
        assert_eq!(
            normalise_base_url(&u("https://openrouter.ai/v1")).as_str(),
            OPENROUTER_BASE_URL
        );
        assert_eq!(
            normalise_base_url(&u("https://openrouter.ai/v1//")).as_str(),
            OPENROUTER_BASE_URL
        );
        assert_eq!(
            normalise_base_url(&u("http://proxy:8080/v1/")).as_str(),
            "http://proxy:8080/v1"
        );
        assert_eq!(openrouter_base_url().as_str(), OPENROUTER_BASE_URL);
    }
}

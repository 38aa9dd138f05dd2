//! Request headers for verified OpenRouter routes: app attribution and response cache.
//! `Authorization` is added by the transport, never here.

use ferry_config::{Attribution, ModelParams};

/// Longest `X-OpenRouter-Cache-TTL` OpenRouter accepts, in seconds.
const MAX_CACHE_TTL_SECONDS: i64 = 86_400;
/// OpenRouter's limit of attribution categories per request.
const MAX_CATEGORIES: usize = 2;

/// Attribution headers (when enabled): `HTTP-Referer` only when configured,
/// `X-OpenRouter-Title`, `X-OpenRouter-Categories` (comma-joined, at most 2).
pub(crate) fn attribution_headers(attribution: &Attribution, out: &mut Vec<(String, String)>) {
    if !attribution.enabled {
        return;
    }
    if let Some(referer) = &attribution.referer {
        out.push(("HTTP-Referer".into(), referer.to_string()));
    }
    let title = attribution.title.trim();
    if !title.is_empty() {
        out.push(("X-OpenRouter-Title".into(), title.to_owned()));
    }
    let categories: Vec<&str> = attribution
        .categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .take(MAX_CATEGORIES)
        .collect();
    if !categories.is_empty() {
        out.push(("X-OpenRouter-Categories".into(), categories.join(",")));
    }
}

/// Response-cache headers from the model params.
pub(crate) fn cache_headers(params: &ModelParams, out: &mut Vec<(String, String)>) {
    if let Some(enabled) = params.response_cache {
        out.push(("X-OpenRouter-Cache".into(), enabled.to_string()));
    }
    if let Some(ttl) = params.response_cache_ttl_seconds {
        out.push((
            "X-OpenRouter-Cache-TTL".into(),
            ttl.clamp(1, MAX_CACHE_TTL_SECONDS).to_string(),
        ));
    }
    if params.response_cache_clear == Some(true) {
        out.push(("X-OpenRouter-Cache-Clear".into(), "true".into()));
    }
}

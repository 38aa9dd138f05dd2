//! Fixtures shared by the driver's transport test binaries: a one-route routes file
//! pointing at the fake upstream, a minimal chat request, and a retry policy with short
//! delays.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::time::Duration;

use ferry_config::{parse_routes, Route};
use ferry_fake_openrouter::FakeOpenRouter;
use ferry_openrouter::{ChatRequest, OpenRouterClient, RetryPolicy};
use serde_json::json;

/// Route `r` with `toml_route_body` appended to its table.
pub fn route_from(toml_route_body: &str) -> Route {
    let text = format!(
        "version = 1\ndefault_route = \"r\"\n\n[routes.r]\ndriver = \"openrouter\"\ndefault_model = \"openai/gpt-5.4-mini\"\napi_key_env = \"OPENROUTER_API_KEY\"\n{toml_route_body}\n"
    );
    let file = parse_routes(&text, Path::new("/tmp/routes.toml")).expect("valid routes.toml");
    file.routes.get("r").cloned().expect("route r")
}

/// A client for route `r` on the fake, with `extra` route keys.
pub fn client_for(fake: &FakeOpenRouter, extra: &str) -> OpenRouterClient {
    let route = route_from(&format!("base_url = \"{}\"\n{extra}", fake.base_url()));
    OpenRouterClient::new(&route).expect("client builds")
}

/// One user message to `openai/gpt-5.4-mini`.
pub fn request(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "openai/gpt-5.4-mini".into(),
        messages: vec![json!({"role": "user", "content": "Say hello"})].into(),
        stream,
        ..ChatRequest::default()
    }
}

/// Two retries with millisecond backoff; Retry-After up to 60 s is waited for.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(60),
    }
}

//! `SSL_CERT_FILE` adds trusted roots. A test binary of its own, because it sets a process
//! environment variable (one test, one thread: nothing else reads the environment).

use std::path::Path;

use ferry_config::parse_routes;
use ferry_fake_openrouter::FakeOpenRouter;
use ferry_openrouter::{ChatRequest, OpenRouterClient, StreamEvent, UpstreamErrorKind};
use serde_json::json;

#[tokio::test(flavor = "current_thread")]
async fn ssl_cert_file_roots_are_trusted() {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    let port = fake.addr().port();
    let text = format!(
        "version = 1\ndefault_route = \"r\"\n[routes.r]\ndriver = \"openrouter\"\ndefault_model = \"openai/gpt-5.4-mini\"\napi_key_env = \"OPENROUTER_API_KEY\"\nbase_url = \"https://openrouter.ai:{port}/api/v1\"\n[routes.r.network]\nresolve = [\"openrouter.ai:{port}:127.0.0.1\"]\n"
    );
    let routes = parse_routes(&text, Path::new("/tmp/routes.toml")).expect("routes");
    let route = &routes.routes["r"];
    let req = ChatRequest {
        model: "openai/gpt-5.4-mini".into(),
        messages: vec![json!({"role": "user", "content": "ping"})].into(),
        ..ChatRequest::default()
    };
    let mut on_event = |_: StreamEvent| {};

    std::env::remove_var("SSL_CERT_FILE");
    let untrusting = OpenRouterClient::new(route).expect("client");
    let e = untrusting
        .chat("sk-or-v1-x", &req, &mut on_event)
        .await
        .expect_err("the fake's CA is unknown");
    assert_eq!(e.kind, UpstreamErrorKind::Connect);

    std::env::set_var("SSL_CERT_FILE", fake.ca_pem_path().expect("CA"));
    let trusting = OpenRouterClient::new(route).expect("client");
    std::env::remove_var("SSL_CERT_FILE");
    let out = trusting
        .chat("sk-or-v1-x", &req, &mut on_event)
        .await
        .expect("trusted through SSL_CERT_FILE");
    assert_eq!(out.content, "echo: ping");
}

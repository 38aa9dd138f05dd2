//! Transport tests against the fake OpenRouter: streaming and non-streaming success with
//! the recorded request, error mapping over real HTTP, retries (Retry-After, no retry after
//! output, 402), resets, stalls, truncation, malformed bodies, the side endpoints, and a
//! verified route over real TLS (ca_file + resolve pin).

use std::time::{Duration, Instant};

use ferry_config::ThinkingLevel;
use ferry_fake_openrouter::{FakeOpenRouter, FakeToolCall, Gate, Reply};
use ferry_openrouter::{
    chat_with_retries, shape, Attempt, ChatOutcome, ChatRequest, OpenRouterClient, RetryPolicy,
    StreamEvent, UpstreamError, UpstreamErrorKind,
};
use serde_json::json;

mod support;

use support::{client_for, fast_policy, request, route_from};

const KEY: &str = "sk-or-v1-transport-test-key";

async fn chat(
    client: &OpenRouterClient,
    req: &ChatRequest,
) -> (Vec<StreamEvent>, Result<ChatOutcome, UpstreamError>) {
    let mut events = Vec::new();
    let mut on_event = |e: StreamEvent| events.push(e);
    let result = client.chat(KEY, req, &mut on_event).await;
    (events, result)
}

async fn chat_retrying(
    client: &OpenRouterClient,
    req: &ChatRequest,
    policy: &RetryPolicy,
) -> (
    Vec<StreamEvent>,
    Vec<Attempt>,
    Result<ChatOutcome, UpstreamError>,
) {
    let mut events = Vec::new();
    let mut attempts = Vec::new();
    let mut on_event = |e: StreamEvent| events.push(e);
    let result =
        chat_with_retries(client, KEY, req, None, policy, &mut on_event, &mut attempts).await;
    (events, attempts, result)
}

/// How many of `events` are output (billing facts such as the generation id are not).
fn outputs(events: &[StreamEvent]) -> usize {
    events.iter().filter(|e| e.is_output()).count()
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn streaming_success_with_recorded_request() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    fake.push(
        Reply::text("Hello brave new world")
            .with_reasoning("thinking it over")
            .with_usage(12, 4, 0.00042)
            .with_model_served("openai/gpt-5.4-mini-2026")
            .with_header("X-OpenRouter-Cache-Status", "MISS"),
    );
    let client = client_for(&fake, "");
    assert!(!client.is_verified());
    let req = request(true);
    let (events, out) = chat(&client, &req).await;
    let out = out.expect("success");

    assert!(
        events.len() >= 3,
        "content arrives in several deltas: {events:?}"
    );
    let first_text = events
        .iter()
        .position(|e| matches!(e, StreamEvent::Text(_)));
    let last_reasoning = events
        .iter()
        .rposition(|e| matches!(e, StreamEvent::Reasoning(_)));
    assert!(last_reasoning < first_text, "reasoning before content");
    assert_eq!(text_of(&events), "Hello brave new world");
    assert_eq!(out.content, "Hello brave new world");
    assert_eq!(out.reasoning.as_deref(), Some("thinking it over"));
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert_eq!(out.cost, Some(0.00042));
    assert_eq!(out.usage.as_ref().unwrap().prompt_tokens(), Some(12));
    assert_eq!(out.model.as_deref(), Some("openai/gpt-5.4-mini-2026"));
    assert_eq!(out.cache_status.as_deref(), Some("MISS"));
    assert!(out.generation_id.as_deref().unwrap().starts_with("gen-"));
    // Billing facts come before any output, so a call cut short can still be looked up.
    let gen = StreamEvent::Generation(out.generation_id.clone().unwrap());
    let first_output = events.iter().position(StreamEvent::is_output).unwrap();
    assert!(events[..first_output].contains(&gen), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::Usage(u) if u.cost() == Some(0.00042))),
        "{events:?}"
    );
    assert_eq!(
        out.message,
        json!({"role": "assistant", "content": "Hello brave new world", "reasoning": "thinking it over",
            "reasoning_details": [{"type": "reasoning.text", "text": "thinking it over", "format": "unknown", "index": 0}]}),
        "streamed reasoning_details fragments are merged"
    );

    let sent = fake.chat_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        sent[0].body.as_ref(),
        Some(&shape::build_body(&req, false).unwrap())
    );
    assert_eq!(
        sent[0].header("x-openrouter-title"),
        None,
        "custom base_url: no attribution"
    );
    assert_eq!(sent[0].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn non_streaming_success_and_tool_calls() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("plain answer").with_usage(3, 2, 0.01));
    fake.push(Reply::tool_calls(vec![FakeToolCall {
        id: "call_1".into(),
        name: "generate_image".into(),
        arguments: r#"{"prompt":"a red fox in the snow"}"#.into(),
    }]));
    let client = client_for(&fake, "");

    let (events, out) = chat(&client, &request(false)).await;
    let out = out.expect("success");
    assert!(events.is_empty(), "non-streaming replies emit no events");
    assert_eq!(out.content, "plain answer");
    assert_eq!(out.cost, Some(0.01));
    assert!(out.generation_id.is_some());

    let (_, out) = chat(&client, &request(false)).await;
    let out = out.expect("success");
    assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(out.tool_calls.len(), 1);
    assert_eq!(out.tool_calls[0].id, "call_1");
    assert_eq!(out.tool_calls[0].name, "generate_image");
    assert_eq!(
        out.tool_calls[0].arguments,
        r#"{"prompt":"a red fox in the snow"}"#
    );
    assert_eq!(
        out.message["tool_calls"][0]["function"]["name"],
        "generate_image"
    );
}

#[tokio::test]
async fn streamed_tool_calls_accumulate() {
    let fake = FakeOpenRouter::start();
    let calls = vec![
        FakeToolCall {
            id: "call_a".into(),
            name: "generate_image".into(),
            arguments: r#"{"prompt":"a lighthouse at dusk, oil painting"}"#.into(),
        },
        FakeToolCall {
            id: "call_b".into(),
            name: "emit_output".into(),
            arguments: r#"{"content":"done","include_artifacts_inline":true}"#.into(),
        },
    ];
    fake.push(Reply::tool_calls(calls.clone()));
    let client = client_for(&fake, "");
    let (events, out) = chat(&client, &request(true)).await;
    let out = out.expect("success");
    assert!(events
        .iter()
        .filter(|e| e.is_output())
        .all(|e| matches!(e, StreamEvent::ToolCallDelta { .. })));
    let deltas_for_a = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { index: 0, .. }))
        .count();
    assert!(deltas_for_a >= 2, "arguments split across chunks");
    assert_eq!(out.tool_calls.len(), 2);
    for (got, want) in out.tool_calls.iter().zip(&calls) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.name, want.name);
        assert_eq!(got.arguments, want.arguments);
    }
    assert_eq!(out.content, "");
}

#[tokio::test]
async fn reasoning_only_stream_is_success() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::reasoning_only("just thoughts, no answer"));
    let client = client_for(&fake, "");
    let (events, out) = chat(&client, &request(true)).await;
    let out = out.expect("reasoning-only is a success");
    assert_eq!(out.content, "");
    assert_eq!(out.reasoning.as_deref(), Some("just thoughts, no answer"));
    assert!(events
        .iter()
        .filter(|e| e.is_output())
        .all(|e| matches!(e, StreamEvent::Reasoning(_))));
}

#[tokio::test]
async fn http_errors_map_to_kinds_and_never_leak_the_key() {
    let fake = FakeOpenRouter::start();
    let client = client_for(&fake, "");
    let cases = [
        (400, UpstreamErrorKind::BadRequest),
        (401, UpstreamErrorKind::Unauthorized),
        (402, UpstreamErrorKind::InsufficientCredits),
        (403, UpstreamErrorKind::Forbidden),
        (404, UpstreamErrorKind::ModelNotFound),
        (408, UpstreamErrorKind::Timeout),
        (413, UpstreamErrorKind::TooLarge),
        (422, UpstreamErrorKind::BadRequest),
        (429, UpstreamErrorKind::RateLimited),
        (500, UpstreamErrorKind::Unavailable),
        (502, UpstreamErrorKind::Unavailable),
        (503, UpstreamErrorKind::Unavailable),
        (524, UpstreamErrorKind::Timeout),
        (529, UpstreamErrorKind::Unavailable),
    ];
    for (status, kind) in cases {
        for stream in [true, false] {
            fake.push(Reply::error(
                status,
                format!("failure {status} for key {KEY}"),
            ));
            let (events, out) = chat(&client, &request(stream)).await;
            let e = out.expect_err("error reply");
            assert!(events.is_empty());
            assert_eq!(e.kind, kind, "status {status}");
            assert_eq!(e.status, Some(status));
            assert!(
                e.message.contains(&format!("failure {status}")),
                "{}",
                e.message
            );
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(KEY), "key leaked for {status}: {shown}");
        }
    }
}

#[tokio::test]
async fn wrong_key_is_unauthorized() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key("sk-or-v1-the-right-one");
    let client = client_for(&fake, "");
    let (_, out) = chat(&client, &request(true)).await;
    let e = out.expect_err("401");
    assert_eq!(e.kind, UpstreamErrorKind::Unauthorized);
    assert_eq!(e.code(), "upstream_unauthorized");
    assert!(e.message.contains("ferry secrets set"));
}

#[tokio::test]
async fn retries_honour_retry_after() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::error(429, "Rate limit exceeded").retry_after(1));
    fake.push(Reply::text("after the wait"));
    let client = client_for(&fake, "");
    let started = Instant::now();
    let (_, attempts, out) = chat_retrying(&client, &request(true), &fast_policy()).await;
    assert_eq!(
        out.expect("second attempt succeeds").content,
        "after the wait"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status, Some(429));
    assert_eq!(
        attempts[0].error_code.as_deref(),
        Some("upstream_rate_limited")
    );
    assert_eq!(attempts[1].status, Some(200));
    assert_eq!(fake.chat_requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_exhausts_retries_then_advances_fallback() {
    let fake = FakeOpenRouter::start();
    for _ in 0..3 {
        fake.push(Reply::error(429, "Rate limit exceeded"));
    }
    let client = client_for(&fake, "");
    let (_, attempts, out) = chat_retrying(&client, &request(false), &fast_policy()).await;
    let e = out.expect_err("still limited");
    assert_eq!(attempts.len(), 3);
    assert!(e.message.contains("retried 2 times"), "{}", e.message);
    assert!(e.advances_fallback());
    assert_eq!(e.problem_status(), 429);
}

#[tokio::test]
async fn payment_required_is_not_retried() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::error(402, "Insufficient credits"));
    fake.push(Reply::text("must not be reached"));
    let client = client_for(&fake, "");
    let (_, attempts, out) = chat_retrying(&client, &request(true), &fast_policy()).await;
    let e = out.expect_err("402");
    assert_eq!(e.kind, UpstreamErrorKind::InsufficientCredits);
    assert!(!e.advances_fallback());
    assert_eq!(attempts.len(), 1);
    assert_eq!(fake.chat_requests().len(), 1);
}

#[tokio::test]
async fn no_retry_after_output_started() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::mid_stream_error(2, 502, "Provider disconnected"));
    fake.push(Reply::text("must not be reached"));
    let client = client_for(&fake, "");
    let (events, attempts, out) = chat_retrying(&client, &request(true), &fast_policy()).await;
    let e = out.expect_err("mid-stream error");
    assert_eq!(e.kind, UpstreamErrorKind::Stream);
    assert!(e.output_started);
    assert!(e.message.contains("Provider disconnected"));
    assert!(!e.advances_fallback());
    assert_eq!(outputs(&events), 2);
    assert_eq!(attempts.len(), 1);
    assert_eq!(fake.chat_requests().len(), 1);
}

#[tokio::test]
async fn mid_stream_error_before_output_advances_fallback() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::mid_stream_error(
        0,
        "server_error",
        "overloaded upstream",
    ));
    let client = client_for(&fake, "");
    let (events, out) = chat(&client, &request(true)).await;
    let e = out.expect_err("error chunk");
    assert_eq!(outputs(&events), 0);
    assert_eq!(e.upstream_code.as_deref(), Some("server_error"));
    assert!(!e.output_started);
    assert!(e.advances_fallback());
}

#[tokio::test]
async fn choices_error_is_reported() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::choices_error(502, "upstream provider crashed"));
    fake.push(Reply::choices_error(502, "upstream provider crashed"));
    let client = client_for(&fake, "");
    for stream in [true, false] {
        let (_, out) = chat(&client, &request(stream)).await;
        let e = out.expect_err("choices error");
        assert_eq!(e.kind, UpstreamErrorKind::ChoiceError, "stream {stream}");
        assert!(e.message.contains("upstream provider crashed"));
        assert!(e.advances_fallback());
    }
}

#[tokio::test]
async fn reset_is_a_retryable_connect_error() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::reset());
    let client = client_for(&fake, "");
    let (_, out) = chat(&client, &request(true)).await;
    let e = out.expect_err("reset");
    assert_eq!(e.kind, UpstreamErrorKind::Connect, "{e:?}");
    assert!(e.is_retryable());

    fake.push(Reply::reset());
    fake.push(Reply::text("second try"));
    let (_, attempts, out) = chat_retrying(&client, &request(true), &fast_policy()).await;
    assert_eq!(out.expect("retried").content, "second try");
    assert_eq!(
        attempts[0].error_code.as_deref(),
        Some("upstream_connect_failed")
    );
    assert_eq!(attempts[0].status, None);
}

#[tokio::test]
async fn stall_mid_stream_times_out_within_bounds() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::stall_after(1, Duration::from_secs(10)));
    let client = client_for(&fake, "timeout_ms = 400");
    let started = Instant::now();
    let (events, out) = chat(&client, &request(true)).await;
    let e = out.expect_err("stall");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by timeout_ms"
    );
    assert_eq!(e.kind, UpstreamErrorKind::Timeout, "{e:?}");
    assert_eq!(outputs(&events), 1);
    assert!(e.output_started);
    assert!(!e.is_retryable());
    assert_eq!(e.problem_status(), 504);
}

#[tokio::test]
async fn no_first_byte_times_out_and_is_retryable() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("too late").first_byte_delay(Duration::from_secs(10)));
    let client = client_for(&fake, "timeout_ms = 300");
    let started = Instant::now();
    let (_, out) = chat(&client, &request(false)).await;
    let e = out.expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.kind, UpstreamErrorKind::Timeout, "{e:?}");
    assert!(!e.output_started);
    assert!(e.is_retryable());
}

#[tokio::test]
async fn truncated_stream_is_a_stream_error() {
    let fake = FakeOpenRouter::start();
    // Frames are spaced so the client has read them before the abort: an abort may be an
    // RST, which discards data the client has not read yet.
    fake.push(Reply::truncated(2).chunk_delay(Duration::from_millis(40)));
    let client = client_for(&fake, "");
    let (events, out) = chat(&client, &request(true)).await;
    let e = out.expect_err("truncated");
    assert_eq!(e.kind, UpstreamErrorKind::Stream, "{e:?}");
    assert!(e.message.contains("stream truncated"), "{}", e.message);
    assert_eq!(outputs(&events), 2);
    assert!(e.output_started);
}

#[tokio::test]
async fn malformed_bodies_are_protocol_errors() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::malformed());
    fake.push(Reply::malformed());
    let client = client_for(&fake, "");
    for stream in [true, false] {
        let (_, out) = chat(&client, &request(stream)).await;
        let e = out.expect_err("malformed");
        assert_eq!(
            e.kind,
            UpstreamErrorKind::Protocol,
            "stream {stream}: {e:?}"
        );
        assert_eq!(e.code(), "upstream_protocol_error");
    }
}

#[tokio::test]
async fn dropping_the_future_abandons_the_request() {
    let fake = FakeOpenRouter::start();
    let gate = Gate::new();
    fake.push(Reply::gated(
        gate.clone(),
        Reply::text("one two three four"),
    ));
    let client = client_for(&fake, "");
    let req = request(true);
    let mut events = Vec::new();
    let mut on_event = |e: StreamEvent| events.push(e);
    let outcome = tokio::time::timeout(
        Duration::from_millis(300),
        client.chat(KEY, &req, &mut on_event),
    )
    .await;
    assert!(outcome.is_err(), "the gated reply cannot finish");
    assert_eq!(
        outputs(&events),
        1,
        "the first chunk arrived before the gate"
    );
    gate.open();
    let (_, out) = chat(&client, &request(true)).await;
    assert!(out
        .expect("client still usable")
        .content
        .starts_with("echo: "));
}

#[tokio::test]
async fn side_endpoints() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    fake.set_key_info(json!({"label": "test key", "limit": 10, "usage": 1.5}));
    let client = client_for(&fake, "");

    let models = client.list_models(KEY).await.expect("models");
    let data = models["data"].as_array().expect("data array");
    assert!(data
        .iter()
        .any(|m| m["architecture"]["output_modalities"] == json!(["image"])));
    let sent = fake.requests();
    let models_req = sent.last().unwrap();
    assert_eq!(models_req.path, "/api/v1/models");
    assert_eq!(models_req.query.as_deref(), Some("output_modalities=all"));

    let key = client.key_info(KEY).await.expect("key");
    assert_eq!(key["data"]["label"], "test key");

    let (_, out) = chat(&client, &request(false)).await;
    let id = out.expect("chat").generation_id.expect("generation id");
    let generation = client.generation(KEY, &id).await.expect("lookup");
    assert!(generation.is_some());
    assert_eq!(
        client.generation(KEY, "gen-unknown").await.expect("lookup"),
        None
    );

    let e = client.key_info("sk-or-v1-wrong").await.expect_err("401");
    assert_eq!(e.kind, UpstreamErrorKind::Unauthorized);
    assert!(!format!("{e:?}").contains("sk-or-v1-wrong"));
}

/// Forwards every TCP connection on `listener` to `target` (stands in for port 443).
async fn forward(listener: tokio::net::TcpListener, target: std::net::SocketAddr) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// A loopback address on port 443 forwarding to the fake. A process that may not bind
/// port 443 fails the test with the reason (CI runs as root).
async fn port_443_forwarder(fake: &FakeOpenRouter) -> std::net::IpAddr {
    let pid = std::process::id();
    let ip = std::net::Ipv4Addr::new(127, 91, (pid >> 8) as u8, (pid as u8).max(2));
    let listener = tokio::net::TcpListener::bind((ip, 443))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "this test needs to bind {ip}:443 ({e}): run it as root or with CAP_NET_BIND_SERVICE (CI runs as root)"
            )
        });
    tokio::spawn(forward(listener, fake.addr()));
    ip.into()
}

#[tokio::test]
async fn verified_route_over_real_tls_with_ca_file_and_resolve_pin() {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    let ip = port_443_forwarder(&fake).await;
    let ca = fake
        .ca_pem_path()
        .expect("TLS fake has a CA")
        .display()
        .to_string();
    let route = route_from(&format!(
        r#"
[routes.r.attribution]
referer = "https://example.org/app"
categories = ["cli-agent"]

[routes.r.network]
ca_file = "{ca}"
resolve = ["openrouter.ai:443:{ip}"]

[routes.r.models."anthropic/claude-sonnet-4-5".params]
cache_control_ttl = "1h"
response_cache = true
response_cache_ttl_seconds = 999999
"#
    ));
    let model_params = route.models["anthropic/claude-sonnet-4-5"].params.clone();
    let client = OpenRouterClient::new(&route).expect("client");
    assert!(client.is_verified());
    assert_eq!(client.base_url().as_str(), "https://openrouter.ai/api/v1");

    let req = ChatRequest {
        model: "anthropic/claude-sonnet-4-5".into(),
        messages: vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "user", "content": "hi"}),
            json!({"role": "assistant", "content": "Sure,"}),
        ]
        .into(),
        stream: true,
        params: model_params,
        thinking: Some(ThinkingLevel::Medium),
        ..ChatRequest::default()
    };
    let (_, out) = chat(&client, &req).await;
    assert_eq!(out.expect("TLS chat").content, "echo: hi");

    let sent = fake.chat_requests();
    let sent = sent.last().expect("one request");
    assert_eq!(sent.header("host"), Some("openrouter.ai"));
    assert_eq!(sent.header("x-openrouter-title"), Some("ferry"));
    assert_eq!(sent.header("http-referer"), Some("https://example.org/app"));
    assert_eq!(sent.header("x-openrouter-categories"), Some("cli-agent"));
    assert_eq!(sent.header("x-openrouter-cache"), Some("true"));
    assert_eq!(sent.header("x-openrouter-cache-ttl"), Some("86400"));
    let body = sent.body.as_ref().expect("json body");
    assert_eq!(body, &shape::build_body(&req, true).unwrap());
    assert_eq!(body["reasoning"], json!({"effort": "medium"}));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": "hi"}
        ])
    );

    // Without the extra CA the fake's certificate is not trusted.
    let untrusted = route_from(&format!(
        "[routes.r.network]\nresolve = [\"openrouter.ai:443:{ip}\"]\n"
    ));
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        let client = OpenRouterClient::new(&untrusted).expect("client");
        let (_, out) = chat(&client, &request(true)).await;
        assert_eq!(
            out.expect_err("untrusted cert").kind,
            UpstreamErrorKind::Connect
        );
    }
}

#[tokio::test]
async fn tls_with_ca_file_and_pin_on_a_custom_port() {
    // Works without privileges: the base_url names the fake's port, so the route is a
    // custom (unverified) one, but TLS, the extra CA and the host pin are all exercised.
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    let port = fake.addr().port();
    let ca = fake.ca_pem_path().expect("CA").display().to_string();
    let route = route_from(&format!(
        "base_url = \"https://openrouter.ai:{port}/api/v1\"\n[routes.r.network]\nca_file = \"{ca}\"\nresolve = [\"openrouter.ai:{port}:127.0.0.1\"]\n"
    ));
    let client = OpenRouterClient::new(&route).expect("client");
    assert!(!client.is_verified());
    let (_, out) = chat(&client, &request(true)).await;
    assert_eq!(out.expect("TLS chat").content, "echo: Say hello");
    let sent = fake.chat_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-openrouter-title"), None);
}

#[tokio::test]
async fn route_proxy_is_used() {
    // The fake stands in for an HTTP proxy: the request for an unresolvable host reaches it
    // only through the route's proxy setting.
    let fake = FakeOpenRouter::start();
    let route = route_from(&format!(
        "base_url = \"http://upstream.invalid/api/v1\"\n[routes.r.network]\nproxy = \"http://{}\"\n",
        fake.addr()
    ));
    let client = OpenRouterClient::new(&route).expect("client");
    let (_, out) = chat(&client, &request(false)).await;
    assert_eq!(out.expect("via proxy").content, "echo: Say hello");
    let sent = fake.chat_requests();
    assert_eq!(sent[0].header("host"), Some("upstream.invalid"));
}

#[test]
fn missing_or_bad_ca_file_fails_client_construction() {
    let route = route_from("[routes.r.network]\nca_file = \"/nonexistent/ca.pem\"\n");
    let e = OpenRouterClient::new(&route).expect_err("missing CA");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let route = route_from(&format!(
        "[routes.r.network]\nca_file = \"{}\"\n",
        bad.display()
    ));
    let e = OpenRouterClient::new(&route).expect_err("bad CA");
    assert!(e.to_string().contains("no usable PEM certificate"), "{e}");
}

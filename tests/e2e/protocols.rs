//! Issue 10: the client protocols of spec §13 — the official `openai` and `anthropic`
//! Python packages against a real daemon (Responses, embeddings, images, audio,
//! models.retrieve, Anthropic Messages, count_tokens), what reached the fake upstream,
//! protocol-correct stream endings after output, errors in each protocol's shape, the
//! retry contract, and `x-api-key` on `/anthropic`.

use std::time::Duration;

use base64::Engine as _;
use ferry_fake_openrouter::FakeToolCall;
use serde_json::{json, Value};

use crate::support::*;

fn rig_with(serve_args: &[&str]) -> Rig {
    Rig::with(RigOptions {
        serve_args,
        ..RigOptions::default()
    })
}

fn png_data_url() -> String {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(PNG)
    )
}

fn call(id: &str, city: &str) -> Vec<FakeToolCall> {
    vec![FakeToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: format!(r#"{{"city":"{city}"}}"#),
    }]
}

fn bodies_for(reqs: &[RecordedRequest], model: &str) -> Vec<Value> {
    reqs.iter()
        .filter_map(|r| r.body.clone())
        .filter(|b| b["model"] == model)
        .collect()
}

use ferry_fake_openrouter::RecordedRequest;

#[test]
fn python_clients_speak_every_protocol() {
    let python = python3();
    let r = rig_with(&[]);
    let f = &r.fake;
    f.push_for_model(
        "test/resp-tools",
        Reply::tool_calls(call("call_1", "Paris")),
    );
    f.push_for_model(
        "test/resp-tools-stream",
        Reply::tool_calls(call("call_2", "Oslo")),
    );
    f.push_for_model(
        "test/claude-tools",
        Reply::tool_calls(call("toolu_1", "Paris")),
    );
    f.push_for_model("test/claude-tools", Reply::text("It is sunny in Paris."));
    for model in [
        "test/limited-responses",
        "test/limited-embeddings",
        "test/limited-chat",
        "test/limited-messages",
    ] {
        for _ in 0..3 {
            f.push_for_model(
                model,
                Reply::error(429, "Rate limit exceeded").retry_after(1),
            );
        }
    }
    for _ in 0..2 {
        f.push_for_model(
            "google/gemini-3.1-flash-image-preview",
            Reply::images(vec![png_data_url()]),
        );
    }
    let so = run_python_client_test(python, "test_protocols.py", "openai, anthropic", &r.d);
    assert!(so.contains("14 passed, 0 failed"), "{so}");

    // Every upstream request carries ferry's key, never the client's.
    for req in f.requests() {
        if req.path.starts_with("/api/v1/") && req.path != "/api/v1/models" {
            assert_eq!(
                req.header("authorization"),
                Some(format!("Bearer {API_KEY}").as_str()),
                "{}",
                req.path
            );
        }
    }

    // Responses: the route prefix stripped, the client's fields intact, OpenAI-only ones dropped.
    let responses = f.requests_to("/responses");
    let first = &bodies_for(&responses, "openai/gpt-5.4-mini")[0];
    assert_eq!(first["input"], "hello responses");
    assert_eq!(first["include"], json!(["reasoning.encrypted_content"]));
    for dropped in ["store", "prompt_cache_key", "service_tier"] {
        assert!(first.get(dropped).is_none(), "{dropped} forwarded: {first}");
    }
    let tools = &bodies_for(&responses, "test/resp-tools")[0];
    assert_eq!(tools["tools"][0]["name"], "get_weather");
    assert_eq!(
        bodies_for(&responses, "test/resp-tools-stream")[0]["stream"],
        true
    );

    // Messages: cache_control blocks, tools, the tool_result turn and the Anthropic headers.
    let messages = f.requests_to("/messages");
    let hello = messages
        .iter()
        .find(|m| {
            m.body.as_ref().is_some_and(|b| {
                b["model"] == "anthropic/claude-sonnet-4-5" && b.get("system").is_some()
            })
        })
        .expect("the create call");
    let body = hello.body.clone().unwrap();
    assert_eq!(
        body["system"][0]["cache_control"],
        json!({"type": "ephemeral", "ttl": "1h"})
    );
    assert_eq!(
        body["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(body["max_tokens"], 200);
    assert_eq!(
        hello.header("anthropic-beta"),
        Some("extended-cache-ttl-2025-04-11")
    );
    assert!(
        hello.header("anthropic-version").is_some(),
        "anthropic-version not forwarded"
    );
    let round_trip = bodies_for(&messages, "test/claude-tools");
    assert_eq!(round_trip.len(), 2);
    assert_eq!(
        round_trip[0]["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    let turn = &round_trip[1]["messages"];
    assert_eq!(turn[1]["content"][0]["type"], "tool_use");
    assert_eq!(turn[1]["content"][0]["input"], json!({"city": "Paris"}));
    assert_eq!(
        turn[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"})
    );

    // The retry contract: ferry's 3 attempts per call, and the SDKs (2 retries by default)
    // did not multiply them.
    for (path, model) in [
        ("/responses", "test/limited-responses"),
        ("/embeddings", "test/limited-embeddings"),
        ("/chat/completions", "test/limited-chat"),
        ("/messages", "test/limited-messages"),
    ] {
        let n = bodies_for(&f.requests_to(path), model).len();
        assert_eq!(n, 3, "{model}: {n} upstream requests");
    }

    let embeddings = f.requests_to("/embeddings");
    assert_eq!(
        bodies_for(&embeddings, "openai/text-embedding-3-small")[0]["input"],
        json!(["alpha", "beta"])
    );
    assert_eq!(
        f.requests_to("/audio/speech").len(),
        2,
        "opus must be refused before upstream"
    );
    assert!(!f.requests_to("/audio/transcriptions").is_empty());
}

/// A raw POST; returns status, headers (lowercase names) and body text.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, String) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http(port, "POST", path, &all, Some(&body.to_string())).expect("http")
}

fn messages_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn broken_streams_end_with_the_protocols_own_error_event() {
    let r = rig_with(&[]);
    let port = r.d.port;
    // Anthropic: upstream's own error event is forwarded once; exactly one message_start.
    r.fake.push_for_model(
        "t/mid",
        Reply::mid_stream_error(2, 502, "Provider disconnected"),
    );
    let (status, text) = post(
        port,
        "/anthropic/v1/messages",
        &[],
        &messages_body("t/mid", true),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(text.matches("event: message_start").count(), 1, "{text}");
    assert_eq!(text.matches("event: error").count(), 1, "{text}");
    assert!(text.contains("Provider disconnected"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");

    // Anthropic: a connection cut after output gets ferry's error event.
    r.fake.push_for_model("t/cut", Reply::truncated(2));
    let (_, text) = post(
        port,
        "/anthropic/v1/messages",
        &[],
        &messages_body("t/cut", true),
    );
    assert!(text.contains("content_block_delta"), "{text}");
    assert_eq!(text.matches("event: error").count(), 1, "{text}");
    assert!(
        text.contains("\"type\":\"api_error\"") || text.contains("\"type\":\"error\""),
        "{text}"
    );

    // Responses: upstream's response.failed is forwarded once; a cut stream gets ferry's.
    let ask = |model: &str| json!({"model": model, "input": "hi", "stream": true});
    r.fake.push_for_model(
        "t/mid-r",
        Reply::mid_stream_error(2, 502, "Provider disconnected"),
    );
    let (_, text) = post(port, "/openai/v1/responses", &[], &ask("t/mid-r"));
    assert!(text.contains("response.output_text.delta"), "{text}");
    assert_eq!(text.matches("event: response.failed").count(), 1, "{text}");
    assert!(!text.contains("response.completed"), "{text}");
    r.fake.push_for_model("t/cut-r", Reply::truncated(2));
    let (_, text) = post(port, "/openai/v1/responses", &[], &ask("t/cut-r"));
    assert!(text.trim_end().ends_with('}'), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: response.failed"), "{last}");

    // Chat: a malformed chunk after output ends with an OpenAI error event, then [DONE].
    r.fake.push_for_model("t/bad", Reply::malformed_after(2));
    let (_, text) = post(
        port,
        "/openai/v1/chat/completions",
        &[],
        &json!({"model": "t/bad", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    );
    assert!(text.contains("\"error\""), "{text}");
    assert!(text.contains("upstream_protocol_error"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        r.d.log()
            .contains("facade stream failed after output started"),
        "{}",
        r.d.log()
    );
}

#[test]
fn errors_before_output_use_each_protocols_shape() {
    let r = rig_with(&[]);
    let port = r.d.port;
    let (status, text) = post(
        port,
        "/anthropic/v1/messages",
        &[],
        &json!({"max_tokens": 5, "messages": []}),
    );
    assert_eq!(status, 400, "{text}");
    let v = json(&text);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model is required"),
        "{v}"
    );

    r.fake.push_for_model(
        "t/gone",
        Reply::error(404, "No endpoints found for t/gone."),
    );
    let (status, text) = post(
        port,
        "/anthropic/v1/messages",
        &[],
        &messages_body("t/gone", true),
    );
    assert_eq!(status, 404, "{text}");
    assert_eq!(json(&text)["error"]["type"], "not_found_error");

    let (status, text) = post(port, "/openai/v1/responses", &[], &json!({"model": "m"}));
    assert_eq!(status, 400, "{text}");
    let v = json(&text);
    assert_eq!(v["error"]["code"], "invalid_input", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");

    let (status, text) = http(port, "GET", "/anthropic/v1/nothing", &[], None).unwrap();
    assert_eq!(status, 404);
    assert_eq!(json(&text)["type"], "error", "{text}");

    // A 429 that outlived ferry's retries: the retry contract's headers.
    for _ in 0..3 {
        r.fake.push_for_model(
            "t/busy",
            Reply::error(429, "Rate limit exceeded").retry_after(1),
        );
    }
    let resp = http_bytes(
        port,
        "POST",
        "/anthropic/v1/messages",
        &[("content-type", "application/json")],
        messages_body("t/busy", false).to_string().as_bytes(),
    );
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("x-should-retry"), Some("false"));
    assert_eq!(resp.header("retry-after"), Some("1"));
    assert_eq!(resp.json()["error"]["type"], "rate_limit_error");

    // count_tokens never breaks a client: a documented estimate.
    let (status, text) = post(
        port,
        "/anthropic/v1/messages/count_tokens",
        &[],
        &json!({"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": "abcdefgh"}]}),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text), json!({"input_tokens": 2 + 3}));
    assert!(r.fake.requests_to("/messages/count_tokens").is_empty());
    // A message cut mid-character by a JavaScript client (a lone surrogate escape) is
    // still counted, from its text.
    let resp = http_bytes(
        port,
        "POST",
        "/anthropic/v1/messages/count_tokens",
        &[("content-type", "application/json")],
        br#"{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"cut \ud83d"}]}"#,
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert!(resp.json()["input_tokens"].as_u64().unwrap() > 1);
    // messages of another type is named as such, not as missing.
    let (status, text) = post(
        port,
        "/anthropic/v1/messages/count_tokens",
        &[],
        &json!({"model": "anthropic/claude-sonnet-4-5", "messages": "hi"}),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("messages must be an array"), "{text}");
}

#[test]
fn anthropic_facade_accepts_x_api_key() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    env.write_routes(&default_routes(&fake.base_url(), ""));
    env.store_key_offline();
    let token_file = env.root().join("token");
    std::fs::write(&token_file, "ferry-operator-token-0123456789").unwrap();
    let d = env.serve_with(&["--token-file", token_file.to_str().unwrap()], |_| {});
    let body = messages_body("anthropic/claude-sonnet-4-5", false);
    let (status, text) = post(
        d.port,
        "/anthropic/v1/messages",
        &[("x-api-key", "ferry-operator-token-0123456789")],
        &body,
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["content"][0]["text"], "echo: hi");
    let (status, text) = post(
        d.port,
        "/anthropic/v1/messages",
        &[("x-api-key", "wrong")],
        &body,
    );
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        json(&text)["error"]["type"],
        "authentication_error",
        "{text}"
    );
    let chat =
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "x"}]});
    let (status, _) = post(
        d.port,
        "/openai/v1/chat/completions",
        &[("x-api-key", "ferry-operator-token-0123456789")],
        &chat,
    );
    assert_eq!(status, 401, "x-api-key is accepted on /anthropic only");
    // The key reached upstream as ferry's, and the client's credential did not.
    let sent = fake.requests_to("/messages");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].header("x-api-key").is_none());
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

#[test]
fn recorded_runs_cover_every_protocol() {
    let r = rig_with(&["--record-facade-runs"]);
    let port = r.d.port;
    let (status, _) = post(
        port,
        "/anthropic/v1/messages",
        &[("x-ferry-session", "claude")],
        &messages_body("anthropic/claude-sonnet-4-5", true),
    );
    assert_eq!(status, 200);
    let (status, _) = post(
        port,
        "/openai/v1/embeddings",
        &[("x-ferry-session", "claude")],
        &json!({"model": "openai/text-embedding-3-small", "input": "x"}),
    );
    assert_eq!(status, 200);
    let resp = http_bytes(
        port,
        "POST",
        "/openai/v1/audio/speech",
        &[
            ("content-type", "application/json"),
            ("x-ferry-session", "claude"),
        ],
        json!({"input": "A fox.", "voice": "af_alloy"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(resp.status, 200);
    let runs = eventually(Duration::from_secs(10), || {
        let (_, text) = http_get(port, "/v1/sessions/claude/runs").ok()?;
        let v = json(&text);
        let runs = v["runs"].as_array()?.clone();
        (runs.len() == 3 && runs.iter().all(|r| r["status"] == "completed")).then_some(runs)
    });
    let costs: Vec<f64> = runs.iter().filter_map(|r| r["cost"].as_f64()).collect();
    assert!(costs.len() >= 2, "{runs:?}");
    let models: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["model_served"].as_str().or(r["model"].as_str()))
        .collect();
    assert!(models.contains(&"hexgrad/kokoro-82m"), "{runs:?}");
}

/// A streamed call of each protocol: chat, Responses, Messages (path and body).
fn streamed_calls() -> [(&'static str, Value); 3] {
    [
        (
            "/openai/v1/chat/completions",
            json!({"model": "openai/gpt-5.4-mini", "stream": true,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/openai/v1/responses",
            json!({"model": "openai/gpt-5.4-mini", "stream": true, "input": "hi"}),
        ),
        (
            "/anthropic/v1/messages",
            messages_body("anthropic/claude-sonnet-4-5", true),
        ),
    ]
}

/// A streamed reply ends for the client at its protocol's end, and what upstream sends
/// after it (a Responses stream's trailing `data: [DONE]`, the body's last chunk) is still
/// read, so ferry's connection to upstream is kept for the next call: every protocol's
/// streams, one after another, over the connection the first one opened.
#[test]
fn streamed_replies_leave_the_upstream_connection_open_for_the_next_call() {
    let r = rig_with(&[]);
    let port = r.d.port;
    for (path, body) in &streamed_calls() {
        // The first call opens the connection; the five after it must reuse it.
        let (status, text) = post(port, path, &[], body);
        assert_eq!(status, 200, "{path}: {text}");
        let opened = r.fake.connections();
        for _ in 0..5 {
            let (status, text) = post(port, path, &[], body);
            assert_eq!(status, 200, "{path}: {text}");
            assert!(
                text.contains("response.completed")
                    || text.contains("message_stop")
                    || text.contains("[DONE]"),
                "{path}: {text}"
            );
        }
        // The tail is read in the background after the client's stream ended, so the
        // next call can come before that connection is back in the pool (seen under CI
        // load): it then opens one more, and from then on always finds one of the two
        // idle. One connection per call is the bug; at most one more is the race.
        let more = r.fake.connections() - opened;
        assert!(
            more <= 1,
            "{path}: {more} new upstream connections over five streamed calls (each call opened one)"
        );
    }
}

/// A streamed reply's first token leaves in the response's first write, with its head
/// and the events before it: they are held until the first output, and a Responses
/// stream's events that only open an item or a part are not output yet (counted as
/// output, its first text went out in the third write, behind two events of its own).
/// Read off the daemon's socket writes, traced with strace, for a call of each protocol
/// over an upstream connection already open, on a daemon with one runtime thread.
#[test]
#[ignore = "needs strace (Debian's `strace`): .ci/run installs it and runs this test"]
fn a_streams_first_token_leaves_in_its_first_write() {
    let (_fake, env, mut d) = daemon_on_one_cpu();
    let calls = streamed_calls();
    for (path, body) in &calls {
        let (status, text) = post(d.port, path, &[], body);
        assert_eq!(status, 200, "warm-up {path}: {text}");
    }
    // The fake's first piece of text in each protocol (it echoes "echo: hi" in two).
    let tokens = [
        r#""content":"echo:"#,
        r#""delta":"echo:"#,
        r#""text":"echo:"#,
    ];
    let pid = d.child.as_ref().expect("the daemon").id();
    for (i, ((path, body), token)) in calls.iter().zip(tokens).enumerate() {
        let tracer = WriteTrace::attach(pid, &env.dir.path().join(format!("writes-{i}.trace")));
        let (status, text) = post(d.port, path, &[], body);
        let trace = tracer.finish();
        assert_eq!(status, 200, "{path}: {text}");
        assert!(
            text.contains(token),
            "{path}: no {token} in the stream: {text}"
        );
        let first = trace
            .lines()
            .find(|l| !l.contains("POST /api/v1/"))
            .unwrap_or_else(|| panic!("{path}: no write to the client:\n{trace}"));
        assert!(
            first.contains("HTTP/1.1 200 OK") && first.contains(&token.replace('"', "\\\"")),
            "{path}: the first write to the client lacks its head or the first token {token}:\n{trace}"
        );
    }
    assert_eq!(d.terminate(), Some(0), "{}", d.log());
}

/// What a client wrote reaches OpenRouter as written: each forwarded member of a
/// Responses, Messages or embeddings body, and a chat body's messages and tools (on a
/// model whose family needs no edits), appear byte for byte in the upstream body —
/// whitespace, escapes and number spellings included, which a JSON tree re-encoded would
/// change (`\u00e9` to `é`, `1.50` to `1.5`, `1e2` to `100.0`).
#[test]
fn client_bodies_reach_upstream_as_written() {
    let r = rig_with(&[]);
    let port = r.d.port;
    let messages = r#"[ {"role": "user", "content": [ {"type": "text", "text": "caf\u00e9 \/ \"q\"", "cache_control": {"type": "ephemeral"}} ] } ]"#;
    let tools = r#"[ {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "number", "maximum": 1e2}}}}} ]"#;
    let metadata = r#"{ "user_id" : "u\u0031", "weight": 1.50 }"#;
    let cases = [
        (
            "/anthropic/v1/messages",
            "/messages",
            format!(
                r#"{{ "model": "anthropic/claude-sonnet-4-5", "max_tokens" : 10, "temperature": 0.50,
                    "messages": {messages}, "metadata": {metadata}, "tools": [ {{"name": "f", "input_schema": {{"type": "object"}}}} ] }}"#
            ),
            vec![messages, metadata, "0.50"],
        ),
        (
            "/openai/v1/responses",
            "/responses",
            format!(
                r#"{{"model": "openai/gpt-5.4-mini", "input": {messages}, "metadata": {metadata}, "store": false}}"#
            ),
            vec![messages, metadata],
        ),
        (
            "/openai/v1/embeddings",
            "/embeddings",
            r#"{"model": "openai/text-embedding-3-small", "input": [ "caf\u00e9", "b" ], "dimensions" : 8}"#
                .to_owned(),
            vec![r#"[ "caf\u00e9", "b" ]"#],
        ),
        (
            "/openai/v1/chat/completions",
            "/chat/completions",
            format!(
                r#"{{"model": "openai/gpt-5.4-mini", "messages": {messages}, "tools": {tools}, "metadata": {metadata}}}"#
            ),
            vec![messages, tools],
        ),
    ];
    for (path, upstream, body, verbatim) in cases {
        let headers = [("content-type", "application/json")];
        let (status, text) = http(port, "POST", path, &headers, Some(&body)).expect("http");
        assert_eq!(status, 200, "{path}: {text}");
        let sent = r.fake.requests_to(upstream);
        let sent = String::from_utf8(sent.last().expect("forwarded").raw_body.clone()).unwrap();
        for piece in verbatim {
            assert!(
                sent.contains(piece),
                "{path}: {piece} not sent as written in {sent}"
            );
        }
        assert!(
            !sent.contains("\"store\""),
            "{path}: an OpenAI-only field was forwarded"
        );
        let sent: Value = serde_json::from_str(&sent).expect("the upstream body is JSON");
        assert!(
            sent["model"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {sent}"
        );
    }
}

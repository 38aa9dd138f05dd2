//! Issue 7: the OpenAI-compatible facade — the official `openai` Python package against a
//! real daemon, chunk-by-chunk streaming, OpenAI-style errors for upstream failures,
//! selectors, shaping and fallbacks, auth, recording as runs, and `/metrics`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ferry_fake_openrouter::{FakeToolCall, Gate};
use serde_json::{json, Value};

use crate::support::*;

fn rig_with(route_keys: &str, serve_args: &[&str]) -> Rig {
    Rig::with(RigOptions {
        route_keys,
        serve_args,
        ..RigOptions::default()
    })
}

impl Rig {
    fn post(&self, body: &Value) -> (u16, Value) {
        let (status, text) = http(
            self.d.port,
            "POST",
            "/openai/v1/chat/completions",
            &[],
            Some(&body.to_string()),
        )
        .expect("http");
        (status, json(&text))
    }
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// The `error` object of an OpenAI-style error body, checked for shape.
fn openai_error(body: &Value) -> &Value {
    let e = &body["error"];
    assert!(e["message"].is_string(), "no message: {body}");
    assert!(e["type"].is_string(), "no type: {body}");
    assert!(e["code"].is_string(), "no code: {body}");
    e
}

#[test]
fn openai_python_package_against_ferry() {
    let python = python3();
    let r = Rig::start();
    r.fake.push_for_model(
        "test/tools",
        Reply::tool_calls(vec![FakeToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        }]),
    );
    r.fake.push_for_model(
        "test/tools-stream",
        Reply::tool_calls(vec![FakeToolCall {
            id: "call_2".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Oslo"}"#.into(),
        }]),
    );
    r.fake.push_for_model(
        "test/missing",
        Reply::error(404, "No endpoints found for test/missing."),
    );
    r.fake
        .push_for_model("test/unauthorized", Reply::error(401, "User not found."));
    let so = run_python_client_test(
        python,
        "test_openai_client.py",
        "openai, prometheus_client",
        &r.d,
    );
    assert!(so.contains("7 passed, 0 failed"), "{so}");

    // What the SDK's calls became upstream: the route prefix stripped, ferry's key (never
    // the client's), tools forwarded.
    let sent = r.fake.chat_requests();
    assert!(sent.len() >= 6, "{}", sent.len());
    for req in &sent {
        assert_eq!(
            req.header("authorization").unwrap(),
            format!("Bearer {API_KEY}")
        );
    }
    let body = |model: &str| {
        sent.iter()
            .filter_map(|r| r.body.clone())
            .find(|b| b["model"] == model)
            .unwrap_or_else(|| panic!("no upstream request for {model}"))
    };
    assert_eq!(
        body("openai/gpt-5.4-mini")["messages"],
        user("hello from python")
    );
    let tools = body("test/tools");
    assert_eq!(tools["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(tools["tool_choice"], "auto");
    assert_eq!(tools["stream"], false);
    assert_eq!(body("test/tools-stream")["stream"], true);
}

/// Reads an HTTP/1.1 chunked response incrementally.
pub(crate) struct ChunkedReader {
    r: BufReader<TcpStream>,
    pub(crate) seen: String,
}

impl ChunkedReader {
    pub(crate) fn open(port: u16, body: &Value) -> (u16, String, ChunkedReader) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = body.to_string();
        write!(
            s,
            "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("response head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (
            status,
            head,
            ChunkedReader {
                r,
                seen: String::new(),
            },
        )
    }

    /// The next chunk of the body, `None` at its end.
    pub(crate) fn next_chunk(&mut self) -> Option<String> {
        let mut size = String::new();
        self.r
            .read_line(&mut size)
            .expect("no chunk arrived in time: the facade is buffering");
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        if n == 0 {
            return None;
        }
        let mut buf = vec![0; n + 2];
        self.r.read_exact(&mut buf).expect("chunk body");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        self.seen.push_str(&text);
        Some(text)
    }

    /// Reads until the body so far contains `needle`.
    pub(crate) fn until(&mut self, needle: &str) {
        while !self.seen.contains(needle) {
            self.next_chunk()
                .unwrap_or_else(|| panic!("stream ended before {needle:?}: {}", self.seen));
        }
    }

    pub(crate) fn rest(&mut self) -> String {
        while self.next_chunk().is_some() {}
        self.seen.clone()
    }
}

/// The `content` of every `data:` chunk, in order.
fn contents(sse: &str) -> Vec<String> {
    sse.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn streaming_forwards_the_first_chunk_before_upstream_finishes() {
    let r = Rig::start();
    let gate = Gate::new();
    r.fake.push(Reply::gated(
        gate.clone(),
        Reply::text("alpha beta gamma delta"),
    ));
    let (status, head, mut reader) = ChunkedReader::open(
        r.d.port,
        &json!({"model": "openrouter/openai/gpt-5.4-mini", "stream": true, "messages": user("go")}),
    );
    assert_eq!(status, 200, "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    // The fake holds everything after the first content chunk until the gate opens: the
    // first chunk can only arrive here if ferry forwarded it as it came.
    reader.until("alpha");
    assert!(!reader.seen.contains("beta"), "{}", reader.seen);
    assert!(!reader.seen.contains("[DONE]"));
    gate.open();
    let all = reader.rest();
    assert_eq!(contents(&all).concat(), "alpha beta gamma delta");
    assert!(all.trim_end().ends_with("data: [DONE]"), "{all}");
    assert_eq!(all.matches("[DONE]").count(), 1, "{all}");
}

#[test]
fn upstream_401_429_and_5xx_become_openai_errors() {
    let r = Rig::start();
    r.fake.push(Reply::error(401, "User not found."));
    let (status, body) = r.post(&json!({"model": "openai/gpt-5.4-mini", "messages": user("a")}));
    assert_eq!(status, 502, "{body}");
    let e = openai_error(&body);
    assert_eq!(e["code"], "upstream_unauthorized");
    assert_eq!(e["type"], "server_error");
    assert!(
        e["message"].as_str().unwrap().contains("ferry secrets set"),
        "{e}"
    );
    assert!(!body.to_string().contains(API_KEY));

    // 429 is retried twice, then reported as a rate limit.
    for _ in 0..3 {
        r.fake.push(Reply::error(429, "Rate limit exceeded"));
    }
    let (status, body) = r.post(&json!({"model": "openai/gpt-5.4-mini", "messages": user("b")}));
    assert_eq!(status, 429, "{body}");
    let e = openai_error(&body);
    assert_eq!(e["code"], "upstream_rate_limited");
    assert_eq!(e["type"], "rate_limit_error");
    assert!(
        e["message"].as_str().unwrap().contains("retried 2 times"),
        "{e}"
    );

    // 5xx on a streaming request: retried, then an ordinary HTTP error (nothing was
    // streamed yet).
    for _ in 0..3 {
        r.fake.push(Reply::error(502, "Provider returned error"));
    }
    let (status, text) = http(
        r.d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(
            &json!({"model": "openai/gpt-5.4-mini", "stream": true, "messages": user("c")})
                .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(status, 502, "{text}");
    let body = json(&text);
    assert_eq!(openai_error(&body)["code"], "upstream_unavailable");

    r.fake.push(Reply::error(503, "No provider available"));
    r.fake.push(Reply::error(503, "No provider available"));
    r.fake.push(Reply::error(503, "No provider available"));
    let (status, body) = r.post(&json!({"model": "openai/gpt-5.4-mini", "messages": user("d")}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(openai_error(&body)["type"], "service_unavailable_error");
    assert_eq!(r.fake.chat_requests().len(), 1 + 3 + 3 + 3);
}

#[test]
fn selectors_shaping_and_fallbacks_apply() {
    let r = rig_with(
        "fallbacks = [\"anthropic/claude-sonnet-4-5\"]\n[routes.openrouter.models.\"anthropic/claude-sonnet-4-5\"]\nparams = { temperature = 0.3, max_tokens = 99 }",
        &[],
    );
    for _ in 0..3 {
        r.fake.push_for_model(
            "openai/gpt-5.4-mini",
            Reply::error(503, "No provider available"),
        );
    }
    r.fake.push_for_model(
        "anthropic/claude-sonnet-4-5",
        Reply::text("from the fallback").with_usage(4, 3, 0.001),
    );
    let (status, body) = r.post(&json!({
        "model": "openai/gpt-5.4-mini",
        "messages": user("hi"),
        "user": "u-42",
        "service_tier": "flex",
        "store": true,
        "top_p": 0.5
    }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "from the fallback"
    );
    assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
    let sent = r.fake.chat_requests();
    assert_eq!(sent.len(), 4);
    let last = sent[3].body.clone().unwrap();
    assert_eq!(last["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(last["temperature"], 0.3, "the model's params apply");
    assert_eq!(last["max_tokens"], 99);
    assert_eq!(last["top_p"], 0.5, "the request's params apply");
    assert_eq!(last["user"], "u-42", "OpenAI fields are forwarded");
    assert!(last.get("service_tier").is_none() && last.get("store").is_none());

    // `auto` on an OpenRouter route means openrouter/auto.
    let (status, _) = r.post(&json!({"model": "auto", "messages": user("hi")}));
    assert_eq!(status, 200);
    assert_eq!(
        r.fake
            .chat_requests()
            .last()
            .unwrap()
            .body
            .as_ref()
            .unwrap()["model"],
        "openrouter/auto"
    );
}

#[test]
fn bad_requests_are_refused_before_upstream_with_openai_errors() {
    let r = Rig::start();
    let cases = [
        (json!({"messages": user("x")}), "missing_model"),
        (json!({"model": "openai/gpt-5.4-mini"}), "missing_messages"),
        (
            json!({"model": "openai/gpt-5.4-mini", "messages": user("x"), "n": 3}),
            "unsupported_parameter",
        ),
        (
            json!({"model": "openai/gpt-5.4-mini", "messages": user("x"), "temperature": 7}),
            "invalid_params",
        ),
        (
            json!({"model": "ghost/vendor/model", "messages": user("x")}),
            "invalid_selector",
        ),
    ];
    for (body, code) in cases {
        let (status, resp) = r.post(&body);
        assert_eq!(status, 400, "{body} -> {resp}");
        let e = openai_error(&resp);
        assert_eq!(e["code"], code, "{resp}");
        assert_eq!(e["type"], "invalid_request_error");
    }
    let (status, text) = http(
        r.d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some("{not json"),
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(openai_error(&json(&text))["code"], "invalid_json");
    let (status, text) = http_get(r.d.port, "/openai/v1/nope").unwrap();
    assert_eq!(status, 404);
    assert_eq!(openai_error(&json(&text))["code"], "not_found");
    assert!(r.fake.chat_requests().is_empty());
}

#[test]
fn mid_stream_failure_ends_with_an_error_event_and_done() {
    let r = Rig::start();
    r.fake.push(Reply::truncated(2));
    let (status, _, mut reader) = ChunkedReader::open(
        r.d.port,
        &json!({"model": "openai/gpt-5.4-mini", "stream": true, "messages": user("x")}),
    );
    assert_eq!(status, 200);
    let all = reader.rest();
    let events = sse_data(&all);
    assert_eq!(*events.last().unwrap(), "[DONE]", "{all}");
    let err: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert_eq!(err["error"]["code"], "upstream_stream_error", "{all}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("truncated"));

    // An upstream error chunk is forwarded as is, then ferry adds the missing [DONE].
    r.fake
        .push(Reply::mid_stream_error(1, 502, "Provider disconnected"));
    let (_, _, mut reader) = ChunkedReader::open(
        r.d.port,
        &json!({"model": "openai/gpt-5.4-mini", "stream": true, "messages": user("y")}),
    );
    let all = reader.rest();
    assert!(all.contains("Provider disconnected"), "{all}");
    assert!(all.trim_end().ends_with("data: [DONE]"), "{all}");
}

#[test]
fn token_is_required_and_refusals_are_openai_shaped() {
    let env = Env::new();
    let fake = FakeOpenRouter::start();
    env.write_default_routes(&fake.base_url());
    let token_file = env.root().join("token");
    std::fs::write(&token_file, "facade-token-123\n").unwrap();
    env.store_key_offline();
    let d = env.serve_with(&["--token-file", token_file.to_str().unwrap()], |_| {});
    let body = json!({"model": "openai/gpt-5.4-mini", "messages": user("x")}).to_string();
    let (status, text) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(&body),
    )
    .unwrap();
    assert_eq!(status, 401);
    assert_eq!(openai_error(&json(&text))["type"], "authentication_error");
    let (status, text) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[("Authorization", "Bearer facade-token-123")],
        Some(&body),
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let (status, _) = http_get(d.port, "/metrics").unwrap();
    assert_eq!(status, 401, "metrics need the token too");
}

#[test]
pub(crate) fn facade_calls_are_recorded_as_runs_only_when_enabled() {
    let r = Rig::start();
    r.fake.push(Reply::text("not recorded"));
    let (status, _) = r.post(&json!({"model": "openai/gpt-5.4-mini", "messages": user("x")}));
    assert_eq!(status, 200);
    let (status, _) = http_get(r.d.port, "/v1/sessions/openai").unwrap();
    assert_eq!(status, 404, "nothing is recorded by default");

    let r = rig_with("", &["--record-facade-runs"]);
    r.fake
        .push(Reply::text("recorded answer").with_usage(5, 2, 0.0007));
    let body = json!({"model": "openai/gpt-5.4-mini", "stream": true, "messages": user("x")});
    let (status, head, mut reader) = ChunkedReader::open(r.d.port, &body);
    assert_eq!(status, 200);
    reader.rest();
    let run_id = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-ferry-run-id:")
                .map(|v| v.trim().to_string())
        })
        .expect("run id header");
    let run = eventually(Duration::from_secs(10), || {
        let (_, text) = http_get(r.d.port, &format!("/v1/runs/{run_id}")).ok()?;
        let v = json(&text);
        (v["status"] == "completed").then_some(v)
    });
    assert_eq!(run["session_id"], "openai");
    assert_eq!(run["output"]["text"], "recorded answer");
    assert_eq!(run["cost"], 0.0007);
    assert_eq!(run["usage"]["prompt_tokens"], 5);

    r.fake.push(Reply::error(404, "No endpoints found"));
    let (status, text) = http(
        r.d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[("X-Ferry-Session", "audit")],
        Some(&json!({"model": "vendor/none", "messages": user("x")}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 404, "{text}");
    let out = r.d.cli(&r.env, &["--json", "sessions", "show", "audit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = eventually(Duration::from_secs(10), || {
        let (_, text) = http_get(r.d.port, "/v1/sessions/audit/runs").ok()?;
        let v = json(&text);
        (v["runs"][0]["status"] == "failed").then_some(v)
    });
    assert_eq!(
        runs["runs"][0]["error"]["code"], "model_not_found",
        "{runs}"
    );
}

/// Checks the text exposition format line by line (HELP/TYPE comments, samples with
/// well-formed names, labels and values) and returns the samples.
/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed = std::collections::HashMap::new();
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "unknown"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        assert!(
            typed.keys().any(|t| name.starts_with(t.as_str())),
            "sample without TYPE: {line}"
        );
        let labels: Vec<(String, String)> = if labels.is_empty() {
            Vec::new()
        } else {
            labels
                .split("\",")
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect()
        };
        samples.push((name.to_string(), labels, value));
    }
    samples
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_requests() {
    let r = Rig::start();
    let count = |samples: &[Sample]| -> f64 {
        samples
            .iter()
            .filter(|(n, l, _)| {
                n == "ferry_requests_total"
                    && l.contains(&("api".into(), "openai".into()))
                    && l.contains(&("status".into(), "200".into()))
            })
            .map(|(_, _, v)| *v)
            .sum()
    };
    let (status, text) = http_get(r.d.port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let before = count(&parse_exposition(&text));
    r.fake.push(Reply::text("counted").with_usage(11, 3, 0.002));
    let (status, _) = r.post(&json!({"model": "openai/gpt-5.4-mini", "messages": user("x")}));
    assert_eq!(status, 200);
    let out = r.d.cli(&r.env, &["sessions", "input", "s1", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, text) = http_get(r.d.port, "/metrics").unwrap();
    let samples = parse_exposition(&text);
    assert_eq!(count(&samples), before + 1.0, "{text}");
    let find = |name: &str, label: (&str, &str)| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l.contains(&(label.0.into(), label.1.into())))
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("{name} {label:?} missing:\n{text}"))
    };
    assert!(
        find("ferry_tokens_total", ("kind", "prompt")) >= 11.0,
        "{text}"
    );
    assert!(find("ferry_cost_usd_total", ("route", "openrouter")) >= 0.002);
    assert!(find("ferry_requests_total", ("api", "sessions")) >= 1.0);
    assert_eq!(
        find("ferry_added_latency_seconds_count", ("api", "openai")),
        1.0
    );
    assert!(
        find(
            "ferry_upstream_latency_seconds_count",
            ("route", "openrouter")
        ) >= 1.0
    );
    assert!(samples.iter().any(|(n, _, _)| n == "ferry_active_runs"));
}

#[test]
fn one_model_answers_with_its_selector_sent_plain_or_encoded() {
    let r = Rig::start();
    for path in [
        "/openai/v1/models/openrouter%2Fopenai%2Fgpt-5.4-mini",
        "/openai/v1/models/openrouter/openai/gpt-5.4-mini",
        // A model on the default route, without the route.
        "/openai/v1/models/openai/gpt-5.4-mini",
        "/openai/v1/models/openai%2Fgpt-5.4-mini",
    ] {
        let (status, text) = http_get(r.d.port, path).expect("http");
        assert_eq!(status, 200, "{path}: {text}");
        let v = json(&text);
        assert_eq!(v["object"], "model", "{path}: {v}");
        assert_eq!(v["id"], "openrouter/openai/gpt-5.4-mini", "{path}: {v}");
    }
    // A model no route serves is the handler's 404, not the router's "no such endpoint".
    let (status, text) = http_get(r.d.port, "/openai/v1/models/openrouter/vendor/none").unwrap();
    assert_eq!(status, 404, "{text}");
    let e = openai_error(&json(&text)).clone();
    assert!(
        e["message"].as_str().unwrap().contains("vendor/none")
            && !e["message"].as_str().unwrap().contains("no such endpoint"),
        "{e}"
    );
    // The document keeps one path with a `model` parameter for it.
    let (_, text) = http_get(r.d.port, "/v1/openapi.json").unwrap();
    let doc = json(&text);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/openai/v1/models/{model}"), "{paths:?}");
    assert!(
        paths.keys().all(|p| !p.contains("{*")),
        "{:?}",
        paths.keys()
    );
}

/// A multipart body of text fields and files `(part name, file name, bytes)`: its
/// Content-Type (with the boundary) and its bytes.
fn form(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XferryEditBoundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn an_image_edit_with_a_mask_is_refused_before_anything_is_stored_or_sent() {
    let r = Rig::start();
    let png = ferry_assets::testdata::png_with(3, 2, 7);
    let edit = |fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]| {
        let (content_type, body) = form(fields, files);
        let resp = http_bytes(
            r.d.port,
            "POST",
            "/openai/v1/images/edits",
            &[("Content-Type", &content_type)],
            &body,
        );
        (resp.status, resp.json())
    };
    let prompt = [("prompt", "make the sky green")];
    for (what, fields, files) in [
        (
            "a mask file",
            &prompt[..],
            &[("image", "a.png", &png[..]), ("mask", "mask.png", &png[..])][..],
        ),
        (
            "a mask file before the image",
            &prompt[..],
            &[
                ("mask", "mask.png", &png[..]),
                ("image[]", "a.png", &png[..]),
            ][..],
        ),
        (
            "a mask field",
            &[("prompt", "make the sky green"), ("mask", "the sky")][..],
            &[("image", "a.png", &png[..])][..],
        ),
    ] {
        let (status, v) = edit(fields, files);
        assert_eq!(status, 400, "{what}: {v}");
        let e = openai_error(&v);
        assert_eq!(e["code"], "unsupported_parameter", "{what}: {v}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("mask is not supported"),
            "{what}: {v}"
        );
    }
    // A file part the edit has no use for is refused too, never dropped.
    let (status, v) = edit(
        &prompt,
        &[
            ("image", "a.png", &png[..]),
            ("reference", "b.png", &png[..]),
        ],
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(openai_error(&v)["code"], "unknown_parameter", "{v}");
    assert!(r.fake.chat_requests().is_empty(), "nothing went upstream");
    let (_, assets) = r.api("GET", "/v1/assets", None);
    assert_eq!(assets["assets"], json!([]), "nothing was stored: {assets}");

    // The same edit without the mask goes through.
    let out = ferry_assets::testdata::png_with(3, 2, 8);
    r.fake
        .push(Reply::images(vec![ferry_openrouter::media::to_data_url(
            "image/png",
            &out,
        )]));
    let (status, v) = edit(&prompt, &[("image", "a.png", &png[..])]);
    assert_eq!(status, 200, "{v}");
    assert_eq!(r.fake.chat_requests().len(), 1);
}

#[test]
fn a_session_header_that_is_not_visible_ascii_is_refused_like_an_invalid_id() {
    let r = rig_with("", &["--record-facade-runs"]);
    let body = json!({"model": "openai/gpt-5.4-mini", "messages": user("x")}).to_string();
    // Written byte for byte: `ünï` goes as its UTF-8 bytes (obs-text, which HTTP lets
    // through to the handler).
    for session in ["ünï", "dëmo", "../etc"] {
        let request = format!(
            "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Ferry-Client: ferry-e2e\r\nContent-Type: application/json\r\nX-Ferry-Session: {session}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let resp = send_raw(r.d.port, request.as_bytes());
        assert_eq!(
            resp.status,
            400,
            "{session:?}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let v = resp.json();
        let e = openai_error(&v);
        assert_eq!(e["code"], "invalid_session_id", "{session:?}: {v}");
        assert!(
            e["message"].as_str().unwrap().contains("session ids are"),
            "{session:?}: {v}"
        );
    }
    assert!(r.fake.chat_requests().is_empty(), "nothing went upstream");
    // Nothing was recorded, in the default session or any other.
    let (status, text) = http_get(r.d.port, "/v1/sessions/openai").unwrap();
    assert_eq!(status, 404, "{text}");
    let (_, runs) = r.api("GET", "/v1/runs", None);
    assert_eq!(runs["runs"], json!([]), "{runs}");
}

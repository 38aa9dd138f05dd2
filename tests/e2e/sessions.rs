//! Issue 3: text sessions over the fake OpenRouter — streaming, durable history, runtime
//! model, failure paths, retries, fallbacks, cancel, idempotency, concurrency, crash safety
//! and SSE replay.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

impl Rig {
    fn events(&self, run_id: &str, last_event_id: Option<u64>) -> Vec<(u64, String, Value)> {
        let mut headers = vec![("Accept", "text/event-stream".to_string())];
        if let Some(id) = last_event_id {
            headers.push(("Last-Event-ID", id.to_string()));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = http(
            self.d.port,
            "GET",
            &format!("/v1/runs/{run_id}/events?follow=false"),
            &h,
            None,
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        parse_sse(&body)
    }
}

/// Parses an SSE body into (id, event, data).
pub fn parse_sse(body: &str) -> Vec<(u64, String, Value)> {
    let mut out = Vec::new();
    for frame in body.split("\n\n") {
        let (mut id, mut event, mut data) = (0u64, String::new(), String::new());
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !event.is_empty() {
            out.push((
                id,
                event,
                serde_json::from_str(&data).unwrap_or(Value::Null),
            ));
        }
    }
    out
}

fn user_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["role"].as_str().unwrap(),
                m["content"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
pub(crate) fn seed_command_streams_and_history_is_replayed() {
    let r = Rig::start();
    r.fake
        .push(Reply::text("Here is a concise summary of the files.").with_usage(12, 7, 0.00042));
    let out = r.cli(&[
        "sessions",
        "input",
        "demo",
        "--provider",
        "openrouter",
        "--model",
        "openai/gpt-5.4-mini",
        "Summarize the attached files and be concise.",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Here is a concise summary of the files.\n");
    let err = stderr(&out);
    assert!(
        err.contains("openai/gpt-5.4-mini")
            && err.contains("12 in / 7 out tokens")
            && err.contains("$0.000420"),
        "{err}"
    );

    let reqs = r.fake.chat_requests();
    assert_eq!(reqs.len(), 1);
    let body = reqs[0].body.clone().unwrap();
    assert_eq!(body["model"], "openai/gpt-5.4-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Summarize the attached files and be concise."}])
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(reqs[0].path, "/api/v1/chat/completions");

    r.fake
        .push(Reply::text("Shorter.").with_usage(30, 2, 0.0001));
    let out = r.cli(&["sessions", "input", "demo", "Even shorter, please."]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = r.fake.chat_requests()[1].body.clone().unwrap();
    assert_eq!(
        user_texts(&body),
        vec![
            "user:Summarize the attached files and be concise.",
            "assistant:Here is a concise summary of the files.",
            "user:Even shorter, please.",
        ]
    );
    let show = r.cli_json(&["sessions", "show", "demo"]);
    assert_eq!(show["message_count"], 4);
    assert_eq!(show["totals"]["runs"], 2);
    assert_eq!(show["totals"]["prompt_tokens"], 42);
    assert!((show["totals"]["cost"].as_f64().unwrap() - 0.00052).abs() < 1e-9);
    let text = stdout(&r.cli(&["sessions", "show", "demo"]));
    assert!(
        text.contains("42 prompt + 9 completion tokens") && text.contains("$0.000520"),
        "{text}"
    );
}

#[test]
fn runtime_model_is_used_when_no_model_is_given_and_auto_maps_to_openrouter_auto() {
    let r = Rig::start();
    let out = r.cli(&[
        "runtime",
        "set-model",
        "openrouter/anthropic/claude-sonnet-4-5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = r.cli(&["sessions", "input", "s1", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "echo: hello\n");
    assert_eq!(
        r.fake.chat_requests()[0].body.as_ref().unwrap()["model"],
        "anthropic/claude-sonnet-4-5"
    );

    let out = r.cli(&["sessions", "input", "s1", "--model", "auto", "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        r.fake.chat_requests()[1].body.as_ref().unwrap()["model"],
        "openrouter/auto"
    );

    // A contradicting --provider is an error before anything is sent.
    let out = r.cli(&["sessions", "input", "s1", "--provider", "nope", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(r.fake.chat_requests().len(), 2);
}

struct Case {
    name: &'static str,
    replies: Vec<Reply>,
    code: &'static str,
    exit: i32,
    requests: usize,
    message: &'static str,
}

#[test]
fn every_failure_path_has_its_code_exit_code_and_message() {
    let r = Rig::start();
    let cases = vec![
        Case {
            name: "400",
            replies: vec![Reply::error(400, "Invalid request: messages too long")],
            code: "upstream_bad_request",
            exit: 2,
            requests: 1,
            message: "messages too long",
        },
        Case {
            name: "401",
            replies: vec![Reply::error(401, "User not found.")],
            code: "upstream_unauthorized",
            exit: 1,
            requests: 1,
            message: "ferry secrets set",
        },
        Case {
            name: "402",
            replies: vec![Reply::error(402, "Insufficient credits")],
            code: "upstream_insufficient_credits",
            exit: 2,
            requests: 1,
            message: "credits",
        },
        Case {
            name: "403",
            replies: vec![Reply::error(403, "Input was flagged by moderation")],
            code: "upstream_forbidden",
            exit: 2,
            requests: 1,
            message: "flagged",
        },
        Case {
            name: "404",
            replies: vec![Reply::error(
                404,
                "No endpoints found for openai/gpt-5.4-mini",
            )],
            code: "model_not_found",
            exit: 5,
            requests: 1,
            message: "ferry models list",
        },
        Case {
            name: "408",
            replies: vec![
                Reply::error(408, "timeout"),
                Reply::error(408, "timeout"),
                Reply::error(408, "timeout"),
            ],
            code: "upstream_timeout",
            exit: 7,
            requests: 3,
            message: "OpenRouter timed out",
        },
        Case {
            name: "429",
            replies: vec![
                Reply::error(429, "Rate limit exceeded"),
                Reply::error(429, "Rate limit exceeded"),
                Reply::error(429, "Rate limit exceeded"),
            ],
            code: "upstream_rate_limited",
            exit: 7,
            requests: 3,
            message: "retried 2 times",
        },
        Case {
            name: "500",
            replies: vec![
                Reply::error(500, "Internal"),
                Reply::error(500, "Internal"),
                Reply::error(500, "Internal"),
            ],
            code: "upstream_unavailable",
            exit: 7,
            requests: 3,
            message: "OpenRouter failed with an internal error (500)",
        },
        Case {
            name: "502",
            replies: vec![
                Reply::error(502, "Provider returned error"),
                Reply::error(502, "x"),
                Reply::error(502, "x"),
            ],
            code: "upstream_unavailable",
            exit: 7,
            requests: 3,
            message: "the model is down or returned an invalid response",
        },
        Case {
            name: "503",
            replies: vec![
                Reply::error(503, "No available provider"),
                Reply::error(503, "x"),
                Reply::error(503, "x"),
            ],
            code: "upstream_unavailable",
            exit: 7,
            requests: 3,
            message: "no OpenRouter provider is available",
        },
        Case {
            name: "524",
            replies: vec![
                Reply::error(524, "edge timeout"),
                Reply::error(524, "x"),
                Reply::error(524, "x"),
            ],
            code: "upstream_timeout",
            exit: 7,
            requests: 3,
            message: "OpenRouter timed out",
        },
        Case {
            name: "529",
            replies: vec![
                Reply::error(529, "overloaded"),
                Reply::error(529, "x"),
                Reply::error(529, "x"),
            ],
            code: "upstream_unavailable",
            exit: 7,
            requests: 3,
            message: "the provider is overloaded",
        },
        Case {
            name: "reset",
            replies: vec![Reply::reset(), Reply::reset(), Reply::reset()],
            code: "upstream_connect_failed",
            exit: 7,
            requests: 3,
            message: "could not reach OpenRouter",
        },
        Case {
            name: "mid-stream int code",
            replies: vec![Reply::mid_stream_error(
                2,
                json!(502),
                "Provider disconnected",
            )],
            code: "upstream_stream_error",
            exit: 7,
            requests: 1,
            message: "Provider disconnected",
        },
        Case {
            name: "mid-stream string code",
            replies: vec![Reply::mid_stream_error(
                1,
                json!("server_error"),
                "Upstream hiccup",
            )],
            code: "upstream_stream_error",
            exit: 7,
            requests: 1,
            message: "Upstream hiccup",
        },
        Case {
            name: "truncated",
            replies: vec![Reply::truncated(2)],
            code: "upstream_stream_error",
            exit: 7,
            requests: 1,
            message: "truncated",
        },
        Case {
            name: "choices error",
            replies: vec![Reply::choices_error(502, "provider failed after start")],
            code: "upstream_error",
            exit: 7,
            requests: 1,
            message: "provider failed after start",
        },
        Case {
            name: "malformed",
            replies: vec![Reply::malformed()],
            code: "upstream_protocol_error",
            exit: 1,
            requests: 1,
            message: "OpenRouter sent a malformed response",
        },
        Case {
            name: "stall",
            replies: vec![Reply::stall_after(1, Duration::from_secs(60))],
            code: "upstream_timeout",
            exit: 7,
            requests: 1,
            message: "timed out waiting for OpenRouter (stream went idle)",
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        r.fake.clear_requests();
        for reply in case.replies {
            r.fake.push(reply);
        }
        let session = format!("fail-{i}");
        let started = Instant::now();
        let out = r.cli(&["sessions", "input", &session, "hello"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(case.exit), "{}: {err}", case.name);
        assert!(
            err.contains(&format!("[{}]", case.code)),
            "{}: {err}",
            case.name
        );
        assert!(err.contains(case.message), "{}: {err}", case.name);
        assert!(!err.contains(API_KEY));
        assert_eq!(
            r.fake.chat_requests().len(),
            case.requests,
            "{}: requests sent",
            case.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{} took too long",
            case.name
        );
        // The stored run records the failure and every attempt.
        let sess = r.cli_json(&["sessions", "show", &session]);
        assert_eq!(
            sess["message_count"], 0,
            "{}: a failed run adds no history",
            case.name
        );
        let (_, runs) = r.api("GET", &format!("/v1/sessions/{session}/runs"), None);
        let run = &runs["runs"][0];
        assert_eq!(run["status"], "failed", "{}", case.name);
        assert_eq!(run["error"]["code"], case.code, "{}", case.name);
        assert_eq!(
            run["attempts"].as_array().unwrap().len(),
            case.requests,
            "{}",
            case.name
        );
    }
    // The sync API answers failures as problems with the run id.
    r.fake.push(Reply::error(402, "Insufficient credits"));
    let (status, body) = r.api(
        "POST",
        "/v1/sessions/sync/input",
        Some(&json!({"content": "hi"})),
    );
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["code"], "upstream_insufficient_credits");
    assert!(body["run_id"].as_str().unwrap().starts_with("run_"));
}

#[test]
fn retries_honour_retry_after_and_fallbacks_record_every_attempt() {
    let r = Rig::with_route_keys("fallbacks = [\"anthropic/claude-sonnet-4-5\"]");
    // Retry-After: 1 second, then success on the same model.
    r.fake
        .push(Reply::error(429, "Rate limit exceeded").retry_after(1));
    r.fake.push(Reply::text("after the wait"));
    let started = Instant::now();
    let out = r.cli(&["--json", "sessions", "input", "ra", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After not honoured"
    );
    let run = json(&stdout(&out));
    assert_eq!(run["output"]["text"], "after the wait");
    let attempts = run["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], 429);

    // Route fallback: the primary is unavailable (after its retries), the fallback serves.
    r.fake.clear_requests();
    for _ in 0..3 {
        r.fake.push_for_model(
            "openai/gpt-5.4-mini",
            Reply::error(503, "No available provider"),
        );
    }
    r.fake.push_for_model(
        "anthropic/claude-sonnet-4-5",
        Reply::text("served by the fallback"),
    );
    let out = r.cli(&["--json", "sessions", "input", "fb", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&stdout(&out));
    assert_eq!(run["model_served"], "anthropic/claude-sonnet-4-5");
    assert_eq!(run["output"]["text"], "served by the fallback");
    let attempts: Vec<(String, Value)> = run["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap().to_string(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert_eq!(attempts[0], ("openai/gpt-5.4-mini".to_string(), json!(503)));
    assert_eq!(
        attempts[3],
        ("anthropic/claude-sonnet-4-5".to_string(), json!(200))
    );
    let models: Vec<String> = r
        .fake
        .chat_requests()
        .iter()
        .map(|q| {
            q.body.as_ref().unwrap()["model"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        models,
        [
            "openai/gpt-5.4-mini",
            "openai/gpt-5.4-mini",
            "openai/gpt-5.4-mini",
            "anthropic/claude-sonnet-4-5"
        ]
    );

    // Per-input --fallback-model replaces the route's chain.
    r.fake.clear_requests();
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::error(429, "slow down").retry_after(0),
    );
    r.fake
        .push_for_model("openai/gpt-5.4-mini", Reply::error(429, "slow down"));
    r.fake
        .push_for_model("openai/gpt-5.4-mini", Reply::error(429, "slow down"));
    r.fake
        .push_for_model("google/gemini-3-flash", Reply::text("gemini here"));
    let out = r.cli(&[
        "sessions",
        "input",
        "fb2",
        "--fallback-model",
        "google/gemini-3-flash",
        "hi",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "gemini here\n");

    // 402 is a billing problem: no retry, no fallback.
    r.fake.clear_requests();
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::error(402, "Insufficient credits"),
    );
    let out = r.cli(&["sessions", "input", "fb3", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("upstream_insufficient_credits"));
    assert_eq!(r.fake.chat_requests().len(), 1);

    // A mid-stream error after output does not fall back (output already reached the client).
    r.fake.clear_requests();
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::mid_stream_error(2, json!(502), "gone"),
    );
    let out = r.cli(&["sessions", "input", "fb4", "hi"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(r.fake.chat_requests().len(), 1);
    // ...but one before any output does.
    r.fake.clear_requests();
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::mid_stream_error(0, json!("server_error"), "gone early"),
    );
    r.fake
        .push_for_model("anthropic/claude-sonnet-4-5", Reply::text("rescued"));
    let out = r.cli(&["sessions", "input", "fb5", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rescued\n");
}

#[test]
fn reasoning_only_replies_are_kept() {
    let r = Rig::start();
    r.fake
        .push(Reply::reasoning_only("The answer is 4 because 2+2=4."));
    let run = r.cli_json(&["sessions", "input", "think", "2+2?"]);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["output"]["reasoning"], "The answer is 4 because 2+2=4.");
    let (_, msgs) = r.api("GET", "/v1/sessions/think/messages", None);
    assert_eq!(
        msgs["messages"][1]["body"]["reasoning"],
        "The answer is 4 because 2+2=4."
    );
}

/// A run's usage object is kept as the stream wrote it: in the answer, the stored run and
/// the terminal event alike, and the run's cost is the number it says. The fake writes
/// this cost `3.5999999999999994e-6`; parsed into a tree by serde_json's default (fast,
/// not always nearest) float reading and written again, it said `3.599999999999999e-6`.
#[test]
fn a_runs_usage_is_kept_as_upstream_wrote_it() {
    let r = Rig::start();
    let cost = 3.5999999999999995e-6;
    r.fake.push(Reply::text("hi").with_usage(8, 9, cost));
    let written = format!(r#""cost":{}"#, serde_json::to_string(&cost).unwrap());
    assert_eq!(written, r#""cost":3.5999999999999994e-6"#);
    let (status, answer) = http(
        r.d.port,
        "POST",
        "/v1/sessions/usage-text/input",
        &[],
        Some(r#"{"content":"hello"}"#),
    )
    .expect("http");
    assert_eq!(status, 200, "{answer}");
    let usage_of = |text: &str| {
        let at = text.find(r#""usage":{"#).expect("a usage object") + 8;
        text[at..].to_owned()
    };
    assert!(usage_of(&answer).contains(&written), "{answer}");
    assert_eq!(json(&answer)["cost"], json!(cost), "{answer}");
    let run_id = json(&answer)["id"].as_str().unwrap().to_owned();
    let (_, stored) = http_get(r.d.port, &format!("/v1/runs/{run_id}")).expect("http");
    assert!(usage_of(&stored).contains(&written), "{stored}");
    let (_, events) = http_get(r.d.port, &format!("/v1/runs/{run_id}/events")).expect("http");
    let completed = events
        .split("\n\n")
        .find(|e| e.contains("event: run.completed"))
        .expect("run.completed");
    assert!(usage_of(completed).contains(&written), "{completed}");
}

#[test]
pub(crate) fn cancel_mid_stream_aborts_the_run() {
    let r = Rig::start();
    r.fake.push(Reply::stall_after(2, Duration::from_secs(120)));
    let run_id = stdout(&r.cli(&["sessions", "input", "c", "--detach", "long story"]))
        .trim()
        .to_string();
    assert!(run_id.starts_with("run_"), "{run_id}");
    eventually(Duration::from_secs(10), || {
        r.events(&run_id, None)
            .iter()
            .any(|e| e.1 == "output.delta")
            .then_some(())
    });
    let out = r.cli(&["--json", "runs", "cancel", &run_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&stdout(&out));
    assert_eq!(run["status"], "cancelled");
    let events = r.events(&run_id, None);
    assert_eq!(events.last().unwrap().1, "run.cancelled");
    // The session takes new input at once.
    let out = r.cli(&["sessions", "input", "c", "next"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "echo: next\n");
    // Cancelling a finished run is a clear conflict.
    let out = r.cli(&["runs", "cancel", &run_id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already finished"));
}

#[test]
pub(crate) fn detached_runs_with_idempotency_keys_and_queueing() {
    let r = Rig::start();
    let a = stdout(&r.cli(&[
        "sessions",
        "input",
        "idem",
        "--detach",
        "--idempotency-key",
        "k-1",
        "hi",
    ]))
    .trim()
    .to_string();
    let b = stdout(&r.cli(&[
        "sessions",
        "input",
        "idem",
        "--detach",
        "--idempotency-key",
        "k-1",
        "hi",
    ]))
    .trim()
    .to_string();
    assert_eq!(a, b);
    let run = eventually(Duration::from_secs(10), || {
        let run = r.cli_json(&["runs", "show", &a]);
        (run["status"] == "completed").then_some(run)
    });
    assert_eq!(run["output"]["text"], "echo: hi");
    assert_eq!(r.fake.chat_requests().len(), 1);
    let (status, body) = http(
        r.d.port,
        "POST",
        "/v1/sessions/idem/runs",
        &[("Idempotency-Key", "k-1")],
        Some("{\"content\":\"hi\"}"),
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(json(&body)["id"], a);
    // The same key with another input is refused, naming the run the key belongs to;
    // nothing new is stored or sent.
    let (status, body) = http(
        r.d.port,
        "POST",
        "/v1/sessions/idem/runs",
        &[("Idempotency-Key", "k-1")],
        Some("{\"content\":\"something else\"}"),
    )
    .unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(json(&body)["code"], "idempotency_key_reused", "{body}");
    assert!(body.contains(&a), "{body}");
    assert_eq!(r.fake.chat_requests().len(), 1);
    assert_eq!(
        r.cli_json(&["sessions", "show", "idem"])["totals"]["runs"],
        1,
        "one run stored"
    );

    // One run at a time per session: a second input queues behind a slow first one.
    r.fake
        .push(Reply::text("first, slowly").chunk_delay(Duration::from_millis(150)));
    let first = stdout(&r.cli(&["sessions", "input", "q", "--detach", "one"]))
        .trim()
        .to_string();
    let second = stdout(&r.cli(&["sessions", "input", "q", "--detach", "two"]))
        .trim()
        .to_string();
    let (status, body) = http(
        r.d.port,
        "POST",
        "/v1/sessions/q/input?wait=false",
        &[],
        Some("{\"content\":\"three\"}"),
    )
    .unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(json(&body)["code"], "session_busy");
    eventually(Duration::from_secs(20), || {
        (r.cli_json(&["runs", "show", &second])["status"] == "completed").then_some(())
    });
    assert_eq!(r.cli_json(&["runs", "show", &first])["status"], "completed");
    // The second request saw the first's full exchange.
    let last = r.fake.chat_requests().last().unwrap().body.clone().unwrap();
    assert_eq!(
        user_texts(&last),
        vec!["user:one", "assistant:first, slowly", "user:two"]
    );
}

#[test]
pub(crate) fn fifty_sessions_stream_concurrently_with_unmixed_histories() {
    let r = Rig::start();
    for round in ["hello", "again"] {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let cmd = r.d.command(
                    &r.env,
                    &[
                        "sessions",
                        "input",
                        &format!("p{i}"),
                        &format!("{round} {i}"),
                    ],
                );
                std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(120)))
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(stdout(&out), format!("echo: {round} {i}\n"));
        }
    }
    let reqs = r.fake.chat_requests();
    assert_eq!(reqs.len(), 100);
    for q in reqs {
        let body = q.body.unwrap();
        let texts = user_texts(&body);
        let last = texts.last().unwrap().clone();
        let n = last.rsplit(' ').next().unwrap().to_string();
        for t in &texts {
            assert!(t.ends_with(&format!(" {n}")), "mixed history: {texts:?}");
        }
        if last.starts_with("user:again") {
            assert_eq!(
                texts,
                vec![
                    format!("user:hello {n}"),
                    format!("assistant:echo: hello {n}"),
                    format!("user:again {n}")
                ]
            );
        }
    }
}

#[test]
pub(crate) fn kill_9_mid_run_then_restart_recovers() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let mut d = env.serve();
    let out = d.cli(&env, &["sessions", "input", "crash", "before"]);
    assert!(out.status.success(), "{}", stderr(&out));
    fake.push(Reply::stall_after(2, Duration::from_secs(120)));
    let run_id = stdout(&d.cli(&env, &["sessions", "input", "crash", "--detach", "during"]))
        .trim()
        .to_string();
    eventually(Duration::from_secs(10), || {
        let (_, body) = http(
            d.port,
            "GET",
            &format!("/v1/runs/{run_id}/events?follow=false"),
            &[],
            None,
        )
        .ok()?;
        body.contains("output.delta").then_some(())
    });
    d.kill9();

    let d = env.serve();
    let run = json(&stdout(&d.cli(&env, &["--json", "runs", "show", &run_id])));
    assert_eq!(run["status"], "interrupted");
    assert!(run["error"]["message"]
        .as_str()
        .unwrap()
        .contains("in flight"));
    let show = json(&stdout(
        &d.cli(&env, &["--json", "sessions", "show", "crash"]),
    ));
    assert_eq!(
        show["message_count"], 2,
        "the completed run's history is intact"
    );
    let (_, runs) = http(d.port, "GET", "/v1/sessions/crash/runs", &[], None).unwrap();
    let runs = json(&runs);
    assert!(runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["status"] == "completed"));
    // An SSE follower of the interrupted run is told how it ended.
    let (_, body) = http(
        d.port,
        "GET",
        &format!("/v1/runs/{run_id}/events"),
        &[],
        None,
    )
    .unwrap();
    assert!(
        body.contains("event: run.failed") && body.contains("interrupted"),
        "{body}"
    );

    fake.clear_requests();
    let out = d.cli(&env, &["sessions", "input", "crash", "after"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = fake.chat_requests()[0].body.clone().unwrap();
    assert_eq!(
        user_texts(&body),
        vec!["user:before", "assistant:echo: before", "user:after"]
    );
}

#[test]
pub(crate) fn sse_replay_from_last_event_id_returns_exactly_the_missed_events() {
    let r = Rig::start();
    r.fake
        .push(Reply::text("one two three four five six").with_reasoning("hmm"));
    let run = r.cli_json(&["sessions", "input", "sse", "count"]);
    let run_id = run["id"].as_str().unwrap();
    let all = r.events(run_id, None);
    assert!(all.len() >= 6, "{all:?}");
    assert_eq!(all[0].1, "run.started");
    assert_eq!(all.last().unwrap().1, "run.completed");
    let seqs: Vec<u64> = all.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    let text: String = all
        .iter()
        .filter(|e| e.1 == "output.delta")
        .map(|e| e.2["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three four five six");
    assert!(all.iter().any(|e| e.1 == "reasoning.delta"));
    for k in [0u64, 1, 3, all.len() as u64 - 1, all.len() as u64] {
        let missed = r.events(run_id, Some(k));
        assert_eq!(missed, all[k as usize..].to_vec(), "after {k}");
    }

    // Live: a follower that connects mid-run and then reconnects with Last-Event-ID sees
    // every event exactly once.
    let gate = ferry_fake_openrouter::Gate::new();
    r.fake.push(Reply::gated(
        gate.clone(),
        Reply::text("alpha beta gamma delta"),
    ));
    let run_id = stdout(&r.cli(&["sessions", "input", "sse", "--detach", "live"]))
        .trim()
        .to_string();
    let early = eventually(Duration::from_secs(10), || {
        let ev = r.events(&run_id, None);
        ev.iter().any(|e| e.1 == "output.delta").then_some(ev)
    });
    gate.open();
    let last_seen = early.last().unwrap().0;
    let (_, body) = http(
        r.d.port,
        "GET",
        &format!("/v1/runs/{run_id}/events"),
        &[("Last-Event-ID", &last_seen.to_string())],
        None,
    )
    .unwrap();
    let rest = parse_sse(&body);
    let mut combined = early.clone();
    combined.extend(rest);
    assert_eq!(combined.last().unwrap().1, "run.completed");
    let seqs: Vec<u64> = combined.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=combined.len() as u64).collect::<Vec<_>>());
}

/// A session stream answers its client only once its run is under way: on a daemon with
/// one runtime thread and an open upstream connection, the upstream request is written
/// before the response's first byte (headers and `run.started` then leave together), not
/// after it. Read off the daemon's own write calls, traced with strace attached to its
/// threads.
#[test]
#[ignore = "needs strace (Debian's `strace`): .ci/run installs it and runs this test"]
fn a_session_stream_sends_upstream_before_it_answers_its_client() {
    let (_fake, env, mut d) = daemon_on_one_cpu();
    // A first input opens the upstream connection: a stream's run that must connect first
    // is under way while it connects, so its headers rightly go out before its request.
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/sessions/warm-up/input",
        &[],
        Some(r#"{"content":"hi"}"#),
    )
    .expect("session input");
    assert_eq!(status, 200, "{body}");
    let pid = d.child.as_ref().expect("the daemon").id();
    let tracer = WriteTrace::attach(pid, &env.dir.path().join("writes.trace"));
    streamed_input(d.port, "traced", "hello");
    let text = tracer.finish();
    assert_eq!(d.terminate(), Some(0), "{}", d.log());

    let line = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no write with {needle:?} in the trace:\n{text}"))
    };
    let upstream = line("POST /api/v1/chat/completions");
    // The only response traced: the stream's (the warm-up came before strace).
    let answer = line("HTTP/1.1 200 OK");
    assert!(
        text.lines()
            .nth(answer)
            .unwrap()
            .contains("text/event-stream"),
        "{text}"
    );
    assert!(
        upstream < answer,
        "the client's answer was written before the upstream request:\n{text}"
    );
    let started = line("event: run.started");
    assert_eq!(
        started, answer,
        "headers and run.started in one write:\n{text}"
    );
}

/// A session stream's first output leaves before the store is touched for the run's end:
/// the run's model call settles (its spend row) and the run ends (its commit) only once
/// the client's connection has written what the call emitted. Both hand work to the
/// store's writer thread, which on one CPU would otherwise run its commit first. Read off
/// the daemon's system calls, traced with strace: between the upstream request and the
/// write carrying the first `output.delta`, no SQLite lock (`fcntl`) is taken.
#[test]
#[ignore = "needs strace (Debian's `strace`): .ci/run installs it and runs this test"]
fn a_session_streams_first_output_leaves_before_the_runs_end_is_stored() {
    let (_fake, env, mut d) = daemon_on_one_cpu();
    // The database exists and the upstream connection is open.
    streamed_input(d.port, "warm-up", "hi");
    let pid = d.child.as_ref().expect("the daemon").id();
    let tracer =
        WriteTrace::attach_tracing(pid, &env.dir.path().join("calls.trace"), "writev,fcntl");
    streamed_input(d.port, "traced", "hello");
    let text = tracer.finish();
    assert_eq!(d.terminate(), Some(0), "{}", d.log());

    let lines: Vec<&str> = text.lines().collect();
    let line = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no call with {needle:?} in the trace:\n{text}"))
    };
    let upstream = line("POST /api/v1/chat/completions");
    let first_output = line("event: output.delta");
    assert!(upstream < first_output, "{text}");
    let locks: Vec<&&str> = lines[upstream..first_output]
        .iter()
        .filter(|l| l.contains("fcntl("))
        .collect();
    assert!(
        locks.is_empty(),
        "the store was written between the upstream request and the client's first output: \
         {locks:?}\n{text}"
    );
    // The run's end is stored after it, as always.
    assert!(
        lines[first_output..].iter().any(|l| l.contains("fcntl(")),
        "{text}"
    );
}

/// A session stream whose run cannot get under way (its creation waits for the store's
/// write lock, held here by another connection) still answers its client: the headers go
/// out once the bounded wait for the run ends, while nothing has gone upstream, and the
/// run's events follow on the same stream once the lock is released.
#[test]
fn a_session_stream_answers_before_a_stalled_run_is_under_way() {
    use std::io::{Read, Write};

    let r = Rig::start();
    // The database exists and the upstream connection is open.
    streamed_input(r.d.port, "warm-up", "hi");
    r.fake.clear_requests();

    let lock = rusqlite::Connection::open(r.env.state().join("ferry.db")).expect("the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the store's write lock");

    let mut s = std::net::TcpStream::connect(("127.0.0.1", r.d.port)).expect("connect");
    // Well inside the store's busy timeout (5 s), after which the run would fail instead.
    s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let body = json!({"content": "hello"}).to_string();
    s.write_all(&raw_request(
        "POST",
        "/v1/sessions/stalled/input",
        &format!("127.0.0.1:{}", r.d.port),
        &[
            ("Accept", "text/event-stream"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    ))
    .expect("send the input");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "the stream closed before its headers: {}",
                String::from_utf8_lossy(&head)
            ),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no headers while the run could not start ({e}): the stream waited for \
                 its run without bound"
            ),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("text/event-stream"), "{text}");
    assert!(
        r.fake.chat_requests().is_empty(),
        "a run that was not stored yet went upstream"
    );

    lock.execute_batch("ROLLBACK").expect("release the lock");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut rest = head;
    s.read_to_end(&mut rest).expect("the rest of the stream");
    let stream = String::from_utf8_lossy(&rest);
    let started = stream.find("event: run.started").expect("run.started");
    let completed = stream.find("event: run.completed").expect("run.completed");
    assert!(started < completed, "{stream}");
    assert_eq!(r.fake.chat_requests().len(), 1, "{stream}");
}

/// A session run reads its model's stream up to `[DONE]` and stops there; the stream's
/// last bytes came with it, so the upstream connection goes back to the pool and the
/// runs after it do not each pay a new connection.
#[test]
fn session_runs_reuse_their_upstream_connection() {
    let r = Rig::start();
    let out = r.cli(&["sessions", "input", "reuse", "one"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let opened = r.fake.connections();
    for i in 0..5 {
        let out = r.cli(&["sessions", "input", "reuse", &format!("again {i}")]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("echo: again {i}\n"));
    }
    // One more at most: a run may pick its connection before the last one is back.
    let more = r.fake.connections() - opened;
    assert!(more <= 1, "{more} new upstream connections over five runs");
}

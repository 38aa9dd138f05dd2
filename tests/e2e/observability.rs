//! Issue 13, operations: failed upstream calls in the log and the metrics (with their
//! problem code), latency and time-to-first-token per route and model, `process_*`
//! metrics, OpenTelemetry traces received and decoded by an OTLP/HTTP receiver, runs
//! listed across sessions, models the catalog does not know refused, and an unreachable
//! upstream shown as "degraded".

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use ferry_fake_openrouter::{MediaEndpoint, TranscriptionReply};

use crate::support::*;

const MODEL: &str = "openai/gpt-5.4-mini";

/// The JSON log lines whose message is `message`.
fn log_events(log: &str, message: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

fn metrics(d: &Daemon) -> String {
    let (status, text) = http_get(d.port, "/metrics").unwrap();
    assert_eq!(status, 200);
    text
}

/// The value of the first sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[test]
fn failed_upstream_calls_are_logged_once_each_and_counted_with_their_code() {
    let (fake, env, d) = start_default(&[]);
    let prompt = "a very secret prompt 7f3a";
    fake.push(Reply::error(401, "User not found.").with_header("x-generation-id", "gen-401"));
    let out = d.cli(&env, &["sessions", "input", "s1", prompt]);
    assert!(!out.status.success());
    // A 500 is retried twice: three failed attempts, three lines.
    for _ in 0..3 {
        fake.push(Reply::error(500, "Internal Server Error"));
    }
    let (status, _) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(
            &json!({"model": MODEL, "messages": [{"role": "user", "content": prompt}]}).to_string(),
        ),
    )
    .unwrap();
    assert_eq!(status, 502);

    let log = d.log();
    let failed = log_events(&log, "upstream call failed");
    assert_eq!(failed.len(), 4, "{log}");
    let first = &failed[0]["fields"];
    assert_eq!(first["api"], "sessions");
    assert_eq!(first["route"], "openrouter");
    assert_eq!(first["model"], MODEL);
    assert_eq!(first["status"], "401");
    assert_eq!(first["code"], "upstream_unauthorized");
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["generation_id"], "gen-401");
    assert!(first["run"].as_str().unwrap().starts_with("run_"));
    let attempts: Vec<&Value> = failed[1..]
        .iter()
        .map(|e| &e["fields"]["attempt"])
        .collect();
    assert_eq!(attempts, [&json!(1), &json!(2), &json!(3)]);
    for e in &failed[1..] {
        assert_eq!(e["fields"]["api"], "openai");
        assert_eq!(e["fields"]["status"], "500");
        assert_eq!(e["fields"]["code"], "upstream_unavailable");
        assert_eq!(e["level"], "WARN");
    }
    assert!(
        !log.contains(API_KEY) && !log.contains(prompt),
        "key or prompt logged"
    );

    // A success, streamed through the facade, for the latency and TTFT histograms.
    fake.push(Reply::text("fine").with_usage(5, 1, 0.0001));
    let out = d.cli(&env, &["sessions", "input", "s2", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    fake.push(Reply::text("streamed"));
    let (status, _) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(&json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "hi"}]}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200);

    let text = metrics(&d);
    let failed_sessions = [
        ("api", "sessions"),
        ("model", MODEL),
        ("status", "failed"),
        ("code", "upstream_unauthorized"),
    ];
    assert_eq!(
        sample(&text, "ferry_requests_total", &failed_sessions),
        Some(1.0),
        "{text}"
    );
    let failed_facade = [
        ("api", "openai"),
        ("status", "502"),
        ("code", "upstream_unavailable"),
    ];
    assert_eq!(
        sample(&text, "ferry_requests_total", &failed_facade),
        Some(1.0),
        "{text}"
    );
    for api in ["sessions", "openai"] {
        let labels = [("api", api), ("route", "openrouter"), ("model", MODEL)];
        assert!(
            sample(&text, "ferry_upstream_latency_seconds_count", &labels).unwrap_or(0.0) >= 1.0,
            "{api} latency: {text}"
        );
        assert_eq!(
            sample(&text, "ferry_upstream_ttft_seconds_count", &labels),
            Some(1.0),
            "{api} ttft: {text}"
        );
    }
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "process_threads",
    ] {
        assert!(
            sample(&text, name, &[]).is_some_and(|v| v > 0.0),
            "{name}: {text}"
        );
    }
}

#[test]
fn failed_media_calls_are_logged_once_per_attempt_with_their_tool() {
    let (fake, _env, d) = start_default(&[]);
    let post = |path: &str, body: Value| {
        let (status, text) = http(d.port, "POST", path, &[], Some(&body.to_string())).unwrap();
        (status, json(&text))
    };
    // Image: a 400 is not retried (one line).
    fake.push(Reply::error(400, "Image prompt rejected"));
    let (status, problem) = post("/v1/tools/generate_image", json!({"prompt": "a fox"}));
    assert_eq!(
        (status, problem["code"].clone()),
        (400, json!("upstream_bad_request"))
    );
    // Speech: a 503, retried, then a success (one line for the failed attempt).
    fake.fail_next(MediaEndpoint::Speech, 503, "no provider");
    let (status, speech) = post(
        "/v1/tools/generate_audio",
        json!({"text": "A fox at dusk."}),
    );
    assert_eq!(status, 200, "{speech}");
    let audio = speech["assets"][0]["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Transcription: a 401 (one line).
    fake.push_transcription(TranscriptionReply::error(401, "User not found."));
    let (status, problem) = post("/v1/tools/transcribe_audio", json!({"asset_id": audio}));
    assert_eq!(status, 502, "{problem}");
    // Video: creating a job is not retried on a 400 (one line).
    fake.fail_next(MediaEndpoint::CreateVideo, 400, "prompt too long");
    let (status, problem) = post("/v1/tools/generate_video", json!({"prompt": "a fox"}));
    assert_eq!(status, 400, "{problem}");

    let log = d.log();
    let seen: Vec<(String, String, String, u64)> = log_events(&log, "upstream call failed")
        .iter()
        .map(|e| &e["fields"])
        .inspect(|f| {
            assert_eq!(f["api"], "media", "{f}");
            assert_eq!(f["route"], "openrouter", "{f}");
            assert!(!f["model"].as_str().unwrap().is_empty(), "{f}");
        })
        .map(|f| {
            (
                f["tool"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
                f["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("generate_image", "400", "upstream_bad_request", 1),
        ("generate_audio", "503", "upstream_unavailable", 1),
        ("transcribe_audio", "401", "upstream_unauthorized", 1),
        ("generate_video", "400", "upstream_bad_request", 1),
    ]
    .map(|(t, s, c, a)| (t.to_string(), s.to_string(), c.to_string(), a));
    assert_eq!(seen, want, "{log}");
    assert!(!log.contains(API_KEY), "the key is never logged");
}

/// Starts `tests/python/otlp_receiver.py`; returns the child, its port and the decoded
/// spans as they arrive.
fn start_receiver() -> (std::process::Child, u16, Arc<Mutex<Vec<Value>>>) {
    let python = python3();
    let deps = python_packages(python, "opentelemetry.proto");
    let mut cmd = Command::new(python);
    if let Some(dir) = &deps {
        cmd.env("PYTHONPATH", dir);
    }
    let mut child = cmd
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/otlp_receiver.py"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the OTLP receiver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port: u16 = first
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the OTLP receiver did not start: {first:?}"));
    let spans = Arc::new(Mutex::new(Vec::new()));
    let sink = spans.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                sink.lock().unwrap().push(v);
            }
        }
    });
    (child, port, spans)
}

#[test]
fn model_calls_are_exported_as_otlp_spans_with_genai_attributes() {
    let (mut receiver, port, spans) = start_receiver();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (fake, env, mut d) = start_default(&["--otlp-endpoint", &endpoint]);
    fake.push(Reply::text("traced answer").with_usage(12, 3, 0.0042));
    let out = d.cli(&env, &["sessions", "input", "traced", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    fake.push(Reply::text("facade answer").with_usage(7, 2, 0.001));
    let (status, _) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(&json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200);
    // Every other facade protocol, streamed and not, for the finish reasons.
    let calls = [
        (
            "/openai/v1/chat/completions",
            json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/openai/v1/responses",
            json!({"model": MODEL, "input": "hi"}),
        ),
        (
            "/openai/v1/responses",
            json!({"model": MODEL, "stream": true, "input": "hi"}),
        ),
        (
            "/anthropic/v1/messages",
            json!({"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/anthropic/v1/messages",
            json!({"model": MODEL, "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/openai/v1/embeddings",
            json!({"model": "openai/text-embedding-3-small", "input": "hi"}),
        ),
    ];
    for (path, body) in &calls {
        let (status, text) = http(d.port, "POST", path, &[], Some(&body.to_string())).unwrap();
        assert_eq!(status, 200, "{path}: {text}");
    }
    // Shutdown flushes the batch.
    assert_eq!(d.terminate(), Some(0), "{}", d.log());
    let got = eventually(Duration::from_secs(20), || {
        let spans = spans.lock().unwrap().clone();
        (spans.len() >= 2 + calls.len()).then_some(spans)
    });
    let _ = receiver.kill();
    let _ = receiver.wait();

    let find = |api: &str| {
        got.iter()
            .find(|s| s["attributes"]["ferry.api"] == api)
            .unwrap_or_else(|| panic!("no {api} span in {got:?}"))
            .clone()
    };
    let session = find("sessions");
    assert_eq!(session["content_type"], "application/x-protobuf");
    assert_eq!(session["name"], format!("chat {MODEL}"));
    assert_eq!(session["kind"], 3, "SPAN_KIND_CLIENT");
    assert_eq!(session["resource"]["service.name"], "ferry");
    let a = &session["attributes"];
    assert_eq!(a["gen_ai.operation.name"], "chat");
    assert_eq!(a["gen_ai.request.model"], MODEL);
    assert_eq!(a["gen_ai.usage.input_tokens"], 12);
    assert_eq!(a["gen_ai.usage.output_tokens"], 3);
    assert_eq!(a["gen_ai.usage.cost"], 0.0042);
    assert_eq!(a["gen_ai.response.finish_reasons"], json!(["stop"]));
    assert_eq!(a["gen_ai.conversation.id"], "traced");
    assert_eq!(a["ferry.route"], "openrouter");
    assert!(a["ferry.run_id"].as_str().unwrap().starts_with("run_"));
    assert!(session["duration_ns"].as_i64().unwrap() > 0);

    let facade = find("openai");
    let a = &facade["attributes"];
    assert_eq!(a["gen_ai.request.model"], MODEL);
    assert_eq!(a["gen_ai.usage.input_tokens"], 7);
    assert_eq!(a["gen_ai.usage.output_tokens"], 2);
    // Each protocol's own finish reason, on every facade span (embeddings have none).
    for (api, reason, count) in [
        ("openai", json!(["stop"]), 2),
        ("responses", json!(["completed"]), 2),
        ("anthropic", json!(["end_turn"]), 2),
        ("embeddings", Value::Null, 1),
    ] {
        let reasons: Vec<&Value> = got
            .iter()
            .filter(|s| s["attributes"]["ferry.api"] == api)
            .map(|s| &s["attributes"]["gen_ai.response.finish_reasons"])
            .collect();
        assert_eq!(reasons, vec![&reason; count], "{api}: {got:?}");
    }
    let text = got.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains(API_KEY) && !text.contains("hello"), "{text}");
}

#[test]
fn runs_are_listed_across_sessions_and_failed_turns_are_marked() {
    let (fake, env, d) = start_default(&[]);
    fake.push(Reply::text("ok answer"));
    assert!(d
        .cli(&env, &["sessions", "input", "good", "hi"])
        .status
        .success());
    fake.push(Reply::error(400, "Invalid request"));
    assert!(!d
        .cli(&env, &["sessions", "input", "bad", "doomed question"])
        .status
        .success());
    fake.push(Reply::text("second ok"));
    assert!(d
        .cli(&env, &["sessions", "input", "bad", "again"])
        .status
        .success());

    let out = d.cli(&env, &["runs", "list", "--status", "failed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let so = stdout(&out);
    assert_eq!(so.lines().count(), 1, "{so}");
    assert!(
        so.contains("failed (upstream_bad_request)") && so.contains(" bad "),
        "{so}"
    );

    let out = d.cli(&env, &["--json", "runs", "list", "--session", "bad"]);
    let v = json(&stdout(&out));
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][0]["status"], "completed", "newest first");

    // Cursor pagination over every session's runs.
    let (status, body) = http_get(d.port, "/v1/runs?limit=2").unwrap();
    assert_eq!(status, 200);
    let page1 = json(&body);
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a full page has a cursor");
    let (_, body) = http_get(d.port, &format!("/v1/runs?limit=2&cursor={cursor}")).unwrap();
    let page2 = json(&body);
    let ids: Vec<&str> = page1["runs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["runs"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{page1} {page2}");
    assert!(page2["next_cursor"].is_null());
    let (status, body) = http_get(d.port, "/v1/runs?status=broken").unwrap();
    assert_eq!(
        (status, json(&body)["code"].clone()),
        (400, json!("invalid_status"))
    );
    let (status, body) = http_get(d.port, "/v1/runs?cursor=run_nope").unwrap();
    assert_eq!(
        (status, json(&body)["code"].clone()),
        (404, json!("invalid_cursor"))
    );

    // The failed turn shows in its session, in order, with its error.
    let out = d.cli(&env, &["sessions", "show", "bad"]);
    let so = stdout(&out);
    let failed_at = so.find("[user] doomed question").expect(&so);
    let marker = so.find("FAILED: upstream_bad_request").expect(&so);
    let later = so.find("[user] again").expect(&so);
    assert!(failed_at < marker && marker < later, "{so}");
}

/// Starts a detached run in session `c` (its reply stalls after two chunks) and waits for
/// the second chunk; returns its id.
fn start_stalled_run(env: &Env, d: &Daemon) -> String {
    let out = d.cli(
        env,
        &["--json", "sessions", "input", "c", "--detach", "tell me"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let run_id = json(&stdout(&out))["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(20), || {
        let out = d.cli(env, &["runs", "events", &run_id, "--after", "0"]);
        stdout(&out).contains("part 2").then_some(())
    });
    run_id
}

/// [`start_stalled_run`], then cancels it.
fn start_then_cancel(env: &Env, d: &Daemon) -> String {
    let run_id = start_stalled_run(env, d);
    assert!(d.cli(env, &["runs", "cancel", &run_id]).status.success());
    run_id
}

#[test]
fn a_cancelled_run_keeps_its_partial_output_and_is_marked() {
    let (fake, env, d) = start_default(&[]);
    fake.push(Reply::stall_after(2, Duration::from_secs(20)));
    let run_id = start_then_cancel(&env, &d);
    let run = eventually(Duration::from_secs(20), || {
        let (_, body) = http_get(d.port, &format!("/v1/runs/{run_id}")).ok()?;
        let v = json(&body);
        (v["status"] == "cancelled").then_some(v)
    });
    assert!(
        run["output"]["text"].as_str().unwrap().contains("part 2"),
        "{run}"
    );
    let so = stdout(&d.cli(&env, &["sessions", "show", "c"]));
    assert!(
        so.contains("[assistant, partial]") && so.contains("CANCELLED"),
        "{so}"
    );
}

/// A daemon whose only route is the fake served as https://openrouter.ai (a verified
/// route: OpenRouter-only calls such as `GET /generation` are made there, and its catalog,
/// with `models` added, is authoritative).
fn verified_rig(models: &[&str]) -> (FakeOpenRouter, Env, Daemon) {
    verified_rig_with(models, |_| {})
}

/// [`verified_rig`] with the daemon's command adjusted by `adjust`.
fn verified_rig_with(
    models: &[&str],
    adjust: impl FnOnce(&mut Command),
) -> (FakeOpenRouter, Env, Daemon) {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    fake.set_api_key(API_KEY);
    fake.add_models(models);
    let env = Env::new();
    env.write_routes(&format!(
        "[routes.openrouter]\ndefault_model = \"{MODEL}\"\nauth_ref = \"openrouter.primary\"\ntimeout_ms = 5000\n[routes.openrouter.network]\nca_file = \"{}\"\nresolve = [\"openrouter.ai:443:127.0.0.1:{}\"]\n",
        fake.ca_pem_path().unwrap().display(),
        fake.addr().port()
    ));
    env.store_key_offline();
    let d = env.serve_with(&[], adjust);
    (fake, env, d)
}

#[test]
fn a_cancelled_run_keeps_the_tokens_and_cost_of_the_call_it_cut_short() {
    let (fake, env, d) = verified_rig(&[]);
    // The usage would come in the final chunk, which the cancel never lets arrive: only
    // the generation lookup can tell what the call cost.
    fake.push(Reply::stall_after(2, Duration::from_secs(20)).with_usage(40, 9, 0.0042));
    let run_id = start_then_cancel(&env, &d);
    let run = eventually(Duration::from_secs(20), || {
        let (_, body) = http_get(d.port, &format!("/v1/runs/{run_id}")).ok()?;
        let v = json(&body);
        (v["status"] == "cancelled" && v["cost"].is_number()).then_some(v)
    });
    assert!(
        (run["cost"].as_f64().unwrap() - 0.0042).abs() < 1e-12,
        "{run}"
    );
    assert_eq!(run["usage"]["prompt_tokens"], 40, "{run}");
    assert_eq!(run["usage"]["completion_tokens"], 9, "{run}");
    assert!(
        run["output"]["text"].as_str().unwrap().contains("part 2"),
        "the partial output is kept too: {run}"
    );
    let lookups: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|q| q.path == "/api/v1/generation")
        .collect();
    assert!(!lookups.is_empty(), "the generation was looked up");

    // The metrics and the spend ledger count the call.
    let text = metrics(&d);
    let labels = [("route", "openrouter"), ("model", MODEL)];
    assert_eq!(
        sample(
            &text,
            "ferry_tokens_total",
            &[labels[0], labels[1], ("kind", "prompt")]
        ),
        Some(40.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ferry_tokens_total",
            &[labels[0], labels[1], ("kind", "completion")]
        ),
        Some(9.0),
        "{text}"
    );
    let spend = eventually(Duration::from_secs(20), || {
        let (status, body) = http_get(d.port, "/v1/spend?by=kind").ok()?;
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        let session = v["groups"]
            .as_array()?
            .iter()
            .find(|g| g["group"] == "session")?
            .clone();
        Some(session)
    });
    assert!(
        (spend["cost_usd"].as_f64().unwrap() - 0.0042).abs() < 1e-12,
        "{spend}"
    );
    assert_eq!(spend["estimated_calls"], 0, "{spend}");
    assert_eq!(spend["prompt_tokens"], 40, "{spend}");
    assert_eq!(spend["completion_tokens"], 9, "{spend}");
}

#[test]
fn a_run_interrupted_by_shutdown_keeps_the_cost_of_the_call_it_cut_short() {
    let (fake, env, mut d) = verified_rig_with(&[], |c| {
        c.env("FERRY_SHUTDOWN_GRACE_MS", "200");
    });
    fake.push(Reply::stall_after(2, Duration::from_secs(20)).with_usage(40, 9, 0.0042));
    let run_id = start_stalled_run(&env, &d);
    // The grace period ends with the call in flight: the run is interrupted, and the
    // shutdown waits for the generation lookup before it closes the store.
    assert_eq!(d.terminate(), Some(0), "{}", d.log());
    let d = env.serve();
    let (_, body) = http_get(d.port, &format!("/v1/runs/{run_id}")).unwrap();
    let run = json(&body);
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(
        (run["cost"].as_f64().unwrap_or(0.0) - 0.0042).abs() < 1e-12,
        "{run}"
    );
    assert_eq!(run["usage"]["prompt_tokens"], 40, "{run}");
    let (_, body) = http_get(d.port, "/v1/spend?by=kind").unwrap();
    let spend = json(&body);
    let session = spend["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "session")
        .unwrap_or_else(|| panic!("no session spend: {spend}"));
    assert!(
        (session["cost_usd"].as_f64().unwrap() - 0.0042).abs() < 1e-12,
        "{spend}"
    );
}

#[test]
fn a_model_the_catalog_does_not_know_is_refused_with_the_closest_ids() {
    // A verified route (custom proxies' catalogs are not checked).
    let (fake, env, d) = verified_rig(&["openai/gpt-5.4"]);
    let out = d.cli(&env, &["models", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = d.cli(
        &env,
        &["runtime", "set-model", "openrouter/openai/gpt-5.4-minii"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown_model"), "{err}");
    assert!(
        err.contains("closest: openai/gpt-5.4-mini, openai/gpt-5.4"),
        "{err}"
    );
    let out = d.cli(
        &env,
        &[
            "runtime",
            "set-model",
            "openrouter/anthropic/claude-sonnet-4-5",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.cli(
        &env,
        &["runtime", "set-model", "openrouter/openrouter/auto"],
    );
    assert!(
        out.status.success(),
        "the router is always allowed: {}",
        stderr(&out)
    );

    let before = fake.chat_requests().len();
    let out = d.cli(
        &env,
        &["sessions", "input", "s", "--model", "nosuch/model-x", "hi"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not in route openrouter's model catalog"));
    assert_eq!(
        fake.chat_requests().len(),
        before,
        "nothing was sent upstream"
    );
}

#[test]
fn an_unreachable_upstream_makes_status_degraded_without_blocking_start() {
    let closed = free_port();
    let env = Env::new();
    // A verified openrouter.ai route whose address is pinned to a closed loopback port.
    env.write_routes(&format!(
        "[routes.openrouter]\ndefault_model = \"{MODEL}\"\nauth_ref = \"openrouter.primary\"\nconnect_timeout_ms = 500\n[routes.openrouter.network]\nresolve = [\"openrouter.ai:443:127.0.0.1:{closed}\"]\n"
    ));
    env.store_key_offline();
    let d = env.serve_with(&["--upstream-probe-ms", "200"], |_| {});
    let status = eventually(Duration::from_secs(30), || {
        let (_, body) = http_get(d.port, "/v1/status").ok()?;
        let v = json(&body);
        (v["state"] == "degraded").then_some(v)
    });
    let why = status["degraded"].as_str().unwrap();
    assert!(why.starts_with("OpenRouter unreachable since "), "{why}");
    let out = d.cli(&env, &["status"]);
    let so = stdout(&out);
    assert!(
        so.contains("degraded: OpenRouter unreachable since"),
        "{so}"
    );
    let out = d.cli(&env, &["runtime", "get"]);
    assert!(
        stdout(&out).contains("degraded: OpenRouter unreachable since"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        log_events(&d.log(), "upstream unreachable").len(),
        1,
        "one warning per outage:\n{}",
        d.log()
    );
}

//! Issue 15, team access: virtual keys with scopes, routes and model globs; budgets that
//! never overshoot under concurrency (reservations, released after a kill -9); rate limits
//! with OpenAI's headers; the spend ledger against what the fake billed; upstream key
//! provisioning; and keys that never leak.

use std::time::{Duration, Instant};

use ferry_assets::testdata;
use ferry_fake_openrouter::{Gate, VideoScript};
use ferry_openrouter::media::to_data_url;
use serde_json::{json, Value};

use crate::support::*;

const OPERATOR: &str = "operator-token-for-team-tests";

/// A priced model (`team/priced`: completion $0.00001/token, prompt free) and a free one
/// (`team/free`), so worst cases are known exactly: max_tokens 1000 → $0.01.
fn team_models() -> Value {
    let model = |id: &str, completion: &str| {
        json!({
            "id": id, "name": id, "context_length": 100_000,
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0", "completion": completion, "request": "0"},
            "top_provider": {"max_completion_tokens": 4000},
            "supported_parameters": ["max_tokens"]
        })
    };
    json!([
        model("team/priced", "0.00001"),
        model("team/exact", "0.00001"),
        model("team/held", "0.00001"),
        model("team/free", "0"),
        model("openai/gpt-5.4-mini", "0.000002"),
        model("anthropic/claude-sonnet-4-5", "0.000015"),
        {"id": "team/image", "name": "priced image model",
         "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]},
         "pricing": {"prompt": "0", "completion": "0", "image": "0.03"}},
        {"id": "google/gemini-2.5-flash-image", "name": "img",
         "architecture": {"input_modalities": ["text"], "output_modalities": ["image", "text"]},
         "pricing": {"prompt": "0", "completion": "0"}}
    ])
}

fn rig_with(route_keys: &str, serve_args: &[&str]) -> Rig {
    Rig::with(RigOptions {
        route_keys,
        serve_args,
        serve_env: &[("FERRY_TOKEN", OPERATOR)],
        models: Some(team_models()),
        ..RigOptions::default()
    })
}

fn serve(env: &Env, serve_args: &[&str]) -> Daemon {
    env.serve_with(serve_args, |c| {
        c.env("FERRY_TOKEN", OPERATOR);
    })
}

impl Rig {
    /// The CLI as the operator.
    fn op(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = self.d.command(&self.env, args);
        cmd.env("FERRY_TOKEN", OPERATOR);
        run_with_timeout(cmd, Duration::from_secs(60))
    }

    fn op_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.op(&full);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        json(&stdout(&out))
    }

    /// `ferry keys create NAME ARGS… --json` → (id, secret).
    fn create_key(&self, name: &str, args: &[&str]) -> (String, String) {
        let mut full = vec!["keys", "create", name];
        full.extend_from_slice(args);
        let v = self.op_json(&full);
        let secret = v["secret"].as_str().expect("secret").to_string();
        assert!(secret.starts_with("fk-"), "{v}");
        (v["key"]["id"].as_str().unwrap().to_string(), secret)
    }

    fn chat(&self, credential: &str, body: &Value) -> RawResponse {
        let auth = format!("Bearer {credential}");
        http_bytes(
            self.d.port,
            "POST",
            "/openai/v1/chat/completions",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    /// `GET path` with `credential` as the bearer token.
    fn get_as(&self, credential: &str, path: &str) -> (u16, Value) {
        let auth = format!("Bearer {credential}");
        let (status, text) =
            http(self.d.port, "GET", path, &[("Authorization", &auth)], None).expect("http");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn spend(&self, by: &str) -> Value {
        let (status, v) = self.get_as(OPERATOR, &format!("/v1/spend?by={by}"));
        assert_eq!(status, 200, "{v}");
        v
    }
}

fn group(spend: &Value, name: &str) -> f64 {
    spend["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == name)
        .map_or(0.0, |g| g["cost_usd"].as_f64().unwrap())
}

fn stream_body(model: &str, max_tokens: u64) -> Value {
    json!({"model": model, "stream": true, "max_tokens": max_tokens,
           "messages": [{"role": "user", "content": "hi"}]})
}

fn assert_budget_refusal(r: &RawResponse) {
    assert_eq!(r.status, 402, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-should-retry"), Some("false"));
    let v = r.json();
    assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
    assert_eq!(v["error"]["type"], "insufficient_quota", "{v}");
}

#[test]
pub(crate) fn budgets_never_overshoot_under_concurrency_and_reservations_die_with_the_daemon() {
    let mut r = rig_with("", &[]);
    // 200 concurrent streams that may each cost up to $0.01 and cost $0.008.
    for _ in 0..200 {
        r.fake.push_for_model(
            "team/priced",
            Reply::text("fine")
                .with_usage(3, 2, 0.008)
                .chunk_delay(Duration::from_millis(5)),
        );
    }
    let (team, secret) = r.create_key("team", &["--budget", "1.00", "--period", "month"]);
    let results: Vec<RawResponse> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|_| s.spawn(|| r.chat(&secret, &stream_body("team/priced", 1000))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|x| x.status == 200).count();
    for refused in results.iter().filter(|x| x.status != 200) {
        assert_budget_refusal(refused);
    }
    assert!(
        ok >= 100,
        "at least $1.00 / $0.01 worst case were admitted: {ok}"
    );
    assert!(
        ok <= 125,
        "never more than $1.00 / $0.008 were admitted: {ok}"
    );
    let by_key = r.spend("key");
    let ledger = group(&by_key, &team);
    let billed: f64 = r.fake.generation_costs().iter().map(|(_, c)| c).sum();
    assert!(ledger <= 1.0 + 1e-9, "ledger {ledger}");
    assert!(billed <= 1.0 + 1e-9, "fake billed {billed}");
    assert!(
        (ledger - billed).abs() < 1e-9,
        "ledger {ledger} = billed {billed}"
    );
    assert!((ledger - 0.008 * ok as f64).abs() < 1e-9);

    // When spend equals the budget exactly, even a free call is refused.
    for _ in 0..2 {
        r.fake
            .push_for_model("team/exact", Reply::text("x").with_usage(1, 1, 0.01));
    }
    let (_, exact) = r.create_key("exact", &["--budget", "0.02"]);
    for _ in 0..2 {
        let ok = r.chat(&exact, &stream_body("team/exact", 1000));
        assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    }
    assert_budget_refusal(&r.chat(&exact, &stream_body("team/free", 10)));

    // Open reservations: five streams held open by the fake reserve $0.05 of a $0.05
    // budget, so a sixth is refused; after kill -9 the restarted daemon admits again.
    let gate = Gate::new();
    for _ in 0..5 {
        r.fake.push_for_model(
            "team/held",
            Reply::gated(gate.clone(), Reply::text("slow").with_usage(1, 1, 0.01)),
        );
    }
    let (_, held) = r.create_key("held", &["--budget", "0.05"]);
    let before = r.fake.chat_requests().len();
    let port = r.d.port;
    let readers: Vec<_> = (0..5)
        .map(|_| {
            let h = held.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let body = stream_body("team/held", 1000).to_string();
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let _ = write!(s, "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {h}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                // Hold the stream open until the daemon dies.
                let _ = s.read_to_end(&mut Vec::new());
            })
        })
        .collect();
    eventually(Duration::from_secs(20), || {
        (r.fake.chat_requests().len() >= before + 5).then_some(())
    });
    assert_budget_refusal(&r.chat(&held, &stream_body("team/held", 1000)));
    r.d.kill9();
    for t in readers {
        let _ = t.join();
    }
    // Reservations live in memory only: the restarted daemon has none.
    r.d = serve(&r.env, &[]);
    r.fake
        .push_for_model("team/held", Reply::text("again").with_usage(1, 1, 0.01));
    let again = r.chat(&held, &stream_body("team/held", 1000));
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    gate.open();
}

/// `POST /v1/tools/{tool}` with `body` as `secret`'s holder → (status, body).
fn tool(r: &Rig, secret: &str, tool: &str, body: Value) -> (u16, Value) {
    let (status, text) = http(
        r.d.port,
        "POST",
        &format!("/v1/tools/{tool}"),
        &[("Authorization", &format!("Bearer {secret}"))],
        Some(&body.to_string()),
    )
    .expect("http");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn media_calls_reserve_their_worst_case_and_never_overshoot() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let r = rig_with("[routes.openrouter.media]\nvideo_poll_ms = 20\n", &[]);
    // An image model at $0.03 an image: ten concurrent calls held upstream against a
    // $0.10 budget: exactly three fit, the other seven are refused at once.
    let gate = Gate::new();
    for _ in 0..10 {
        r.fake.push_for_model(
            "team/image",
            Reply::gated(
                gate.clone(),
                Reply::images(vec![to_data_url("image/png", &testdata::png())])
                    .with_usage(5, 5, 0.03),
            ),
        );
    }
    let both = ["--scope", "sessions", "--scope", "facade"];
    let (media, secret) = r.create_key("media", &[&both[..], &["--budget", "0.10"]].concat());
    let refused = AtomicUsize::new(0);
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    let out = tool(
                        &r,
                        &secret,
                        "generate_image",
                        json!({"prompt": "a fox", "model": "team/image"}),
                    );
                    if out.0 != 200 {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                    out
                })
            })
            .collect();
        eventually(Duration::from_secs(30), || {
            (refused.load(Ordering::SeqCst) >= 7).then_some(())
        });
        gate.open();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 3, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 402, "{body}");
        assert_eq!(body["code"], "budget_exceeded", "{body}");
    }
    let ledger = group(&r.spend("key"), &media);
    assert!((ledger - 0.09).abs() < 1e-9, "ledger {ledger}");
    let view = r.op_json(&["keys", "show", &media]);
    assert_eq!(view["reserved_usd"].as_f64(), Some(0.0), "{view}");
    let (status, body) = tool(
        &r,
        &secret,
        "generate_image",
        json!({"prompt": "a fox", "model": "team/image"}),
    );
    assert_eq!((status, &body["code"]), (402, &json!("budget_exceeded")));

    // Speech reports no cost and speech-to-text only afterwards: refused under a budget,
    // in each protocol's shape, with what to do about it.
    let (status, body) = tool(&r, &secret, "generate_audio", json!({"text": "hello"}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "budget_unpriced_model", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("key without a budget"),
        "{body}"
    );
    let speech = http_bytes(
        r.d.port,
        "POST",
        "/openai/v1/audio/speech",
        &[
            ("Authorization", &format!("Bearer {secret}")),
            ("Content-Type", "application/json"),
        ],
        json!({"model": "openai/gpt-4o-mini-tts", "input": "hi", "voice": "alloy"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(speech.status, 400);
    assert_eq!(speech.json()["error"]["code"], "budget_unpriced_model");

    // A video job reserves its dearest SKU × duration (Veo 3.1 Fast: $0.15/s × 4 s) until
    // its poller has charged it: a second job does not fit beside it; the job's cost
    // (the fake's $0.50) is charged when it ends, and the reservation goes.
    r.fake.push_video(VideoScript::new().polls(1, 1));
    let (video_key, video_secret) =
        r.create_key("video", &[&both[..], &["--budget", "1.00"]].concat());
    let body = json!({"prompt": "a fox", "duration": 4});
    let (status, job) = tool(&r, &video_secret, "generate_video", body.clone());
    assert_eq!(status, 202, "{job}");
    let (status, second) = tool(&r, &video_secret, "generate_video", body.clone());
    assert_eq!(status, 402, "{second}");
    let view = eventually(Duration::from_secs(30), || {
        let v = r.op_json(&["keys", "show", &video_key]);
        (v["reserved_usd"].as_f64() == Some(0.0)).then_some(v)
    });
    assert!(
        (view["spent_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "{view}"
    );
    let (status, third) = tool(&r, &video_secret, "generate_video", body.clone());
    assert_eq!(status, 402, "{third}");
    assert_eq!(r.fake.requests_to("/videos").len(), 1);

    // `?wait=true` submits one job (not two) and answers once it is done.
    r.fake.push_video(VideoScript::new().polls(0, 1));
    let (status, done) = tool(&r, OPERATOR, "generate_video?wait=true", body);
    assert_eq!(status, 200, "{done}");
    assert_eq!(r.fake.requests_to("/videos").len(), 2);
}

#[test]
pub(crate) fn scopes_routes_globs_expiry_and_revocation() {
    let r = rig_with("", &["--require-keys"]);
    // --require-keys: no credential is refused even on loopback.
    let (status, v) = http_get(r.d.port, "/v1/sessions").unwrap();
    assert_eq!(status, 401, "{v}");

    let (_, facade) = r.create_key("ci", &["--scope", "facade"]);
    for path in ["/v1/sessions", "/v1/secrets", "/v1/keys", "/v1/spend"] {
        let (status, v) = r.get_as(&facade, path);
        assert_eq!(status, 403, "{path}: {v}");
        assert_eq!(v["code"], "scope_denied", "{v}");
    }
    let ok = r.chat(
        &facade,
        &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));

    // A key limited to anthropic/* cannot use openai/gpt-5.4-mini (403, OpenAI shape).
    let (_, claude) = r.create_key("claude-only", &["--model", "anthropic/*"]);
    let before = r.fake.chat_requests().len();
    let denied = r.chat(
        &claude,
        &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error"]["code"], "model_denied");
    assert_eq!(denied.json()["error"]["type"], "permission_error");
    assert_eq!(
        r.fake.chat_requests().len(),
        before,
        "nothing went upstream"
    );
    // The allowed model works, here on the Anthropic facade with x-api-key.
    let allowed = http_bytes(
        r.d.port,
        "POST",
        "/anthropic/v1/messages",
        &[("x-api-key", &claude), ("Content-Type", "application/json")],
        json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 50,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(
        allowed.status,
        200,
        "{}",
        String::from_utf8_lossy(&allowed.body)
    );

    // A key limited to another route gets 403 route_denied.
    let out = r.op(&["keys", "create", "elsewhere", "--route", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));

    // Revoked: 401 at once.
    let (id, revoked) = r.create_key("gone", &[]);
    r.op_json(&["keys", "revoke", &id]);
    let gone = r.chat(
        &revoked,
        &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(gone.status, 401);
    assert_eq!(gone.json()["error"]["code"], "unauthorized");
    assert!(gone.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    // Expired: 401 once the expiry has passed.
    let (_, short) = r.create_key("short", &["--expires-in", "1s"]);
    let started = Instant::now();
    let (status, v) = eventually(Duration::from_secs(10), || {
        let (status, v) = r.get_as(&short, "/openai/v1/models");
        (status == 401).then_some((status, v))
    });
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(status, 401);
    assert!(v.to_string().contains("expired"), "{v}");

    // An unknown key and a wrong token are 401 too.
    assert_eq!(r.get_as("fk-not-a-key", "/openai/v1/models").0, 401);
    assert_eq!(r.get_as("wrong-token", "/v1/status").0, 401);
}

#[test]
pub(crate) fn the_61st_request_in_a_minute_is_rate_limited_with_openai_headers() {
    let r = rig_with("", &[]);
    let (_, key) = r.create_key("script", &["--rpm", "60"]);
    let body =
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]});
    let started = Instant::now();
    let mut first_limited = None;
    for i in 0..120 {
        let resp = r.chat(&key, &body);
        if i == 0 {
            // Every response of a key with limits says what is left, like OpenAI's.
            assert_eq!(resp.header("x-ratelimit-limit-requests"), Some("60"));
            assert_eq!(resp.header("x-ratelimit-remaining-requests"), Some("59"));
            assert_eq!(resp.header("x-ratelimit-reset-requests"), Some("1.000s"));
            assert_eq!(resp.header("x-ratelimit-limit-tokens"), None);
        }
        if resp.status == 429 {
            first_limited = Some((i, resp));
            break;
        }
        assert_eq!(
            resp.status,
            200,
            "request {i}: {}",
            String::from_utf8_lossy(&resp.body)
        );
    }
    let (index, resp) = first_limited.expect("a request was rate limited");
    // GCRA: a full minute's worth at once, then one more per second elapsed.
    let grace = started.elapsed().as_secs() as usize + 1;
    assert!(
        index >= 60,
        "the first 60 requests pass (limited at {index})"
    );
    assert!(
        index <= 60 + grace,
        "limited at request {} after {grace}s",
        index + 1
    );
    let v = resp.json();
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(resp.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(resp.header("x-ratelimit-limit-requests"), Some("60"));
    assert_eq!(resp.header("x-ratelimit-remaining-requests"), Some("0"));
    assert!(resp
        .header("x-ratelimit-reset-requests")
        .unwrap()
        .ends_with('s'));

    // A token limit: a streamed answer and an Anthropic Messages answer both carry it;
    // the operator and keys without limits get no such headers.
    let (_, tokens) = r.create_key("tokens", &["--tpm", "100000"]);
    let streamed = r.chat(&tokens, &stream_body("openai/gpt-5.4-mini", 1000));
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.header("x-ratelimit-limit-tokens"), Some("100000"));
    let left: u64 = streamed
        .header("x-ratelimit-remaining-tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(left <= 100_000 - 1000, "max_tokens counts: {left} left");
    assert!(streamed.header("x-ratelimit-reset-tokens").is_some());
    assert_eq!(streamed.header("x-ratelimit-limit-requests"), None);
    let messages = http_bytes(
        r.d.port,
        "POST",
        "/anthropic/v1/messages",
        &[("x-api-key", &tokens), ("Content-Type", "application/json")],
        json!({"model": "openai/gpt-5.4-mini", "max_tokens": 100,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(
        messages.status,
        200,
        "{}",
        String::from_utf8_lossy(&messages.body)
    );
    assert_eq!(messages.header("x-ratelimit-limit-tokens"), Some("100000"));
    let (_, unlimited) = r.create_key("unlimited", &[]);
    for credential in [OPERATOR, unlimited.as_str()] {
        let plain = r.chat(credential, &body);
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("x-ratelimit-limit-requests"), None);
        assert_eq!(plain.header("x-ratelimit-limit-tokens"), None);
    }
}

#[test]
pub(crate) fn the_ledger_matches_what_the_fake_billed_per_key_model_and_kind() {
    let r = rig_with("", &[]);
    let (alice, a_secret) = r.create_key("alice", &["--scope", "facade", "--scope", "sessions"]);
    let (bob, b_secret) = r.create_key("bob", &["--budget", "10"]);

    // Facade calls by both keys, one non-streaming and one streaming.
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::text("a").with_usage(10, 5, 0.003),
    );
    r.fake.push_for_model(
        "anthropic/claude-sonnet-4-5",
        Reply::text("b").with_usage(20, 7, 0.0125),
    );
    let a = r.chat(
        &a_secret,
        &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(a.status, 200);
    let b = r.chat(&b_secret, &stream_body("anthropic/claude-sonnet-4-5", 100));
    assert_eq!(b.status, 200);

    // Anthropic Messages with x-api-key, and OpenAI Responses: every protocol is charged.
    r.fake.push_for_model(
        "anthropic/claude-sonnet-4-5",
        Reply::text("m").with_usage(6, 3, 0.002),
    );
    let m = http_bytes(
        r.d.port,
        "POST",
        "/anthropic/v1/messages",
        &[
            ("x-api-key", &b_secret),
            ("Content-Type", "application/json"),
        ],
        json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 100,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(m.status, 200, "{}", String::from_utf8_lossy(&m.body));
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::text("r").with_usage(2, 2, 0.0007),
    );
    let auth_a = format!("Bearer {a_secret}");
    let resp = http_bytes(
        r.d.port,
        "POST",
        "/openai/v1/responses",
        &[
            ("Authorization", &auth_a),
            ("Content-Type", "application/json"),
        ],
        json!({"model": "openai/gpt-5.4-mini", "input": "hi", "max_output_tokens": 50})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));

    // A session run and a direct media tool by alice.
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::text("run").with_usage(4, 2, 0.002),
    );
    let auth = format!("Bearer {a_secret}");
    let (status, run) = http(
        r.d.port,
        "POST",
        "/v1/sessions/s1/input",
        &[("Authorization", &auth)],
        Some(&json!({"content": "hello"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{run}");
    r.fake.push_for_model(
        "google/gemini-2.5-flash-image",
        Reply::images(vec![to_data_url("image/png", &testdata::png())]).with_usage(5, 5, 0.04),
    );
    let (status, tool) = http(
        r.d.port,
        "POST",
        "/v1/tools/generate_image",
        &[("Authorization", &auth)],
        Some(&json!({"prompt": "a fox", "model": "google/gemini-2.5-flash-image"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{tool}");

    // The operator's own call is in the ledger too, without a key.
    r.fake.push_for_model(
        "openai/gpt-5.4-mini",
        Reply::text("op").with_usage(1, 1, 0.001),
    );
    assert_eq!(
        r.chat(
            OPERATOR,
            &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]})
        )
        .status,
        200
    );

    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let by_key = r.spend("key");
    assert!(
        close(group(&by_key, &alice), 0.003 + 0.0007 + 0.002 + 0.04),
        "{by_key}"
    );
    assert!(close(group(&by_key, &bob), 0.0125 + 0.002), "{by_key}");
    assert!(close(group(&by_key, "operator"), 0.001), "{by_key}");
    let by_kind = r.spend("kind");
    assert!(
        close(
            group(&by_kind, "facade"),
            0.003 + 0.0125 + 0.002 + 0.0007 + 0.001
        ),
        "{by_kind}"
    );
    assert!(close(group(&by_kind, "session"), 0.002), "{by_kind}");
    assert!(close(group(&by_kind, "media"), 0.04), "{by_kind}");
    let by_model = r.spend("model");
    let mut fake_by_model = std::collections::HashMap::<String, f64>::new();
    for (model, cost) in r.fake.generation_costs() {
        *fake_by_model.entry(model).or_default() += cost;
    }
    for (model, cost) in &fake_by_model {
        assert!(close(group(&by_model, model), *cost), "{model}: {by_model}");
    }
    assert!(close(
        by_model["total_usd"].as_f64().unwrap(),
        fake_by_model.values().sum()
    ));

    // Split by a second grouping: (kind, key) rows that add up to each kind; split must
    // differ from by.
    let split = r.spend("kind&split=key");
    for kind in ["facade", "session", "media"] {
        let rows: f64 = split["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["group"] == kind)
            .map(|g| g["cost_usd"].as_f64().unwrap())
            .sum();
        assert!(close(rows, group(&by_kind, kind)), "{kind}: {split}");
    }
    assert!(
        split["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["group"] == "media" && g["split"] == alice.as_str()),
        "{split}"
    );
    let (status, v) = r.get_as(OPERATOR, "/v1/spend?by=kind&split=kind");
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_grouping"))
    );
    let table = stdout(&r.op(&["spend", "--by", "kind", "--split", "key"]));
    assert!(table.contains(&format!("media / {alice}")), "{table}");

    // Bob's spend shows against his budget; the CLI table and the metric agree.
    let bob_view = r.op_json(&["keys", "show", &bob]);
    assert!(
        close(bob_view["spent_usd"].as_f64().unwrap(), 0.0145),
        "{bob_view}"
    );
    let table = stdout(&r.op(&["spend", "--by", "kind"]));
    assert!(
        table.contains("media") && table.contains("session"),
        "{table}"
    );
    let (_, metrics) = http(
        r.d.port,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {OPERATOR}"))],
        None,
    )
    .unwrap();
    assert!(
        metrics.contains(r#"ferry_spend_usd_total{route="openrouter",kind="media"} 0.04"#),
        "{metrics}"
    );

    // The secrets never show: not in the database or any state file (only hashes), not in
    // the log, not in --json listings, not in errors.
    let state = String::from_utf8_lossy(&r.env.all_state_bytes()).into_owned();
    let log = r.d.log();
    let listings = [
        stdout(&r.op(&["--json", "keys", "list"])),
        stdout(&r.op(&["--json", "keys", "show", &alice])),
        stdout(&r.op(&["--json", "spend"])),
        stdout(&r.op(&["keys", "list"])),
    ];
    let (_, err) = r.get_as(OPERATOR, "/v1/keys/key_nope");
    let wrong = format!("{}x", a_secret);
    let (_, unauthorized) = r.get_as(&wrong, "/v1/keys");
    for secret in [&a_secret, &b_secret] {
        assert!(
            !state.contains(secret.as_str()),
            "a key is stored in the state root"
        );
        assert!(
            !state.contains(&secret[3..]),
            "a key is stored in the state root"
        );
        assert!(!log.contains(&secret[3..]), "a key is in the log");
        for l in &listings {
            assert!(!l.contains(&secret[3..]), "a key is in a listing: {l}");
        }
        assert!(!err.to_string().contains(&secret[3..]));
        assert!(!unauthorized.to_string().contains(&secret[3..]));
    }
}

#[test]
fn upstream_limit_provisions_an_openrouter_key_used_for_the_keys_traffic() {
    const MANAGEMENT: &str = "sk-or-v1-management-0123456789abcdef0123456789abcdef";
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    fake.set_models(team_models());
    fake.set_management_key(MANAGEMENT);
    let env = Env::new();
    env.write_routes(&default_routes(
        &fake.base_url(),
        "management_auth_ref = \"openrouter.management\"",
    ));
    env.store_key_offline();
    let out = env
        .cli(&[
            "secrets",
            "set",
            "openrouter.management",
            "--offline",
            "--state-root",
            env.state().to_str().unwrap(),
            "--provider",
            "openrouter",
            "--from-env",
            "MGMT",
        ])
        .env("MGMT", MANAGEMENT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let d = serve(&env, &[]);
    let r = Rig { fake, env, d };

    let v = r.op_json(&[
        "keys",
        "create",
        "contractor",
        "--budget",
        "5",
        "--period",
        "week",
        "--upstream-limit",
        "5",
    ]);
    let id = v["key"]["id"].as_str().unwrap().to_string();
    let secret = v["secret"].as_str().unwrap().to_string();
    let provisioned = r.fake.provisioned_keys();
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0].limit, Some(5.0));
    assert_eq!(provisioned[0].limit_reset.as_deref(), Some("weekly"));
    assert_eq!(v["key"]["upstream"]["hash"], provisioned[0].hash);
    let create = r
        .fake
        .requests()
        .into_iter()
        .find(|q| q.method == "POST" && q.path.ends_with("/keys"))
        .expect("POST /keys");
    assert_eq!(
        create.header("authorization"),
        Some(&*format!("Bearer {MANAGEMENT}"))
    );

    // The key's traffic uses the provisioned key; the operator's uses the route's.
    let resp = r.chat(
        &secret,
        &json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let sent = r.fake.chat_requests();
    let last = sent.last().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(&*format!("Bearer {}", provisioned[0].key))
    );
    // The provisioned key is sealed in the secret store, never in plain in the state root.
    let state = String::from_utf8_lossy(&r.env.all_state_bytes()).into_owned();
    assert!(!state.contains(&provisioned[0].key));

    // Revoking disables it upstream.
    r.op_json(&["keys", "revoke", &id]);
    assert!(r.fake.provisioned_keys()[0].disabled);
    let patch = r
        .fake
        .requests()
        .into_iter()
        .find(|q| q.method == "PATCH")
        .expect("PATCH /keys/{hash}");
    assert!(patch.path.ends_with(&provisioned[0].hash));
    assert_eq!(patch.body.as_ref().unwrap()["disabled"], true);
}

/// A key's model globs hold for fallbacks too. A session input naming a fallback the key
/// may not use is refused at once, before anything is stored or sent (it was run: the
/// target failed and the excluded fallback answered). The route's own fallbacks the key
/// may not use are left out of its chain: its facade call fails with the target instead
/// of reaching them, while the operator's same call falls back.
#[test]
fn fallbacks_stay_within_a_keys_models() {
    let r = rig_with(
        "fallbacks = [\"openai/gpt-5.4-mini\"]\n",
        &["--require-keys"],
    );
    let (_, claude) = r.create_key(
        "claude-only",
        &[
            "--model",
            "anthropic/*",
            "--scope",
            "facade",
            "--scope",
            "sessions",
        ],
    );
    let auth = format!("Bearer {claude}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];

    let named = http_bytes(
        r.d.port,
        "POST",
        "/v1/sessions/fb/input",
        &headers,
        json!({"content": "hi", "model": "anthropic/claude-sonnet-4-5",
               "fallbacks": ["openai/gpt-5.4-mini"]})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(
        named.status,
        403,
        "{}",
        String::from_utf8_lossy(&named.body)
    );
    let problem = named.json();
    assert_eq!(problem["code"], "model_denied", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("fallback") && d.contains("openai/gpt-5.4-mini")),
        "{problem}"
    );
    assert!(r.fake.chat_requests().is_empty(), "nothing went upstream");
    let (status, _) = r.get_as(OPERATOR, "/v1/sessions/fb");
    assert_eq!(status, 404, "nothing was stored");

    // The target fails every attempt; the route falls back to openai/gpt-5.4-mini.
    let failing = || {
        for _ in 0..8 {
            r.fake.push_for_model(
                "anthropic/claude-sonnet-4-5",
                Reply::error(503, "overloaded"),
            );
        }
    };
    let body = json!({"model": "anthropic/claude-sonnet-4-5",
                      "messages": [{"role": "user", "content": "hi"}]});
    failing();
    let keyed = r.chat(&claude, &body);
    assert!(
        keyed.status >= 500,
        "{}",
        String::from_utf8_lossy(&keyed.body)
    );
    let served: Vec<String> = r
        .fake
        .chat_requests()
        .iter()
        .filter_map(|q| q.body.as_ref()?["model"].as_str().map(str::to_owned))
        .collect();
    assert!(
        served.iter().all(|m| m.starts_with("anthropic/")),
        "the key's call reached {served:?}"
    );

    r.fake.clear_requests();
    failing();
    let operator = r.chat(OPERATOR, &body);
    assert_eq!(
        operator.status,
        200,
        "{}",
        String::from_utf8_lossy(&operator.body)
    );
    assert!(
        r.fake.chat_requests().iter().any(|q| q
            .body
            .as_ref()
            .is_some_and(|b| b["model"] == "openai/gpt-5.4-mini")),
        "the operator's call fell back"
    );
}

/// An empty ledger totals 0 (not `-0.0`, which printed as "$-0.0000"), and so does an
/// empty range.
#[test]
fn an_empty_spend_report_totals_zero() {
    let r = rig_with("", &[]);
    let (status, text) = http(
        r.d.port,
        "GET",
        "/v1/spend",
        &[("Authorization", &format!("Bearer {OPERATOR}"))],
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"total_usd\":0.0"), "{text}");
    let out = r.op(&["spend"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("-0"), "{}", stdout(&out));

    // An empty range is answered as such (a schema-valid request is not refused).
    let (status, v) = r.get_as(OPERATOR, "/v1/spend?since=2026-12-07&until=2026-12-01");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total_usd"], json!(0.0), "{v}");
    assert!(v["groups"].as_array().unwrap().is_empty(), "{v}");
}

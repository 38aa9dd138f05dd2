//! Issue 4: OpenRouter request shaping asserted on what the fake upstream recorded — once on
//! a verified route (the fake served as https://openrouter.ai over TLS through `ca_file` and
//! a `resolve` pin) and once on a custom `base_url`, where none of it may appear.

use serde_json::{json, Value};

use crate::support::*;

/// The verified route's fake (served as https://openrouter.ai over TLS) and a rig whose
/// `fake` answers the custom `proxy` route.
struct Shaping {
    verified: FakeOpenRouter,
    r: Rig,
}

const MODELS: &str = r#"
[routes.ROUTE.attribution]
referer = "https://example.org/my-app"
title = "ferry-tests"
categories = ["cli-agent", "programming-app"]

[routes.ROUTE.provider]
sort = "price"

[routes.ROUTE.models."anthropic/claude-sonnet-4-5"]
provider = { order = ["anthropic", "aws-bedrock"], allow_fallbacks = false }
params = { cacheControlTtl = "1h", responseCache = true, responseCacheTtlSeconds = 999999, maxTokens = 512, temperature = 0.3 }

[routes.ROUTE.models."anthropic/claude-haiku-4-5"]
params = { cache_control_ttl = "none" }

[routes.ROUTE.models."openai/gpt-5.4-mini"]
params = { response_cache = true, response_cache_ttl_seconds = 0, response_cache_clear = true, seed = 7, stop = ["END"] }
"#;

fn rig() -> Shaping {
    let verified = FakeOpenRouter::start_tls("openrouter.ai");
    verified.set_api_key(API_KEY);
    // The verified route refuses models its catalog does not list: list the ones used here.
    verified.add_models(&[
        "anthropic/claude-haiku-4-5",
        "anthropic/claude-opus-4-5",
        "deepseek/deepseek-v4-pro",
        "deepseek/deepseek-v4-flash",
        "x-ai/grok-4",
        "openrouter/hunter-alpha",
    ]);
    let ca = verified.ca_pem_path().expect("ca").display().to_string();
    let port = verified.addr().port();
    let routes = |custom: &str| {
        format!(
            r#"version = 1
default_route = "openrouter"

[routes.openrouter]
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
thinking = "medium"
system_prompt = "You are terse."
timeout_ms = 5000

[routes.openrouter.network]
ca_file = "{ca}"
resolve = ["openrouter.ai:443:127.0.0.1:{port}"]
{verified_models}
[routes.proxy]
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
base_url = "{custom}"
thinking = "medium"
system_prompt = "You are terse."
timeout_ms = 5000
{custom_models}"#,
            verified_models = MODELS.replace("ROUTE", "openrouter"),
            custom = custom,
            custom_models = MODELS.replace("ROUTE", "proxy"),
        )
    };
    let r = Rig::with(RigOptions {
        routes: Some(&routes),
        serve_args: &["--reconcile-cost"],
        ..RigOptions::default()
    });
    Shaping { verified, r }
}

impl Rig {
    /// Sends one input and returns the (headers, body) the upstream recorded.
    fn send(&self, fake: &FakeOpenRouter, args: &[&str]) -> (RecordedRequest, Value) {
        fake.clear_requests();
        let mut full = vec!["sessions", "input"];
        full.extend_from_slice(args);
        let out = self.d.cli(&self.env, &full);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            stderr(&out),
            self.d.log()
        );
        let reqs = fake.chat_requests();
        assert_eq!(reqs.len(), 1, "{args:?}");
        let body = reqs[0].body.clone().unwrap();
        (reqs[0].clone(), body)
    }
}

use ferry_fake_openrouter::RecordedRequest;

fn system_message(body: &Value) -> Value {
    body["messages"][0].clone()
}

#[test]
fn verified_route_gets_attribution_cache_markers_reasoning_and_provider_routing() {
    let Shaping { verified, r } = rig();
    let (req, body) = r.send(
        &verified,
        &["a1", "--model", "anthropic/claude-sonnet-4-5", "hi"],
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(
        req.header("http-referer"),
        Some("https://example.org/my-app")
    );
    assert_eq!(req.header("x-openrouter-title"), Some("ferry-tests"));
    assert_eq!(
        req.header("x-openrouter-categories"),
        Some("cli-agent,programming-app")
    );
    assert_eq!(req.header("x-openrouter-cache"), Some("true"));
    assert_eq!(
        req.header("x-openrouter-cache-ttl"),
        Some("86400"),
        "TTL clamped to 86400"
    );
    assert_eq!(
        system_message(&body),
        json!({"role": "system", "content": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]})
    );
    assert_eq!(body["reasoning"], json!({"effort": "medium"}));
    assert!(body.get("reasoning_effort").is_none());
    assert_eq!(
        body["provider"],
        json!({"sort": "price", "order": ["anthropic", "aws-bedrock"], "allow_fallbacks": false})
    );
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");

    // "none" disables the markers; other params follow the snake_case names.
    let (_, body) = r.send(
        &verified,
        &["a2", "--model", "anthropic/claude-haiku-4-5", "hi"],
    );
    assert_eq!(
        system_message(&body),
        json!({"role": "system", "content": "You are terse."})
    );
    let (_, body) = r.send(
        &verified,
        &["a2b", "--model", "anthropic/claude-opus-4-5", "hi"],
    );
    assert_eq!(
        system_message(&body),
        json!({"role": "system", "content": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]}),
        "default 5-minute marker has no ttl"
    );

    let (req, body) = r.send(&verified, &["a3", "hi"]);
    assert_eq!(
        req.header("x-openrouter-cache-ttl"),
        Some("1"),
        "TTL clamped to 1"
    );
    assert_eq!(req.header("x-openrouter-cache-clear"), Some("true"));
    assert_eq!(
        system_message(&body),
        json!({"role": "system", "content": "You are terse."}),
        "no markers off anthropic"
    );
    assert_eq!(body["seed"], 7);
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["provider"], json!({"sort": "price"}));
}

#[test]
fn custom_base_url_gets_plain_openai_compatible_requests() {
    let Shaping {
        verified: _verified,
        r,
    } = rig();
    let (req, body) = r.send(
        &r.fake,
        &[
            "c1",
            "--provider",
            "proxy",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "hi",
        ],
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    for h in [
        "http-referer",
        "x-openrouter-title",
        "x-openrouter-categories",
        "x-openrouter-cache",
        "x-openrouter-cache-ttl",
        "x-openrouter-cache-clear",
        "x-title",
    ] {
        assert!(
            req.header(h).is_none(),
            "{h} must not be sent to a custom base_url"
        );
    }
    assert_eq!(
        system_message(&body),
        json!({"role": "system", "content": "You are terse."})
    );
    for k in ["reasoning", "reasoning_effort", "provider"] {
        assert!(
            body.get(k).is_none(),
            "{k} must not be sent to a custom base_url: {body}"
        );
    }
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
}

#[test]
fn reasoning_is_skipped_where_it_must_be_and_deepseek_v4_rules_apply() {
    let Shaping { verified, r } = rig();
    for (session, model, wire) in [
        ("x1", "x-ai/grok-4", "x-ai/grok-4"),
        ("x2", "auto", "openrouter/auto"),
        ("x3", "openrouter/hunter-alpha", "openrouter/hunter-alpha"),
    ] {
        let (_, body) = r.send(&verified, &[session, "--model", model, "hi"]);
        assert_eq!(body["model"], wire);
        assert!(body.get("reasoning").is_none(), "{model}: {body}");
        assert!(body.get("reasoning_effort").is_none());
    }
    // The catalog decides reasoning support: a model without it gets no `reasoning`.
    let out = r.d.cli(&r.env, &["--json", "models", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, body) = r.send(
        &verified,
        &["x3b", "--model", "meta-llama/llama-3.3-70b-instruct", "hi"],
    );
    assert!(body.get("reasoning").is_none(), "{body}");
    let (_, body) = r.send(&verified, &["x3c", "--model", "openai/gpt-5.4-mini", "hi"]);
    assert_eq!(body["reasoning"], json!({"effort": "medium"}));
    let (_, body) = r.send(&verified, &["x4", "--thinking", "off", "hi"]);
    assert!(body.get("reasoning").is_none());
    let (_, body) = r.send(&verified, &["x5", "--thinking", "max", "hi"]);
    assert_eq!(body["reasoning"], json!({"effort": "xhigh"}));
    let (_, body) = r.send(&verified, &["x6", "--thinking", "adaptive", "hi"]);
    assert_eq!(body["reasoning"], json!({"effort": "medium"}));

    // DeepSeek V4: effort high unless xhigh; replayed assistant turns carry reasoning_content.
    let ds = "deepseek/deepseek-v4-pro";
    let (_, body) = r.send(&verified, &["ds", "--model", ds, "first"]);
    assert_eq!(body["reasoning"], json!({"effort": "high"}));
    let (_, body) = r.send(
        &verified,
        &["ds", "--model", ds, "--thinking", "xhigh", "second"],
    );
    assert_eq!(body["reasoning"], json!({"effort": "xhigh"}));
    let assistant = &body["messages"][2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["reasoning_content"], "");
    let (_, body) = r.send(
        &verified,
        &[
            "ds",
            "--model",
            "deepseek/deepseek-v4-flash",
            "--thinking",
            "off",
            "third",
        ],
    );
    assert!(body.get("reasoning").is_none());
    for m in body["messages"].as_array().unwrap() {
        assert!(m.get("reasoning_content").is_none(), "{m}");
    }
}

#[test]
fn per_input_provider_routing_and_camel_case_params() {
    let Shaping { verified, r } = rig();
    let (_, body) = r.send(
        &verified,
        &[
            "p1",
            "--provider-order",
            "deepinfra,together",
            "--provider-ignore",
            "azure",
            "--no-provider-fallbacks",
            "--params",
            r#"{"maxTokens": 77, "topP": 0.5, "temperature": 0.1}"#,
            "hi",
        ],
    );
    assert_eq!(
        body["provider"],
        json!({"sort": "price", "order": ["deepinfra", "together"], "ignore": ["azure"], "allow_fallbacks": false})
    );
    assert_eq!(body["max_tokens"], 77);
    assert_eq!(body["top_p"], 0.5);
    assert_eq!(body["temperature"], 0.1);

    // A typo in provider routing names the valid keys; nothing is sent.
    verified.clear_requests();
    let out = r.d.cli(
        &r.env,
        &[
            "sessions",
            "input",
            "p2",
            "--provider-routing",
            r#"{"oder": ["x"]}"#,
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("\"oder\"") && err.contains("order") && err.contains("allow_fallbacks"),
        "{err}"
    );
    let out = r.d.cli(
        &r.env,
        &[
            "sessions",
            "input",
            "p3",
            "--params",
            r#"{"temprature": 1}"#,
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("temperature"), "{}", stderr(&out));
    assert!(verified.chat_requests().is_empty());
}

#[test]
fn cache_status_is_recorded_and_models_status_reads_the_key() {
    let Shaping { verified, r } = rig();
    verified.push(
        Reply::text("cached answer")
            .with_header("X-OpenRouter-Cache-Status", "HIT")
            .with_usage(0, 0, 0.0),
    );
    let out = r.d.cli(&r.env, &["--json", "sessions", "input", "k", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&stdout(&out));
    assert_eq!(run["cache_status"], "HIT");
    assert!(run["generation_id"].as_str().unwrap().starts_with("gen-"));

    verified.set_key_info(json!({"label": "sk-or-v1-abc…xyz", "limit": 25.0, "limit_remaining": 19.5, "limit_reset": "monthly", "usage": 5.5, "is_free_tier": false}));
    let out = r.d.cli(&r.env, &["models", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("credit limit: $25.0000")
            && text.contains("remaining:    $19.5000")
            && text.contains("free tier:    no"),
        "{text}"
    );
    let v = json(&stdout(
        &r.d.cli(&r.env, &["--json", "models", "status", "--route", "proxy"]),
    ));
    assert_eq!(v["route"], "proxy");
    assert!(r.fake.requests().iter().any(|q| q.path == "/api/v1/key"));
    // A rejected key is reported with its fix.
    r.fake.set_api_key("sk-or-v1-some-other-key");
    let out = r.d.cli(&r.env, &["models", "status", "--route", "proxy"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("upstream_unauthorized"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn billed_cost_is_reconciled_in_the_background_on_verified_routes_only() {
    let Shaping { verified, r } = rig();
    verified.push(Reply::text("billed answer").with_usage(100, 20, 0.00125));
    let run = json(&stdout(
        &r.d.cli(&r.env, &["--json", "sessions", "input", "bill", "hi"]),
    ));
    assert_eq!(run["status"], "completed");
    let gen_id = run["generation_id"].as_str().unwrap().to_string();
    let run_id = run["id"].as_str().unwrap().to_string();
    // The billed cost of a run, once the background lookup recorded it.
    let billed_cost = |run_id: &str| {
        eventually(std::time::Duration::from_secs(20), || {
            let v = json(&stdout(
                &r.d.cli(&r.env, &["--json", "runs", "show", run_id]),
            ));
            v["billed_cost"].as_f64()
        })
    };
    assert!((billed_cost(&run_id) - 0.00125).abs() < 1e-12);
    let lookups: Vec<_> = verified
        .requests()
        .into_iter()
        .filter(|q| q.path == "/api/v1/generation")
        .collect();
    assert!(!lookups.is_empty());
    assert_eq!(
        lookups[0].query.as_deref(),
        Some(format!("id={gen_id}").as_str())
    );
    let show = stdout(&r.d.cli(&r.env, &["sessions", "show", "bill"]));
    assert!(show.contains("(billed $0.001250)"), "{show}");

    // A custom base_url is never asked for /generation.
    let run = json(&stdout(&r.d.cli(
        &r.env,
        &[
            "--json",
            "sessions",
            "input",
            "bill2",
            "--provider",
            "proxy",
            "hi",
        ],
    )));
    assert_eq!(run["status"], "completed");
    // Its lookup would have started when it ended; a verified run started after that gets
    // its billed cost, and by then the proxy's lookup would have reached its fake.
    verified.push(Reply::text("later").with_usage(10, 2, 0.0005));
    let later = json(&stdout(
        &r.d.cli(&r.env, &["--json", "sessions", "input", "bill3", "hi"]),
    ));
    assert!((billed_cost(later["id"].as_str().unwrap()) - 0.0005).abs() < 1e-12);
    assert_eq!(
        r.fake.chat_requests().len(),
        1,
        "the proxy run reached its fake"
    );
    assert!(r
        .fake
        .requests()
        .iter()
        .all(|q| q.path != "/api/v1/generation"));
}

#[test]
fn ledger_rows_of_every_protocol_get_their_billed_cost() {
    let Shaping { verified, r } = rig();
    // What each call reports as `usage.cost` (and the fake bills for its generation).
    let costs = [0.0021, 0.0034, 0.0055, 0.0089];
    for c in costs {
        verified.push(Reply::text("billed").with_usage(10, 2, c));
    }
    let post = |path: &str, body: Value| {
        let resp = http_bytes(
            r.d.port,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&resp.body)
        );
    };
    let messages = json!([{"role": "user", "content": "hi"}]);
    post(
        "/openai/v1/chat/completions",
        json!({"model": "openai/gpt-5.4-mini", "messages": messages}),
    );
    post(
        "/openai/v1/chat/completions",
        json!({"model": "openai/gpt-5.4-mini", "messages": messages, "stream": true}),
    );
    post(
        "/anthropic/v1/messages",
        json!({"model": "openai/gpt-5.4-mini", "max_tokens": 50, "messages": messages}),
    );
    post(
        "/openai/v1/responses",
        json!({"model": "openai/gpt-5.4-mini", "input": "hi"}),
    );
    let want: f64 = costs.iter().sum();
    let billed = eventually(std::time::Duration::from_secs(30), || {
        let (status, text) = http(r.d.port, "GET", "/v1/spend?by=kind", &[], None).ok()?;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).ok()?;
        let facade = v["groups"]
            .as_array()?
            .iter()
            .find(|g| g["group"] == "facade")?
            .clone();
        if facade["calls"] != 4 {
            return None;
        }
        let billed = facade["billed_usd"].as_f64()?;
        // Rows are reconciled one by one: wait for all four.
        ((billed - want).abs() < 1e-9).then_some(billed)
    });
    assert!((billed - want).abs() < 1e-9, "{billed}");
    let lookups = verified
        .requests()
        .into_iter()
        .filter(|q| q.path == "/api/v1/generation")
        .count();
    assert!(lookups >= 4, "one lookup per ledger row: {lookups}");
}

#[test]
fn proxy_environment_variables_are_honoured() {
    // A second fake plays the forward proxy: it receives absolute-form requests and
    // answers them itself, so what it recorded proves the route went through it.
    let upstream = FakeOpenRouter::start();
    upstream.set_api_key(API_KEY);
    let proxy = FakeOpenRouter::start();
    proxy.set_api_key(API_KEY);
    let env = Env::new();
    env.write_default_routes(&upstream.base_url());
    env.store_key_offline();
    let proxy_url = format!("http://{}", proxy.addr());

    let d = env.serve_with(&[], |c| {
        c.env("HTTP_PROXY", &proxy_url).env_remove("NO_PROXY");
    });
    let out = d.cli(&env, &["sessions", "input", "via-proxy", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        proxy.chat_requests().len(),
        1,
        "the request went through HTTP_PROXY"
    );
    // The facade's pass-through transport honours it too.
    let (status, body) = facade_hi(d.port).expect("facade call");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        proxy.chat_requests().len(),
        2,
        "the facade call went through HTTP_PROXY"
    );
    assert!(upstream.chat_requests().is_empty());
    drop(d);

    let d = env.serve_with(&[], |c| {
        c.env("HTTP_PROXY", &proxy_url).env("NO_PROXY", "127.0.0.1");
    });
    let out = d.cli(&env, &["sessions", "input", "direct", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        upstream.chat_requests().len(),
        1,
        "NO_PROXY sends it direct"
    );
    assert_eq!(proxy.chat_requests().len(), 2);
}

/// The facade's pass-through transport trusts a route's `network.ca_file` (and only the
/// built-in roots without it): a call to an HTTPS upstream with its own CA succeeds, and
/// the same upstream without `ca_file` is refused as an untrusted certificate before any
/// request reaches it.
#[test]
fn facade_calls_to_an_https_upstream_trust_the_routes_ca_file() {
    let fake = FakeOpenRouter::start_tls("localhost");
    fake.set_api_key(API_KEY);
    let env = Env::new();
    let routes = |network: &str| {
        format!(
            "version = 1\n[routes.openrouter]\ndefault_model = \"openai/gpt-5.4-mini\"\nauth_ref = \"openrouter.primary\"\nbase_url = \"{}\"\ntimeout_ms = 5000\n{network}",
            fake.base_url()
        )
    };
    env.write_routes(&routes(&format!(
        "[routes.openrouter.network]\nca_file = \"{}\"\n",
        fake.ca_pem_path().unwrap().display()
    )));
    env.store_key_offline();
    let body =
        r#"{"model":"openai/gpt-5.4-mini","messages":[{"role":"user","content":"over tls"}]}"#;
    let d = env.serve();
    for path in ["/openai/v1/chat/completions", "/openai/v1/responses"] {
        let body = if path.ends_with("responses") {
            r#"{"model":"openai/gpt-5.4-mini","input":"over tls"}"#
        } else {
            body
        };
        let (status, text) = http(d.port, "POST", path, &[], Some(body)).expect("facade call");
        assert_eq!(status, 200, "{path}: {text}");
        assert!(text.contains("over tls"), "{path}: {text}");
    }
    let posts = || -> Vec<_> {
        fake.requests()
            .into_iter()
            .filter(|q| q.method == "POST")
            .collect()
    };
    let sent = posts();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|q| q
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == &format!("Bearer {API_KEY}"))));
    drop(d);

    env.write_routes(&routes(""));
    let d = env.serve();
    let (status, text) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(body),
    )
    .expect("facade call");
    assert_eq!(status, 502, "{text}");
    assert!(
        text.to_lowercase().contains("certificate"),
        "the error names the certificate problem: {text}"
    );
    assert_eq!(posts().len(), 2, "nothing more reached the upstream");
}

/// Issue 10: the client protocols get the same verified-route shaping (attribution,
/// response-cache headers, provider routing, route params filling gaps) — and a custom
/// `base_url` none of it — with the client's own fields intact either way.
#[test]
fn client_protocols_are_shaped_only_on_the_verified_route() {
    let Shaping { verified, r } = rig();
    let messages = |route: &str| {
        json!({
            "model": format!("{route}/anthropic/claude-sonnet-4-5"),
            "max_tokens": 64,
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}],
        })
    };
    for (route, fake, verified) in [("openrouter", &verified, true), ("proxy", &r.fake, false)] {
        fake.clear_requests();
        let (status, text) = http(
            r.d.port,
            "POST",
            "/anthropic/v1/messages",
            &[
                ("content-type", "application/json"),
                ("anthropic-version", "2023-06-01"),
            ],
            Some(&messages(route).to_string()),
        )
        .unwrap();
        assert_eq!(status, 200, "{route}: {text}");
        let (status, text) = http(
            r.d.port,
            "POST",
            "/openai/v1/responses",
            &[("content-type", "application/json")],
            Some(&json!({"model": format!("{route}/openai/gpt-5.4-mini"), "input": "hi", "store": false}).to_string()),
        )
        .unwrap();
        assert_eq!(status, 200, "{route}: {text}");

        let sent = fake.requests_to("/messages");
        assert_eq!(sent.len(), 1, "{route}");
        let (req, body) = (&sent[0], sent[0].body.clone().unwrap());
        assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(
            body["system"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            body["max_tokens"], 64,
            "the client's max_tokens wins over the model's 512"
        );
        assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
        let responses = fake.requests_to("/responses");
        assert_eq!(responses.len(), 1, "{route}");
        let rbody = responses[0].body.clone().unwrap();
        assert!(rbody.get("store").is_none(), "{rbody}");
        if verified {
            assert_eq!(req.header("x-openrouter-title"), Some("ferry-tests"));
            assert_eq!(
                req.header("http-referer"),
                Some("https://example.org/my-app")
            );
            assert_eq!(req.header("x-openrouter-cache"), Some("true"));
            assert_eq!(
                body["provider"],
                json!({"sort": "price", "order": ["anthropic", "aws-bedrock"], "allow_fallbacks": false})
            );
            assert_eq!(body["temperature"], 0.3, "the model's param fills the gap");
            assert_eq!(
                responses[0].header("x-openrouter-title"),
                Some("ferry-tests")
            );
            assert_eq!(
                rbody["reasoning"],
                json!({"effort": "medium"}),
                "the route's thinking"
            );
            assert_eq!(rbody["seed"], Value::Null, "seed is a chat param only");
        } else {
            for h in [
                "x-openrouter-title",
                "http-referer",
                "x-openrouter-categories",
                "x-openrouter-cache",
            ] {
                assert!(req.header(h).is_none(), "{h} sent to a custom base_url");
                assert!(
                    responses[0].header(h).is_none(),
                    "{h} sent to a custom base_url"
                );
            }
            assert!(
                body.get("provider").is_none() && body.get("temperature").is_none(),
                "{body}"
            );
            assert!(rbody.get("reasoning").is_none(), "{rbody}");
        }
    }
}

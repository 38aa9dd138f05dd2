//! Issue 2: the seed flow, secret store, startup refusals, bind/auth rules, locking.

use std::time::Duration;

use crate::support::*;

fn fake() -> FakeOpenRouter {
    let f = FakeOpenRouter::start();
    f.set_api_key(API_KEY);
    f
}

#[test]
pub(crate) fn seed_flow_end_to_end() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let d = env.serve();

    let out = d.cli(&env, &["runtime", "get"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("route openrouter (default): ready"), "{text}");
    assert!(text.contains("multimodal_input=on"), "{text}");
    assert!(text.contains("native_web_search=off"), "{text}");

    let out = d.cli(
        &env,
        &["runtime", "set-model", "openrouter/openai/gpt-5.4-mini"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("active model: openrouter/openai/gpt-5.4-mini"));

    let out = d.cli(&env, &["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ready"), "{text}");
    assert!(text.contains("route openrouter"), "{text}");

    let out = d.cli(&env, &["--json", "runtime", "get"]);
    let v = json(&stdout(&out));
    assert_eq!(v["active"]["wire_model"], "openai/gpt-5.4-mini");
    assert_eq!(v["routes"][0]["ready"], true);
    assert_eq!(v["routes"][0]["capabilities"]["image_generation"], true);
    // The live answers are the typed views, field for field: reading them and writing them
    // back gives the same JSON.
    as_view::<ferry_types::RuntimeView>(&v);
    let out = d.cli(&env, &["--json", "status"]);
    let v = json(&stdout(&out));
    let status: ferry_types::StatusView = as_view(&v);
    assert_eq!(status.state, ferry_types::ServiceState::Ready);
}

#[test]
pub(crate) fn runtime_model_survives_restart_and_bad_selectors_are_rejected() {
    let fake = fake();
    let env = Env::new();
    env.write_routes(&format!(
        r#"version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
base_url = "{}"

[routes.strict]
driver = "openrouter"
default_model = "openai/gpt-5.4-mini"
model_support = "listed"
fallbacks = ["anthropic/claude-sonnet-4-5"]
api_key_env = "OPENROUTER_API_KEY"
base_url = "{}"
"#,
        fake.base_url(),
        fake.base_url()
    ));
    env.store_key_offline();
    let mut d = env.serve();
    let out = d.cli(
        &env,
        &[
            "runtime",
            "set-model",
            "openrouter/anthropic/claude-sonnet-4-5",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Unknown route prefix.
    let out = d.cli(
        &env,
        &["runtime", "set-model", "openroutr/openai/gpt-5.4-mini"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("unknown route") && err.contains("openroutr"),
        "{err}"
    );

    // A listed route with an unlisted model.
    let out = d.cli(&env, &["runtime", "set-model", "strict/meta-llama/llama-4"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("meta-llama/llama-4") && err.contains("strict"),
        "{err}"
    );

    // A listed model on the listed route is fine (then set back).
    let out = d.cli(
        &env,
        &["runtime", "set-model", "strict/anthropic/claude-sonnet-4-5"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.cli(
        &env,
        &[
            "runtime",
            "set-model",
            "openrouter/anthropic/claude-sonnet-4-5",
        ],
    );
    assert!(out.status.success());

    assert_eq!(d.terminate(), Some(0));
    let d = env.serve();
    let v = json(&stdout(&d.cli(&env, &["--json", "runtime", "get"])));
    assert_eq!(v["runtime_model"], "openrouter/anthropic/claude-sonnet-4-5");
    assert_eq!(v["active"]["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(v["active"]["source"], "runtime");
    // The strict route relies on an env var the daemon does not have: not ready, with a fix.
    let strict = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "strict")
        .unwrap()
        .clone();
    assert_eq!(strict["ready"], false);
    assert!(strict["fix"]
        .as_str()
        .unwrap()
        .contains("OPENROUTER_API_KEY"));
}

#[test]
fn startup_refusals_each_have_their_own_message_and_leave_the_store_alone() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let store = env.state().join("secrets.json");
    let before = std::fs::read(&store).unwrap();

    // Wrong key.
    let other = Env::new().master_key.clone();
    let (code, err) = env.serve_expect_exit(|c| {
        c.env("FERRY_MASTER_KEY", &other);
    });
    assert_ne!(code, 0);
    assert!(err.contains("wrong master key"), "{err}");

    // No key while a store exists.
    let (code, err) = env.serve_expect_exit(|c| {
        c.env_remove("FERRY_MASTER_KEY");
    });
    assert_ne!(code, 0);
    assert!(err.contains("FERRY_MASTER_KEY"), "{err}");
    assert!(!err.contains("wrong master key"), "{err}");

    // Both key variables.
    let key_file = env.root().join("key.txt");
    std::fs::write(&key_file, &env.master_key).unwrap();
    let (code, err) = env.serve_expect_exit(|c| {
        c.env("FERRY_MASTER_KEY_FILE", &key_file);
    });
    assert_ne!(code, 0);
    assert!(
        err.contains("FERRY_MASTER_KEY_FILE") && err.contains("FERRY_MASTER_KEY"),
        "{err}"
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);

    // Tampered store: flip one character inside a ciphertext.
    let mut text = String::from_utf8(before.clone()).unwrap();
    let slots = text.find("\"slots\"").expect("slots");
    let pos = slots
        + text[slots..]
            .find("\"ciphertext\"")
            .expect("slot ciphertext")
        + 20;
    let original = text.as_bytes()[pos] as char;
    let replacement = if original == 'A' { "B" } else { "A" };
    text.replace_range(pos..pos + 1, replacement);
    std::fs::write(&store, &text).unwrap();
    let (code, err) = env.serve_expect_exit(|_| {});
    assert_ne!(code, 0);
    assert!(err.contains("corrupted or was tampered with"), "{err}");
    assert!(!err.contains("wrong master key"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        text,
        "store file changed"
    );
}

#[test]
fn rotate_master_key_reencrypts_every_slot() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let state = env.state();
    let out = env
        .cli(&[
            "secrets",
            "set",
            "backup.key",
            "--offline",
            "--state-root",
            state.to_str().unwrap(),
            "--provider",
            "openrouter",
            "--value",
            "sk-or-v1-second-key-value-000000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("FERRY_DATABASE_URL"),
        "{}",
        stderr(&out)
    );
    // With a shared database configured, an offline change of the file says where the
    // replicas read their secrets instead (and is still made).
    let other = Env::new();
    let other_state = other.state();
    let out = other
        .cli(&[
            "secrets",
            "set",
            "extra.key",
            "--offline",
            "--state-root",
            other_state.to_str().unwrap(),
            "--provider",
            "other",
            "--value",
            "extra-value",
        ])
        .env("FERRY_DATABASE_URL", "postgres://ferry@127.0.0.1:9/ferry")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("FERRY_DATABASE_URL is set")
            && stderr(&out).contains("without --offline"),
        "{}",
        stderr(&out)
    );

    let new_key = Env::new().master_key.clone();
    let key_file = env.root().join("new.key");
    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    let out = env
        .cli(&[
            "secrets",
            "rotate-master-key",
            "--state-root",
            state.to_str().unwrap(),
            "--new-key-file",
            key_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2"), "{}", stdout(&out));

    // The old key no longer opens the store.
    let (code, err) = env.serve_expect_exit(|_| {});
    assert_ne!(code, 0);
    assert!(err.contains("wrong master key"), "{err}");

    // The new key opens every slot.
    let out = env
        .cli(&[
            "--json",
            "secrets",
            "list",
            "--offline",
            "--state-root",
            state.to_str().unwrap(),
        ])
        .env("FERRY_MASTER_KEY", &new_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json(&stdout(&out));
    let refs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec!["backup.key", "openrouter.primary"]);

    // And the daemon serves with it, the route using the rotated key upstream.
    let d = env.serve_with(&[], |c| {
        c.env("FERRY_MASTER_KEY", &new_key);
    });
    let out = d.cli(&env, &["--json", "runtime", "get"]);
    assert_eq!(json(&stdout(&out))["routes"][0]["ready"], true);
}

#[test]
fn api_key_never_leaks_to_disk_logs_or_cli_output() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let mut outputs = String::new();
    // Online set through the daemon (no store yet: the daemon creates it).
    let d = env.serve();
    let out = d
        .command(
            &env,
            &[
                "secrets",
                "set",
                "openrouter.primary",
                "--provider",
                "openrouter",
                "--stdin",
            ],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{API_KEY}\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    outputs.push_str(&stdout(&out));
    outputs.push_str(&stderr(&out));

    // The route became ready without a restart.
    let v = json(&stdout(&d.cli(&env, &["--json", "runtime", "get"])));
    assert_eq!(v["routes"][0]["ready"], true);

    for args in [
        vec!["secrets", "list"],
        vec!["--json", "secrets", "list"],
        vec!["status"],
        vec!["--json", "status"],
        vec!["runtime", "get"],
        vec!["sessions", "input", "leak-check", "hello"],
        vec!["--json", "sessions", "show", "leak-check"],
    ] {
        let out = d.cli(&env, &args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        outputs.push_str(&stdout(&out));
        outputs.push_str(&stderr(&out));
    }
    let list = stdout(&d.cli(&env, &["secrets", "list"]));
    assert!(list.contains("sk-or-…"), "fingerprint shown: {list}");
    assert!(!outputs.contains(API_KEY), "key leaked to CLI output");
    assert!(
        !outputs.contains(&API_KEY[10..30]),
        "key fragment leaked to CLI output"
    );
    // The upstream did receive it.
    assert!(fake
        .chat_requests()
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("Bearer {API_KEY}"))));
    drop(d);
    let state = env.all_state_bytes();
    assert!(
        !state
            .windows(API_KEY.len())
            .any(|w| w == API_KEY.as_bytes()),
        "key in state root"
    );
    let logs: String = std::fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("daemon-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(!logs.is_empty());
    assert!(!logs.contains(API_KEY), "key in daemon log");
}

#[test]
fn bind_and_auth_rules() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();

    // Non-loopback without a token refuses to start.
    let port = free_port();
    let mut cmd = env.serve_command(&format!("0.0.0.0:{port}"));
    cmd.env_remove("FERRY_TOKEN");
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("without a token"), "{}", stderr(&out));

    // With a token: requests without it get 401, with it succeed.
    let token_file = env.root().join("token");
    std::fs::write(&token_file, "correct-horse-battery-staple\n").unwrap();
    let d = env.serve_with(&["--token-file", token_file.to_str().unwrap()], |_| {});
    let (status, body) = http_get(d.port, "/v1/status").unwrap();
    assert_eq!(status, 401, "{body}");
    assert_eq!(json(&body)["code"], "unauthorized");
    let (status, _) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", "Bearer wrong")],
        None,
    )
    .unwrap();
    assert_eq!(status, 401);
    let (status, _) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", "Bearer correct-horse-battery-staple")],
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = http_get(d.port, "/healthz").unwrap();
    assert_eq!(status, 200, "health probes stay open");
    let out = d.cli(&env, &["status"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = d.cli(
        &env,
        &["--token-file", token_file.to_str().unwrap(), "status"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // A second daemon on the same state root refuses.
    let (code, err) = env.serve_expect_exit(|_| {});
    assert_ne!(code, 0);
    assert!(err.contains("in use by another ferry process"), "{err}");
    // And so does an offline mutating command.
    let out = env
        .cli(&[
            "secrets",
            "set",
            "x.y",
            "--offline",
            "--state-root",
            env.state().to_str().unwrap(),
            "--provider",
            "openrouter",
            "--value",
            "sk-or-v1-zzzzzzzzzzzzzzzz",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by another ferry process"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unreachable_daemon_exits_3_with_a_clear_message() {
    let env = Env::new();
    let port = free_port();
    let out = env
        .cli(&["status"])
        .env("FERRY_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(&format!(
            "cannot reach ferry at http://127.0.0.1:{port} — is `ferry serve` running?"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn readyz_and_graceful_shutdown() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let mut d = env.serve();
    let (status, _) = http_get(d.port, "/readyz").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        d.terminate(),
        Some(0),
        "clean exit on SIGTERM; log: {}",
        d.log()
    );
}

#[test]
fn problem_json_for_bad_requests_and_body_limits() {
    let fake = fake();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let d = env.serve();
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/runtime/model",
        &[],
        Some("{\"selector\": 5}"),
    )
    .unwrap();
    assert_eq!(status, 400);
    let v = json(&body);
    assert_eq!(v["code"], "invalid_body");
    let big = format!("{{\"selector\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (status, _) = http(d.port, "POST", "/v1/runtime/model", &[], Some(&big)).unwrap();
    assert_eq!(status, 413);
    let (status, body) = http_get(d.port, "/v1/nope").unwrap();
    assert_eq!(status, 404);
    assert_eq!(json(&body)["code"], "not_found");
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/secrets",
        &[],
        Some(
            "{\"ref\":\"Bad Ref\",\"provider\":\"openrouter\",\"value\":\"sk-or-v1-abcdefabcdef\"}",
        ),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("sk-or-v1-abcdefabcdef"));
}

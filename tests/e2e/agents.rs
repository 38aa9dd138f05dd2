//! Issue 10: the coding agents users point at ferry, installed from npm and run
//! non-interactively against a real daemon and the fake upstream — Claude Code on
//! `/anthropic`, Codex CLI on `/openai/v1/responses`. They need the agents' CLIs, so they
//! are `#[ignore]`d here and run by `.ci/run` (which installs the pinned npm packages) with
//! `cargo test --test e2e agents:: -- --ignored`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn rig(default_model: &str) -> (FakeOpenRouter, Env, Daemon) {
    let routes = |base_url: &str| {
        default_routes(base_url, "").replace(
            "default_model = \"openai/gpt-5.4-mini\"",
            &format!("default_model = \"{default_model}\""),
        )
    };
    let Rig { fake, env, d } = Rig::with(RigOptions {
        routes: Some(&routes),
        ..RigOptions::default()
    });
    (fake, env, d)
}

fn agent(name: &str) -> Command {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: `.ci/run` installs it (npm install -g, pinned there); run this test through .ci/run"
    );
    Command::new(name)
}

#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); .ci/run installs it and runs it"]
fn claude_code_works_through_the_anthropic_facade() {
    let (fake, env, d) = rig("anthropic/claude-sonnet-4-5");
    let home = env.root().join("claude-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = agent("claude");
    cmd.args([
        "-p",
        "Say hello",
        "--output-format",
        "json",
        "--model",
        "openrouter/anthropic/claude-sonnet-4-5",
    ])
    .current_dir(env.ws())
    .env("HOME", &home)
    .env("ANTHROPIC_BASE_URL", format!("{}/anthropic", d.url))
    .env("ANTHROPIC_API_KEY", "sk-ant-client-placeholder")
    .env(
        "ANTHROPIC_SMALL_FAST_MODEL",
        "openrouter/anthropic/claude-haiku-4-5",
    )
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("DISABLE_AUTOUPDATER", "1")
    .env("NO_PROXY", "*");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let so = stdout(&out);
    assert!(
        out.status.success(),
        "claude failed:\n{so}\n{}\n{}",
        stderr(&out),
        d.log()
    );
    let result: Value = serde_json::from_str(so.trim()).expect("claude --output-format json");
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        result["result"].as_str().unwrap().starts_with("echo:"),
        "{result}"
    );
    // What Claude Code sent reached OpenRouter's /messages intact: its tools, cache_control
    // blocks and Anthropic headers, with ferry's key instead of the client's.
    let sent = fake.requests_to("/messages");
    let main = sent
        .iter()
        .find(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| b["model"] == "anthropic/claude-sonnet-4-5")
        })
        .expect("the main request");
    let body = main.body.clone().unwrap();
    assert_eq!(body["stream"], true);
    assert!(
        body["tools"].as_array().is_some_and(|t| t.len() > 5),
        "tools"
    );
    assert!(
        body.to_string().contains("cache_control"),
        "cache_control blocks"
    );
    assert!(main.header("anthropic-version").is_some());
    assert_eq!(
        main.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert!(!d.log().contains("sk-ant-client-placeholder"));
}

#[test]
#[ignore = "needs Codex CLI (npm @openai/codex); .ci/run installs it and runs it"]
fn codex_works_through_the_responses_facade() {
    let (fake, env, d) = rig("openai/gpt-5.4-mini");
    let codex_home = env.root().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"openrouter/openai/gpt-5.4-mini\"\nmodel_provider = \"ferry\"\ncheck_for_update_on_startup = false\n\n[model_providers.ferry]\nname = \"ferry\"\nbase_url = \"{}/openai/v1\"\nwire_api = \"responses\"\nenv_key = \"FERRY_TOKEN\"\n\n[analytics]\nenabled = false\n\n[features]\nplugins = false\n",
            d.url
        ),
    )
    .unwrap();
    let mut cmd = agent("codex");
    cmd.args(["exec", "--skip-git-repo-check", "Say hello"])
        .current_dir(env.ws())
        .env("CODEX_HOME", &codex_home)
        .env("HOME", env.root())
        .env("FERRY_TOKEN", "client-placeholder-token")
        .env("NO_PROXY", "*");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let so = stdout(&out);
    assert!(
        out.status.success(),
        "codex failed:\n{so}\n{}\n{}",
        stderr(&out),
        d.log()
    );
    assert!(so.contains("echo: Say hello"), "{so}");
    let sent = fake.requests_to("/responses");
    let body = sent
        .iter()
        .filter_map(|r| r.body.clone())
        .find(|b| b["model"] == "openai/gpt-5.4-mini")
        .expect("codex's request");
    assert_eq!(body["stream"], true);
    for dropped in ["store", "prompt_cache_key", "client_metadata"] {
        assert!(body.get(dropped).is_none(), "{dropped} was forwarded");
    }
    assert!(body["input"].is_array(), "{body}");
}

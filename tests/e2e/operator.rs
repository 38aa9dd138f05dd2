//! Issue 7: operator features — `onboard` then `serve`, `doctor` with its fixes, shell
//! completions, `config show`, and the served OpenAPI document.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const ONBOARD_KEY: &str = "sk-or-v1-onboardonboardonboard0123456789abcd";

#[test]
fn onboard_non_interactive_then_serve_works() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(ONBOARD_KEY);
    let env = Env::new();
    let routes = env.routes_path();
    let state = env.state();
    let base_url = fake.base_url();
    let onboard = |extra: &[&str]| {
        let mut args = vec![
            "onboard",
            "--auth-choice",
            "openrouter-api-key",
            "--non-interactive",
            "--openrouter-api-key",
            ONBOARD_KEY,
            "--routes-file",
            routes.to_str().unwrap(),
            "--state-root",
            state.to_str().unwrap(),
            "--base-url",
            &base_url,
        ];
        args.extend_from_slice(extra);
        let mut cmd = env.cli(&args);
        cmd.env_remove("FERRY_MASTER_KEY")
            .env_remove("OPENROUTER_API_KEY");
        run_with_timeout(cmd, Duration::from_secs(60))
    };
    let out = onboard(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(
        !so.contains(ONBOARD_KEY) && !se.contains(ONBOARD_KEY),
        "the key was echoed"
    );
    assert!(so.contains("sk-or-…abcd"), "{so}");
    let key_file = env.root().join("ferry-master.key");
    assert!(so.contains("FERRY_MASTER_KEY_FILE="), "{so}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let state_bytes = env.all_state_bytes();
    assert!(
        !state_bytes
            .windows(ONBOARD_KEY.len())
            .any(|w| w == ONBOARD_KEY.as_bytes()),
        "plaintext key on disk"
    );
    let text = std::fs::read_to_string(&routes).unwrap();
    assert!(text.contains("auth_ref = \"openrouter.primary\""), "{text}");

    // A second run refuses to overwrite the routes file.
    let again = onboard(&[]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"));

    // serve with the generated key: a session input reaches the fake with the stored key.
    let d = env.serve_with(&[], |cmd| {
        cmd.env_remove("FERRY_MASTER_KEY")
            .env("FERRY_MASTER_KEY_FILE", &key_file);
    });
    fake.push(Reply::text("onboarded and answering"));
    let out = d.cli(&env, &["sessions", "input", "first", "hello"]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), d.log());
    assert!(stdout(&out).contains("onboarded and answering"));
    let sent = fake.chat_requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {ONBOARD_KEY}").as_str())
    );

    // doctor agrees: everything is fine, the upstream accepts the key.
    let mut cmd = d.command(
        &env,
        &[
            "doctor",
            "--routes-file",
            routes.to_str().unwrap(),
            "--state-root",
            state.to_str().unwrap(),
        ],
    );
    cmd.env_remove("FERRY_MASTER_KEY")
        .env("FERRY_MASTER_KEY_FILE", &key_file);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let so = stdout(&out);
    assert!(so.contains("upstream openrouter"), "{so}");
    assert!(so.contains("no problems found"), "{so}");
}

#[test]
fn doctor_reports_a_missing_secret_with_its_fix() {
    let fake = FakeOpenRouter::start();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let (routes, state) = (env.routes_path(), env.state());
    let args = [
        "doctor",
        "--routes-file",
        routes.to_str().unwrap(),
        "--state-root",
        state.to_str().unwrap(),
    ];
    let mut cmd = env.cli(&args);
    cmd.env("FERRY_URL", "http://127.0.0.1:9");
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let so = stdout(&out);
    assert!(
        so.contains("FAIL  route openrouter: secret openrouter.primary is missing"),
        "{so}"
    );
    assert!(
        so.contains("fix: run `ferry secrets set openrouter.primary --provider openrouter"),
        "{so}"
    );
    assert!(so.contains("warn  daemon: not reachable"), "{so}");
    assert!(so.contains("1 problem found"), "{so}");

    // --json lists the same findings.
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    let mut cmd = env.cli(&json_args);
    cmd.env("FERRY_URL", "http://127.0.0.1:9");
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let report = json(&stdout(&out));
    assert_eq!(report["problems"], 1);
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] == "fail")
        .collect();
    assert_eq!(failed[0]["check"], "route openrouter");
    assert!(failed[0]["fix"]
        .as_str()
        .unwrap()
        .contains("ferry secrets set"));

    // With the key stored but rejected upstream, doctor says so.
    env.store_key_offline();
    fake.set_api_key("sk-or-v1-some-other-key");
    let mut cmd = env.cli(&args);
    cmd.env("FERRY_URL", "http://127.0.0.1:9");
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    let so = stdout(&out);
    assert!(
        so.contains("FAIL  upstream openrouter: OpenRouter rejected the API key"),
        "{so}"
    );
    assert!(!so.contains(API_KEY));

    // No routes file at all.
    std::fs::remove_file(env.routes_path()).unwrap();
    let out = run_with_timeout(env.cli(&args), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("ferry onboard"), "{}", stdout(&out));
}

#[test]
fn shell_completions_cover_the_grammar() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = run_with_timeout(env.cli(&["completions", shell]), Duration::from_secs(30));
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["onboard", "doctor", "sessions", "openrouter-api-key"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = run_with_timeout(env.cli(&["completions", "tcsh"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_show_and_openapi_document() {
    let Rig {
        fake: _fake,
        env,
        d,
    } = Rig::with_route_keys("[routes.openrouter.network]\nproxy = \"http://127.0.0.1:9\"\n");
    let out = d.cli(&env, &["--json", "config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg = json(&stdout(&out));
    let route = &cfg["routes"]["openrouter"];
    assert_eq!(route["default_model"], "openai/gpt-5.4-mini");
    assert_eq!(route["timeout_ms"], 5000);
    assert_eq!(
        route["attribution"]["title"], "ferry",
        "defaults are filled in"
    );
    assert_eq!(route["auth"]["auth_ref"], "openrouter.primary");
    let text = stdout(&out);
    assert!(
        !text.contains("hunter2") && !text.contains(API_KEY),
        "{text}"
    );

    let out = d.cli(&env, &["config", "show", "--route", "openrouter"]);
    assert!(out.status.success());
    let toml_text = stdout(&out);
    assert!(
        toml_text.contains("default_model = \"openai/gpt-5.4-mini\""),
        "{toml_text}"
    );
    let out = d.cli(&env, &["config", "show", "--route", "nope"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));

    let (status, text) = http_get(d.port, "/v1/openapi.json").unwrap();
    assert_eq!(status, 200);
    let doc = json(&text);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/openai/v1/chat/completions",
        "/metrics",
        "/v1/sessions/{id}/input",
        "/v1/config",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

/// Drives `ferry onboard` on a pseudo-terminal (Python's `pty`): the prompts appear, the
/// key typed at the hidden prompt is stored and never echoed.
#[test]
fn interactive_onboard_prompts_without_echoing_the_key() {
    let python = python3();
    let env = Env::new();
    let typed = "sk-or-v1-typedattheprompt0123456789";
    let driver = r#"
import os, pty, select, sys, time
args = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(args[0], args)
out = b""
def read(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            out += data
def until(text):
    end = time.time() + 20
    while text.encode() not in out and time.time() < end:
        read(0.2)
until("Default model")
os.write(fd, b"anthropic/claude-sonnet-4-5\n")
until("(input is hidden)")
os.write(fd, os.environ["TYPED_KEY"].encode() + b"\n")
until("systemd user unit")
os.write(fd, b"n\n")
read(5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let routes = env.routes_path();
    let state = env.state();
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        driver,
        ferry_bin(),
        "onboard",
        "--offline",
        "--routes-file",
    ])
    .arg(&routes)
    .arg("--state-root")
    .arg(&state)
    .env("TYPED_KEY", typed)
    .env_remove("FERRY_MASTER_KEY")
    .env_remove("FERRY_MASTER_KEY_FILE")
    .env_remove("OPENROUTER_API_KEY")
    .current_dir(env.root());
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let screen = stdout(&out);
    assert!(out.status.success(), "{screen}\n{}", stderr(&out));
    assert!(
        screen.contains("OpenRouter API key (input is hidden)"),
        "{screen}"
    );
    assert!(!screen.contains(typed), "the key was echoed: {screen}");
    assert!(screen.contains("stored openrouter.primary"), "{screen}");
    let text = std::fs::read_to_string(&routes).unwrap();
    assert!(
        text.contains("default_model = \"anthropic/claude-sonnet-4-5\""),
        "{text}"
    );

    // The stored key is the one typed.
    let mut cmd = env.cli(&[
        "--json",
        "secrets",
        "list",
        "--offline",
        "--state-root",
        state.to_str().unwrap(),
    ]);
    cmd.env_remove("FERRY_MASTER_KEY")
        .env("FERRY_MASTER_KEY_FILE", env.root().join("ferry-master.key"));
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out))[0]["fingerprint"], "sk-or-…6789");
}

#[test]
fn deleting_the_routes_secret_through_the_daemon_makes_its_inputs_route_not_ready() {
    let rig = Rig::start();
    let out = rig.cli(&["secrets", "delete", "openrouter.primary"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("deleted openrouter.primary"));

    let list = rig.cli_json(&["secrets", "list"]);
    assert_eq!(list, serde_json::json!([]), "{list}");

    // A model call now answers 503 route_not_ready with the command that fixes it, and
    // nothing is sent upstream.
    let (status, body) = rig.api(
        "POST",
        "/v1/sessions/after-delete/input",
        Some(&serde_json::json!({"content": "hello"})),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "route_not_ready", "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("ferry secrets set openrouter.primary"),
        "{detail}"
    );
    assert!(rig.fake.chat_requests().is_empty());

    // Deleting it again says it is not there.
    let again = rig.cli(&["secrets", "delete", "openrouter.primary"]);
    assert!(!again.status.success());
    assert!(!stderr(&again).is_empty());
}

/// A daemon hands the memory its work freed back to the OS once it goes quiet
/// (src/memory.rs): after a burst of requests, the first quiet second says so in the
/// debug log, once per quiet spell.
#[test]
fn a_daemon_that_goes_quiet_after_work_returns_freed_memory() {
    let rig = Rig::with(RigOptions {
        serve_env: &[("RUST_LOG", "info,ferry=debug")],
        ..RigOptions::default()
    });
    let returned = |d: &Daemon| d.log().matches("returned freed memory to the OS").count();
    let body = serde_json::json!({
        "model": "openai/gpt-5.4-mini",
        "messages": [{"role": "user", "content": "hello"}]
    });
    for _ in 0..200 {
        let (status, _) = rig.api("POST", "/openai/v1/chat/completions", Some(&body));
        assert_eq!(status, 200);
    }
    eventually(Duration::from_secs(30), || {
        (returned(&rig.d) >= 1).then_some(())
    });
    // Once per quiet spell: more work, and it is returned once more.
    let before = returned(&rig.d);
    for _ in 0..200 {
        let (status, _) = rig.api("POST", "/openai/v1/chat/completions", Some(&body));
        assert_eq!(status, 200);
    }
    eventually(Duration::from_secs(30), || {
        (returned(&rig.d) > before).then_some(())
    });
}

/// The `runtime` field of the daemon's "ferry listening" log line (JSON logs).
fn runtime_logged(d: &Daemon) -> String {
    d.log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("ferry listening"))
        })
        .and_then(|v| v["fields"]["runtime"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no listening line with its runtime:\n{}", d.log()))
}

/// A daemon allowed one CPU runs tokio's current-thread scheduler (src/main.rs) and
/// says so when it starts listening; on that one thread it serves a session input, a
/// facade call and a streamed session input, then stops with exit code 0 on SIGTERM.
/// Allowed more CPUs, it runs a worker per CPU.
#[test]
fn a_daemon_allowed_one_cpu_runs_everything_on_one_runtime_thread() {
    let (_fake, env, mut d) = daemon_on_one_cpu();
    assert_eq!(runtime_logged(&d), "one thread");

    let input = http(
        d.port,
        "POST",
        "/v1/sessions/one-cpu/input",
        &[],
        Some(r#"{"content":"hello"}"#),
    )
    .expect("session input");
    assert_eq!(input.0, 200, "{}", input.1);
    assert_eq!(json(&input.1)["status"], "completed", "{}", input.1);
    let facade = facade_hi(d.port).expect("facade call");
    assert_eq!(facade.0, 200, "{}", facade.1);
    assert!(facade.1.contains("echo: hi"), "{}", facade.1);
    streamed_input(d.port, "one-cpu", "again");
    assert_eq!(d.terminate(), Some(0), "{}", d.log());

    // Allowed every CPU of this test (when it has more than one), it runs workers.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus > 1 {
        let mut d = env.serve();
        assert_eq!(runtime_logged(&d), format!("{cpus} workers"));
        assert_eq!(d.terminate(), Some(0), "{}", d.log());
    }
}

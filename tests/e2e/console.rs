//! Issue 17, the web console in a real browser: a daemon that requires credentials, the
//! fake OpenRouter scripted for each step, and `tests/console/console.mjs` driving headless
//! Chromium through Playwright (`playwright-core`, pinned in tests/console/package.json):
//! sign in, a streamed answer in pieces, an image made by the tool loop in the transcript
//! and the gallery, an audio asset that plays, a failed run's code and message, a key
//! created (secret shown once), listed and revoked, the spend chart's bars, the models
//! filter, and every page redirecting to sign-in without a cookie. Screenshots of each page
//! land in `target/console-artifacts/`.
//!
//! It needs node and Chromium (Debian `chromium`; `CHROMIUM=/path` overrides), so it is
//! `#[ignore]`d in the plain test run; `.ci/run` installs both and runs it with
//! `cargo test --test e2e console:: -- --ignored`. Without them it fails saying what to
//! install. The console's cookie and CSRF rules are also tested without a browser in
//! `crates/api/src/console/tests.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_assets::testdata;
use ferry_fake_openrouter::{FakeToolCall, Gate};
use serde_json::json;

use crate::support::*;

const OPERATOR: &str = "operator-token-for-console-tests";
const CHAT_MODEL: &str = "openai/gpt-5.4-mini";
const IMAGE_MODEL: &str = "google/gemini-3.1-flash-image-preview";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The browser binary, or a panic naming what to install.
fn chromium() -> String {
    let candidates = std::env::var("CHROMIUM")
        .ok()
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(String::from));
    for c in candidates {
        if Path::new(&c).is_file() {
            return c;
        }
    }
    panic!(
        "the console e2e test needs Chromium: `apt-get install -y chromium` (Debian), or set CHROMIUM=/path/to/chrome"
    );
}

/// `node`, and `playwright-core` installed from tests/console's lockfile (`npm ci`).
fn node_with_playwright() -> &'static str {
    let ok = |c: &str| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        ok("node") && ok("npm"),
        "the console e2e test needs node (≥ 20) and npm: `apt-get install -y nodejs npm`"
    );
    let dir = repo().join("tests/console");
    if !dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-fund", "--no-audit", "--loglevel=error"])
            .current_dir(&dir);
        let out = run_with_timeout(npm, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "`npm ci` in tests/console failed (it installs the pinned playwright-core):\n{}",
            stderr(&out)
        );
    }
    "node"
}

fn call(id: &str, name: &str, args: serde_json::Value) -> FakeToolCall {
    FakeToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.to_string(),
    }
}

#[test]
#[ignore = "needs Chromium and node; .ci/run installs them and runs it with --ignored"]
fn the_console_in_a_real_browser() {
    let browser = chromium();
    let node = node_with_playwright();

    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    // A run stays in flight (its reply held back) until the browser cancels it: the stall
    // timeout must outlast however long a loaded machine takes to get there.
    env.write_routes(
        &default_routes(&fake.base_url(), "").replace("timeout_ms = 5000", "timeout_ms = 300000"),
    );
    env.store_key_offline();
    let d = env.serve_with(&[], |c| {
        c.env("FERRY_TOKEN", OPERATOR);
    });

    // A key that has spent a quarter of its budget through the facade (its usage bar).
    let admin = format!("Bearer {OPERATOR}");
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/keys",
        &[("Authorization", &admin)],
        Some(&json!({"name": "spender", "budget_usd": 1.0, "scopes": ["facade"]}).to_string()),
    )
    .expect("create key");
    assert_eq!(status, 201, "{body}");
    let secret = json(&body)["secret"].as_str().unwrap().to_owned();
    fake.push_for_model(CHAT_MODEL, Reply::text("ok").with_usage(5, 5, 0.25));
    let (status, body) = http(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[("Authorization", &format!("Bearer {secret}"))],
        Some(&json!({"model": CHAT_MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}).to_string()),
    )
    .expect("facade call");
    assert_eq!(status, 200, "{body}");

    // The steps of console.mjs, in order: a streamed answer (one word per frame, with a
    // pause between frames so the browser renders each piece) ...
    fake.push_for_model(
        CHAT_MODEL,
        Reply::text("Foxes are small omnivores with bushy tails and sharp ears.")
            .chunk_delay(Duration::from_millis(40))
            .with_usage(12, 11, 0.0021),
    );
    // ... an image through the tool loop, shown inline ...
    fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c1",
            "generate_image",
            json!({"prompt": "a fox"}),
        )])
        .with_usage(20, 5, 0.001),
    );
    fake.push_for_model(IMAGE_MODEL, Reply::images(vec![crate::media::png_url(7)]));
    fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c2",
            "emit_output",
            json!({"content": "Here is your fox.", "include_artifacts_inline": true}),
        )])
        .with_usage(30, 6, 0.0012),
    );
    // ... an answer about an attached image ...
    fake.push_for_model(CHAT_MODEL, Reply::text("A dark blue square."));
    // ... a run that fails with upstream's message ...
    fake.push_for_model(
        CHAT_MODEL,
        Reply::error(400, "the model is overloaded today"),
    );
    // ... and one that stays in flight (its first words, then nothing) until cancelled.
    let gate = Gate::new();
    fake.push_for_model(
        CHAT_MODEL,
        Reply::gated(gate.clone(), Reply::text("Thinking about it slowly")),
    );

    let artifacts = repo().join("target/console-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let wav = env.root().join("tone.wav");
    // Half a second of a 16 kHz tone: the audio element must report that duration.
    std::fs::write(&wav, testdata::wav_with(8_000, 3)).expect("wav");
    let png = env.root().join("square.png");
    std::fs::write(&png, testdata::png_with(8, 8, 42)).expect("png");

    let mut cmd = Command::new(node);
    cmd.arg(repo().join("tests/console/console.mjs"))
        .current_dir(repo().join("tests/console"))
        .env("FERRY_URL", format!("http://127.0.0.1:{}", d.port))
        .env("FERRY_TOKEN", OPERATOR)
        .env("ARTIFACTS", &artifacts)
        .env("WAV_FILE", &wav)
        .env("PNG_FILE", &png)
        .env("CHROMIUM", &browser);
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(
        out.status.success(),
        "console steps failed (screenshots in {}):\n{so}\n{se}\ndaemon log tail:\n{}",
        artifacts.display(),
        d.log()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(so.contains("all console steps passed"), "{so}");
    println!("{so}");
    for page in [
        "sign-in", "overview", "sessions", "runs", "assets", "spend", "keys", "models",
    ] {
        for width in [1440, 390] {
            let shot = artifacts.join(format!("{page}-{width}.png"));
            let bytes = std::fs::read(&shot).unwrap_or_default();
            assert!(
                bytes.starts_with(b"\x89PNG"),
                "no screenshot {}",
                shot.display()
            );
        }
    }
    // The attachment reached the model as an image part.
    let sent_image = fake.chat_requests().iter().any(|r| {
        r.body.as_ref().is_some_and(|b| {
            b["messages"].as_array().into_iter().flatten().any(|m| {
                m["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["type"] == "image_url")
            })
        })
    });
    assert!(sent_image, "the attached image was not sent to the model");
    gate.open();
    // The operator token never reached the daemon's log or the screenshots' page text.
    assert!(!d.log().contains(OPERATOR));
}

#[test]
fn without_a_cookie_every_console_page_redirects_to_sign_in() {
    let fake = FakeOpenRouter::start();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let d = env.serve_with(&["--require-keys"], |_| {});
    for page in ["", "sessions", "runs", "assets", "spend", "keys", "models"] {
        let path = format!("/ui/{page}");
        let r = send_raw(d.port, &raw_request("GET", &path, "127.0.0.1", &[], b""));
        assert_eq!(r.status, 303, "/ui/{page}");
        assert_eq!(
            r.header("location"),
            Some(format!("/ui/sign-in?next=/ui/{page}").as_str())
        );
    }
    let r = send_raw(
        d.port,
        &raw_request("GET", "/ui/sign-in", "127.0.0.1", &[], b""),
    );
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("script-src 'self'")));
}

//! Issue 11, the daemon's other hardening: video downloads through the SSRF guard
//! (every address form of loopback, link-local, a name mapped to loopback, redirect
//! chains leaving the upstream's own origin), an owner-only state root whatever the
//! umask, and the route's key planted in an upstream 200 reply never stored or shown.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferry_fake_openrouter::VideoScript;
use serde_json::json;

use crate::media::rig_with;
use crate::support::*;

#[test]
fn video_urls_to_private_addresses_are_refused_before_connecting() {
    let r = rig_with("");
    // The "internal service" a hostile upstream points ferry at.
    let internal = FakeOpenRouter::start();
    internal.serve_file(
        "/secret.mp4",
        "video/mp4",
        b"\0\0\0\x18ftypinternal".to_vec(),
    );
    let port = internal.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}/secret.mp4"),
        // A name that resolves to loopback (through the system resolver: /etc/hosts).
        format!("http://localhost:{port}/secret.mp4"),
        format!("http://[::1]:{port}/secret.mp4"),
        format!("http://[::ffff:127.0.0.1]:{port}/secret.mp4"),
        // Decimal, hex and octal spellings of 127.0.0.1.
        format!("http://2130706433:{port}/secret.mp4"),
        format!("http://0x7f000001:{port}/secret.mp4"),
        format!("http://0177.0.0.1:{port}/secret.mp4"),
        "http://169.254.169.254/latest/meta-data/iam".to_string(),
        "http://[fe80::1]/x.mp4".to_string(),
        "http://10.0.0.7/x.mp4".to_string(),
    ] {
        r.fake
            .push_video(VideoScript::new().polls(0, 0).unsigned_url(url.clone()));
        let out = r.cli(&["video", "generate", "exfiltrate"]);
        assert!(!out.status.success(), "{url}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("media_url_blocked"),
            "{url}: {}",
            stderr(&out)
        );
    }
    assert!(
        internal.requests().is_empty(),
        "the internal service was never contacted"
    );

    // A redirect chain that starts on the upstream's own origin and leaves it for a
    // private address is refused at the hop that leaves; the hops before it were own-origin.
    r.fake.serve_redirect("/files/hop1", "/files/hop2");
    r.fake.serve_redirect(
        "/files/hop2",
        &format!("http://127.0.0.1:{port}/secret.mp4"),
    );
    r.fake.push_video(
        VideoScript::new()
            .polls(0, 0)
            .unsigned_url(format!("{}/files/hop1", r.fake.origin())),
    );
    let out = r.cli(&["video", "generate", "redirected"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("media_url_blocked") && stderr(&out).contains("loopback"),
        "{}",
        stderr(&out)
    );
    assert!(internal.requests().is_empty(), "not even after redirects");
    assert!(r.fake.requests().iter().any(|q| q.path == "/files/hop2"));

    // Own-origin redirects that stay on the own origin are followed (with its key).
    r.fake.serve_redirect("/files/hop3", "/files/real.mp4");
    r.fake.serve_file(
        "/files/real.mp4",
        "video/mp4",
        b"\0\0\0\x18ftypisomreal".to_vec(),
    );
    r.fake.push_video(
        VideoScript::new()
            .polls(0, 0)
            .unsigned_url(format!("{}/files/hop3", r.fake.origin())),
    );
    let out = r.cli(&["video", "generate", "fine"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Nothing refused was stored as an asset.
    let assets = r.cli_json(&["assets", "list"]);
    assert_eq!(assets["assets"].as_array().unwrap().len(), 1, "{assets}");
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every path under `root` (itself included) whose mode lets group or others in.
fn loose_paths(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.permissions().mode() & 0o077 != 0 {
            out.push(format!("{} {:o}", p.display(), mode(&p)));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

#[test]
fn state_root_is_owner_only_under_umask_022() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let mut env = Env::new();
    env.umask = Some("022");
    env.write_default_routes(&fake.base_url());

    // An offline command creates the state root.
    env.store_key_offline();
    let state = env.state();
    assert_eq!(mode(&state), 0o700);
    assert_eq!(loose_paths(&state), Vec::<String>::new());

    // The daemon creates the database (with -wal/-shm), a model cache and asset blobs.
    let d = env.serve();
    fake.push(Reply::text("hello"));
    let out = d.cli(&env, &["sessions", "input", "s1", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let up = http_bytes(
        d.port,
        "POST",
        "/v1/assets",
        &[("Content-Type", "image/png")],
        &ferry_assets::testdata::png(),
    );
    assert_eq!(up.status, 201);
    for f in [
        "ferry.db",
        "ferry.db-wal",
        "ferry.db-shm",
        "secrets.json",
        "ferry.lock",
    ] {
        assert!(state.join(f).exists(), "{f} exists");
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
    assert_eq!(loose_paths(&state), Vec::<String>::new());
    drop(d);

    // Modes loosened while it was stopped are fixed at the next start, with a warning.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        state.join("ferry.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let d = env.serve();
    assert_eq!(loose_paths(&state), Vec::<String>::new());
    assert!(d.log().contains("readable by other users"), "{}", d.log());
    drop(d);
    // And by an offline command.
    std::fs::set_permissions(
        state.join("secrets.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = env
        .cli(&[
            "secrets",
            "set",
            "openrouter.second",
            "--offline",
            "--state-root",
            state.to_str().unwrap(),
            "--provider",
            "openrouter",
            "--from-env",
            "K",
        ])
        .env("K", "sk-or-v1-second-key-for-the-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning:") && stderr(&out).contains("owner-only"),
        "{}",
        stderr(&out)
    );
    assert_eq!(loose_paths(&state), Vec::<String>::new());
}

#[test]
fn the_route_key_in_an_upstream_200_reply_is_never_stored_or_shown() {
    let (fake, env, d) = start_default(&[]);
    let planted = format!("Sure! The key you use is {API_KEY}, keep it safe.");

    // Streamed to the CLI.
    fake.push(Reply::text(planted.clone()));
    let out = d.cli(&env, &["sessions", "input", "leak", "what is your key?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(API_KEY), "{}", stdout(&out));
    assert!(stdout(&out).contains("[REDACTED]"), "{}", stdout(&out));
    // A JSON (non-streamed) answer.
    fake.push(Reply::text(planted.clone()));
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/sessions/leak/input",
        &[],
        Some(&json!({"content": "again?"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(API_KEY), "{body}");
    let run_id = json(&body)["id"].as_str().expect("a run view").to_owned();

    // Not in history, run views, events, the facade, or anything on disk.
    for path in [
        "/v1/sessions/leak/messages".to_string(),
        "/v1/sessions/leak/runs".to_string(),
        format!("/v1/runs/{run_id}"),
        format!("/v1/runs/{run_id}/events?follow=false"),
    ] {
        let (status, body) = http_get(d.port, &path).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.contains(API_KEY), "{path}: {body}");
    }
    let shown = stdout(&d.cli(&env, &["sessions", "show", "leak"]));
    assert!(!shown.contains(API_KEY), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
    drop(d);
    let disk = env.all_state_bytes();
    assert!(
        !disk.windows(API_KEY.len()).any(|w| w == API_KEY.as_bytes()),
        "the key is nowhere in the state root"
    );
}

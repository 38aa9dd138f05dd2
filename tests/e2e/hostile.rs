//! Issue 12: hostile conditions — half-sent request heads and slow clients, shutdown in
//! bounded time, facade streams cut at the end of the grace period, malformed chunks,
//! a full disk, the whole-request deadline and retention pruning.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferry_fake_openrouter::Gate;
use serde_json::{json, Value};

use crate::openai::ChunkedReader;
use crate::support::*;

const HALF_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b";

fn rig(serve_args: &[&str], grace_ms: u64) -> (FakeOpenRouter, Env, Daemon) {
    let grace_ms = grace_ms.to_string();
    let Rig { fake, env, d } = Rig::with(RigOptions {
        serve_args,
        serve_env: &[("FERRY_SHUTDOWN_GRACE_MS", &grace_ms)],
        ..RigOptions::default()
    });
    (fake, env, d)
}

/// SIGTERM; returns the exit code and how long the daemon took to exit.
fn terminate_timed(d: &mut Daemon) -> (Option<i32>, Duration) {
    let started = Instant::now();
    let code = d.terminate();
    (code, started.elapsed())
}

fn half_head_connection(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(HALF_HEAD).expect("write half head");
    s
}

/// Reads until the server closes the connection (or `limit` passes: then panics).
fn expect_closed(s: &mut TcpStream, limit: Duration) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection still open after {limit:?}: {e}"),
        }
    }
}

#[test]
fn a_half_sent_request_head_does_not_hold_shutdown() {
    let grace = 3000;
    // A header timeout far beyond the test: only shutdown may close the connection.
    let (_fake, _env, mut d) = rig(&["--header-read-timeout-ms", "600000"], grace);
    let mut held = half_head_connection(d.port);
    let (status, _) = http_get(d.port, "/healthz").unwrap();
    assert_eq!(status, 200);
    let (code, took) = terminate_timed(&mut d);
    eprintln!("measured: exit {took:?} after SIGTERM with a half-sent head held open");
    assert_eq!(code, Some(0), "log: {}", d.log());
    assert!(
        took < Duration::from_millis(grace + 2000),
        "exit took {took:?}, more than the grace + 2 s"
    );
    assert!(d.log().contains("ferry stopped"), "{}", d.log());
    expect_closed(&mut held, Duration::from_secs(5));
}

#[test]
fn half_head_connections_are_closed_after_the_header_timeout() {
    let (_fake, _env, d) = rig(&["--header-read-timeout-ms", "1000"], 1000);
    let mut conns: Vec<TcpStream> = (0..500).map(|_| half_head_connection(d.port)).collect();
    let started = Instant::now();
    for s in &mut conns {
        expect_closed(s, Duration::from_secs(20));
    }
    eprintln!(
        "measured: 500 half-head connections all closed {:?} after opening",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    // The daemon still serves.
    let (status, _) = http_get(d.port, "/healthz").unwrap();
    assert_eq!(status, 200);
}

/// Sends a request head and the first byte of a 1,000-byte body, then nothing more;
/// returns what the daemon answers, read until it closes the connection.
fn stalled_body(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    )
    .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer to a stalled body: {e}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client that sends a head and part of its body, then stops, gets a 408
/// `body_timeout` in the path's shape once the body read timeout passes, and its
/// connection is closed: it cannot hold a `--max-connections` slot for ever (here two
/// slots, both taken by stalled bodies, and the daemon still answers after them).
#[test]
fn a_request_body_that_stops_arriving_fails_with_408_and_frees_its_connection() {
    let (fake, _env, d) = rig(
        &["--body-read-timeout-ms", "500", "--max-connections", "2"],
        1000,
    );
    let port = d.port;
    let facade = std::thread::spawn(move || stalled_body(port, "/openai/v1/chat/completions"));
    let control = stalled_body(port, "/v1/sessions/slow/input");
    let facade = facade.join().unwrap();
    assert!(facade.starts_with("HTTP/1.1 408"), "{facade}");
    assert!(facade.contains("\"code\":\"body_timeout\""), "{facade}");
    assert!(facade.contains("stopped arriving"), "{facade}");
    assert!(control.starts_with("HTTP/1.1 408"), "{control}");
    assert!(control.contains("application/problem+json"), "{control}");
    assert!(control.contains("body_timeout"), "{control}");
    let (status, _) = http_get(d.port, "/healthz").unwrap();
    assert_eq!(status, 200);
    assert!(fake.chat_requests().is_empty(), "nothing went upstream");
}

/// A body sent with a `Content-Encoding` is refused with 415, in the path's shape, and
/// nothing goes upstream: ferry reads bodies as sent (a gzip body used to fail as JSON
/// that does not parse; one labelled `br` but sent plain passed).
#[test]
fn a_compressed_request_body_is_refused_with_415() {
    let (fake, _env, d) = rig(&[], 1000);
    let body =
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "x"}]})
            .to_string();
    for encoding in ["gzip", "br"] {
        let resp = http_bytes(
            d.port,
            "POST",
            "/openai/v1/chat/completions",
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", encoding),
            ],
            body.as_bytes(),
        );
        assert_eq!(resp.status, 415, "{}", String::from_utf8_lossy(&resp.body));
        let v = resp.json();
        assert!(
            v["error"]["message"].as_str().unwrap().contains(encoding),
            "{v}"
        );
    }
    let resp = http_bytes(
        d.port,
        "POST",
        "/v1/sessions/z/input",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        br#"{"content":"x"}"#,
    );
    assert_eq!(resp.status, 415);
    assert_eq!(resp.json()["code"], "unsupported_media_type");
    let ok = http_bytes(
        d.port,
        "POST",
        "/openai/v1/chat/completions",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity"),
        ],
        body.as_bytes(),
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(
        fake.chat_requests().len(),
        1,
        "only the identity body went upstream"
    );
}

/// A non-streaming facade call; returns status and body.
fn chat_once(port: u16) -> (u16, String) {
    let body =
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "x"}]});
    http(
        port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(&body.to_string()),
    )
    .unwrap()
}

/// Opens a recorded facade stream (the queued reply starts with "alpha") and reads until
/// its first output; returns the run id and the reader.
fn stream_until_first_output(d: &Daemon) -> (String, ChunkedReader) {
    let body = json!({"model": "openai/gpt-5.4-mini", "stream": true,
        "messages": [{"role": "user", "content": "go"}]});
    let (status, head, mut reader) = ChunkedReader::open(d.port, &body);
    assert_eq!(status, 200, "{head}");
    reader.until("alpha");
    (run_id_of(&head), reader)
}

/// Sends SIGTERM without waiting.
fn sigterm(d: &Daemon) {
    let pid = d.child.as_ref().expect("running daemon").id();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn run_id_of(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-ferry-run-id:")
                .map(|v| v.trim().to_string())
        })
        .expect("run id header")
}

/// The recorded run `run_id`, read after a restart of the daemon.
fn run_after_restart(env: &Env, run_id: &str) -> Value {
    let d = env.serve();
    let (status, text) = http_get(d.port, &format!("/v1/runs/{run_id}")).unwrap();
    assert_eq!(status, 200, "{text}");
    json(&text)
}

#[test]
fn the_grace_period_bounds_facade_streams() {
    let grace = 1500;
    let (fake, env, mut d) = rig(&["--record-facade-runs"], grace);
    // Upstream sends its first content chunk and then nothing until the gate opens (never).
    fake.push(Reply::gated(Gate::new(), Reply::text("alpha beta gamma")));
    let (run_id, mut reader) = stream_until_first_output(&d);
    let started = Instant::now();
    sigterm(&d);
    let all = reader.rest();
    let events = sse_data(&all);
    assert_eq!(events.last().copied(), Some("[DONE]"), "{all}");
    let err: Value = serde_json::from_str(events[events.len() - 2]).expect("error event");
    assert_eq!(err["error"]["code"], "interrupted", "{all}");
    let (code, _) = terminate_timed(&mut d);
    let took = started.elapsed();
    eprintln!("measured: exit {took:?} after SIGTERM with a stream outliving the {grace} ms grace");
    assert_eq!(code, Some(0), "log: {}", d.log());
    assert!(
        took < Duration::from_millis(grace + 2000),
        "exit took {took:?}, more than the grace + 2 s"
    );
    let run = run_after_restart(&env, &run_id);
    assert_eq!(run["status"], "interrupted", "{run}");
}

#[test]
fn a_stream_delivered_during_the_grace_is_recorded_completed() {
    let (fake, env, mut d) = rig(&["--record-facade-runs"], 10_000);
    let gate = Gate::new();
    fake.push(Reply::gated(
        gate.clone(),
        Reply::text("alpha beta gamma").with_usage(7, 3, 0.0009),
    ));
    let (run_id, mut reader) = stream_until_first_output(&d);
    sigterm(&d);
    // The drain has begun once /readyz says so; then upstream finishes.
    eventually(Duration::from_secs(10), || {
        let (status, _) = http_get(d.port, "/readyz").ok()?;
        (status == 503).then_some(())
    });
    gate.open();
    let all = reader.rest();
    assert!(all.trim_end().ends_with("data: [DONE]"), "{all}");
    assert!(!all.contains("\"error\""), "{all}");
    let (code, _) = terminate_timed(&mut d);
    assert_eq!(code, Some(0), "log: {}", d.log());
    let run = run_after_restart(&env, &run_id);
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["usage"]["prompt_tokens"], 7, "{run}");
    assert_eq!(run["cost"], 0.0009, "{run}");
}

#[test]
fn a_malformed_chunk_after_output_ends_the_stream_with_an_error_event() {
    let (fake, env, d) = rig(&[], 1000);
    fake.push(Reply::malformed_after(2));
    let body = json!({"model": "openai/gpt-5.4-mini", "stream": true,
        "messages": [{"role": "user", "content": "go"}]});
    let (status, _, mut reader) = ChunkedReader::open(d.port, &body);
    assert_eq!(status, 200);
    let all = reader.rest();
    let events = sse_data(&all);
    // Every event before [DONE] parses (what an OpenAI SDK does with each one).
    assert_eq!(events.last().copied(), Some("[DONE]"), "{all}");
    for e in &events[..events.len() - 1] {
        assert!(serde_json::from_str::<Value>(e).is_ok(), "{e:?} in {all}");
    }
    assert!(
        all.contains("part 2"),
        "the output before the fault is kept: {all}"
    );
    let err: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert_eq!(err["error"]["code"], "upstream_protocol_error", "{all}");
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("upstream_protocol_error")),
        "{log}"
    );

    // The session path names the same fault the same way.
    fake.push(Reply::malformed_after(2));
    let out = d.cli(&env, &["sessions", "input", "m1", "hello"]);
    assert!(
        stderr(&out).contains("[upstream_protocol_error]"),
        "{}",
        stderr(&out)
    );

    // A non-streaming body cut off after its 200 is a stream error, not a connect
    // failure, and is not retried on the same model.
    fake.clear_requests();
    fake.push(Reply::truncated(2));
    let (status, text) = chat_once(d.port);
    assert_eq!(status, 502, "{text}");
    assert_eq!(
        json(&text)["error"]["code"],
        "upstream_stream_error",
        "{text}"
    );
    assert_eq!(fake.chat_requests().len(), 1);
}

/// A route with one fallback, `timeout_ms` = 1 s, and an upstream that takes 4 s to answer
/// every attempt: per attempt that would be 3 attempts × 2 models × 1 s and more.
fn slow_upstream_rig() -> (FakeOpenRouter, Env, Daemon) {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    let routes = default_routes(
        &fake.base_url(),
        "fallbacks = [\"anthropic/claude-sonnet-4-5\"]",
    )
    .replace("timeout_ms = 5000", "timeout_ms = 1000");
    env.write_routes(&routes);
    env.store_key_offline();
    for model in ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4-5"] {
        for _ in 0..3 {
            fake.push_for_model(
                model,
                Reply::text("too late").first_byte_delay(Duration::from_secs(4)),
            );
        }
    }
    let d = env.serve();
    (fake, env, d)
}

#[test]
fn timeout_ms_is_the_deadline_across_retries_and_fallbacks() {
    let (fake, env, d) = slow_upstream_rig();
    let started = Instant::now();
    let (status, text) = chat_once(d.port);
    let took = started.elapsed();
    eprintln!(
        "measured: facade call failed after {took:?} (timeout_ms 1000, 3 attempts x 2 models)"
    );
    assert_eq!(status, 504, "{text}");
    let err = &json(&text)["error"];
    assert_eq!(err["code"], "upstream_timeout", "{text}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("timeout_ms (1000 ms)"),
        "{text}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "facade call took {took:?}"
    );
    assert!(fake.chat_requests().len() < 6);

    // The same for a session input (streaming: the deadline holds until the first output).
    fake.clear_requests();
    let started = Instant::now();
    let out = d.cli(&env, &["sessions", "input", "slow", "hello"]);
    let took = started.elapsed();
    eprintln!("measured: session input failed after {took:?}");
    assert!(
        stderr(&out).contains("[upstream_timeout]"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("timeout_ms (1000 ms)"),
        "{}",
        stderr(&out)
    );
    assert!(
        took < Duration::from_millis(2500),
        "session input took {took:?}"
    );
}

fn db_size(env: &Env) -> u64 {
    ["ferry.db", "ferry.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(env.state().join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn retention_prunes_old_runs_and_the_file_shrinks() {
    let (fake, env, mut d) = rig(&[], 1000);
    fake.push(Reply::text("kept in history"));
    let out = d.cli(&env, &["sessions", "input", "keep", "remember this"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(d.terminate(), Some(0));

    // Age that run, add 3000 old recorded calls and one recent one, and make the file
    // look like one from before incremental vacuum (auto_vacuum = NONE).
    let db = rusqlite::Connection::open(env.state().join("ferry.db")).unwrap();
    db.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
        .unwrap();
    let old = "2020-01-01T00:00:00.000Z";
    db.execute("UPDATE runs SET created_at = ?1", [old])
        .unwrap();
    let input = json!({"text": "x".repeat(2000)}).to_string();
    let event = json!({"text": "y".repeat(1000)}).to_string();
    db.execute_batch("BEGIN").unwrap();
    for i in 0..3000 {
        let id = format!("run_old{i:05}");
        db.execute(
            "INSERT INTO runs (id, session_id, status, created_at, finished_at, input) VALUES (?1, 'keep', 'completed', ?2, ?2, ?3)",
            rusqlite::params![id, old, input],
        )
        .unwrap();
        db.execute(
            "INSERT INTO run_events (run_id, seq, kind, data, created_at) VALUES (?1, 1, 'output.delta', ?2, ?3)",
            rusqlite::params![id, event, old],
        )
        .unwrap();
    }
    let recent = ferry_store::now_rfc3339();
    db.execute(
        "INSERT INTO runs (id, session_id, status, created_at, finished_at, input) VALUES ('run_recent', 'keep', 'completed', ?1, ?1, '{}')",
        [&recent],
    )
    .unwrap();
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let before = db_size(&env);

    let mut d = env.serve_with(&["--retention-days", "30"], |_| {});
    let waited = Instant::now();
    while !d.log().contains("retention: deleted") {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no pruning logged: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.terminate(), Some(0));
    let after = db_size(&env);
    eprintln!("measured: state database {before} bytes before pruning, {after} after");
    assert!(
        after * 2 < before,
        "the file did not shrink: {before} bytes before, {after} after ({:?})",
        std::fs::read_dir(env.state())
            .unwrap()
            .flatten()
            .map(|e| (e.file_name(), e.metadata().unwrap().len()))
            .collect::<Vec<_>>()
    );

    let db = rusqlite::Connection::open(env.state().join("ferry.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM runs"),
        1,
        "only the recent run is left"
    );
    assert_eq!(
        count("SELECT count(*) FROM runs WHERE id = 'run_recent'"),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM run_events WHERE run_id LIKE 'run_old%'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE session_id = 'keep'"),
        2,
        "the session's history is kept"
    );
    assert_eq!(count("PRAGMA auto_vacuum"), 2, "incremental vacuum is on");
}

/// A small tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `"8m"`) on `dir`; `Err` says why it cannot.
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 16 * 1024];
        loop {
            if f.write_all(&block).is_err() {
                break;
            }
        }
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.0.join("filler"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_runs_cleanly_and_sends_nothing_upstream() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    let disk = Tmpfs::mount(&env.state(), "8m").unwrap_or_else(|why| {
        panic!(
            "this test needs to mount a tmpfs for the state root ({why}): run the suite as root (CI does)"
        )
    });
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let mut d = env.serve();
    let root = env.root().to_string_lossy().into_owned();
    let input = |session: &str, text: &str| {
        http(
            d.port,
            "POST",
            &format!("/v1/sessions/{session}/input"),
            &[],
            Some(&json!({"content": text}).to_string()),
        )
        .unwrap()
    };
    let (status, text) = input("warm", "hello");
    assert_eq!(status, 200, "{text}");

    // Disk full: an upload and a new input are refused with 503 storage_full, saying what
    // to free and naming no path; the input never reaches upstream.
    disk.fill();
    fake.clear_requests();
    let upload = http_bytes(
        d.port,
        "POST",
        "/v1/assets?file_name=notes.txt",
        &[("Content-Type", "text/plain")],
        "some notes\n".repeat(20_000).as_bytes(),
    );
    let body = String::from_utf8_lossy(&upload.body).into_owned();
    assert_eq!(upload.status, 503, "{body}");
    assert_eq!(upload.json()["code"], "storage_full", "{body}");
    assert!(body.contains("free space"), "{body}");
    assert!(
        !body.contains(&root),
        "an absolute path reached the client: {body}"
    );

    let (status, text) = input("full", &"many words ".repeat(30_000));
    assert_eq!(status, 503, "{text}");
    let v = json(&text);
    assert_eq!(v["code"], "storage_full", "{text}");
    assert_eq!(v["retryable"], true, "{text}");
    assert!(!text.contains(&root), "{text}");
    assert!(
        fake.chat_requests().is_empty(),
        "an input that was not stored went upstream"
    );

    // A run whose final write fails: its client gets 503 storage_full, the run reads as
    // failed at once, and the failure is stored once space is back.
    disk.free();
    let gate = Gate::new();
    fake.push(Reply::gated(
        gate.clone(),
        Reply::text("word ".repeat(2_000)),
    ));
    let port = d.port;
    let waiter = std::thread::spawn(move || {
        http(
            port,
            "POST",
            "/v1/sessions/late/input",
            &[],
            Some(&json!({"content": "write a lot"}).to_string()),
        )
    });
    eventually(Duration::from_secs(10), || {
        (!fake.chat_requests().is_empty()).then_some(())
    });
    disk.fill();
    gate.open();
    let (status, text) = waiter
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("no answer ({e}); log: {}", d.log()));
    assert_eq!(status, 503, "{text}");
    let v = json(&text);
    assert_eq!(v["code"], "storage_full", "{text}");
    let run_id = v["run_id"].as_str().expect("run id").to_string();
    let (_, text) = http_get(d.port, &format!("/v1/runs/{run_id}")).unwrap();
    let run = json(&text);
    assert_eq!(run["status"], "failed", "{text}");
    assert_eq!(run["error"]["code"], "storage_full", "{text}");

    disk.free();
    eventually(Duration::from_secs(10), || {
        d.log()
            .contains("stored the failed end of a run")
            .then_some(())
    });
    assert_eq!(d.terminate(), Some(0));
    let db = rusqlite::Connection::open(env.state().join("ferry.db")).unwrap();
    let status: String = db
        .query_row("SELECT status FROM runs WHERE id = ?1", [&run_id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "failed");
    drop(db);
    drop(disk);
}

//! The CLI at its edges: flag values it must refuse itself before anything reaches the
//! daemon (a budget, an upstream limit or a speed that is not a finite number — `nan`
//! would travel as JSON `null`, i.e. "none"), and a reader that goes away early (a
//! closed stdout pipe ends any client command quietly, like an ordinary Unix tool, while
//! the daemon keeps serving).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Asserts `out` is the CLI's usage error (exit 2) for `flag`, saying what is accepted.
fn assert_usage_error(args: &[&str], out: &std::process::Output, flag: &str, accepted: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(flag), "{args:?} names the flag: {err}");
    assert!(err.contains(accepted), "{args:?} says what it takes: {err}");
}

#[test]
fn a_budget_limit_or_speed_that_is_not_a_finite_number_is_a_usage_error() {
    let r = Rig::start();
    let v = r.cli_json(&["keys", "create", "kept", "--budget", "5"]);
    let id = v["key"]["id"].as_str().expect("key id").to_owned();
    // `--flag=VALUE`, so `-inf` is a value; `--budget -1` (a negative number) is one too.
    for budget in ["NaN", "nan", "inf", "-inf", "-1"] {
        let flag = format!("--budget={budget}");
        let args = ["keys", "create", "bad", flag.as_str()];
        assert_usage_error(&args, &r.cli(&args), "--budget", "a finite amount in USD");
        let args = ["keys", "update", id.as_str(), flag.as_str()];
        assert_usage_error(&args, &r.cli(&args), "--budget", "a finite amount in USD");
    }
    let args = ["keys", "create", "bad", "--budget", "-1"];
    assert_usage_error(&args, &r.cli(&args), "--budget", "a finite amount in USD");
    for limit in ["nan", "inf", "-1", "0"] {
        let flag = format!("--upstream-limit={limit}");
        let args = ["keys", "create", "bad", flag.as_str()];
        assert_usage_error(&args, &r.cli(&args), "--upstream-limit", "above 0");
    }
    for speed in ["nan", "inf", "-inf"] {
        let flag = format!("--speed={speed}");
        let args = ["audio", "speak", "hello", flag.as_str()];
        assert_usage_error(&args, &r.cli(&args), "--speed", "between 0.25 and 4.0");
    }

    // None of them reached the daemon: one key, its budget untouched; no speech call.
    let keys = r.cli_json(&["keys", "list"]);
    let keys = keys.as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["budget_usd"], 5.0, "{keys:?}");
    assert!(r.fake.requests_to("/audio/speech").is_empty());
    // `none` still removes a budget, and 0 is a budget.
    let v = r.cli_json(&["keys", "update", &id, "--budget", "none"]);
    assert_eq!(v["budget_usd"], Value::Null, "{v}");
    let v = r.cli_json(&["keys", "update", &id, "--budget", "0"]);
    assert_eq!(v["budget_usd"], 0.0, "{v}");
}

/// Runs `args` against the daemon with stdout a pipe whose reader is gone before the
/// command writes anything (the parent's read end is closed at once, and the child holds
/// only the write end), as `| head -0` would: returns the exit status and stderr.
fn with_stdout_closed(r: &Rig, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut cmd: Command = r.d.command(&r.env, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ferry");
    drop(child.stdout.take());
    let mut err = String::new();
    let mut stderr = child.stderr.take().expect("stderr");
    let started = Instant::now();
    // stderr ends when the child does (or is a few lines): read it whole, then reap.
    stderr.read_to_string(&mut err).expect("read stderr");
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, err);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} did not end with its stdout closed; stderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_command_whose_stdout_closes_early_ends_quietly() {
    let r = Rig::start();
    let out = r.cli(&["sessions", "input", "ev", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, runs) = r.api("GET", "/v1/runs", None);
    let run_id = runs["runs"][0]["id"].as_str().expect("a run").to_owned();

    let commands: Vec<Vec<&str>> = vec![
        vec!["runs", "events", &run_id],
        vec!["--json", "sessions", "list"],
        vec!["sessions", "input", "ev", "x"],
        vec!["sessions", "list"],
        vec!["keys", "list"],
        vec!["completions", "bash"],
        // The error path prints the problem document on stdout with --json.
        vec!["--json", "sessions", "show", "no-such-session"],
    ];
    for args in &commands {
        let (status, err) = with_stdout_closed(&r, args);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?} panicked on the closed pipe: {err}"
        );
        assert_ne!(status.code(), Some(101), "{args:?}: {err}");
        // Ended by SIGPIPE like `cat` or `grep`, not by an error of its own.
        assert_eq!(
            status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {status:?} {err}"
        );
    }

    // The daemon ignores SIGPIPE still: clients that hung up did not end it.
    let (status, _) = http_get(r.d.port, "/healthz").expect("daemon alive");
    assert_eq!(status, 200);
    let out = r.cli(&["sessions", "input", "ev", "still here"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

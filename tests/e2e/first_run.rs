//! Issue 13, first run: the README's two set-up commands verbatim from a fresh clone, the
//! built-in default route, `onboard` ending in a state where its printed next command
//! works, and the smaller first-run items (`--url` mistakes, `config show` round trip,
//! port in use before any migration, no colour codes off a terminal).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// The README's fenced `sh` blocks of the set-up section, in order.
fn readme_setup_commands(readme: &str) -> Vec<String> {
    let section = readme
        .split("## Set-up")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Set-up section");
    section
        .split("```sh\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or("").trim().to_string())
        .collect()
}

/// The README's two set-up commands are exactly two; the test command is the one `.ci/run`
/// runs; the daemon command, run verbatim in a fresh `git clone`, serves the built-in route
/// (or, when the README's port is taken, refuses with the port-in-use advice before touching
/// the state root).
#[test]
fn readme_setup_commands_work_verbatim_in_a_fresh_clone() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(Path::new(repo).join("README.md")).unwrap();
    let commands = readme_setup_commands(&readme);
    assert_eq!(commands.len(), 2, "{commands:?}");
    let (daemon, tests) = (&commands[0], &commands[1]);
    let ci = std::fs::read_to_string(Path::new(repo).join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == tests.as_str()),
        "README test command {tests:?} is not a line of .ci/run:\n{ci}"
    );

    // A fresh clone, at the same path on every run (removed, then cloned again): with the
    // same path, the release build's incremental cache (`CARGO_PROFILE_RELEASE_INCREMENTAL`,
    // still the optimised release profile) reuses the previous run's work on unchanged
    // code, where a new path each run rebuilt every ferry crate from nothing. The lock
    // keeps two test processes of this checkout from sharing the clone.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir");
    let src = target_dir.join("readme-clone-src");
    std::fs::create_dir_all(&src).unwrap();
    let lock = std::fs::File::create(src.join("lock")).unwrap();
    lock.lock().expect("lock the README clone");
    let clone = src.join("ferry");
    match std::fs::remove_dir_all(&clone) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            panic!("cannot remove the previous clone {}: {e}", clone.display())
        }
        _ => {}
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks", repo])
        .arg(&clone)
        .output()
        .expect("git is needed to clone the repository");
    assert!(out.status.success(), "git clone failed: {}", stderr(&out));
    assert!(
        !clone.join("routes.toml").exists(),
        "a fresh clone has no routes.toml"
    );

    // Verbatim, through the shell, in its own process group (cargo runs ferry as a child).
    // The build keeps its own target dir under this checkout's, so later runs reuse the
    // compiled dependencies.
    let target = target_dir.join("readme-clone");
    let log_path = tmp.path().join("daemon.log");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", daemon])
        .current_dir(&clone)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
        .env("NO_PROXY", "*")
        .env("RUST_LOG", "info");
    for var in [
        "OPENROUTER_API_KEY",
        "FERRY_MASTER_KEY",
        "FERRY_MASTER_KEY_FILE",
        "FERRY_ROUTES_FILE",
        "FERRY_STATE_ROOT",
        "FERRY_BIND",
        "FERRY_URL",
        "FERRY_TOKEN",
        "FERRY_TOKEN_FILE",
    ] {
        cmd.env_remove(var);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("spawn sh");
    let _group = KillGroup(child.id());
    let port: u16 = daemon
        .split("--bind 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the README's daemon command binds 127.0.0.1:PORT");
    let kill_group = |child: &std::process::Child| {
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", child.id())])
            .status();
    };
    // The first run compiles every crate in release mode (into target/readme-clone, kept
    // for later runs, which then only rebuild what changed in ferry's crates): a generous
    // bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(3600);
    let outcome = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            break Err((status, log));
        }
        if log.contains("ferry listening on") {
            break Ok(log);
        }
        if std::time::Instant::now() > deadline {
            kill_group(&child);
            panic!("the README's daemon command did not start in time; log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    match outcome {
        Ok(log) => {
            let status = http_get(port, "/v1/status").map(|(_, b)| json(&b));
            kill_group(&child);
            let _ = child.wait();
            assert!(
                log.contains("using the built-in default route openrouter"),
                "{log}"
            );
            let status = status.expect("the daemon answers /v1/status");
            let route = &status["routes"][0];
            assert_eq!(route["id"], "openrouter", "{status}");
            assert_eq!(route["default_model"], "openrouter/auto", "{status}");
            assert!(
                route["fix"]
                    .as_str()
                    .unwrap_or("")
                    .contains("OPENROUTER_API_KEY"),
                "{status}"
            );
        }
        Err((_, log)) => {
            // Someone else holds the README's port: the refusal must say so and how to move,
            // and must come before the database was created.
            assert!(log.contains("already in use"), "the daemon exited:\n{log}");
            assert!(log.contains("--bind"), "{log}");
            assert!(!clone.join("state/ferry.db").exists());
        }
    }
}

/// Spawns a prepared `ferry serve` command listening on `port`, its stderr in `log_path`,
/// and waits until it answers `/healthz`.
fn start_daemon(mut cmd: Command, port: u16, log_path: std::path::PathBuf) -> Daemon {
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap());
    let mut d = Daemon {
        child: Some(cmd.spawn().expect("spawn ferry serve")),
        port,
        url: format!("http://127.0.0.1:{port}"),
        log_path,
    };
    eventually(Duration::from_secs(30), || {
        if let Some(Ok(Some(status))) = d.child.as_mut().map(|c| c.try_wait()) {
            panic!("ferry serve exited ({status}):\n{}", d.log());
        }
        http_get(port, "/healthz").ok().filter(|(s, _)| *s == 200)
    });
    d
}

#[test]
fn without_a_routes_file_serve_uses_the_builtin_route_and_says_how_to_add_a_key() {
    let env = Env::new();
    let port = free_port();
    // No --routes-file, and no routes.toml in the working directory.
    let mut cmd = env.cli(&[
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--state-root",
        env.state().to_str().unwrap(),
        "--log-format",
        "json",
        "--upstream-probe-ms",
        "0",
    ]);
    cmd.env_remove("FERRY_ROUTES_FILE")
        .env_remove("FERRY_MASTER_KEY")
        .env_remove("OPENROUTER_API_KEY");
    let mut d = start_daemon(cmd, port, env.root().join("daemon.log"));
    let log = d.log();
    let notices: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("built-in default route"))
        .collect();
    assert_eq!(notices.len(), 1, "{log}");

    let out = d.cli(&env, &["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let so = stdout(&out);
    assert!(so.contains("route openrouter (default): NOT READY"), "{so}");
    assert!(so.contains("export OPENROUTER_API_KEY="), "{so}");
    assert!(so.contains("ferry onboard"), "{so}");

    let mut doctor = d.command(
        &env,
        &[
            "doctor",
            "--offline",
            "--state-root",
            env.state().to_str().unwrap(),
        ],
    );
    doctor
        .env_remove("FERRY_ROUTES_FILE")
        .env_remove("FERRY_MASTER_KEY")
        .env_remove("OPENROUTER_API_KEY");
    let out = run_with_timeout(doctor, Duration::from_secs(60));
    let so = stdout(&out);
    assert!(so.contains("built-in default route"), "{so}");
    assert!(so.contains("OPENROUTER_API_KEY"), "{so}");
    d.terminate();

    // With the key in the environment the built-in route is ready.
    let port = free_port();
    let mut cmd = env.cli(&[
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--state-root",
        env.state().to_str().unwrap(),
        "--upstream-probe-ms",
        "0",
    ]);
    cmd.env_remove("FERRY_MASTER_KEY")
        .env("OPENROUTER_API_KEY", API_KEY);
    let d = start_daemon(cmd, port, env.root().join("daemon-key.log"));
    let status = json(&http_get(port, "/v1/status").unwrap().1);
    assert_eq!(status["routes"][0]["ready"], true, "{status}");
    assert_eq!(
        status["routes"][0]["auth"],
        "auth_ref openrouter.primary, else $OPENROUTER_API_KEY"
    );
    drop(d);

    // An explicitly named routes file that is missing is an error (`serve_command` names
    // the environment's routes.toml, which this test never wrote).
    assert!(!env.routes_path().exists());
    let (code, err) = env.serve_expect_exit(|_| {});
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read routes file"), "{err}");
}

const ONBOARD_KEY: &str = "sk-or-v1-firstrunfirstrunfirstrun0123456789";

fn onboard(
    env: &Env,
    fake: &FakeOpenRouter,
    routes: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "onboard",
        "--non-interactive",
        "--openrouter-api-key",
        ONBOARD_KEY,
        "--routes-file",
        routes.to_str().unwrap(),
        "--state-root",
        "state",
    ];
    let base = fake.base_url();
    args.extend(["--base-url", &base]);
    args.extend_from_slice(extra);
    let mut cmd = env.cli(&args);
    cmd.env_remove("FERRY_MASTER_KEY");
    run_with_timeout(cmd, Duration::from_secs(60))
}

#[test]
fn onboard_checks_the_key_creates_folders_and_its_next_command_works_as_printed() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key("sk-or-v1-someoneelsesomeoneelse0123456789");
    let env = Env::new();
    let routes = env.root().join("conf/nested/routes.toml");

    // A key OpenRouter rejects: refused, nothing written.
    let out = onboard(&env, &fake, &routes, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("OpenRouter rejected the key"),
        "{}",
        stderr(&out)
    );
    assert!(!routes.exists() && !env.root().join("state").exists());
    assert!(!env.root().join("conf").exists());

    // The accepted key: folders created, key checked, unit written, truthful messages.
    fake.set_api_key(ONBOARD_KEY);
    let out = onboard(&env, &fake, &routes, &["--service"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let so = stdout(&out);
    assert!(so.contains("OpenRouter accepted the key"), "{so}");
    assert!(so.contains("generated a master key"), "{so}");
    assert!(routes.exists());
    let key_file = env.root().join("conf/nested/ferry-master.key");
    assert!(key_file.exists());
    let unit = std::fs::read_to_string(env.root().join("conf/nested/ferry.service")).unwrap();
    assert!(
        unit.contains("ExecStart=") && unit.contains(" serve "),
        "{unit}"
    );
    assert!(
        unit.contains(&format!("FERRY_MASTER_KEY_FILE={}", key_file.display())),
        "{unit}"
    );
    assert!(fake.requests().iter().any(|r| r.path.ends_with("/key")));

    // --force again: the key file is reused and onboard says so.
    let out = onboard(&env, &fake, &routes, &["--force", "--offline"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let so = stdout(&out);
    assert!(!so.contains("generated a master key"), "{so}");
    assert!(so.contains("used the existing master key"), "{so}");
    assert!(so.contains("not checked with OpenRouter"), "{so}");

    // The printed next command, run by the shell as printed (plus a free port).
    let next = so
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .and_then(|l| l.split("   then:").next())
        .expect("a next: line")
        .to_string();
    assert!(next.contains("FERRY_MASTER_KEY_FILE="), "{next}");
    let port = free_port();
    let bin_dir = Path::new(ferry_bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("{next} --bind 127.0.0.1:{port} --upstream-probe-ms 0"),
    ])
    .current_dir(env.root())
    .env("PATH", path)
    .env_remove("FERRY_MASTER_KEY")
    .env_remove("FERRY_MASTER_KEY_FILE")
    .env_remove("OPENROUTER_API_KEY")
    .env("NO_PROXY", "*")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(env.root().join("next.log")).unwrap());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().unwrap();
    let _group = KillGroup(child.id());
    let mut d = Daemon {
        child: Some(child),
        port,
        url: format!("http://127.0.0.1:{port}"),
        log_path: env.root().join("next.log"),
    };
    eventually(Duration::from_secs(30), || {
        if let Some(c) = d.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("the printed command exited ({status}):\n{}", d.log());
            }
        }
        http_get(port, "/v1/status").ok().filter(|(s, _)| *s == 200)
    });
    fake.push(Reply::text("hello from onboard"));
    let out = d.cli(&env, &["sessions", "input", "s", "hi"]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), d.log());
    assert!(stdout(&out).contains("hello from onboard"));
}

#[test]
fn url_mistakes_name_the_problem() {
    let env = Env::new();
    let out = run_with_timeout(
        env.cli(&["--url", "127.0.0.1:4000", "status"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no scheme") || stderr(&out).contains("no http://"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("builder error"));

    // A server that is not ferry (the fake OpenRouter) answers 404 to /v1/status.
    let fake = FakeOpenRouter::start();
    let out = run_with_timeout(
        env.cli(&["--url", &fake.origin(), "status"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not look like a ferry daemon"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_show_toml_is_a_routes_file_that_loads_the_same_configuration() {
    let Rig {
        fake: _fake,
        env,
        d,
    } = Rig::with_route_keys("fallbacks = [\"anthropic/claude-sonnet-4-5\"]\nthinking = \"low\"\n[routes.openrouter.provider]\norder = [\"anthropic\"]\n[routes.openrouter.models.\"openai/gpt-5.4-mini\"]\nparams = { temperature = 0.2 }\n");
    let out = d.cli(&env, &["config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = env.root().join("shown.toml");
    std::fs::write(&saved, stdout(&out)).unwrap();
    let first = json(&stdout(&d.cli(&env, &["--json", "config", "show"])));

    // The saved text is a routes file: a daemon loads it and reports the same config.
    let env2_port = free_port();
    let cmd = env.cli(&[
        "serve",
        "--bind",
        &format!("127.0.0.1:{env2_port}"),
        "--state-root",
        env.root().join("state2").to_str().unwrap(),
        "--routes-file",
        saved.to_str().unwrap(),
        "--upstream-probe-ms",
        "0",
    ]);
    let d2 = start_daemon(cmd, env2_port, env.root().join("daemon2.log"));
    let second = json(&stdout(&d2.cli(&env, &["--json", "config", "show"])));
    assert_eq!(first["routes"], second["routes"]);
    assert_eq!(first["default_route"], second["default_route"]);
}

#[test]
fn port_in_use_is_refused_before_migrating_and_says_what_to_do() {
    let fake = FakeOpenRouter::start();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let d = env.serve();
    let other_state = env.root().join("other-state");
    let mut cmd = env.cli(&[
        "serve",
        "--bind",
        &format!("127.0.0.1:{}", d.port),
        "--state-root",
        other_state.to_str().unwrap(),
        "--routes-file",
        env.routes_path().to_str().unwrap(),
    ]);
    cmd.env("RUST_LOG", "info");
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("already in use"), "{err}");
    assert!(
        err.contains("--bind") && err.contains("ferry serve"),
        "{err}"
    );
    assert!(err.contains(&format!(":{}", d.port)), "{err}");
    assert!(
        !other_state.join("ferry.db").exists(),
        "the database was created before binding"
    );
}

#[test]
fn pretty_logs_have_no_colour_codes_in_a_file() {
    let fake = FakeOpenRouter::start();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let port = free_port();
    let log_path = env.root().join("pretty.log");
    let mut cmd = env.serve_command(&format!("127.0.0.1:{port}"));
    cmd.args(["--log-format", "pretty"]).env("RUST_LOG", "info");
    let d = start_daemon(cmd, port, log_path);
    eventually(Duration::from_secs(30), || {
        Some(d.log()).filter(|l| l.contains("ferry listening on"))
    });
    let log = d.log();
    assert!(log.contains("ferry listening on"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a log file:\n{log:?}"
    );
}

/// Kills a process group (a shell and what it started) when dropped.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0)])
            .status();
    }
}

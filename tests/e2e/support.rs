//! Test support for the end-to-end suite: a real `ferry serve` on a loopback port with a
//! temp state root, the CLI run as a user types it, and helpers to read what happened.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use ferry_fake_openrouter::{FakeOpenRouter, Reply};

/// A test API key in OpenRouter's format.
pub const API_KEY: &str = "sk-or-v1-0123456789abcdef0123456789abcdef-test";

/// Path of the binary under test.
pub fn ferry_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferry")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Makes `cmd`'s process run on one CPU only (the first this test may use), so that
/// ferry builds its one-thread runtime.
pub fn on_one_cpu(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: sched_getaffinity on a zeroed, owned cpu_set_t.
    let cpu = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("an allowed CPU")
    };
    // SAFETY: the child runs only sched_setaffinity (async-signal-safe) before exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            match libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
}

/// The socket writes of a running daemon, traced by strace attached to each of its
/// threads (`writev`, `sendto`, `sendmsg`: the daemon's log lines go out with `write`, so
/// they are not in it). Tests that use it are `#[ignore]`d in the plain run (they need
/// Debian's `strace`); `.ci/run` installs it and runs them.
pub struct WriteTrace {
    tracer: Child,
    path: PathBuf,
}

impl WriteTrace {
    /// Attaches to every thread of process `pid`, writing the trace to `path`; returns
    /// once each thread is traced.
    pub fn attach(pid: u32, path: &Path) -> WriteTrace {
        WriteTrace::attach_tracing(pid, path, "writev,sendto,sendmsg")
    }

    /// [`WriteTrace::attach`], tracing the system calls `calls` (strace's list, e.g.
    /// `writev,fcntl`) instead of the socket writes alone.
    pub fn attach_tracing(pid: u32, path: &Path, calls: &str) -> WriteTrace {
        let mut strace = Command::new("strace");
        strace.args(["-f", "-qq", "-s", "4096", "-e"]);
        strace.arg(format!("trace={calls}"));
        strace.arg("-o");
        strace.arg(path);
        let tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the daemon's threads")
            .map(|t| {
                t.expect("a thread")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for tid in &tids {
            strace.args(["-p", tid]);
        }
        let tracer = strace
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run strace ({e}): install Debian's `strace`"));
        let traced = |tid: &String| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).is_ok_and(|s| {
                s.lines()
                    .any(|l| l == format!("TracerPid:\t{}", tracer.id()))
            })
        };
        let start = Instant::now();
        while !tids.iter().all(traced) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "strace did not attach"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        WriteTrace {
            tracer,
            path: path.to_path_buf(),
        }
    }

    /// Detaches (SIGTERM makes strace write out its trace; the daemon goes on) and
    /// returns the trace, one line per write.
    pub fn finish(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.tracer.id().to_string()])
            .status();
        let _ = self.tracer.wait();
        std::fs::read_to_string(&self.path).expect("the trace")
    }
}

/// The default rig (see [`Rig::start`]) with its daemon on one CPU (see [`on_one_cpu`]):
/// (fake, environment, daemon).
pub fn daemon_on_one_cpu() -> (FakeOpenRouter, Env, Daemon) {
    let Rig { fake, env, d } = Rig::with(RigOptions {
        one_cpu: true,
        ..RigOptions::default()
    });
    (fake, env, d)
}

/// A session input streamed over SSE to the daemon on `port`: checks it answered 200 and
/// ran to `run.completed`; returns the stream.
pub fn streamed_input(port: u16, session: &str, content: &str) -> String {
    let (status, body) = http(
        port,
        "POST",
        &format!("/v1/sessions/{session}/input"),
        &[("accept", "text/event-stream")],
        Some(&serde_json::json!({ "content": content }).to_string()),
    )
    .expect("streamed session input");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("event: run.completed"), "{body}");
    body
}

/// A temp directory tree for one daemon: state root, workspace, routes file, master key.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub master_key: String,
    pub extra_env: Vec<(String, String)>,
    /// Run every command under this umask (through `sh -c 'umask M && exec …'`).
    pub umask: Option<&'static str>,
    /// The daemon's `--database-url` (PostgreSQL) when the test runs under
    /// [`on_postgresql`]; `None`: the embedded SQLite database in the state root.
    pub database_url: Option<String>,
    /// The S3 asset store of a rig started on [`AssetBackend::S3`].
    pub s3_assets: Option<S3Assets>,
}

thread_local! {
    /// The database [`on_postgresql`] made for the test running on this thread.
    static TEST_DATABASE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// The master key of every daemon on that database: they share its secret store.
    static TEST_MASTER_KEY: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A new master key, as `ferry secrets generate` prints it.
pub fn generate_master_key() -> String {
    let out = Command::new(ferry_bin())
        .args(["secrets", "generate"])
        .output()
        .expect("run ferry");
    assert!(out.status.success(), "secrets generate failed");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// Runs an existing e2e test with every daemon it starts on a fresh PostgreSQL database
/// (a throwaway cluster on loopback, stopped afterwards) instead of SQLite: the same
/// test body, the same assertions. Fails when PostgreSQL is not installed.
pub fn on_postgresql(test: fn()) {
    let cluster =
        ferry_store_pg::test_cluster::TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = runtime
        .block_on(cluster.new_database())
        .unwrap_or_else(|e| panic!("{e}"));
    TEST_DATABASE.with(|d| *d.borrow_mut() = Some(url.clone()));
    TEST_MASTER_KEY.with(|k| *k.borrow_mut() = Some(generate_master_key()));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            TEST_DATABASE.with(|d| d.borrow_mut().take());
            TEST_MASTER_KEY.with(|k| k.borrow_mut().take());
        }
    }
    let _reset = Reset;
    test();
    // The test really ran on PostgreSQL: its daemons wrote rows there (counted by the
    // server's statistics, which include rows deleted since; the daemons have exited, so
    // their counts are flushed).
    let written: i64 = runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(conn);
        client
            .query_one(
                "SELECT COALESCE(SUM(n_tup_ins), 0)::BIGINT FROM pg_stat_user_tables
                 WHERE relname <> 'schema_version'",
                &[],
            )
            .await
            .expect("read the table statistics")
            .get(0)
    });
    assert!(
        written > 0,
        "the test wrote nothing to PostgreSQL: its daemons did not use --database-url"
    );
    drop(cluster);
}

impl Env {
    /// A fresh environment with a generated master key (under [`on_postgresql`], the one
    /// key of the test's database, whose secret store every daemon on it shares).
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ws")).expect("ws");
        let master_key = TEST_MASTER_KEY
            .with(|k| k.borrow().clone())
            .unwrap_or_else(generate_master_key);
        Env {
            dir,
            master_key,
            database_url: TEST_DATABASE.with(|d| d.borrow().clone()),
            extra_env: Vec::new(),
            umask: None,
            s3_assets: None,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn routes_path(&self) -> PathBuf {
        self.dir.path().join("routes.toml")
    }

    /// Writes routes.toml.
    pub fn write_routes(&self, text: &str) {
        std::fs::write(self.routes_path(), text).expect("write routes");
    }

    /// A standard single-route file pointing at `base_url`.
    pub fn write_default_routes(&self, base_url: &str) {
        self.write_routes(&default_routes(base_url, ""));
    }

    /// Stores the test key offline.
    pub fn store_key_offline(&self) {
        let out = self
            .cli(&[
                "secrets",
                "set",
                "openrouter.primary",
                "--offline",
                "--state-root",
                self.state().to_str().unwrap(),
                "--provider",
                "openrouter",
                "--from-env",
                "OPENROUTER_API_KEY",
            ])
            .env("OPENROUTER_API_KEY", API_KEY)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "offline set failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A `ferry` command with this environment's master key and no inherited FERRY_* vars.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = match self.umask {
            Some(mask) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
                    .arg(ferry_bin());
                sh
            }
            None => Command::new(ferry_bin()),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("FERRY_URL")
            .env_remove("FERRY_TOKEN")
            .env_remove("FERRY_TOKEN_FILE")
            .env_remove("FERRY_MASTER_KEY_FILE")
            .env_remove("FERRY_STATE_ROOT")
            .env("FERRY_MASTER_KEY", &self.master_key)
            .env("NO_PROXY", "*")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the daemon and waits until it answers `/healthz`.
    pub fn serve(&self) -> Daemon {
        self.serve_with(&[], |_| {})
    }

    /// Starts the daemon with extra args and a hook to adjust the command.
    pub fn serve_with(&self, extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Daemon {
        let port = free_port();
        let child = self.spawn_serve(port, extra, adjust);
        let mut d = Daemon {
            child: Some(child),
            port,
            url: format!("http://127.0.0.1:{port}"),
            log_path: self.dir.path().join(format!("daemon-{port}.log")),
        };
        d.wait_healthy();
        d
    }

    /// `ferry serve` on `bind` with this environment's state root, workspace and routes.
    pub fn serve_command(&self, bind: &str) -> Command {
        let mut cmd = self.cli(&[
            "serve",
            "--bind",
            bind,
            "--state-root",
            self.state().to_str().unwrap(),
            "--workspace-root",
            self.ws().to_str().unwrap(),
            "--routes-file",
            self.routes_path().to_str().unwrap(),
        ]);
        if let Some(url) = &self.database_url {
            cmd.args(["--database-url", url]);
        }
        cmd
    }

    /// Spawns `ferry serve` without waiting (for tests that expect it to refuse).
    pub fn spawn_serve(
        &self,
        port: u16,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Child {
        let mut cmd = self.serve_command(&format!("127.0.0.1:{port}"));
        cmd.args(["--log-format", "json"]).args(extra);
        let log =
            std::fs::File::create(self.dir.path().join(format!("daemon-{port}.log"))).expect("log");
        cmd.stdout(Stdio::null())
            .stderr(log)
            .env("RUST_LOG", "info");
        adjust(&mut cmd);
        cmd.spawn().expect("spawn ferry serve")
    }

    /// Runs `ferry serve` expecting it to exit on its own; returns (exit code, stderr).
    pub fn serve_expect_exit(&self, adjust: impl FnOnce(&mut Command)) -> (i32, String) {
        let mut cmd = self.serve_command(&format!("127.0.0.1:{}", free_port()));
        adjust(&mut cmd);
        let out = run_with_timeout(cmd, Duration::from_secs(20));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Every file under the state root, concatenated (to search for leaked secrets).
    pub fn all_state_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        collect_bytes(&self.state(), &mut out);
        out
    }
}

fn collect_bytes(dir: &Path, out: &mut Vec<u8>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect_bytes(&p, out);
            } else if let Ok(mut f) = std::fs::File::open(&p) {
                let _ = f.read_to_end(out);
            }
        }
    }
}

/// The standard routes file used by most tests.
pub fn default_routes(base_url: &str, extra_route_keys: &str) -> String {
    format!(
        r#"version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
base_url = "{base_url}"
timeout_ms = 5000
connect_timeout_ms = 2000
{extra_route_keys}
"#
    )
}

/// A fake OpenRouter (expecting [`API_KEY`]), an environment with the key stored
/// offline, and a daemon serving routes that point at the fake: what most tests start from.
pub struct Rig {
    pub fake: FakeOpenRouter,
    pub env: Env,
    pub d: Daemon,
}

/// How a [`Rig`] is set up; the default is the default routes and a plain `ferry serve`.
#[derive(Default)]
pub struct RigOptions<'a> {
    /// Lines added to `[routes.openrouter]` of the default routes.
    pub route_keys: &'a str,
    /// The whole routes.toml instead of the default routes, given the fake's base URL.
    pub routes: Option<&'a dyn Fn(&str) -> String>,
    /// Extra `ferry serve` arguments.
    pub serve_args: &'a [&'a str],
    /// Environment variables of the daemon.
    pub serve_env: &'a [(&'a str, &'a str)],
    /// The fake's model catalog (the `data` array of `GET /models`).
    pub models: Option<serde_json::Value>,
    /// Where the daemon keeps asset bytes.
    pub asset_store: AssetBackend,
    /// Run the daemon on one CPU ([`on_one_cpu`]).
    pub one_cpu: bool,
}

impl Rig {
    /// The default rig.
    pub fn start() -> Rig {
        Rig::with(RigOptions::default())
    }

    /// The default rig with `route_keys` added to its route.
    pub fn with_route_keys(route_keys: &str) -> Rig {
        Rig::with(RigOptions {
            route_keys,
            ..RigOptions::default()
        })
    }

    /// A rig set up as `options` says.
    pub fn with(options: RigOptions<'_>) -> Rig {
        let fake = FakeOpenRouter::start();
        fake.set_api_key(API_KEY);
        if let Some(models) = options.models {
            fake.set_models(models);
        }
        let mut env = Env::new();
        env.write_routes(&match options.routes {
            Some(routes) => routes(&fake.base_url()),
            None => default_routes(&fake.base_url(), options.route_keys),
        });
        env.store_key_offline();
        let mut serve_args = options.serve_args.to_vec();
        let mut serve_env = options.serve_env.to_vec();
        if options.asset_store == AssetBackend::S3 {
            env.s3_assets = Some(S3Assets::start());
        }
        let s3_vars = env.s3_assets.as_ref().map(S3Assets::daemon_vars);
        if let Some((url, vars)) = &s3_vars {
            serve_args.extend(["--asset-store", url.as_str()]);
            serve_env.extend(vars.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let d = env.serve_with(&serve_args, |c| {
            c.envs(serve_env.iter().copied());
            if options.one_cpu {
                on_one_cpu(c);
            }
        });
        Rig { fake, env, d }
    }

    /// The CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.d.cli(&self.env, args)
    }

    /// `ferry --json ARGS…`, which must succeed, parsed.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.cli(&full);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        json(&stdout(&out))
    }

    /// One API request with an optional JSON body: the status and the body (as JSON, or
    /// as a JSON string when it is not JSON).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let text = body.map(|b| b.to_string());
        let (status, body) = http(self.d.port, method, path, &[], text.as_deref()).expect("http");
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        )
    }
}

/// A fake OpenRouter (expecting [`API_KEY`]), an environment on its default route with
/// the key stored offline, and a daemon started with `extra` serve flags.
pub fn start_default(extra: &[&str]) -> (FakeOpenRouter, Env, Daemon) {
    let Rig { fake, env, d } = Rig::with(RigOptions {
        serve_args: extra,
        ..RigOptions::default()
    });
    (fake, env, d)
}

/// Runs a command with a deadline, killing it if it hangs. Output is drained while it
/// runs, so a child writing more than a pipe buffer never blocks.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "command did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A running daemon; killed on drop.
pub struct Daemon {
    pub child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub log_path: PathBuf,
}

impl Daemon {
    fn wait_healthy(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("ferry serve exited early ({status}); log:\n{}", self.log());
                }
            }
            if http_get(self.port, "/healthz")
                .map(|(s, _)| s == 200)
                .unwrap_or(false)
            {
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("ferry serve did not become healthy; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                panic!("daemon did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the CLI against this daemon; returns the output.
    pub fn cli(&self, env: &Env, args: &[&str]) -> Output {
        let mut cmd = env.cli(args);
        cmd.env("FERRY_URL", &self.url);
        run_with_timeout(cmd, Duration::from_secs(60))
    }

    /// A CLI command against this daemon, not yet run.
    pub fn command(&self, env: &Env, args: &[&str]) -> Command {
        let mut cmd = env.cli(args);
        cmd.env("FERRY_URL", &self.url);
        cmd
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The header the test clients send, like the CLI, so the daemon's browser guard knows
/// they are not a web page (the browser suite, `tests/e2e/browser.rs`, sends raw requests).
const CLIENT: &str = "X-Ferry-Client: ferry-e2e\r\n";

/// A live answer read as ferry-types' view `T`, field for field: it reads, and writing it
/// back gives the same JSON (no field dropped, renamed or added).
pub fn as_view<T: serde::Serialize + serde::de::DeserializeOwned>(answer: &serde_json::Value) -> T {
    let name = std::any::type_name::<T>();
    let view: T =
        serde_json::from_value(answer.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{answer}"));
    assert_eq!(&serde_json::to_value(&view).unwrap(), answer, "{name}");
    view
}

/// A multipart/form-data body of one text field and a `file` part: its Content-Type
/// (with the boundary) and its bytes.
pub fn multipart(
    field: (&str, &str),
    file_name: &str,
    media_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "XferryBoundary";
    let (name, value) = field;
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Minimal blocking HTTP/1.1 client for the tests (status, body). Avoids depending on the
/// client code under test.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n{CLIENT}", body.len());
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    // The server may answer (413) and close before reading a large body: keep what it said.
    let _ = s.write_all(req.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    if raw.is_empty() {
        return Err(std::io::Error::other("no response"));
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One plain facade chat call (`hi` to the default model): its status and body.
pub fn facade_hi(port: u16) -> std::io::Result<(u16, String)> {
    http(
        port,
        "POST",
        "/openai/v1/chat/completions",
        &[],
        Some(r#"{"model":"openai/gpt-5.4-mini","messages":[{"role":"user","content":"hi"}]}"#),
    )
}

/// GET shorthand.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http(port, "GET", path, &[], None)
}

/// Parses JSON or panics with the text.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw HTTP exchange: status, lower-cased headers and the body bytes.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (panics with the text otherwise).
    pub fn json(&self) -> serde_json::Value {
        json(&String::from_utf8_lossy(&self.body))
    }
}

/// Blocking HTTP/1.1 with a binary body and binary answer (Content-Length or chunked).
pub fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut all = vec![("X-Ferry-Client", "ferry-e2e")];
    all.extend_from_slice(headers);
    send_raw(port, &raw_request(method, path, "127.0.0.1", &all, body))
}

/// The bytes of one HTTP/1.1 request with exactly these headers (plus `Host`,
/// `Connection: close` and `Content-Length`).
pub fn raw_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// Sends `request` (head and body exactly as given) and reads the whole answer.
pub fn send_raw(port: u16, request: &[u8]) -> RawResponse {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut cur = &rest[..];
        while let Some(pos) = cur.windows(2).position(|w| w == b"\r\n") {
            let n =
                usize::from_str_radix(String::from_utf8_lossy(&cur[..pos]).trim(), 16).unwrap_or(0);
            if n == 0 || cur.len() < pos + 2 + n {
                break;
            }
            out.extend_from_slice(&cur[pos + 2..pos + 2 + n]);
            cur = &cur[pos + 2 + n..];
            if cur.starts_with(b"\r\n") {
                cur = &cur[2..];
            }
        }
        rest = out;
    }
    RawResponse {
        status,
        headers,
        body: rest,
    }
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Makes the pinned Python test packages (`modules`, e.g. `"openai, anthropic"`) importable: `None` when they
/// already are (e.g. `.ci/run` installed them), else they are installed once into the test
/// target dir (`pip install --target`), whose path is returned for `PYTHONPATH` — so the
/// README's plain `cargo test --workspace` works on a fresh machine too.
pub fn python_packages(python: &str, modules: &str) -> Option<std::path::PathBuf> {
    let importable = |pythonpath: Option<&std::path::Path>| {
        let mut c = Command::new(python);
        c.args(["-c", &format!("import {modules}")]);
        if let Some(p) = pythonpath {
            c.env("PYTHONPATH", p);
        }
        c.output().map(|o| o.status.success()).unwrap_or(false)
    };
    if importable(None) {
        return None;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-deps");
    if !importable(Some(&dir)) {
        let requirements = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/requirements.txt");
        let out = Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&dir)
            .args(["-r", requirements])
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "cannot install the Python test packages into {}: {}\nrun `python3 -m pip install -r tests/python/requirements.txt` and retry",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(dir)
}

/// `python3`, which the tests that drive Python clients need: a test calling this fails
/// with the reason when it is missing (.ci/run installs it and the test packages).
pub fn python3() -> &'static str {
    match Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => "python3",
        other => panic!(
            "this test needs python3 on PATH (with tests/python/requirements.txt installed; .ci/run does it): {other:?}"
        ),
    }
}

/// Runs the Python client test `tests/python/{script}` (which needs `modules`) against
/// daemon `d`, with an SDK key the daemon must never see in its logs, and returns its
/// stdout once it passed (it prints one line per check and "N passed, N failed").
pub fn run_python_client_test(python: &str, script: &str, modules: &str, d: &Daemon) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let deps = python_packages(python, modules);
    let mut cmd = Command::new(python);
    if let Some(dir) = &deps {
        cmd.env("PYTHONPATH", dir);
    }
    cmd.arg(path)
        .env("FERRY_URL", &d.url)
        .env("FERRY_TEST_API_KEY", "sk-client-side-placeholder")
        .env("NO_PROXY", "*");
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    let out = run_with_timeout(cmd, Duration::from_secs(180));
    let (so, se) = (stdout(&out), stderr(&out));
    assert_ne!(
        out.status.code(),
        Some(3),
        "the Python test needs its packages: run `python3 -m pip install -r tests/python/requirements.txt` (.ci/run does this)\n{se}"
    );
    assert!(
        out.status.success(),
        "{script} failed:\n{so}\n{se}\ndaemon log:\n{}",
        d.log()
    );
    assert!(
        !d.log().contains("sk-client-side-placeholder"),
        "the SDK's key reached the log"
    );
    so
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect()
}

/// Where a rig's daemon keeps asset bytes: the parameter of the asset scenarios that run
/// on both stores (see [`on_every_asset_store`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssetBackend {
    /// Files under the state root (the default).
    #[default]
    StateRoot,
    /// A bucket on a moto S3 server started for the rig (`--asset-store s3://…`).
    S3,
}

/// A rig's S3 asset store: the moto server, the bucket, and a client to look at (and
/// damage) the blobs behind the daemon's back.
pub struct S3Assets {
    pub moto: ferry_assets::moto::MotoServer,
    pub location: ferry_assets::S3Location,
    runtime: tokio::runtime::Runtime,
    blobs: ferry_assets::S3BlobStore,
}

impl S3Assets {
    /// Starts moto with bucket `ferry-e2e` and the prefix `state/assets`.
    pub fn start() -> S3Assets {
        let moto = ferry_assets::moto::MotoServer::start();
        moto.create_bucket("ferry-e2e");
        let location = ferry_assets::S3Location {
            bucket: "ferry-e2e".into(),
            prefix: "state/assets".into(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let blobs = runtime
            .block_on(ferry_assets::S3BlobStore::connect(
                location.clone(),
                moto.client_vars(),
            ))
            .expect("connect to moto");
        S3Assets {
            moto,
            location,
            runtime,
            blobs,
        }
    }

    /// The `--asset-store` URL and the `AWS_*` variables of the daemon.
    pub fn daemon_vars(&self) -> (String, Vec<(&'static str, String)>) {
        (self.location.to_string(), self.moto.aws_vars())
    }
}

impl Rig {
    fn blob_store(&self) -> Option<&S3Assets> {
        self.env.s3_assets.as_ref()
    }

    /// How many blobs the daemon's asset store holds.
    pub fn blob_count(&self) -> usize {
        use ferry_assets::BlobStore;
        match self.blob_store() {
            Some(s3) => s3
                .runtime
                .block_on(s3.blobs.list())
                .expect("list blobs")
                .len(),
            None => files_under(&self.env.state().join("assets")).len(),
        }
    }

    /// Whether the daemon's asset store holds the blob `sha256`.
    pub fn blob_exists(&self, sha256: &str) -> bool {
        use ferry_assets::BlobStore;
        match self.blob_store() {
            Some(s3) => s3
                .runtime
                .block_on(s3.blobs.exists(sha256))
                .expect("head blob"),
            None => self.blob_file(sha256).is_file(),
        }
    }

    /// Overwrites the blob `sha256` with `bytes` behind the daemon's back (on disk, or
    /// through the S3 API).
    pub fn corrupt_blob(&self, sha256: &str, bytes: &[u8]) {
        match self.blob_store() {
            Some(s3) => {
                let key = format!("{}/{}/{sha256}", s3.location.prefix, &sha256[..2]);
                s3.runtime
                    .block_on(s3.moto.put_object(&s3.location.bucket, &key, bytes));
            }
            None => std::fs::write(self.blob_file(sha256), bytes).expect("damage a blob"),
        }
    }

    /// Removes the blob `sha256` behind the daemon's back.
    pub fn remove_blob(&self, sha256: &str) {
        use ferry_assets::BlobStore;
        match self.blob_store() {
            Some(s3) => s3
                .runtime
                .block_on(s3.blobs.delete(sha256))
                .expect("delete blob"),
            None => std::fs::remove_file(self.blob_file(sha256)).expect("remove a blob"),
        }
    }

    fn blob_file(&self, sha256: &str) -> PathBuf {
        self.env
            .state()
            .join("assets")
            .join(&sha256[..2])
            .join(sha256)
    }
}

/// Runs the scenario `fn NAME(store: AssetBackend)` once per asset store, as the tests
/// `NAME::state_root` and `NAME::s3`.
macro_rules! on_every_asset_store {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn state_root() {
                super::$name(crate::support::AssetBackend::StateRoot)
            }
            #[test]
            fn s3() {
                super::$name(crate::support::AssetBackend::S3)
            }
        }
    )+};
}
pub(crate) use on_every_asset_store;

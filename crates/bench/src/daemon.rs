//! Starting a real `ferry serve` for the benchmark: temp state root, a routes file pointing
//! at the fake upstream, the key from an environment variable, pinned to one core.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a daemon dropped by the bench gets to shut down on SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// A running daemon, stopped on drop: SIGTERM, as a service manager stops it (so a build
/// instrumented for profile-guided optimisation writes its profile on the way out), then
/// SIGKILL if it is still running after [`STOP_WITHIN`].
pub struct Daemon {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts ferry in front of `upstream` and waits until it is healthy.
    pub async fn start(
        ferry: &PathBuf,
        upstream: &str,
        pin_core: Option<usize>,
    ) -> Result<Daemon, String> {
        Daemon::start_with(ferry, upstream, pin_core, &[]).await
    }

    /// [`Daemon::start`] with extra `serve` arguments (e.g. `--database-url`).
    pub async fn start_with(
        ferry: &PathBuf,
        upstream: &str,
        pin_core: Option<usize>,
        extra: &[&str],
    ) -> Result<Daemon, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let routes = dir.path().join("routes.toml");
        std::fs::write(
            &routes,
            format!(
                "version = 1\n[routes.openrouter]\ndefault_model = \"openai/gpt-5.4-mini\"\napi_key_env = \"BENCH_OPENROUTER_KEY\"\nbase_url = \"{upstream}\"\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.path().join("ws")).map_err(|e| e.to_string())?;
        let mut cmd = match pin_core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(ferry);
                c
            }
            None => Command::new(ferry),
        };
        cmd.arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-root")
            .arg(dir.path().join("state"))
            .arg("--workspace-root")
            .arg(dir.path().join("ws"))
            .arg("--routes-file")
            .arg(&routes)
            .args(extra)
            .env("BENCH_OPENROUTER_KEY", "sk-or-v1-bench")
            .env("RUST_LOG", "warn")
            .env_remove("FERRY_MASTER_KEY")
            .env_remove("FERRY_MASTER_KEY_FILE")
            .env_remove("FERRY_TOKEN")
            .env_remove("FERRY_TOKEN_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", ferry.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err("ferry did not become healthy within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Daemon {
            child,
            url,
            _dir: dir,
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet
            // (so the pid cannot have been reused).
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_WITHIN;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pins this process (the load driver and the in-process fake) to every core but `core`.
pub fn pin_self_away_from(core: usize) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let others: Vec<String> = (0..cores)
        .filter(|c| *c != core)
        .map(|c| c.to_string())
        .collect();
    if others.is_empty() {
        return;
    }
    let _ = Command::new("taskset")
        .arg("-a")
        .arg("-cp")
        .arg(others.join(","))
        .arg(std::process::id().to_string())
        .stdout(Stdio::null())
        .status();
}

/// Lets process `pid` and its children run on every core again (they inherited this
/// process's pinning): the database of the PostgreSQL rows runs, as in a deployment, on
/// no core of its own rather than squeezed onto the load driver's.
pub fn unpin_tree(pid: i32) {
    // Every online core — not `available_parallelism`, which counts only the cores this
    // (pinned) process may use and would pin the database to one of them.
    let all = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "0-1023".to_owned());
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // The fields after the parenthesised name: state, then the parent's pid.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(pid) {
                pids.push(child);
            }
        }
    }
    for p in pids {
        let _ = Command::new("taskset")
            .arg("-a")
            .arg("-cp")
            .arg(&all)
            .arg(p.to_string())
            .stdout(Stdio::null())
            .status();
    }
}

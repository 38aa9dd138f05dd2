//! A throwaway PostgreSQL cluster for tests (feature `test-support`): `initdb` into a
//! temporary directory, `postgres` on a free loopback port (trust authentication, user
//! `ferry`), a fresh database per caller, and the server stopped by its pid when the
//! cluster is dropped. The binaries come from `FERRY_PG_BIN` or the newest
//! `/usr/lib/postgresql/*/bin`. PostgreSQL refuses to run as root: as root the cluster
//! runs as the `postgres` system user (Debian's package creates it), else as the caller.
//! A missing PostgreSQL is an error that says how to install it: tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser of every test cluster.
const USER: &str = "ferry";

/// A running throwaway cluster; dropping it stops the server and deletes its files.
pub struct TestCluster {
    dir: tempfile::TempDir,
    server: Child,
    port: u16,
    databases: AtomicU32,
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("FERRY_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install it with \
         `apt-get install -y postgresql` (Debian), or point FERRY_PG_BIN at its bin directory"
            .to_owned()
    })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The command, run as the `postgres` user when we are root.
fn as_cluster_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

impl TestCluster {
    /// Initialises and starts a cluster (`fsync=off`: tests need no durability); waits
    /// until it accepts connections.
    pub fn start() -> Result<TestCluster, String> {
        TestCluster::start_with(false)
    }

    /// [`TestCluster::start`] with `fsync` on or off (a benchmark measures with it on,
    /// as a real server runs).
    pub fn start_with(fsync: bool) -> Result<TestCluster, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("ferry-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !status.success() {
                return Err("cannot hand the data directory to the postgres user".into());
            }
        }
        let out = as_cluster_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=trust", "--encoding=UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = free_port()?;
        let log =
            std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let server = as_cluster_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k", ""])
            .args(["-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(if fsync { "fsync=on" } else { "fsync=off" })
            .args(["-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        let mut cluster = TestCluster {
            dir,
            server,
            port,
            databases: AtomicU32::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = cluster.server.try_wait() {
                let log = std::fs::read_to_string(cluster.dir.path().join("server.log"))
                    .unwrap_or_default();
                return Err(format!("postgres exited ({status}): {log}"));
            }
            if Instant::now() > deadline {
                return Err("postgres did not accept connections within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Accepting TCP is not yet accepting sessions: wait for the server to be ready.
        let ready = bin.join("pg_isready");
        while !Command::new(&ready)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", USER, "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        {
            if Instant::now() > deadline {
                return Err("postgres did not become ready within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(cluster)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's pid (the postmaster's).
    pub fn pid(&self) -> Option<i32> {
        self.postmaster_pid()
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new empty database and returns its URL.
    pub async fn new_database(&self) -> Result<String, String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("ferry_test_{n}");
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the test cluster: {e}"))?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("cannot create database {name}: {e}"))?;
        drop(client);
        let _ = task.await;
        Ok(self.url(&name))
    }
}

impl TestCluster {
    /// The postmaster's pid, from its pid file (as root the child is `runuser`).
    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; the data directory is deleted right after.
        let pid = self.postmaster_pid().unwrap_or(self.server.id() as i32);
        // SAFETY: kill(2) has no memory effects; the pid is the server this cluster started.
        unsafe {
            libc::kill(pid, libc::SIGQUIT);
        }
        let _ = self.server.wait();
    }
}

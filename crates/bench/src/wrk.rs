//! The load of the nginx-hop comparison, as issue 10 and spec §12 measure it: `wrk -t1
//! -c16` POSTing a small fixed body for a fixed time, pinned to the driver's core, against
//! a gateway pinned alone to the daemon core, whose CPU per request is its
//! utime+stime over the run ÷ the requests wrk completed. Uses Debian's `wrk` when it is
//! installed: a run of seconds keeps the 10 ms clock tick of /proc's CPU times under 1 %
//! of the figure, and wrk saturates a one-core gateway where the bench's own client
//! cannot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// What one wrk run did.
#[derive(Debug, Clone, Copy)]
pub struct WrkRun {
    /// Requests completed.
    pub requests: u64,
    /// Answers that were not 2xx or 3xx.
    pub failed: u64,
    /// Requests per second.
    pub rate: f64,
}

/// wrk, pinned to the driver's core, writing its scripts into a directory of the bench's.
#[derive(Debug)]
pub struct Wrk {
    bin: PathBuf,
    dir: PathBuf,
    core: Option<usize>,
}

impl Wrk {
    /// wrk when installed, to run pinned to `core` (when given) with its scripts in `dir`.
    pub fn find(dir: &Path, core: Option<usize>) -> Option<Wrk> {
        ["/usr/bin/wrk", "/usr/local/bin/wrk"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .map(|bin| Wrk {
                bin,
                dir: dir.to_path_buf(),
                core,
            })
    }

    /// POSTs `body` to `url` from `connections` connections on one thread for `duration`;
    /// `bearer` is sent as `Authorization: Bearer`.
    pub async fn post(
        &self,
        url: &str,
        body: &str,
        bearer: Option<&str>,
        connections: usize,
        duration: Duration,
    ) -> Result<WrkRun, String> {
        self.run(url, &script(body, bearer, None), connections, duration)
            .await
    }

    /// POSTs `body` like [`Wrk::post`], each request to a path of its own under `url`'s
    /// host: `prefix`, a number counting from 1, `suffix` (so that, say, every session
    /// input starts a new session).
    pub async fn post_numbered(
        &self,
        url: &str,
        (prefix, suffix): (&str, &str),
        body: &str,
        connections: usize,
        duration: Duration,
    ) -> Result<WrkRun, String> {
        let lua = script(body, None, Some((prefix, suffix)));
        self.run(url, &lua, connections, duration).await
    }

    async fn run(
        &self,
        url: &str,
        lua: &str,
        connections: usize,
        duration: Duration,
    ) -> Result<WrkRun, String> {
        let script = self.dir.join("post.lua");
        std::fs::write(&script, lua).map_err(|e| format!("cannot write the wrk script: {e}"))?;
        let mut cmd = match self.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.arg("-t1")
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("-s")
            .arg(&script)
            .arg(url);
        let out = cmd
            .output()
            .await
            .map_err(|e| format!("cannot run wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrk failed ({}): {}{}",
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
    }
}

/// The Lua script of a POST load: the body and headers, and with `numbered` a `request`
/// function that sends each request to `prefix` N `suffix`.
fn script(body: &str, bearer: Option<&str>, numbered: Option<(&str, &str)>) -> String {
    let mut lua = format!(
        "wrk.method = \"POST\"\nwrk.body = [==[{body}]==]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    if let Some(key) = bearer {
        lua.push_str(&format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {key}\"\n"
        ));
    }
    if let Some((prefix, suffix)) = numbered {
        lua.push_str(&format!(
            "local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, \"{prefix}\" .. n .. \"{suffix}\")\nend\n"
        ));
    }
    lua
}

/// Reads wrk's report: `N requests in Ts, …`, `Requests/sec: R` and, when some failed,
/// `Non-2xx or 3xx responses: F`.
fn parse(report: &str) -> Option<WrkRun> {
    let mut requests = None;
    let mut rate = None;
    let mut failed = 0;
    for line in report.lines().map(str::trim) {
        if let Some((n, _)) = line.split_once(" requests in ") {
            requests = n.trim().parse().ok();
        } else if let Some(r) = line.strip_prefix("Requests/sec:") {
            rate = r.trim().parse().ok();
        } else if let Some(f) = line.strip_prefix("Non-2xx or 3xx responses:") {
            failed = f.trim().parse().ok()?;
        }
    }
    Some(WrkRun {
        requests: requests?,
        failed,
        rate: rate?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_load_sends_each_request_to_a_path_of_its_own() {
        let lua = script(
            r#"{"content":"hi"}"#,
            None,
            Some(("/v1/sessions/w-", "/input")),
        );
        assert!(
            lua.contains(r#"wrk.body = [==[{"content":"hi"}]==]"#),
            "{lua}"
        );
        assert!(
            lua.contains(r#"return wrk.format(nil, "/v1/sessions/w-" .. n .. "/input")"#),
            "{lua}"
        );
        assert!(!script("{}", Some("k"), None).contains("request ="));
    }

    #[test]
    fn reads_wrks_report() {
        let report = "Running 5s test @ http://127.0.0.1:47203/openai/v1/chat/completions\n  1 threads and 16 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.21ms  230.00us   5.00ms   90.00%\n    Req/Sec    13.40k   500.00    14.00k    70.00%\n  66725 requests in 5.00s, 30.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  13335.94\nTransfer/sec:      6.00MB\n";
        let run = parse(report).unwrap();
        assert_eq!((run.requests, run.failed), (66725, 3));
        assert!((run.rate - 13335.94).abs() < 1e-6);
        assert!(parse("wrk: connection refused\n").is_none());
    }
}

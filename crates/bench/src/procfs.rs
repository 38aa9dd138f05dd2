//! Reading a process's resident memory and CPU time from /proc (Linux).

/// Resident set size in bytes (`VmRSS`), if readable.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// The anonymous (private) part of the resident set (`RssAnon`): the process's own
/// memory, without the pages of mapped files such as its executable (which the kernel may
/// map a whole large folio at a time, so that part depends on the kernel and filesystem).
pub fn anon_rss_bytes(pid: u32) -> Option<u64> {
    status_bytes(pid, "RssAnon:")
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// User + system CPU time consumed so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) may contain spaces; the rest follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After comm: state(3) … utime is field 14, stime 15 (1-based) → index 11, 12 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// Runs `work` and returns its output with the CPU seconds `pid` spent meanwhile.
pub async fn cpu_during<T>(pid: u32, work: impl std::future::Future<Output = T>) -> (T, f64) {
    let before = cpu_seconds(pid).unwrap_or(0.0);
    let out = work.await;
    (out, cpu_seconds(pid).unwrap_or(0.0) - before)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

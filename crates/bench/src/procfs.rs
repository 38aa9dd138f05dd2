//! Reading a process's resident memory and CPU time, and the machine's CPU steal, from
//! /proc (Linux).

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

/// Each core's CPU time so far, in ticks: all of it and the part stolen by the hypervisor
/// (`/proc/stat`: a virtual machine's core waiting for its physical one).
#[derive(Debug, Clone, PartialEq)]
pub struct CoreTimes(Vec<(u64, u64)>);

impl CoreTimes {
    /// Now, from `/proc/stat` (empty when unreadable).
    pub fn now() -> CoreTimes {
        CoreTimes::parse(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
    }

    /// The per-core lines (`cpuN user nice system idle iowait irq softirq steal …`).
    fn parse(stat: &str) -> CoreTimes {
        CoreTimes(
            stat.lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .filter_map(|l| {
                    let ticks: Vec<u64> = l
                        .split_whitespace()
                        .skip(1)
                        .take(8)
                        .map(|t| t.parse().ok())
                        .collect::<Option<_>>()?;
                    (ticks.len() == 8).then(|| (ticks.iter().sum(), ticks[7]))
                })
                .collect(),
        )
    }

    /// Per core, the share of its time stolen since `before`, in percent; `None` when the
    /// machine does not report steal (or nothing elapsed).
    pub fn steal_since(&self, before: &CoreTimes) -> Option<Vec<f64>> {
        if self.0.len() != before.0.len() || self.0.is_empty() {
            return None;
        }
        self.0
            .iter()
            .zip(&before.0)
            .map(|((total, steal), (total0, steal0))| {
                let elapsed = total.checked_sub(*total0).filter(|t| *t > 0)?;
                Some(steal.saturating_sub(*steal0) as f64 * 100.0 / elapsed as f64)
            })
            .collect()
    }

    /// "core 0 1.2 %, core 1 0.0 %": the steal since `before`, for a note.
    pub fn steal_note(&self, before: &CoreTimes) -> String {
        match self.steal_since(before) {
            Some(shares) => shares
                .iter()
                .enumerate()
                .map(|(core, share)| format!("core {core} {share:.1} %"))
                .collect::<Vec<_>>()
                .join(", "),
            None => "not reported".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_each_cores_stolen_share_of_its_elapsed_ticks() {
        let before = CoreTimes::parse(
            "cpu  10 0 10 100 0 0 0 4 0 0\ncpu0 5 0 5 50 0 0 0 2 0 0\ncpu1 5 0 5 50 0 0 0 2 0 0\nintr 1",
        );
        let after = CoreTimes::parse(
            "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 50 0 5 90 0 0 0 12 0 0\ncpu1 5 0 5 150 0 0 0 2 0 0\n",
        );
        // core 0: 95 ticks elapsed (157 - 62), 10 stolen; core 1: 100 elapsed, none.
        let shares = after.steal_since(&before).unwrap();
        assert!((shares[0] - 10.0 * 100.0 / 95.0).abs() < 1e-9, "{shares:?}");
        assert_eq!(shares[1], 0.0);
        assert_eq!(after.steal_note(&before), "core 0 10.5 %, core 1 0.0 %");
        assert_eq!(CoreTimes::parse("").steal_since(&before), None);
        assert_eq!(before.steal_since(&before), None, "nothing elapsed");
    }
}

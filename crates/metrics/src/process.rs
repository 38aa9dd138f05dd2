//! The standard `process_*` metrics (as the Prometheus client libraries export them), read
//! from `/proc/self` at scrape time. On a system without `/proc` nothing is exported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every Linux ABI
/// (the Prometheus Go client makes the same assumption).
const USER_HZ: f64 = 100.0;

/// One reading of the process's figures.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessFigures {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// OS threads.
    pub threads: u64,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit of open file descriptors.
    pub max_fds: Option<u64>,
}

impl ProcessFigures {
    /// Reads `/proc/self`; `None` where it is not available.
    pub fn read() -> Option<ProcessFigures> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let mut f = parse_stat(&stat)?;
        f.resident_bytes = status_kib(&status, "VmRSS:")? * 1024;
        let btime: f64 = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        f.start_time_seconds += btime;
        f.open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        f.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| max_open_files(&l));
        Some(f)
    }
}

/// `/proc/self/stat`: fields after the `(comm)`, which may itself hold spaces.
fn parse_stat(stat: &str) -> Option<ProcessFigures> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is rest[0]; field N is rest[N - 3].
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcessFigures {
        cpu_seconds: (num(14)? + num(15)?) / USER_HZ,
        virtual_bytes: num(23)? as u64,
        threads: num(20)? as u64,
        start_time_seconds: num(22)? / USER_HZ,
        ..ProcessFigures::default()
    })
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The collector registered at the registry's root (no `ferry_` prefix).
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(f) = ProcessFigures::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(f.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, Option<i64>); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                Some(clamp(f.resident_bytes)),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                Some(clamp(f.virtual_bytes)),
            ),
            (
                "process_threads",
                "Number of OS threads in the process",
                Some(clamp(f.threads)),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                Some(clamp(f.open_fds)),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                f.max_fds.map(clamp),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                Some(f.start_time_seconds as i64),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let g = ConstGauge::new(v);
                g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
            }
        }
        Ok(())
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat =
            "4242 (ferry (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 7 0 1000 123456789 2000 0";
        let f = parse_stat(stat).unwrap();
        assert_eq!(f.cpu_seconds, 3.0);
        assert_eq!(f.threads, 7);
        assert_eq!(f.start_time_seconds, 10.0);
        assert_eq!(f.virtual_bytes, 123_456_789);
        assert_eq!(
            max_open_files(
                "Max open files            1024                 4096                 files\n"
            ),
            Some(1024)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_can_be_read() {
        let f = ProcessFigures::read().unwrap();
        assert!(f.resident_bytes > 0 && f.threads >= 1 && f.open_fds >= 1);
        assert!(f.start_time_seconds > 1.0e9, "{f:?}");
    }
}

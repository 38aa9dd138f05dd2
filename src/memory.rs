//! The daemon's allocator, and handing the memory it has freed back to the OS.
//!
//! mimalloc returns a freed page to the OS only after a delay, and only when the thread
//! that owns it allocates or frees again. A thread that goes quiet keeps what it freed:
//! the startup thread kept ~4 MB of the work of building the engine and the router, and
//! after a burst of requests the workers keep what the burst freed. So `ferry serve`
//! returns freed memory once when it has started, and again each time it goes quiet
//! after having been busy (docs/benchmarks.md, "Idle memory").

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: a facade request makes a few hundred small
/// allocations, and glibc's spent ~10 % of the daemon's CPU on them (`perf`, bins and
/// consolidation included). See docs/benchmarks.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often the daemon checks whether it has gone quiet.
const TICK: Duration = Duration::from_secs(1);

/// CPU time per tick below which the process counts as quiet: 1 % of a core. An idle
/// daemon uses next to none; one serving a request a second stays well under it too,
/// and then returns nothing more until real work has come and gone.
const BUSY: Duration = Duration::from_millis(10);

/// Returns the memory this thread's heap has freed, and every free page of the
/// process's arenas, to the OS now.
pub fn return_freed() {
    // SAFETY: `mi_collect` takes no pointers; it may be called from any thread at any
    // time, and only releases pages no allocation uses.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// The process's CPU time so far (user and system, all threads).
#[cfg(unix)]
fn process_cpu() -> Option<Duration> {
    // SAFETY: getrusage(2) writes a `rusage` we own and zero-initialised; no other
    // precondition.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return None;
        }
        usage
    };
    let micros = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Without getrusage(2) the daemon cannot tell when it is quiet, and returns freed memory
/// at startup only.
#[cfg(not(unix))]
fn process_cpu() -> Option<Duration> {
    None
}

/// Tells, tick by tick, when the process has just gone quiet after being busy.
#[derive(Debug)]
struct QuietWatch {
    last_cpu: Duration,
    busy: bool,
}

impl QuietWatch {
    /// Starts from the CPU time at startup, not busy (startup returns its own memory).
    fn new(cpu: Duration) -> Self {
        QuietWatch {
            last_cpu: cpu,
            busy: false,
        }
    }

    /// Takes the process's CPU time at a tick; answers whether freed memory should be
    /// returned now: the first quiet tick after one or more busy ones.
    fn tick(&mut self, cpu: Duration) -> bool {
        let used = cpu.saturating_sub(self.last_cpu);
        self.last_cpu = cpu;
        if used >= BUSY {
            self.busy = true;
            false
        } else {
            std::mem::replace(&mut self.busy, false)
        }
    }
}

/// Until `shutdown`, returns freed memory to the OS each time the daemon goes quiet after
/// having been busy. It runs on one of the runtime's workers: that worker's heap and the
/// process's free arena pages are returned; another worker's empty pages go back with
/// that worker's own next allocations.
pub async fn return_freed_when_quiet(shutdown: CancellationToken) {
    let Some(cpu) = process_cpu() else {
        return;
    };
    let mut watch = QuietWatch::new(cpu);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let Some(cpu) = process_cpu() else {
            return;
        };
        if watch.tick(cpu) {
            let started = std::time::Instant::now();
            return_freed();
            tracing::debug!(
                took_us = started.elapsed().as_micros() as u64,
                "quiet after work: returned freed memory to the OS"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn memory_is_returned_once_when_work_stops() {
        let mut w = QuietWatch::new(ms(500));
        // Idle from the start: nothing to return (startup returned its own).
        assert!(!w.tick(ms(501)));
        assert!(!w.tick(ms(502)));
        // A busy second, then another: nothing yet.
        assert!(!w.tick(ms(900)));
        assert!(!w.tick(ms(1300)));
        // The first quiet tick returns; the quiet ones after it do not.
        assert!(w.tick(ms(1302)));
        assert!(!w.tick(ms(1303)));
        assert!(!w.tick(ms(1304)));
        // Work again, quiet again: returned again.
        assert!(!w.tick(ms(1400)));
        assert!(w.tick(ms(1400)));
    }

    #[test]
    fn a_trickle_under_the_threshold_is_quiet() {
        let mut w = QuietWatch::new(ms(0));
        let mut cpu = ms(0);
        for _ in 0..10 {
            cpu += ms(9);
            assert!(!w.tick(cpu), "9 ms of CPU a second is quiet");
        }
        cpu += BUSY;
        assert!(!w.tick(cpu), "exactly the threshold is busy");
        assert!(w.tick(cpu));
    }

    #[test]
    fn the_process_cpu_clock_moves_forward() {
        let a = process_cpu().expect("getrusage");
        let mut x = 0u64;
        let until = std::time::Instant::now() + ms(30);
        while std::time::Instant::now() < until {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        std::hint::black_box(x);
        let b = process_cpu().expect("getrusage");
        assert!(b > a, "{a:?} then {b:?}");
    }
}

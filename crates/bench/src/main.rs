//! `ferry-bench`: drives the same fake upstream directly and through a real `ferry serve`
//! in one run and reports what ferry adds (spec §12): latency percentiles, throughput at a
//! fixed concurrency, streaming time-to-first-token, the daemon's CPU time per request
//! (from /proc, with the daemon pinned to one core) and its RSS idle and under many
//! concurrent streams. Results are printed as a Markdown table for docs/benchmarks.md.
//! Every facade protocol (chat, Responses, Anthropic Messages, embeddings) is measured, and
//! its CPU per request is also reported as a ratio to a bare nginx hop measured in the same
//! run (Debian `nginx-light`, when installed).

mod daemon;
mod load;
mod nginx;
mod procfs;
mod replicas;
mod scenarios;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Benchmark ferry against the bundled fake OpenRouter.
#[derive(Debug, Parser, Clone)]
#[command(name = "ferry-bench")]
pub struct Args {
    /// The ferry binary to benchmark (default: `ferry` next to this binary).
    #[arg(long)]
    pub ferry: Option<PathBuf>,
    /// Concurrent in-flight requests of the throughput and CPU-per-request scenarios.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Concurrent in-flight requests of the added-latency scenarios (1 = pure added
    /// latency, no queueing behind other requests).
    #[arg(long, default_value_t = 1)]
    pub latency_concurrency: usize,
    /// Requests per scenario (after warm-up).
    #[arg(long, default_value_t = 4000)]
    pub requests: usize,
    /// Concurrent streams held open for the RSS-under-load figure.
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,
    /// CPU core the daemon is pinned to (the driver and fake use the others).
    #[arg(long, default_value_t = 0)]
    pub daemon_core: usize,
    /// Skip pinning (e.g. on a one-core machine).
    #[arg(long)]
    pub no_pin: bool,
    /// Run only the PostgreSQL rows (session inputs through 1 and 3 replicas).
    #[arg(long)]
    pub only_postgres: bool,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(scenarios::run_all(&args)) {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("ferry-bench: {e}");
            std::process::exit(1);
        }
    }
    // Let background connections wind down before the runtime is dropped.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

//! A closed-loop load generator: `concurrency` workers each send their next request as soon
//! as the previous one finished, until `total` requests are done. Each request reports the
//! latency it measured (whole response, or time to first token).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Per-request latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Wall time of the whole scenario.
    pub elapsed: Duration,
    /// Failed requests (not included in the latencies).
    pub errors: usize,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
}

impl Sample {
    /// The `p`-th percentile (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    /// Completed requests per second.
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `cpu_seconds` spent over the scenario, in milliseconds per request served.
    pub fn cpu_ms_per_request(&self, cpu_seconds: f64) -> f64 {
        cpu_seconds * 1000.0 / self.latencies.len().max(1) as f64
    }
}

/// Runs `total` requests with `concurrency` workers; `request(i)` performs request `i`.
pub async fn run<F, Fut>(concurrency: usize, total: usize, request: F) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let request = request.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                match request(i).await {
                    Ok(d) => lat.push(d),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        if let Ok((lat, e, fe)) = w.await {
            latencies.extend(lat);
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Sample {
        latencies,
        elapsed,
        errors,
        first_error,
    }
}

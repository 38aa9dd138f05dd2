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
    let [sample] = run_in_turn(concurrency, total, request).await;
    sample
}

/// Two kinds of request measured in alternation, `total` of each: request `i` is
/// `request(i)`, of the first kind when `i` is even, and its latency goes to that kind's
/// sample. A reference and the path measured against it thus share the machine's state
/// (its load, its clock, the other tenants of its host), which two runs one after the
/// other do not: the difference of their percentiles is the path's, not the hour's.
pub async fn run_paired<F, Fut>(concurrency: usize, total: usize, request: F) -> (Sample, Sample)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send,
{
    let [even, odd] = run_in_turn(concurrency, 2 * total, request).await;
    (even, odd)
}

/// Runs `total` requests with `concurrency` workers; the latency of request `i` goes to
/// sample `i % N`. Each sample's `elapsed` is the whole run's.
async fn run_in_turn<const N: usize, F, Fut>(
    concurrency: usize,
    total: usize,
    request: F,
) -> [Sample; N]
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
            let mut samples: [(Vec<Duration>, usize, Option<String>); N] =
                std::array::from_fn(|_| (Vec::new(), 0, None));
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (lat, errors, first_error) = &mut samples[i % N];
                match request(i).await {
                    Ok(d) => lat.push(d),
                    Err(e) => {
                        *errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            samples
        }));
    }
    let mut out: [Sample; N] = std::array::from_fn(|_| Sample {
        latencies: Vec::with_capacity(total / N + 1),
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
    });
    for w in workers {
        if let Ok(samples) = w.await {
            for (sample, (lat, errors, first_error)) in out.iter_mut().zip(samples) {
                sample.latencies.extend(lat);
                sample.errors += errors;
                if sample.first_error.is_none() {
                    sample.first_error = first_error;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    for sample in &mut out {
        sample.latencies.sort();
        sample.elapsed = elapsed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paired_requests_alternate_and_keep_each_kind_in_its_own_sample() {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = order.clone();
        let (even, odd) = run_paired(1, 3, move |i| {
            seen.lock().unwrap().push(i);
            async move {
                match i {
                    3 => Err(format!("request {i} failed")),
                    _ => Ok(Duration::from_millis(i as u64)),
                }
            }
        })
        .await;
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
        let ms = |s: &Sample| -> Vec<u128> { s.latencies.iter().map(|d| d.as_millis()).collect() };
        assert_eq!(ms(&even), vec![0, 2, 4]);
        assert_eq!((even.errors, even.first_error.as_deref()), (0, None));
        assert_eq!(ms(&odd), vec![1, 5]);
        assert_eq!(odd.errors, 1);
        assert_eq!(odd.first_error.as_deref(), Some("request 3 failed"));
    }

    #[tokio::test]
    async fn a_plain_run_counts_every_request() {
        let sample = run(4, 10, |i| async move {
            Ok(Duration::from_millis(10 - i as u64))
        })
        .await;
        assert_eq!(sample.latencies.len(), 10);
        assert_eq!(sample.latencies[0], Duration::from_millis(1));
        assert_eq!(sample.percentile(100.0), Duration::from_millis(10));
    }
}

//! The whole-request deadline (`timeout_ms`): one model call's attempts — retries, and the
//! caller's fallbacks — must produce a reply (the first output of a stream, or the whole
//! body) before it. Once output has started the deadline no longer applies; the
//! per-attempt read timeout then bounds the silence between chunks.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{UpstreamError, UpstreamErrorKind};

/// When a request must have its reply by.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }

    /// The failure when the deadline passes before a reply.
    pub fn expired(&self, model: &str) -> UpstreamError {
        UpstreamError::new(
            UpstreamErrorKind::Timeout,
            format!(
                "no reply from OpenRouter within the route's timeout_ms ({} ms), counting every retry and fallback (last tried: model {model}) — raise timeout_ms if the model is slow",
                self.budget.as_millis()
            ),
        )
    }

    /// Runs `call` (the attempts on one model) until it ends, or until the deadline passes
    /// while `output_started` (set by the caller's event handler) is still false: then the
    /// call is dropped (which aborts its upstream request) and `None` is returned.
    pub async fn run<T>(
        &self,
        output_started: &AtomicBool,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Option<Result<T, UpstreamError>> {
        tokio::pin!(call);
        let sleep = tokio::time::sleep_until(self.at);
        tokio::pin!(sleep);
        let mut passed = false;
        loop {
            tokio::select! {
                result = &mut call => return Some(result),
                _ = &mut sleep, if !passed => {
                    if !output_started.load(Ordering::Relaxed) {
                        return None;
                    }
                    passed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_holds_only_until_output() {
        let d = Deadline::after(Duration::from_secs(2));
        let quiet = AtomicBool::new(false);
        let slow = tokio::time::sleep(Duration::from_secs(10));
        let r = d
            .run(&quiet, async {
                slow.await;
                Ok::<_, UpstreamError>(())
            })
            .await;
        assert!(r.is_none());
        let e = d.expired("m");
        assert_eq!(e.code(), "upstream_timeout");
        assert!(!e.advances_fallback() || e.kind == UpstreamErrorKind::Timeout);
        assert!(e.message.contains("2000 ms"), "{}", e.message);

        let d = Deadline::after(Duration::from_secs(2));
        let streaming = AtomicBool::new(true);
        let r = d
            .run(&streaming, async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok::<_, UpstreamError>(7)
            })
            .await;
        assert_eq!(r.unwrap().unwrap(), 7);
    }
}

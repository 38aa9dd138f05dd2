//! Same-model retries: the backoff policy, `Retry-After` parsing, the attempt record, and
//! [`chat_with_retries`], which never retries once output reached the client.

use std::time::{Duration, Instant, SystemTime};

use ferry_config::ThinkingLevel;
use rand::Rng;
use serde::Serialize;

use crate::error::{UpstreamError, UpstreamErrorKind};
use crate::provider::Provider;
use crate::types::{ChatOutcome, ChatRequest, StreamEvent};

/// Bounded exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2).
    pub max_retries: u32,
    /// Backoff base (default 250 ms): retry `n` waits up to `base * 2^n`.
    pub base_delay: Duration,
    /// Cap of the backoff (default 8 s).
    pub max_delay: Duration,
    /// A `Retry-After` above this is not waited for: the call fails instead (default 60 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (0 = first retry): a random duration in
    /// `[0, min(max_delay, base * 2^retry)]`, raised to `retry_after` (capped at
    /// `max_retry_after`) when upstream asked for a wait.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let ceiling = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let jittered = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
        };
        match retry_after {
            Some(wait) => jittered.max(wait.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// Parses a `Retry-After` header value: delay seconds (integer or decimal) or an HTTP
/// date (a date in the past means "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// One upstream attempt, as recorded on the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub model: String,
    /// Upstream HTTP status (200 on success), when a response arrived.
    pub status: Option<u16>,
    /// Problem code of the failure; `None` on success.
    pub error_code: Option<String>,
    pub latency_ms: u64,
    /// OpenRouter's generation id, when the response carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
}

/// Whether a 400 says the model cannot run with reasoning turned off.
fn says_reasoning_required(e: &UpstreamError) -> bool {
    if e.kind != UpstreamErrorKind::BadRequest {
        return false;
    }
    let mut text = e.message.to_ascii_lowercase();
    if let Some(meta) = &e.metadata {
        text.push(' ');
        text.push_str(&meta.to_string().to_ascii_lowercase());
    }
    text.contains("reasoning is required") || text.contains("reasoning is mandatory")
}

/// What to do after a failed attempt.
#[derive(Debug)]
pub(crate) enum NextStep {
    /// Wait this long, then try the same request again.
    RetryAfter(Duration),
    /// Try again at once with thinking = minimal (the model refused to run without reasoning).
    RetryWithMinimalThinking,
    /// Give up: the error (with retry notes added) is final for this model.
    GiveUp,
}

/// The retry bookkeeping of one model: bounded same-model retries and the single
/// "reasoning is required" retry. Shared by [`chat_with_retries`] and the facade's
/// pass-through path, so both follow exactly the same policy.
#[derive(Debug, Default)]
pub(crate) struct RetryState {
    retries: u32,
    reasoning_retried: bool,
}

impl RetryState {
    /// Decides what follows `error` (an attempt with `thinking`), annotating the error
    /// when it becomes final.
    pub(crate) fn after_failure(
        &mut self,
        error: &mut UpstreamError,
        thinking: Option<ThinkingLevel>,
        policy: &RetryPolicy,
    ) -> NextStep {
        if !error.output_started
            && !self.reasoning_retried
            && thinking != Some(ThinkingLevel::Minimal)
            && says_reasoning_required(error)
        {
            self.reasoning_retried = true;
            return NextStep::RetryWithMinimalThinking;
        }
        if !error.is_retryable() || self.retries >= policy.max_retries {
            error.note_retries(self.retries);
            return NextStep::GiveUp;
        }
        if let Some(wait) = error.retry_after {
            if wait > policy.max_retry_after {
                error.note_retries(self.retries);
                error.note(&format!(
                    "upstream asked to wait {}s (Retry-After), longer than the {}s ferry waits; not retried",
                    wait.as_secs(),
                    policy.max_retry_after.as_secs()
                ));
                return NextStep::GiveUp;
            }
        }
        let delay = policy.delay(self.retries, error.retry_after);
        self.retries += 1;
        tracing::debug!(
            code = error.code(),
            retry = self.retries,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "retrying upstream call"
        );
        NextStep::RetryAfter(delay)
    }
}

/// Runs one non-chat upstream call (`/audio/speech`, `/videos`, …) to `model` with the
/// same bounded backoff as chat ([`RetryState`]). A call that is not `idempotent`
/// (creating a paid job) is retried only on 429, where upstream guarantees nothing was
/// done. Every attempt is appended to `attempts`, as [`chat_with_retries`] does.
pub async fn call_with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    idempotent: bool,
    model: &str,
    attempts: &mut Vec<Attempt>,
    mut call: F,
) -> Result<T, UpstreamError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UpstreamError>>,
{
    let mut state = RetryState::default();
    loop {
        let started = Instant::now();
        let result = call().await;
        let latency_ms = millis(started.elapsed());
        let mut error = match result {
            Ok(v) => {
                attempts.push(Attempt {
                    model: model.to_owned(),
                    status: Some(200),
                    error_code: None,
                    latency_ms,
                    generation_id: None,
                });
                return Ok(v);
            }
            Err(e) => e,
        };
        attempts.push(Attempt {
            model: model.to_owned(),
            status: error.status,
            error_code: Some(error.code().to_owned()),
            latency_ms,
            generation_id: error.generation_id.clone(),
        });
        if !idempotent && error.kind != UpstreamErrorKind::RateLimited {
            return Err(error);
        }
        match state.after_failure(&mut error, None, policy) {
            NextStep::RetryAfter(delay) => tokio::time::sleep(delay).await,
            NextStep::RetryWithMinimalThinking | NextStep::GiveUp => return Err(error),
        }
    }
}

/// `req` with thinking = minimal (for the reasoning-required retry).
pub(crate) fn with_minimal_thinking(req: &ChatRequest) -> ChatRequest {
    let mut with_minimal = req.clone();
    with_minimal.thinking = Some(ThinkingLevel::Minimal);
    with_minimal
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Calls `driver` for ONE model, retrying per `policy` while the failure is retryable and
/// no [`StreamEvent`] has been emitted yet. Every attempt is appended to `attempts`.
/// A 400 saying reasoning is required is retried once with thinking = minimal. A
/// `deadline` bounds each attempt as a whole (see [`Provider::chat`]).
pub async fn chat_with_retries(
    driver: &dyn Provider,
    api_key: &str,
    req: &ChatRequest,
    deadline: Option<Duration>,
    policy: &RetryPolicy,
    on_event: &mut (dyn FnMut(StreamEvent) + Send),
    attempts: &mut Vec<Attempt>,
) -> Result<ChatOutcome, UpstreamError> {
    let mut reasoning_retry: Option<ChatRequest> = None;
    let mut state = RetryState::default();
    loop {
        let current = reasoning_retry.as_ref().unwrap_or(req);
        let mut emitted = false;
        let started = Instant::now();
        let result = {
            let mut forward = |event: StreamEvent| {
                emitted |= event.is_output();
                on_event(event);
            };
            driver.chat(api_key, current, deadline, &mut forward).await
        };
        let latency_ms = millis(started.elapsed());
        let mut error = match result {
            Ok(outcome) => {
                attempts.push(Attempt {
                    model: current.model.clone(),
                    status: Some(200),
                    error_code: None,
                    latency_ms,
                    generation_id: outcome.generation_id.clone(),
                });
                return Ok(outcome);
            }
            Err(e) => e,
        };
        error.output_started |= emitted;
        attempts.push(Attempt {
            model: current.model.clone(),
            status: error.status,
            error_code: Some(error.code().to_owned()),
            latency_ms,
            generation_id: error.generation_id.clone(),
        });
        match state.after_failure(&mut error, current.thinking, policy) {
            NextStep::RetryWithMinimalThinking => {
                reasoning_retry = Some(with_minimal_thinking(req));
            }
            NextStep::RetryAfter(delay) => tokio::time::sleep(delay).await,
            NextStep::GiveUp => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorContext;
    use futures::future::BoxFuture;
    use serde_json::json;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "m/x",
        api_key: "k",
    };

    /// One scripted answer: events to emit, then the result.
    type Script = (Vec<StreamEvent>, Result<ChatOutcome, UpstreamError>);

    struct ScriptedDriver {
        script: Mutex<Vec<Script>>,
        seen_thinking: Mutex<Vec<Option<ThinkingLevel>>>,
    }

    impl ScriptedDriver {
        fn new(mut script: Vec<Script>) -> Self {
            script.reverse();
            Self {
                script: Mutex::new(script),
                seen_thinking: Mutex::new(Vec::new()),
            }
        }
        fn calls(&self) -> usize {
            self.seen_thinking.lock().unwrap().len()
        }
    }

    impl Provider for ScriptedDriver {
        fn is_verified(&self) -> bool {
            true
        }

        fn chat<'a>(
            &'a self,
            _api_key: &'a str,
            req: &'a ChatRequest,
            _deadline: Option<Duration>,
            on_event: &'a mut (dyn FnMut(StreamEvent) + Send),
        ) -> BoxFuture<'a, Result<ChatOutcome, UpstreamError>> {
            self.seen_thinking.lock().unwrap().push(req.thinking);
            let (events, result) = self.script.lock().unwrap().pop().expect("script exhausted");
            Box::pin(async move {
                for e in events {
                    on_event(e);
                }
                result
            })
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(60),
        }
    }

    fn http(status: u16, msg: &str) -> UpstreamError {
        let body = json!({"error": {"code": status, "message": msg}}).to_string();
        UpstreamError::from_http(status, None, body.as_bytes(), CTX)
    }

    fn ok() -> Result<ChatOutcome, UpstreamError> {
        Ok(ChatOutcome {
            content: "done".into(),
            ..ChatOutcome::default()
        })
    }

    async fn run(
        driver: &ScriptedDriver,
        req: &ChatRequest,
        policy: &RetryPolicy,
    ) -> (
        Result<ChatOutcome, UpstreamError>,
        Vec<Attempt>,
        Vec<StreamEvent>,
    ) {
        let mut attempts = Vec::new();
        let mut events = Vec::new();
        let mut on_event = |e: StreamEvent| events.push(e);
        let result =
            chat_with_retries(driver, "k", req, None, policy, &mut on_event, &mut attempts).await;
        (result, attempts, events)
    }

    fn request() -> ChatRequest {
        ChatRequest {
            model: "m/x".into(),
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn retries_retryable_errors_then_succeeds() {
        let d = ScriptedDriver::new(vec![
            (vec![], Err(http(429, "slow"))),
            (vec![], Err(http(503, "none"))),
            (vec![], ok()),
        ]);
        let (result, attempts, _) = run(&d, &request(), &fast()).await;
        assert_eq!(result.unwrap().content, "done");
        let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, vec![Some(429), Some(503), Some(200)]);
        assert_eq!(
            attempts[0].error_code.as_deref(),
            Some("upstream_rate_limited")
        );
        assert_eq!(attempts[2].error_code, None);
        assert!(attempts.iter().all(|a| a.model == "m/x"));
    }

    #[tokio::test]
    async fn gives_up_after_max_retries_and_says_so() {
        let d = ScriptedDriver::new(vec![
            (vec![], Err(http(429, "slow"))),
            (vec![], Err(http(429, "slow"))),
            (vec![], Err(http(429, "slow"))),
        ]);
        let (result, attempts, _) = run(&d, &request(), &fast()).await;
        let e = result.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::RateLimited);
        assert!(e.message.contains("retried 2 times"), "{}", e.message);
        assert!(e.advances_fallback());
        assert_eq!(attempts.len(), 3);
        assert_eq!(d.calls(), 3);
    }

    #[tokio::test]
    async fn never_retries_non_retryable() {
        for status in [400, 401, 402, 403, 404, 413, 422] {
            let d = ScriptedDriver::new(vec![(vec![], Err(http(status, "no")))]);
            let (result, attempts, _) = run(&d, &request(), &fast()).await;
            assert_eq!(result.unwrap_err().status, Some(status));
            assert_eq!(attempts.len(), 1, "status {status}");
        }
    }

    #[tokio::test]
    async fn never_retries_after_output_started() {
        let mut err = UpstreamError::timeout(false, CTX, "stream went idle");
        err.output_started = false; // the driver forgot to flag it: the wrapper must notice
        let d = ScriptedDriver::new(vec![(vec![StreamEvent::Text("partial".into())], Err(err))]);
        let (result, attempts, events) = run(&d, &request(), &fast()).await;
        let e = result.unwrap_err();
        assert!(e.output_started);
        assert!(!e.advances_fallback());
        assert_eq!(attempts.len(), 1);
        assert_eq!(events, vec![StreamEvent::Text("partial".into())]);
    }

    #[tokio::test]
    async fn too_long_retry_after_fails_at_once() {
        let mut e = http(429, "slow");
        e.retry_after = Some(Duration::from_secs(3600));
        let d = ScriptedDriver::new(vec![(vec![], Err(e))]);
        let (result, attempts, _) = run(&d, &request(), &fast()).await;
        let e = result.unwrap_err();
        assert!(e.message.contains("Retry-After"), "{}", e.message);
        assert_eq!(attempts.len(), 1);
    }

    #[tokio::test]
    async fn retry_after_is_waited_for() {
        let mut e = http(429, "slow");
        e.retry_after = Some(Duration::from_millis(300));
        let d = ScriptedDriver::new(vec![(vec![], Err(e)), (vec![], ok())]);
        let started = Instant::now();
        let (result, _, _) = run(&d, &request(), &fast()).await;
        assert!(result.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn reasoning_required_400_is_retried_once_with_minimal() {
        let d = ScriptedDriver::new(vec![
            (
                vec![],
                Err(http(
                    400,
                    "Reasoning is mandatory for this endpoint and cannot be disabled.",
                )),
            ),
            (vec![], ok()),
        ]);
        let mut req = request();
        req.thinking = Some(ThinkingLevel::Off);
        let (result, attempts, _) = run(&d, &req, &fast()).await;
        assert!(result.is_ok());
        assert_eq!(attempts.len(), 2);
        assert_eq!(
            *d.seen_thinking.lock().unwrap(),
            vec![Some(ThinkingLevel::Off), Some(ThinkingLevel::Minimal)]
        );

        let d = ScriptedDriver::new(vec![
            (vec![], Err(http(400, "reasoning is required"))),
            (vec![], Err(http(400, "reasoning is required"))),
        ]);
        let (result, attempts, _) = run(&d, &req, &fast()).await;
        assert_eq!(result.unwrap_err().kind, UpstreamErrorKind::BadRequest);
        assert_eq!(attempts.len(), 2, "only one reasoning retry");

        let d = ScriptedDriver::new(vec![(vec![], Err(http(400, "bad tool schema")))]);
        let (_, attempts, _) = run(&d, &req, &fast()).await;
        assert_eq!(attempts.len(), 1, "other 400s are not retried");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn delays_are_bounded_and_grow() {
        let p = RetryPolicy::default();
        for retry in 0..40 {
            for _ in 0..50 {
                let d = p.delay(retry, None);
                let ceiling = (p.base_delay * 2u32.saturating_pow(retry.min(20))).min(p.max_delay);
                assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
            }
        }
        assert!(p.delay(0, None) <= Duration::from_millis(250));
    }

    #[test]
    fn retry_after_is_a_lower_bound_capped_by_policy() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            assert!(p.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
            assert_eq!(
                p.delay(0, Some(Duration::from_secs(600))),
                Duration::from_secs(60)
            );
        }
    }

    #[test]
    fn zero_base_delay_is_zero() {
        let p = RetryPolicy {
            base_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(5, None), Duration::ZERO);
    }
}

//! The pass-through path of the OpenAI facade against the fake OpenRouter: bodies and
//! streams come back as bytes, a stream is handed over at its first output event (before
//! upstream finishes), failures before that point are ordinary errors (retried, and
//! eligible for fallback), failures after it end the stream, and the key never leaks.

use std::time::Duration;

use bytes::Bytes;
use ferry_fake_openrouter::{FakeOpenRouter, Gate, Reply};
use ferry_openrouter::{
    open_raw_with_retries, Attempt, ChatRequest, OpenRouterClient, RawReply, UpstreamError,
    UpstreamErrorKind,
};
use futures::StreamExt;
use serde_json::Value;

mod support;

use support::{client_for, fast_policy as policy, request};

fn client(fake: &FakeOpenRouter) -> OpenRouterClient {
    client_for(fake, "")
}

const KEY: &str = "sk-or-v1-passthrough-test-key";

async fn open(
    c: &OpenRouterClient,
    req: &ChatRequest,
) -> (Result<RawReply, UpstreamError>, Vec<Attempt>, Duration) {
    let mut attempts = Vec::new();
    let mut wait = Duration::ZERO;
    let r = open_raw_with_retries(c, KEY, req, &policy(), true, &mut attempts, &mut wait).await;
    (r, attempts, wait)
}

#[tokio::test]
async fn json_body_is_returned_as_sent_with_usage_and_text() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    fake.push(Reply::text("Hello there").with_usage(9, 2, 0.0003));
    let c = client(&fake);
    let (r, attempts, wait) = open(&c, &request(false)).await;
    let RawReply::Json(body) = r.unwrap() else {
        panic!("expected a JSON reply")
    };
    let v: Value = serde_json::from_slice(&body.body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(body.text.as_deref(), Some("Hello there"));
    let u = body.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.cost),
        (9, 2, Some(0.0003))
    );
    assert!(body.generation_id.is_some());
    assert_eq!(attempts.len(), 1);
    assert!(wait > Duration::ZERO);
    let sent = fake.chat_requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent[0].body.as_ref().unwrap()["stream"], false);
}

#[tokio::test]
async fn stream_is_handed_over_at_the_first_output_before_upstream_ends() {
    let fake = FakeOpenRouter::start();
    let gate = Gate::new();
    fake.push(Reply::gated(gate.clone(), Reply::text("one two three")));
    let c = client(&fake);
    // Returns although the fake holds everything after the first content chunk.
    let (r, _, _) = open(&c, &request(true)).await;
    let RawReply::Stream(mut stream) = r.unwrap() else {
        panic!("expected a stream")
    };
    let mut seen = String::new();
    while !seen.contains("one") {
        let chunk: Bytes = stream.next().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains("three"));
    gate.open();
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(stream.saw_done());
    let summary = stream.summary();
    assert_eq!(summary.text.as_deref(), Some("one two three"));
    assert!(summary.failure.is_none() && summary.done && summary.output_started);
    assert!(seen.contains("data: [DONE]"));
}

#[tokio::test]
async fn failures_before_output_are_errors_that_may_fall_back() {
    let fake = FakeOpenRouter::start();
    let c = client(&fake);
    // An error chunk before any output: held back, so it is an ordinary error.
    fake.push(Reply::mid_stream_error(0, 502, "Provider disconnected"));
    let (r, attempts, _) = open(&c, &request(true)).await;
    let e = r.err().expect("error");
    assert_eq!(e.kind, UpstreamErrorKind::Stream);
    assert!(!e.output_started && e.advances_fallback(), "{e:?}");
    assert_eq!(
        attempts.len(),
        1,
        "stream errors are not retried on the same model"
    );

    // 429 then success: retried.
    fake.push(Reply::error(429, "slow down"));
    fake.push(Reply::text("ok"));
    let (r, attempts, _) = open(&c, &request(true)).await;
    assert!(matches!(r.unwrap(), RawReply::Stream(_)));
    assert_eq!(attempts[0].status, Some(429));
    assert_eq!(attempts.len(), 2);

    // 200 with choices[].error on a non-streaming call.
    fake.push(Reply::choices_error(502, "upstream failed"));
    let (r, _, _) = open(&c, &request(false)).await;
    assert_eq!(r.err().unwrap().kind, UpstreamErrorKind::ChoiceError);

    // A stream cut before any output.
    fake.push(Reply::truncated(0));
    let (r, _, _) = open(&c, &request(true)).await;
    let e = r.err().unwrap();
    assert!(!e.output_started && e.advances_fallback(), "{e:?}");
}

#[tokio::test]
async fn failures_after_output_end_the_stream_with_an_error() {
    let fake = FakeOpenRouter::start();
    let c = client(&fake);
    fake.push(Reply::truncated(2));
    let (r, _, _) = open(&c, &request(true)).await;
    let RawReply::Stream(mut stream) = r.unwrap() else {
        panic!("expected a stream")
    };
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let e = last.unwrap().unwrap_err();
    assert_eq!(e.kind, UpstreamErrorKind::Stream);
    assert!(e.output_started);
    assert!(!stream.saw_done());
    assert!(stream.summary().failure.is_some());
}

#[tokio::test]
async fn the_key_never_reaches_the_client() {
    let fake = FakeOpenRouter::start();
    let c = client(&fake);
    for stream in [true, false] {
        fake.push(Reply::text(format!("the key is {KEY} indeed")));
        let (r, _, _) = open(&c, &request(stream)).await;
        let (text, collected) = match r.unwrap() {
            RawReply::Json(body) => (
                String::from_utf8_lossy(&body.body).into_owned(),
                body.text.unwrap(),
            ),
            RawReply::Stream(mut s) => {
                let mut all = String::new();
                while let Some(chunk) = s.next().await {
                    all.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                }
                (all, s.summary().text.unwrap())
            }
        };
        assert_eq!(collected, "the key is [REDACTED] indeed", "stream={stream}");
        assert!(!text.contains(KEY), "stream={stream}: {text}");
        assert!(text.contains("[REDACTED]"), "stream={stream}: {text}");
    }
}

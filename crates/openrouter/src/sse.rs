//! Reading a streamed chat reply: the body's bytes are framed into events
//! ([`SseFrames`], which drops `: OPENROUTER PROCESSING` keep-alive comments) and each
//! `data:` payload goes into the [`StreamAccumulator`].

use std::fmt::Display;
use std::ops::ControlFlow;

use futures::{Stream, StreamExt};

use crate::error::{ErrorContext, UpstreamError};
use crate::sse_frames::SseFrames;
use crate::stream::{Flow, StreamAccumulator};
use crate::types::{ChatOutcome, StreamEvent};

/// Reads an SSE body to the end (or `[DONE]`). `is_timeout` tells a read timeout of the
/// transport apart from other transport failures (which mean the stream was cut off).
pub(crate) async fn read_sse<S, B, E>(
    body: S,
    ctx: ErrorContext<'_>,
    on_event: &mut (dyn FnMut(StreamEvent) + Send),
    is_timeout: fn(&E) -> bool,
) -> Result<ChatOutcome, UpstreamError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    let mut acc = StreamAccumulator::new(ctx);
    let mut frames = SseFrames::with_capacity(512);
    futures::pin_mut!(body);
    while let Some(item) = body.next().await {
        let bytes = match item {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(if is_timeout(&e) {
                    UpstreamError::timeout(acc.output_started(), acc.ctx(), "stream went idle")
                } else {
                    UpstreamError::truncated(
                        acc.output_started(),
                        acc.ctx(),
                        &format!("connection closed: {e}"),
                    )
                });
            }
        };
        let mut rest = bytes.as_ref();
        loop {
            let mut flow = Ok(Flow::Continue);
            // Set when the stream's first output was just emitted. With more of this read
            // left to frame, the task yields first, so whoever follows the run (a session
            // stream's connection task) writes that output now rather than after every
            // chunk that arrived with it (an upstream, or the fake, that sends a short
            // reply in one write: ten chunks read at once).
            let mut first_output = false;
            let fed = frames.feed(rest, |data, _| {
                let started = acc.output_started();
                flow = match std::str::from_utf8(data) {
                    Ok(data) => acc.feed(data, on_event),
                    Err(e) => Err(UpstreamError::protocol(
                        &format!("stream is not UTF-8 ({e})"),
                        acc.output_started(),
                        acc.ctx(),
                    )),
                };
                match flow {
                    Ok(Flow::Continue) if !started && acc.output_started() => {
                        first_output = true;
                        ControlFlow::Break(())
                    }
                    Ok(Flow::Continue) => ControlFlow::Continue(()),
                    _ => ControlFlow::Break(()),
                }
            });
            if flow? == Flow::Done {
                return acc.finish();
            }
            match fed {
                ControlFlow::Break(framed) if first_output => {
                    rest = &rest[framed..];
                    if !rest.is_empty() {
                        tokio::task::yield_now().await;
                    }
                }
                _ => break,
            }
        }
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpstreamErrorKind;
    use ferry_types::UsageObject;
    use serde_json::json;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "openai/gpt-5.4-mini",
        api_key: "sk-or-v1-abc",
    };

    #[derive(Debug)]
    enum FakeIo {
        Reset,
        Idle,
    }

    impl Display for FakeIo {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                FakeIo::Reset => f.write_str("connection reset by peer"),
                FakeIo::Idle => f.write_str("operation timed out"),
            }
        }
    }

    fn is_idle(e: &FakeIo) -> bool {
        matches!(e, FakeIo::Idle)
    }

    /// Parses `chunks` (split at arbitrary byte boundaries) and returns events + result.
    async fn parse(
        chunks: Vec<Result<Vec<u8>, FakeIo>>,
    ) -> (Vec<StreamEvent>, Result<ChatOutcome, UpstreamError>) {
        let mut events = Vec::new();
        let mut on_event = |e: StreamEvent| events.push(e);
        let result = read_sse(futures::stream::iter(chunks), CTX, &mut on_event, is_idle).await;
        (events, result)
    }

    fn split_every(text: &str, n: usize) -> Vec<Result<Vec<u8>, FakeIo>> {
        text.as_bytes().chunks(n).map(|c| Ok(c.to_vec())).collect()
    }

    const TEXT_STREAM: &str = concat!(
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"gen-1\",\"model\":\"openai/gpt-5.4-mini\",\"provider\":\"OpenAI\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"let me \"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"think\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,\"cost\":0.0000066}}\n\n",
        "data: [DONE]\n\n",
    );

    /// A reply read in one piece yields once, right after its first output: a task that
    /// follows the run's events (a session stream's connection) can write that output
    /// before the rest of the read is framed. Polled by hand: each poll answers which
    /// events it emitted.
    #[test]
    fn the_first_output_of_a_read_leaves_before_the_rest_of_it_is_framed() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let events = std::sync::Mutex::new(Vec::new());
        let mut on_event = |e: StreamEvent| events.lock().unwrap().push(e);
        let body = futures::stream::iter(vec![Ok::<_, FakeIo>(TEXT_STREAM.as_bytes().to_vec())]);
        let mut read = std::pin::pin!(read_sse(body, CTX, &mut on_event, is_idle));
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = Vec::new();
        let outcome = loop {
            let polled = read.as_mut().poll(&mut cx);
            polls.push(std::mem::take(&mut *events.lock().unwrap()));
            if let Poll::Ready(outcome) = polled {
                break outcome.unwrap();
            }
        };
        assert_eq!(polls.len(), 2, "one pause: {polls:?}");
        assert_eq!(
            polls[0],
            [
                StreamEvent::Generation("gen-1".into()),
                StreamEvent::Reasoning("let me ".into())
            ],
            "the first poll ends with the first output"
        );
        assert_eq!(polls[1][0], StreamEvent::Reasoning("think".into()));
        assert_eq!(
            polls[1].len(),
            4,
            "the rest after the pause: {:?}",
            polls[1]
        );
        assert_eq!(outcome.content, "Hello world");
        // Nothing to pause for when the first output ends its read.
        let first = TEXT_STREAM.find("data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"think").unwrap();
        let pieces = vec![
            Ok::<_, FakeIo>(TEXT_STREAM.as_bytes()[..first].to_vec()),
            Ok(TEXT_STREAM.as_bytes()[first..].to_vec()),
        ];
        let mut on_event = |_: StreamEvent| {};
        let mut read = std::pin::pin!(read_sse(
            futures::stream::iter(pieces),
            CTX,
            &mut on_event,
            is_idle
        ));
        assert!(read.as_mut().poll(&mut cx).is_ready(), "no pause");
    }

    #[tokio::test]
    async fn text_stream_with_comments_reasoning_usage_and_done() {
        for split in [1, 7, 64, TEXT_STREAM.len()] {
            let (events, out) = parse(split_every(TEXT_STREAM, split)).await;
            let out = out.unwrap();
            assert_eq!(
                events,
                vec![
                    StreamEvent::Generation("gen-1".into()),
                    StreamEvent::Reasoning("let me ".into()),
                    StreamEvent::Reasoning("think".into()),
                    StreamEvent::Text("Hello".into()),
                    StreamEvent::Text(" world".into()),
                    StreamEvent::Usage(
                        UsageObject::from_value(&json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "cost": 0.0000066})).unwrap().into()
                    ),
                ],
                "split {split}"
            );
            assert_eq!(out.content, "Hello world");
            assert_eq!(out.reasoning.as_deref(), Some("let me think"));
            assert_eq!(out.finish_reason.as_deref(), Some("stop"));
            assert_eq!(out.cost, Some(0.0000066));
            let usage = out.usage.as_ref().unwrap();
            assert_eq!(usage.to_value()["total_tokens"], 7);
            // Kept as the stream wrote it (OpenRouter writes numbers as JavaScript does:
            // `0.0000066`, where a tree written again by serde_json says `6.6e-6`).
            assert_eq!(
                usage.as_str(),
                r#"{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"cost":0.0000066}"#
            );
            assert_eq!(out.model.as_deref(), Some("openai/gpt-5.4-mini"));
            assert_eq!(out.provider.as_deref(), Some("OpenAI"));
            assert_eq!(out.generation_id.as_deref(), Some("gen-1"));
            assert_eq!(
                out.message,
                json!({"role": "assistant", "content": "Hello world", "reasoning": "let me think"})
            );
        }
    }

    #[tokio::test]
    async fn crlf_framing_is_accepted() {
        let crlf = TEXT_STREAM.replace('\n', "\r\n");
        let (_, out) = parse(split_every(&crlf, 5)).await;
        assert_eq!(out.unwrap().content, "Hello world");
    }

    #[tokio::test]
    async fn nothing_after_done_is_read() {
        let text = format!("{TEXT_STREAM}data: {{not json\n\n");
        let (_, out) = parse(split_every(&text, 3)).await;
        assert_eq!(out.unwrap().content, "Hello world");
    }

    #[tokio::test]
    async fn reasoning_only_reply_is_success() {
        let text = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"only thoughts\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let (events, out) = parse(split_every(text, 10)).await;
        let out = out.unwrap();
        assert_eq!(out.content, "");
        assert_eq!(out.reasoning.as_deref(), Some("only thoughts"));
        assert_eq!(events, vec![StreamEvent::Reasoning("only thoughts".into())]);
        assert_eq!(
            out.message,
            json!({"role": "assistant", "content": "", "reasoning": "only thoughts"})
        );
    }

    #[tokio::test]
    async fn mid_stream_error_int_code_after_output() {
        let text = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"error\":{\"code\":502,\"message\":\"Provider disconnected\"},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
        );
        let (events, out) = parse(split_every(text, 9)).await;
        assert_eq!(events.len(), 1);
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Stream);
        assert_eq!(e.upstream_code.as_deref(), Some("502"));
        assert!(e.message.contains("Provider disconnected"));
        assert!(e.output_started);
        assert!(!e.advances_fallback());
    }

    #[tokio::test]
    async fn mid_stream_error_string_code_before_output() {
        let text = concat!(
            ": OPENROUTER PROCESSING\n\n",
            "data: {\"error\":{\"code\":\"server_error\",\"message\":\"overloaded\"},\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"error\"}]}\n\n",
        );
        let (events, out) = parse(split_every(text, 4)).await;
        assert!(events.is_empty());
        let e = out.unwrap_err();
        assert_eq!(e.upstream_code.as_deref(), Some("server_error"));
        assert!(!e.output_started);
        assert!(e.advances_fallback());
    }

    #[tokio::test]
    async fn choices_error_chunk() {
        let text = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"error\":{\"code\":502,\"message\":\"upstream failed\"},\"finish_reason\":\"error\"}]}\n\n";
        let (_, out) = parse(split_every(text, 11)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::ChoiceError);
        assert!(e.message.contains("upstream failed"));
        assert!(e.advances_fallback());
    }

    #[tokio::test]
    async fn truncated_stream_without_done_or_finish() {
        let text = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}",
        );
        let (events, out) = parse(split_every(text, 6)).await;
        assert_eq!(events, vec![StreamEvent::Text("Hel".into())]);
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Stream);
        assert!(e.message.contains("stream truncated"), "{}", e.message);
        assert!(e.output_started);
    }

    #[tokio::test]
    async fn empty_body_is_truncated_before_output() {
        let (_, out) = parse(vec![]).await;
        let e = out.unwrap_err();
        assert!(e.message.contains("stream truncated"));
        assert!(!e.output_started);
        assert!(e.advances_fallback());
    }

    #[tokio::test]
    async fn finish_reason_without_done_is_accepted() {
        let text = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"length\"}]}\n\n";
        let (_, out) = parse(split_every(text, 100)).await;
        assert_eq!(out.unwrap().finish_reason.as_deref(), Some("length"));
    }

    #[tokio::test]
    async fn malformed_json_is_protocol_error() {
        let (_, out) = parse(split_every("data: {not json\n\n", 3)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Protocol);
        assert!(!e.is_retryable());
    }

    #[tokio::test]
    async fn transport_reset_mid_stream_is_truncation() {
        let mut chunks = split_every(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            20,
        );
        chunks.push(Err(FakeIo::Reset));
        let (_, out) = parse(chunks).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Stream);
        assert!(e.message.contains("connection reset by peer"));
        assert!(e.output_started);
    }

    #[tokio::test]
    async fn idle_transport_is_timeout() {
        let (_, out) = parse(vec![
            Ok(b": OPENROUTER PROCESSING\n\n".to_vec()),
            Err(FakeIo::Idle),
        ])
        .await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Timeout);
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn invalid_utf8_is_protocol_error() {
        let (_, out) = parse(vec![Ok(b"data: \xff\xfe\n\n".to_vec())]).await;
        assert_eq!(out.unwrap_err().kind, UpstreamErrorKind::Protocol);
    }
}

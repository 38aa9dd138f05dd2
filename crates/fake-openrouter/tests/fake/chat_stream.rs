//! Streaming chat completions: frame sequence, reasoning, tool calls, gate, delays.

use std::time::{Duration, Instant};

use ferry_fake_openrouter::{FakeOpenRouter, FakeToolCall, Gate, Reply};

use crate::support::*;

#[tokio::test]
async fn text_stream_frames_in_openrouter_order() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("Hello big world").with_usage(9, 3, 0.5));
    let response = post_chat(&fake, &chat_body(MODEL, true, "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let (chunks, frames) = read_stream(response).await;

    assert_eq!(frames[0], ": OPENROUTER PROCESSING");
    assert_eq!(frames.last().map(String::as_str), Some("data: [DONE]"));
    for chunk in &chunks {
        assert_eq!(chunk["id"], generation_id.as_str());
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], MODEL);
        assert!(chunk["created"].is_u64());
        assert!(chunk["provider"].is_string());
    }
    // Role chunk first, no payload.
    assert_eq!(delta(&chunks[0])["role"], "assistant");
    assert_eq!(delta(&chunks[0])["content"], "");
    // Content in several chunks.
    let content_chunks = chunks
        .iter()
        .filter(|c| delta(c)["content"].as_str().is_some_and(|s| !s.is_empty()))
        .count();
    assert_eq!(content_chunks, 3);
    assert_eq!(joined(&chunks, "content"), "Hello big world");
    // Finish chunk, then the usage-only chunk.
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["native_finish_reason"], "stop");
    let usage_chunk = &chunks[chunks.len() - 1];
    assert_eq!(usage_chunk["choices"], serde_json::json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 9);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["cost"], 0.5);
    // Every chunk but the finish and usage ones has a null finish_reason.
    for chunk in &chunks[..chunks.len() - 2] {
        assert!(chunk["choices"][0]["finish_reason"].is_null());
    }
}

#[tokio::test]
async fn reasoning_comes_before_content_and_reasoning_only_has_no_content() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("The answer").with_reasoning("Let me think"));
    let (chunks, _) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "q")).await).await;
    let first_reasoning = chunks
        .iter()
        .position(|c| delta(c)["reasoning"].is_string())
        .expect("reasoning");
    let first_content = chunks
        .iter()
        .position(|c| delta(c)["content"].as_str().is_some_and(|s| !s.is_empty()))
        .expect("content");
    assert!(first_reasoning < first_content);
    assert_eq!(joined(&chunks, "reasoning"), "Let me think");
    assert_eq!(joined(&chunks, "content"), "The answer");

    fake.push(Reply::reasoning_only("Only thinking here"));
    let (chunks, frames) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "q")).await).await;
    assert_eq!(joined(&chunks, "reasoning"), "Only thinking here");
    assert!(
        chunks.iter().all(|c| delta(c).get("content").is_none()),
        "no content at all"
    );
    assert_eq!(frames.last().map(String::as_str), Some("data: [DONE]"));
}

#[tokio::test]
async fn tool_calls_stream_as_split_deltas() {
    let fake = FakeOpenRouter::start();
    let arguments = r#"{"city":"Paris","unit":"celsius"}"#;
    fake.push(Reply::tool_calls(vec![
        FakeToolCall {
            id: "call_a".into(),
            name: "get_weather".into(),
            arguments: arguments.into(),
        },
        FakeToolCall {
            id: "call_b".into(),
            name: "get_time".into(),
            arguments: "{}".into(),
        },
    ]));
    let (chunks, _) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "q")).await).await;
    let mut names = [String::new(), String::new()];
    let mut args = [String::new(), String::new()];
    let mut ids = [String::new(), String::new()];
    let mut argument_chunks = 0;
    for chunk in &chunks {
        if let Some(calls) = delta(chunk)["tool_calls"].as_array() {
            for call in calls {
                let index = call["index"].as_u64().expect("index") as usize;
                if let Some(id) = call["id"].as_str() {
                    ids[index].push_str(id);
                    assert_eq!(call["type"], "function");
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    names[index].push_str(name);
                }
                if let Some(piece) = call["function"]["arguments"].as_str() {
                    if index == 0 && !piece.is_empty() {
                        argument_chunks += 1;
                    }
                    args[index].push_str(piece);
                }
            }
        }
    }
    assert_eq!(ids, ["call_a".to_owned(), "call_b".to_owned()]);
    assert_eq!(names, ["get_weather".to_owned(), "get_time".to_owned()]);
    assert_eq!(args[0], arguments);
    assert_eq!(args[1], "{}");
    assert!(argument_chunks > 1, "arguments split across chunks");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn gated_reply_sends_the_first_chunk_then_waits_for_the_gate() {
    let fake = FakeOpenRouter::start();
    let gate = Gate::new();
    fake.push(Reply::gated(
        gate.clone(),
        Reply::text("first second third"),
    ));
    let response = post_chat(&fake, &chat_body(MODEL, true, "q")).await;
    let mut frames = Frames::new(response);
    assert_eq!(
        frames.next().await.as_deref(),
        Some(": OPENROUTER PROCESSING")
    );
    let role = frames
        .next()
        .await
        .and_then(|f| data_json(&f))
        .expect("role");
    assert_eq!(delta(&role)["role"], "assistant");
    let first = frames
        .next()
        .await
        .and_then(|f| data_json(&f))
        .expect("first");
    assert_eq!(delta(&first)["content"], "first");

    let blocked = tokio::time::timeout(Duration::from_millis(200), frames.next()).await;
    assert!(blocked.is_err(), "the rest must wait for the gate");
    gate.open();
    let rest = frames.rest().await;
    let chunks: Vec<_> = rest.iter().filter_map(|f| data_json(f)).collect();
    assert_eq!(joined(&chunks, "content"), " second third");
    assert_eq!(rest.last().map(String::as_str), Some("data: [DONE]"));
}

#[tokio::test]
async fn gated_non_streaming_reply_waits_before_answering() {
    let fake = FakeOpenRouter::start();
    let gate = Gate::new();
    fake.push(Reply::gated(gate.clone(), Reply::text("late")));
    let url = format!("{}/chat/completions", fake.base_url());
    let request = tokio::spawn(async move {
        client()
            .post(url)
            .json(&chat_body(MODEL, false, "q"))
            .send()
            .await
            .expect("response")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!request.is_finished(), "must wait for the gate");
    gate.open();
    let body = request.await.expect("task");
    assert_eq!(body["choices"][0]["message"]["content"], "late");
}

#[tokio::test]
async fn chunk_delay_spaces_the_frames() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("a b").chunk_delay(Duration::from_millis(40)));
    let started = Instant::now();
    let (chunks, frames) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "q")).await).await;
    // comment, role, "a", " b", finish, usage, [DONE]: six gaps.
    assert_eq!(frames.len(), 7);
    assert!(started.elapsed() >= Duration::from_millis(240));
    assert_eq!(joined(&chunks, "content"), "a b");
}

#[test]
fn works_from_a_plain_sync_test_and_stops_on_drop() {
    use std::io::{Read, Write};
    let fake = FakeOpenRouter::start();
    let addr = fake.addr();
    let body = r#"{"model":"m/x","stream":true,"messages":[{"role":"user","content":"sync"}]}"#;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"));
    assert!(text.contains("\"content\":\"echo:\""), "{text}");
    assert!(text.contains("data: [DONE]"));
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "server stopped"
    );
}

//! The awkward cases: HTTP errors, in-band errors, stalls, resets, truncation, bad JSON.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use ferry_fake_openrouter::{FakeOpenRouter, Reply};

use crate::support::*;

/// Sends a raw HTTP/1.1 chat request and reads until EOF or an error.
fn raw_chat(fake: &FakeOpenRouter, stream: bool) -> (Vec<u8>, std::io::Result<()>) {
    let body = chat_body(MODEL, stream, "raw").to_string();
    let mut socket = TcpStream::connect(fake.addr()).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        socket,
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut received = Vec::new();
    let result = socket.read_to_end(&mut received).map(|_| ());
    (received, result)
}

#[tokio::test]
async fn http_error_with_retry_after_and_metadata_even_when_streaming() {
    let fake = FakeOpenRouter::start();
    fake.push(
        Reply::error(429, "Rate limit exceeded")
            .retry_after(3)
            .with_metadata(json!({"provider_name": "OpenAI", "raw": "{\"x\":1}"})),
    );
    fake.push(Reply::error(402, "Insufficient credits"));
    let response = post_chat(&fake, &chat_body(MODEL, true, "q")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-generation-id"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"error": {"code": 429, "message": "Rate limit exceeded",
            "metadata": {"provider_name": "OpenAI", "raw": "{\"x\":1}"}}})
    );
    let response = post_chat(&fake, &chat_body(MODEL, false, "q")).await;
    assert_eq!(response.status(), 402);
    assert!(!response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"error": {"code": 402, "message": "Insufficient credits"}})
    );
}

#[tokio::test]
async fn mid_stream_error_after_some_chunks() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::mid_stream_error(
        2,
        "server_error",
        "Provider disconnected",
    ));
    fake.push(Reply::mid_stream_error(1, 502, "Upstream died"));
    let response = post_chat(&fake, &chat_body(MODEL, true, "q")).await;
    assert_eq!(response.status(), 200);
    let (chunks, frames) = read_stream(response).await;
    assert_eq!(joined(&chunks, "content"), "part 1 part 2 ");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["error"]["code"], "server_error");
    assert_eq!(last["error"]["message"], "Provider disconnected");
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert!(frames.iter().all(|f| f != "data: [DONE]"));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));

    // Non-streaming: the failure arrives as choices[0].error.
    let body: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "q"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["choices"][0]["error"]["code"], 502);
    assert_eq!(body["choices"][0]["finish_reason"], "error");
    assert_eq!(body["choices"][0]["message"]["content"], "part 1 ");
}

#[tokio::test]
async fn choices_error_in_both_modes() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::choices_error(502, "Provider returned error"));
    fake.push(Reply::choices_error("overloaded", "Busy"));
    let response = post_chat(&fake, &chat_body(MODEL, false, "q")).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "error");
    assert_eq!(
        choice["error"],
        json!({"code": 502, "message": "Provider returned error"})
    );
    assert!(body["usage"]["cost"].is_number());

    let (chunks, frames) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "q")).await).await;
    let failing = chunks
        .iter()
        .find(|c| c["choices"][0]["finish_reason"] == "error")
        .expect("error chunk");
    assert_eq!(failing["choices"][0]["error"]["code"], "overloaded");
    assert!(
        failing.get("error").is_none(),
        "in the choice, not top-level"
    );
    assert_eq!(frames.last().map(String::as_str), Some("data: [DONE]"));
}

#[tokio::test]
async fn stall_keeps_the_connection_silent_then_finishes() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::stall_after(2, Duration::from_millis(400)));
    let mut frames = Frames::new(post_chat(&fake, &chat_body(MODEL, true, "q")).await);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(frames.next().await.expect("frame"));
    }
    let chunks: Vec<_> = seen.iter().filter_map(|f| data_json(f)).collect();
    assert_eq!(joined(&chunks, "content"), "part 1 part 2 ");
    let silent = tokio::time::timeout(Duration::from_millis(200), frames.next()).await;
    assert!(silent.is_err(), "silence while stalled");
    let rest = frames.rest().await;
    assert_eq!(rest.last().map(String::as_str), Some("data: [DONE]"));
}

#[tokio::test]
async fn stall_delays_a_non_streaming_answer() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::stall_after(1, Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let body: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "q"))
        .await
        .json()
        .await
        .expect("json");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["choices"][0]["message"]["content"], "part 1 ");
}

#[test]
fn reset_sends_an_rst_after_reading_the_request() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::reset());
    let (received, result) = raw_chat(&fake, true);
    assert!(received.is_empty(), "no response bytes");
    let error = result.expect_err("the read must fail");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert_eq!(
        fake.chat_requests().len(),
        1,
        "the request was read and recorded"
    );
}

#[tokio::test]
async fn reset_is_a_transport_error_for_http_clients() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::reset());
    let result = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat_body(MODEL, false, "q"))
        .send()
        .await;
    assert!(result.is_err());
    // The server keeps serving other connections.
    let ok = post_chat(&fake, &chat_body(MODEL, false, "after")).await;
    assert_eq!(ok.status(), 200);
}

#[test]
fn truncated_stream_has_no_done_and_no_chunked_terminator() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::truncated(2));
    let (received, result) = raw_chat(&fake, true);
    let _ = result; // EOF or a reset: either way the body is cut
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("part 1 "));
    assert!(text.contains("part 2 "));
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("finish_reason\":\"stop"));
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "no chunked terminator: {text}"
    );
}

#[tokio::test]
async fn truncated_bodies_fail_in_http_clients() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::truncated(1));
    fake.push(Reply::truncated(1));
    let mut frames = Frames::new(post_chat(&fake, &chat_body(MODEL, true, "q")).await);
    let got = frames.rest().await;
    assert!(frames.error.is_some(), "the body must end in an error");
    let chunks: Vec<_> = got.iter().filter_map(|f| data_json(f)).collect();
    assert_eq!(joined(&chunks, "content"), "part 1 ");

    let response = post_chat(&fake, &chat_body(MODEL, false, "q")).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_json_and_malformed_frame() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::malformed());
    fake.push(Reply::malformed());
    let response = post_chat(&fake, &chat_body(MODEL, false, "q")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.expect("text");
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );

    let mut frames = Frames::new(post_chat(&fake, &chat_body(MODEL, true, "q")).await);
    let all = frames.rest().await;
    assert!(all.iter().any(|f| f == "data: {not json"), "{all:?}");
    assert!(frames.leftover().is_empty());
}

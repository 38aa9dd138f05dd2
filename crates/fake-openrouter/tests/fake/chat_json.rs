//! Non-streaming chat completions: body shape, options, queues, echo, recording.

use std::time::{Duration, Instant};

use serde_json::json;

use ferry_fake_openrouter::{FakeOpenRouter, FakeToolCall, Reply};

use crate::support::*;

#[tokio::test]
async fn text_reply_has_openrouter_shape() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("Hello world").with_usage(11, 2, 0.0042));
    let response = post_chat(&fake, &chat_body(MODEL, false, "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["id"], generation_id.as_str());
    assert!(generation_id.starts_with("gen-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().expect("created") > 1_700_000_000);
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["provider"], "OpenAI");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["native_finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello world");
    let usage = &body["usage"];
    assert_eq!(usage["prompt_tokens"], 11);
    assert_eq!(usage["completion_tokens"], 2);
    assert_eq!(usage["total_tokens"], 13);
    assert_eq!(usage["cost"], 0.0042);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn reasoning_tool_calls_and_reasoning_only() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("answer").with_reasoning("thinking..."));
    fake.push(Reply::reasoning_only("only thoughts"));
    fake.push(Reply::tool_calls(vec![FakeToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
    }]));

    let body: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "q"))
        .await
        .json()
        .await
        .expect("json");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "answer");
    assert_eq!(message["reasoning"], "thinking...");
    assert_eq!(message["reasoning_details"][0]["text"], "thinking...");
    assert!(body["usage"]["completion_tokens_details"]["reasoning_tokens"].as_u64() > Some(0));

    let body: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "q"))
        .await
        .json()
        .await
        .expect("json");
    let message = &body["choices"][0]["message"];
    assert!(message["content"].is_null(), "{message}");
    assert_eq!(message["reasoning"], "only thoughts");

    let body: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "q"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
}

#[tokio::test]
async fn options_model_served_header_and_first_byte_delay() {
    let fake = FakeOpenRouter::start();
    fake.push(
        Reply::text("cached")
            .with_model_served("anthropic/claude-sonnet-4-5")
            .with_header("X-OpenRouter-Cache-Status", "HIT")
            .first_byte_delay(Duration::from_millis(150)),
    );
    let started = Instant::now();
    let response = post_chat(&fake, &chat_body("openrouter/auto", false, "q")).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.headers()["x-openrouter-cache-status"], "HIT");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(body["provider"], "Anthropic");
}

#[tokio::test]
async fn per_model_queue_wins_then_shared_queue_then_echo() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("shared"));
    fake.push_for_model("a/one", Reply::text("for one"));
    let content = |body: serde_json::Value| body["choices"][0]["message"]["content"].clone();

    let other = post_chat(&fake, &chat_body("b/two", false, "x")).await;
    assert_eq!(content(other.json().await.expect("json")), "shared");
    let one = post_chat(&fake, &chat_body("a/one", false, "x")).await;
    assert_eq!(content(one.json().await.expect("json")), "for one");
    let body = json!({
        "model": "a/one",
        "messages": [
            {"role": "user", "content": "older"},
            {"role": "user", "content": [{"type": "text", "text": "last words"}]},
        ],
    });
    let echo = post_chat(&fake, &body).await;
    assert_eq!(
        content(echo.json().await.expect("json")),
        "echo: last words"
    );
}

#[tokio::test]
async fn requests_are_recorded_with_headers_query_and_body() {
    let fake = FakeOpenRouter::start();
    let body = chat_body(MODEL, false, "record me");
    let response = client()
        .post(format!("{}/chat/completions?trace=1", fake.base_url()))
        .header("X-OpenRouter-Title", "ferry")
        .header("HTTP-Referer", "https://example.test")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let models = client()
        .get(format!("{}/models", fake.base_url()))
        .send()
        .await
        .expect("response");
    assert_eq!(models.status(), 200);

    let all = fake.requests();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].method, "GET");
    assert_eq!(all[1].path, "/api/v1/models");
    assert!(all[1].body.is_none());
    let chat = fake.chat_requests();
    assert_eq!(chat.len(), 1);
    let recorded = &chat[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/api/v1/chat/completions");
    assert_eq!(recorded.query.as_deref(), Some("trace=1"));
    assert_eq!(recorded.header("x-openrouter-title"), Some("ferry"));
    assert_eq!(
        recorded.header("HTTP-Referer"),
        Some("https://example.test")
    );
    assert!(recorded.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(recorded.body.as_ref(), Some(&body));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&recorded.raw_body).expect("json"),
        body
    );
    fake.clear_requests();
    assert!(fake.requests().is_empty());

    fake.set_recording(false);
    post_chat(&fake, &body).await;
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn invalid_json_body_is_a_400_and_keeps_the_queue() {
    let fake = FakeOpenRouter::start();
    fake.push(Reply::text("kept"));
    let response = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(fake.requests()[0].raw_body, b"{oops");
    let next: serde_json::Value = post_chat(&fake, &chat_body(MODEL, false, "x"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(next["choices"][0]["message"]["content"], "kept");
}

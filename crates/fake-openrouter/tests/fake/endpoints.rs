//! `/models`, `/key`, `/generation`, unknown paths and the API key check.

use serde_json::{json, Value};

use ferry_fake_openrouter::{FakeOpenRouter, Reply};

use crate::support::*;

async fn get(fake: &FakeOpenRouter, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", fake.base_url()))
        .send()
        .await
        .expect("response")
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn models_hide_non_text_outputs_unless_asked() {
    let fake = FakeOpenRouter::start();
    let text: Value = get(&fake, "/models").await.json().await.expect("json");
    let all: Value = get(&fake, "/models?output_modalities=all")
        .await
        .json()
        .await
        .expect("json");
    let image_only = all["data"]
        .as_array()
        .expect("array")
        .iter()
        .find(|m| m["architecture"]["output_modalities"] == json!(["image"]))
        .expect("an image-only model");
    let image_only_id = image_only["id"].as_str().expect("id").to_owned();
    assert!(ids(&all).contains(&image_only_id));
    assert!(!ids(&text).contains(&image_only_id));
    assert!(ids(&text).len() >= 4);
    let vision = text["data"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|m| {
            m["architecture"]["input_modalities"]
                .as_array()
                .is_some_and(|i| i.contains(&json!("image")))
        })
        .count();
    assert!(vision >= 2);
    assert!(all["data"][0]["pricing"]["prompt"].is_string());
    assert!(all["data"][0]["supported_parameters"].is_array());

    fake.set_models(json!([
        {"id": "x/text", "architecture": {"output_modalities": ["text"]}},
        {"id": "x/audio", "architecture": {"output_modalities": ["audio"]}},
    ]));
    let text: Value = get(&fake, "/models").await.json().await.expect("json");
    assert_eq!(ids(&text), vec!["x/text"]);
    let audio: Value = get(&fake, "/models?output_modalities=audio")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids(&audio), vec!["x/audio"]);
}

#[tokio::test]
async fn key_info_default_and_replaced() {
    let fake = FakeOpenRouter::start();
    let body: Value = get(&fake, "/key").await.json().await.expect("json");
    for field in [
        "label",
        "limit",
        "limit_remaining",
        "limit_reset",
        "usage",
        "is_free_tier",
    ] {
        assert!(body["data"].get(field).is_some(), "missing {field}");
    }
    let info = json!({"label": "sk-or-v1-abc...xyz", "limit": 10.0, "limit_remaining": 2.5,
        "limit_reset": "monthly", "usage": 7.5, "is_free_tier": false});
    fake.set_key_info(info.clone());
    let body: Value = get(&fake, "/key").await.json().await.expect("json");
    assert_eq!(body, json!({ "data": info }));
}

#[tokio::test]
async fn generation_lookup_known_and_unknown() {
    let fake = FakeOpenRouter::start();
    fake.push(
        Reply::text("hi there")
            .with_usage(5, 2, 0.00123)
            .with_model_served("openai/gpt-5.4"),
    );
    let response = post_chat(&fake, &chat_body(MODEL, true, "q")).await;
    let id = response.headers()["x-generation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    read_stream(response).await;

    let body: Value = get(&fake, &format!("/generation?id={id}"))
        .await
        .json()
        .await
        .expect("json");
    let data = &body["data"];
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["model"], "openai/gpt-5.4");
    assert_eq!(data["total_cost"], 0.00123);
    assert_eq!(data["tokens_prompt"], 5);
    assert_eq!(data["tokens_completion"], 2);
    assert_eq!(data["provider_name"], "OpenAI");
    assert!(data["latency"].is_u64());
    assert!(data["generation_time"].is_u64());

    let missing = get(&fake, "/generation?id=gen-0-unknown").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], 404);
    assert!(body["error"]["message"].is_string());

    let no_id = get(&fake, "/generation").await;
    assert_eq!(no_id.status(), 400);

    // An HTTP error produced no generation.
    fake.push(Reply::error(500, "boom"));
    let failed = post_chat(&fake, &chat_body(MODEL, false, "q")).await;
    let failed_id = failed.headers()["x-generation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        get(&fake, &format!("/generation?id={failed_id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn unknown_paths_are_openrouter_404s() {
    let fake = FakeOpenRouter::start();
    for path in ["/nope", "/chat/completions/extra"] {
        let response = get(&fake, path).await;
        assert_eq!(response.status(), 404);
        assert!(response.headers().contains_key("x-generation-id"));
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], 404);
    }
    let outside = client()
        .get(format!("http://{}/", fake.addr()))
        .send()
        .await
        .expect("response");
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn api_key_is_required_once_set() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key("sk-or-v1-secret");
    let url = format!("{}/chat/completions", fake.base_url());
    let body = chat_body(MODEL, false, "q");

    let missing = client()
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(missing.status(), 401);
    let error: Value = missing.json().await.expect("json");
    assert_eq!(error["error"]["code"], 401);
    assert_eq!(error["error"]["message"], "No auth credentials found");

    let wrong = client()
        .post(&url)
        .bearer_auth("sk-or-v1-wrong")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(wrong.status(), 401);

    let key = client()
        .get(format!("{}/key", fake.base_url()))
        .send()
        .await
        .expect("response");
    assert_eq!(key.status(), 401);

    let right = client()
        .post(&url)
        .bearer_auth("sk-or-v1-secret")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(right.status(), 200);

    assert_eq!(
        get(&fake, "/models").await.status(),
        200,
        "/models is public"
    );
    assert_eq!(
        fake.chat_requests().len(),
        3,
        "rejected requests are recorded too"
    );
}

async fn transcribe(fake: &FakeOpenRouter, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/audio/transcriptions", fake.base_url()))
        .json(&body)
        .send()
        .await
        .expect("response");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn transcriptions_validate_and_follow_the_script() {
    use ferry_fake_openrouter::TranscriptionReply;
    let fake = FakeOpenRouter::start();
    let ok = json!({"model": "openai/whisper-1", "input_audio": {"data": "AAAA", "format": "wav"}});
    let (status, body) = transcribe(&fake, ok.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["text"], "transcript of 3 bytes of wav audio");
    assert!(body["usage"]["cost"].is_number());

    fake.push_transcription(TranscriptionReply::text("hello world"));
    fake.push_transcription(TranscriptionReply::error(402, "Insufficient credits"));
    assert_eq!(transcribe(&fake, ok.clone()).await.1["text"], "hello world");
    let (status, body) = transcribe(&fake, ok.clone()).await;
    assert_eq!(status, 402);
    assert_eq!(body["error"]["message"], "Insufficient credits");

    let (status, body) = transcribe(
        &fake,
        json!({"model": "m", "input_audio": {"data": "AAAA", "format": "midi"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("midi"));
    let (status, _) = transcribe(
        &fake,
        json!({"model": "m", "input_audio": {"data": "%%%", "format": "wav"}}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = transcribe(
        &fake,
        json!({"input_audio": {"data": "AAAA", "format": "wav"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fake.transcription_requests().len(), 6);
    assert_eq!(
        fake.transcription_requests()[0].body.as_ref().unwrap()["input_audio"]["format"],
        "wav"
    );
}

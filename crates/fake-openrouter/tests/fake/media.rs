//! Media endpoints: image replies, speech, the video job lifecycle, served files and
//! scripted failures.

use serde_json::{json, Value};

use ferry_fake_openrouter::{FakeOpenRouter, MediaEndpoint, Reply, VideoScript};

use crate::support::*;

async fn post(fake: &FakeOpenRouter, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", fake.base_url()))
        .json(body)
        .send()
        .await
        .expect("response")
}

async fn get_url(url: &str) -> reqwest::Response {
    client().get(url).send().await.expect("response")
}

#[tokio::test]
async fn image_replies_carry_message_images_whole_and_streamed() {
    let fake = FakeOpenRouter::start();
    let url = "data:image/png;base64,iVBORw0KGgo=".to_string();
    fake.push(Reply::images(vec![url.clone()]).with_content("Here it is."));
    let body: Value = post_chat(&fake, &chat_body(MODEL, false, "draw"))
        .await
        .json()
        .await
        .expect("json");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "Here it is.");
    assert_eq!(
        message["images"],
        json!([{"type": "image_url", "image_url": {"url": url}}])
    );

    fake.push(Reply::images(vec![url.clone()]));
    let (chunks, _) = read_stream(post_chat(&fake, &chat_body(MODEL, true, "draw")).await).await;
    let images: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| delta(c).get("images"))
        .collect();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0][0]["image_url"]["url"], url.as_str());
}

#[tokio::test]
async fn speech_answers_mp3_or_pcm_and_validates() {
    let fake = FakeOpenRouter::start();
    let resp = post(
        &fake,
        "/audio/speech",
        &json!({"model": "hexgrad/kokoro-82m", "input": "hello", "voice": "af_alloy", "response_format": "mp3"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    assert_eq!(&resp.bytes().await.unwrap()[..3], b"ID3");

    let resp = post(
        &fake,
        "/audio/speech",
        &json!({"model": "hexgrad/kokoro-82m", "input": "hello"}),
    )
    .await;
    assert_eq!(
        resp.headers()["content-type"],
        "audio/pcm",
        "pcm is the default"
    );
    assert_eq!(resp.bytes().await.unwrap().len() % 2, 0);

    for bad in [
        json!({"model": "m", "input": ""}),
        json!({"input": "x"}),
        json!({"model": "m", "input": "x", "response_format": "ogg"}),
        json!({"model": "m", "input": "x", "voice": ""}),
    ] {
        let resp = post(&fake, "/audio/speech", &bad).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }

    fake.fail_next(MediaEndpoint::Speech, 429, "Rate limit exceeded");
    let resp = post(&fake, "/audio/speech", &json!({"model": "m", "input": "x"})).await;
    assert_eq!(resp.status(), 429);
    let resp = post(&fake, "/audio/speech", &json!({"model": "m", "input": "x"})).await;
    assert_eq!(resp.status(), 200, "one failure only");
}

#[tokio::test]
async fn video_job_goes_pending_in_progress_completed() {
    let fake = FakeOpenRouter::start();
    let resp = post(
        &fake,
        "/videos",
        &json!({"model": "google/veo-3.1-fast", "prompt": "a fox", "duration": 6, "resolution": "720p", "aspect_ratio": "16:9"}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["status"], "pending");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["polling_url"], format!("/api/v1/videos/{id}"));

    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        last = get_url(&format!("{}/videos/{id}", fake.base_url()))
            .await
            .json()
            .await
            .unwrap();
        statuses.push(last["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, vec!["pending", "in_progress", "completed"]);
    let download = last["unsigned_urls"][0].as_str().unwrap();
    assert!(download.starts_with(&fake.origin()), "{download}");
    let video = get_url(download).await.bytes().await.unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    let content = get_url(&format!("{}/videos/{id}/content?index=0", fake.base_url()))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(content, video);
}

#[tokio::test]
async fn video_failures_durations_and_polling_url_shapes() {
    let fake = FakeOpenRouter::start();
    let resp = post(
        &fake,
        "/videos",
        &json!({"model": "google/veo-3.1-fast", "prompt": "x", "duration": 5}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("4, 6, 8"));

    fake.push_video(
        VideoScript::new()
            .polls(0, 1)
            .fails("content policy violation"),
    );
    fake.push_video(
        VideoScript::new()
            .polls(1, 0)
            .expires()
            .absolute_polling_url(),
    );
    let body = json!({"model": "google/veo-3.1-fast", "prompt": "x", "duration": 4});
    let failed: Value = post(&fake, "/videos", &body).await.json().await.unwrap();
    let expired: Value = post(&fake, "/videos", &body).await.json().await.unwrap();
    assert!(expired["polling_url"]
        .as_str()
        .unwrap()
        .starts_with(&fake.origin()));
    let poll = |job: &Value| format!("{}/videos/{}", fake.base_url(), job["id"].as_str().unwrap());
    let first: Value = get_url(&poll(&failed)).await.json().await.unwrap();
    assert_eq!(first["status"], "in_progress");
    let second: Value = get_url(&poll(&failed)).await.json().await.unwrap();
    assert_eq!(second["status"], "failed");
    assert_eq!(second["error"], "content policy violation");
    get_url(&poll(&expired)).await;
    let done: Value = get_url(&poll(&expired)).await.json().await.unwrap();
    assert_eq!(done["status"], "expired");
    let missing = get_url(&format!("{}/videos/job-nope", fake.base_url())).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn content_needs_auth_files_do_not() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key("sk-or-v1-k");
    fake.push_video(VideoScript::new().polls(0, 0).content_endpoint_only());
    let created: Value = client()
        .post(format!("{}/videos", fake.base_url()))
        .bearer_auth("sk-or-v1-k")
        .json(&json!({"model": "google/veo-3.1-fast", "prompt": "x", "duration": 8}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let doc: Value = client()
        .get(format!("{}/videos/{id}", fake.base_url()))
        .bearer_auth("sk-or-v1-k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["status"], "completed");
    assert!(doc.get("unsigned_urls").is_none());
    let content_url = format!("{}/videos/{id}/content?index=0", fake.base_url());
    assert_eq!(get_url(&content_url).await.status(), 401);

    fake.serve_file("/files/fox.png", "image/png", vec![1, 2, 3]);
    fake.serve_redirect("/files/moved.png", "/files/fox.png");
    let file = get_url(&format!("{}/files/fox.png", fake.origin())).await;
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().as_ref(), &[1, 2, 3]);
    let moved = get_url(&format!("{}/files/moved.png", fake.origin())).await;
    assert_eq!(
        moved.bytes().await.unwrap().as_ref(),
        &[1, 2, 3],
        "followed"
    );
    assert_eq!(
        get_url(&format!("{}/files/none.png", fake.origin()))
            .await
            .status(),
        404
    );
}

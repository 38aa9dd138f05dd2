//! Media transport against the fake OpenRouter: image generation (recorded body, deadline),
//! image URL downloads (own origin with the key, anything else through the SSRF guard),
//! speech (MP3, PCM → WAV, retries), and video jobs (create, relative and absolute
//! polling, failure states, downloads with the key only on the own origin).

use std::time::Duration;

use ferry_config::TtsFormat;
use ferry_fake_openrouter::{FakeOpenRouter, MediaEndpoint, Reply, VideoScript};
use ferry_openrouter::media::{
    extract_images, FetchLimits, ImageRequest, ImageSource, MediaError, SpeechRequest,
    VideoRequest, VideoStatus,
};
use ferry_openrouter::{chat_with_retries, OpenRouterClient, RetryPolicy};
use serde_json::json;

mod support;

const KEY: &str = "sk-or-v1-media-test-key";

fn client_for(fake: &FakeOpenRouter) -> OpenRouterClient {
    support::client_for(fake, "timeout_ms = 2000")
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retry_after: Duration::from_secs(5),
        ..support::fast_policy()
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake";

fn png_data_url() -> String {
    ferry_openrouter::media::to_data_url("image/png", PNG)
}

#[tokio::test]
async fn image_generation_sends_modalities_and_config_without_streaming() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    let client = client_for(&fake);
    fake.push(Reply::images(vec![png_data_url()]).with_content("A fox."));
    let mut req = ImageRequest {
        model: "google/gemini-2.5-flash-image".into(),
        prompt: "a fox at dusk".into(),
        aspect_ratio: Some("16:9".into()),
        image_size: Some("2k".into()),
        inputs: vec![png_data_url()],
        ..ImageRequest::default()
    };
    req.validate().unwrap();
    let chat = req.to_chat();
    let mut attempts = Vec::new();
    let outcome = chat_with_retries(
        &client,
        KEY,
        &chat,
        Some(Duration::from_secs(10)),
        &policy(),
        &mut |_| {},
        &mut attempts,
    )
    .await
    .unwrap();
    let images = extract_images(&outcome, &chat.model).unwrap();
    assert_eq!(
        images,
        vec![ImageSource::Inline {
            media_type: "image/png".into(),
            bytes: PNG.to_vec()
        }]
    );
    let sent = fake.chat_requests();
    let body = sent[0].body.as_ref().unwrap();
    assert_eq!(body["stream"], false);
    assert_eq!(
        body["modalities"],
        json!(["image", "text"]),
        "custom base_url too"
    );
    assert_eq!(
        body["image_config"],
        json!({"aspect_ratio": "16:9", "image_size": "2K"})
    );
    assert_eq!(body["messages"][0]["content"][1]["type"], "image_url");
}

#[tokio::test]
async fn image_deadline_names_the_setting() {
    let fake = FakeOpenRouter::start();
    let client = client_for(&fake);
    fake.push(Reply::images(vec![png_data_url()]).first_byte_delay(Duration::from_millis(600)));
    let chat = ImageRequest {
        model: "google/gemini-2.5-flash-image".into(),
        prompt: "x".into(),
        ..ImageRequest::default()
    }
    .to_chat();
    let no_retry = RetryPolicy {
        max_retries: 0,
        ..policy()
    };
    let err = chat_with_retries(
        &client,
        KEY,
        &chat,
        Some(Duration::from_millis(150)),
        &no_retry,
        &mut |_| {},
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "upstream_timeout");
    assert!(err.message.contains("image_timeout_ms"), "{}", err.message);
}

#[tokio::test]
async fn image_urls_own_origin_with_key_foreign_loopback_blocked() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    let client = client_for(&fake);
    fake.serve_file("/files/fox.png", "image/png", PNG.to_vec());
    let own = url::Url::parse(&format!("{}/files/fox.png", fake.origin())).unwrap();
    let got = client
        .fetch_image(KEY, &own, FetchLimits::default())
        .await
        .unwrap();
    assert_eq!(got.bytes, PNG);
    let recorded = fake.requests();
    let file_request = recorded
        .iter()
        .find(|r| r.path == "/files/fox.png")
        .unwrap();
    assert_eq!(
        file_request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let other = FakeOpenRouter::start();
    other.serve_file("/files/fox.png", "image/png", PNG.to_vec());
    let foreign = url::Url::parse(&format!("{}/files/fox.png", other.origin())).unwrap();
    let err = client
        .fetch_image(KEY, &foreign, FetchLimits::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "media_url_blocked", "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");
    assert!(
        other.requests().is_empty(),
        "nothing was sent to the blocked host"
    );
}

#[tokio::test]
async fn speech_mp3_pcm_and_retries() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    let client = client_for(&fake);
    let mut req = SpeechRequest {
        model: "hexgrad/kokoro-82m".into(),
        input: "A fox at dusk.".into(),
        voice: "af_alloy".into(),
        format: TtsFormat::Mp3,
        speed: Some(1.1),
    };
    fake.fail_next(MediaEndpoint::Speech, 503, "no provider");
    let mut attempts = Vec::new();
    let mp3 = client
        .speech(KEY, &req, Duration::from_secs(5), &policy(), &mut attempts)
        .await
        .unwrap();
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.model.as_str(), a.status, a.error_code.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "hexgrad/kokoro-82m",
                Some(503),
                Some("upstream_unavailable")
            ),
            ("hexgrad/kokoro-82m", Some(200), None)
        ],
        "every attempt is recorded"
    );
    assert_eq!(mp3.media_type, "audio/mpeg");
    assert_eq!(&mp3.bytes[..3], b"ID3");
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/audio/speech"))
        .collect();
    assert_eq!(sent.len(), 2, "the 503 was retried");
    assert_eq!(
        sent[1].body.as_ref().unwrap(),
        &json!({"model": "hexgrad/kokoro-82m", "input": "A fox at dusk.", "voice": "af_alloy", "response_format": "mp3", "speed": 1.1})
    );

    req.format = TtsFormat::Pcm;
    let wav = client
        .speech(
            KEY,
            &req,
            Duration::from_secs(5),
            &policy(),
            &mut Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(wav.media_type, "audio/wav");
    assert_eq!(&wav.bytes[..4], b"RIFF");
    assert_eq!(&wav.bytes[8..12], b"WAVE");
    let data_len = u32::from_le_bytes(wav.bytes[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len + 44, wav.bytes.len());

    fake.fail_next(MediaEndpoint::Speech, 400, "voice not found");
    let err = client
        .speech(
            KEY,
            &req,
            Duration::from_secs(5),
            &policy(),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upstream_bad_request");
    assert!(err.to_string().contains("voice not found"));
}

fn video_request() -> VideoRequest {
    VideoRequest {
        model: "google/veo-3.1-fast".into(),
        prompt: "a fox runs".into(),
        duration: 6,
        resolution: Some("720p".into()),
        aspect_ratio: Some("16:9".into()),
        ..VideoRequest::default()
    }
}

#[tokio::test]
async fn video_job_relative_then_absolute_polling_and_downloads() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    let client = client_for(&fake);
    let d = Duration::from_secs(5);

    let job = client
        .create_video(KEY, &video_request(), d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(job.status, VideoStatus::Pending);
    let mut seen = Vec::new();
    let mut state = job.clone();
    while !state.status.is_terminal() {
        state = client
            .video_job(
                KEY,
                &job.id,
                job.polling_url.as_deref(),
                d,
                &policy(),
                &mut Vec::new(),
            )
            .await
            .unwrap();
        seen.push(state.status);
    }
    assert_eq!(
        seen,
        vec![
            VideoStatus::Pending,
            VideoStatus::InProgress,
            VideoStatus::Completed
        ]
    );
    let video = client
        .download_video(KEY, &state, 1 << 20, d)
        .await
        .unwrap();
    assert_eq!(&video.bytes[4..8], b"ftyp");

    fake.push_video(
        VideoScript::new()
            .polls(0, 0)
            .absolute_polling_url()
            .content_endpoint_only(),
    );
    let job = client
        .create_video(KEY, &video_request(), d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    assert!(job.polling_url.as_deref().unwrap().starts_with("http://"));
    let done = client
        .video_job(
            KEY,
            &job.id,
            job.polling_url.as_deref(),
            d,
            &policy(),
            &mut Vec::new(),
        )
        .await
        .unwrap();
    assert!(done.unsigned_urls.is_empty());
    let video = client.download_video(KEY, &done, 1 << 20, d).await.unwrap();
    assert_eq!(&video.bytes[4..8], b"ftyp");
    let content = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/content"))
        .unwrap();
    assert_eq!(content.query.as_deref(), Some("index=0"));
    assert_eq!(
        content.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let err = client.download_video(KEY, &done, 10, d).await.unwrap_err();
    assert_eq!(err.code(), "media_too_large");
}

#[tokio::test]
async fn foreign_unsigned_urls_go_through_the_guard_and_failures_are_reported() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(KEY);
    let cdn = FakeOpenRouter::start();
    cdn.serve_file("/v/out.mp4", "video/mp4", b"\0\0\0\x18ftypisom".to_vec());
    let client = client_for(&fake);
    let d = Duration::from_secs(5);
    fake.push_video(
        VideoScript::new()
            .polls(0, 0)
            .unsigned_url(format!("{}/v/out.mp4", cdn.origin())),
    );
    let job = client
        .create_video(KEY, &video_request(), d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    let done = client
        .video_job(KEY, &job.id, None, d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    // A foreign URL goes through the SSRF guard (which never sends the key): this "CDN"
    // is on loopback, so it is refused before any connection.
    let err = client
        .download_video(KEY, &done, 1 << 20, d)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "media_url_blocked", "{err}");
    assert!(
        cdn.requests().is_empty(),
        "the guarded host was never contacted"
    );

    fake.push_video(VideoScript::new().polls(0, 0).fails("content policy"));
    let job = client
        .create_video(KEY, &video_request(), d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    let failed = client
        .video_job(KEY, &job.id, None, d, &policy(), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(failed.status, VideoStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("content policy"));

    let mut bad = video_request();
    bad.duration = 5;
    let err = client
        .create_video(KEY, &bad, d, &policy(), &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upstream_bad_request");

    fake.fail_next(MediaEndpoint::CreateVideo, 502, "provider down");
    let err = client
        .create_video(KEY, &video_request(), d, &policy(), &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "upstream_unavailable",
        "a paid job is not re-submitted on 5xx"
    );
    let creates = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/videos"))
        .count();
    assert_eq!(creates, 4);

    let err = client
        .video_job(KEY, "job-unknown", None, d, &policy(), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::Upstream(_)));
    assert!(err.to_string().contains("job-unknown"), "{err}");

    let models = client.video_models(KEY).await.unwrap();
    assert_eq!(
        ferry_openrouter::media::supported_durations(&models, "google/veo-3.1-fast"),
        Some(vec![4, 6, 8])
    );
}

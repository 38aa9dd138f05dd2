//! Issue 5, multimodal input: images as data-URL parts, refusal of text-only models
//! before any upstream call, PDF and text attachments, audio transcribed once and reused,
//! STT failures, `audio transcribe`, observations, workspace escapes, and the model
//! catalog (`/v1/models`, `ferry models list`).

use base64::Engine as _;
use ferry_assets::testdata;
use ferry_fake_openrouter::TranscriptionReply;
use serde_json::{json, Value};

use crate::assets::{rig_on, rig_with};
use crate::support::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Rig {
    fn write_ws(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.env.ws().join(name), bytes).unwrap();
    }

    fn last_chat_body(&self) -> Value {
        self.fake
            .chat_requests()
            .last()
            .expect("a chat request")
            .body
            .clone()
            .unwrap()
    }
}

fn user_parts(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_array())
        .cloned()
        .unwrap_or_default()
}

on_every_asset_store!(image_attachment_becomes_a_data_url_part_and_history_keeps_a_reference);

fn image_attachment_becomes_a_data_url_part_and_history_keeps_a_reference(store: AssetBackend) {
    let r = rig_on(store, "", &[]);
    let png = testdata::png_with(4, 4, 3);
    std::fs::write(r.env.root().join("shot.png"), &png).unwrap();
    r.fake.push(Reply::text("A small square."));
    let out = r.cli(&[
        "sessions",
        "input",
        "vis",
        "--file",
        "shot.png",
        "What is this?",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "A small square.\n");
    let body = r.last_chat_body();
    assert_eq!(body["model"], "openai/gpt-5.4-mini");
    let parts = user_parts(&body);
    assert_eq!(parts[0], json!({"type": "text", "text": "What is this?"}));
    assert_eq!(
        parts[1],
        json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", b64(&png))}})
    );

    // The stored history holds a reference, not the bytes.
    let (_, msgs) = r.api("GET", "/v1/sessions/vis/messages", None);
    let stored = msgs["messages"][0]["body"].to_string();
    assert!(
        stored.contains("ferry_asset") && !stored.contains(&b64(&png)),
        "{stored}"
    );
    let out = r.cli(&["sessions", "show", "vis"]);
    assert!(
        stdout(&out).contains("[image/png shot.png]"),
        "{}",
        stdout(&out)
    );

    // The next turn replays the image (rebuilt from the asset) with the new text.
    r.fake.push(Reply::text("Still a square."));
    let out = r.cli(&["sessions", "input", "vis", "And now?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = r.last_chat_body();
    let first_user = &body["messages"][0]["content"];
    assert_eq!(first_user[1]["type"], "image_url");
    assert_eq!(body["messages"][2]["content"], "And now?");

    // The same image by asset id, and inline base64, give the same asset.
    let asset_id = msgs["messages"][0]["body"]["content"][1]["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    r.fake.push(Reply::text("ok"));
    let (status, run) = r.api(
        "POST",
        "/v1/sessions/vis2/input",
        Some(&json!({"attachments": [{"media_type": "image/png", "data_base64": b64(&png), "file_name": "x.png"}]})),
    );
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["input"]["attachments"],
        json!([{"asset_id": asset_id}]),
        "run input stores references"
    );
    let out = r.cli(&["sessions", "input", "vis3", "--asset", &asset_id, "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn text_only_model_is_refused_before_any_upstream_call() {
    let r = rig_with("", &[]);
    std::fs::write(r.env.root().join("shot.png"), testdata::png()).unwrap();
    let out = r.cli(&[
        "sessions",
        "input",
        "t",
        "--model",
        "meta-llama/llama-3.3-70b-instruct",
        "--file",
        "shot.png",
        "describe",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("model_cannot_take_images")
            && err.contains("meta-llama/llama-3.3-70b-instruct")
            && err.contains("shot.png"),
        "{err}"
    );
    assert!(r.fake.chat_requests().is_empty());
    // No run was created.
    let (status, _) = r.api("GET", "/v1/sessions/t", None);
    assert_eq!(status, 404);

    // A model the catalog does not know is given the benefit of the doubt.
    r.fake.push(Reply::text("seen"));
    let out = r.cli(&[
        "sessions",
        "input",
        "t",
        "--model",
        "someone/new-model",
        "--file",
        "shot.png",
        "x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(r.fake.chat_requests().len(), 1);

    // A text-only fallback is dropped for this input, not called with an image.
    r.fake
        .push_for_model("openai/gpt-5.4-mini", Reply::error(503, "down"));
    r.fake
        .push_for_model("openai/gpt-5.4-mini", Reply::error(503, "down"));
    r.fake
        .push_for_model("openai/gpt-5.4-mini", Reply::error(503, "down"));
    let out = r.cli(&[
        "sessions",
        "input",
        "t2",
        "--file",
        "shot.png",
        "--fallback-model",
        "meta-llama/llama-3.3-70b-instruct",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(r
        .fake
        .chat_requests()
        .iter()
        .all(|q| q.body.as_ref().unwrap()["model"] != "meta-llama/llama-3.3-70b-instruct"));
}

#[test]
fn multimodal_capability_off_refuses_images_and_pdfs() {
    let r = rig_with("multimodal_input = false", &[]);
    r.write_ws("doc.pdf", &testdata::pdf());
    let (status, p) = r.api(
        "POST",
        "/v1/sessions/m/input",
        Some(&json!({"content": "read", "attachments": [{"path": "doc.pdf"}]})),
    );
    assert_eq!(status, 400);
    assert_eq!(p["code"], "multimodal_input_disabled");
    assert!(p["detail"].as_str().unwrap().contains("doc.pdf"));
    assert!(r.fake.chat_requests().is_empty());
}

#[test]
fn pdf_and_text_attachments_follow_openrouter_conventions() {
    let r = rig_with("", &[]);
    let pdf = testdata::pdf();
    r.write_ws("report.pdf", &pdf);
    r.write_ws("data.csv", b"city,temp\nOslo,3\n");
    r.fake.push(Reply::text("Read both."));
    let (status, run) = r.api(
        "POST",
        "/v1/sessions/docs/input",
        Some(&json!({"content": "Summarise", "attachments": [{"path": "report.pdf"}, {"path": "./data.csv"}]})),
    );
    assert_eq!(status, 200, "{run}");
    let parts = user_parts(&r.last_chat_body());
    assert_eq!(
        parts[1],
        json!({"type": "file", "file": {"filename": "report.pdf", "file_data": format!("data:application/pdf;base64,{}", b64(&pdf))}})
    );
    let text = parts[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[attached file data.csv (text/csv)]"),
        "{text}"
    );
    assert!(text.contains("Oslo,3"), "{text}");
}

#[test]
fn workspace_escapes_are_rejected() {
    let r = rig_with("", &[]);
    std::fs::write(r.env.root().join("secret.txt"), b"top secret").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(r.env.root().join("secret.txt"), r.env.ws().join("link.txt"))
        .unwrap();
    let mut attempts = vec![
        "../secret.txt",
        "../../etc/passwd",
        "/etc/passwd",
        "sub/../../secret.txt",
    ];
    if cfg!(unix) {
        attempts.push("link.txt");
    }
    for path in attempts {
        let (status, p) = r.api(
            "POST",
            "/v1/sessions/ws/input",
            Some(&json!({"content": "x", "attachments": [{"path": path}]})),
        );
        assert_eq!(status, 400, "{path}: {p}");
        assert_eq!(p["code"], "path_outside_workspace", "{path}: {p}");
        assert!(
            p["detail"].as_str().unwrap().contains("workspace root"),
            "{p}"
        );
    }
    let (status, p) = r.api(
        "POST",
        "/v1/sessions/ws/input",
        Some(&json!({"content": "x", "attachments": [{"path": "missing.txt"}]})),
    );
    assert_eq!(
        (status, p["code"].as_str()),
        (400, Some("attachment_not_found"))
    );
    let (status, p) = r.api(
        "POST",
        "/v1/sessions/ws/input",
        Some(&json!({"content": "x", "attachments": [{"path": "a", "asset_id": "b"}]})),
    );
    assert_eq!(
        (status, p["code"].as_str()),
        (400, Some("invalid_attachment"))
    );
    assert!(r.fake.chat_requests().is_empty());
    assert!(!String::from_utf8_lossy(&r.env.all_state_bytes()).contains("top secret"));
}

#[test]
fn audio_is_transcribed_once_and_reused_across_runs() {
    let r = rig_with("", &[]);
    let wav = testdata::wav_with(3200, 5);
    std::fs::write(r.env.root().join("memo.wav"), &wav).unwrap();
    r.fake
        .push_transcription(TranscriptionReply::text("buy oat milk and coffee"));
    r.fake.push(Reply::text("Noted."));
    let out = r.cli(&[
        "sessions",
        "input",
        "voice",
        "--file",
        "memo.wav",
        "What did I say?",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stt = r.fake.transcription_requests();
    assert_eq!(stt.len(), 1);
    let stt_body = stt[0].body.clone().unwrap();
    assert_eq!(stt_body["model"], "openai/gpt-4o-mini-transcribe");
    assert_eq!(stt_body["input_audio"]["format"], "wav");
    assert_eq!(stt_body["input_audio"]["data"], b64(&wav));
    assert_eq!(
        stt[0].header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    let parts = user_parts(&r.last_chat_body());
    let text = parts[1]["text"].as_str().unwrap();
    assert!(
        text.contains("memo.wav") && text.contains("buy oat milk and coffee"),
        "{text}"
    );

    // A second run using the same asset (by id) reuses the stored transcript.
    let asset_id = r.api("GET", "/v1/assets?kind=audio", None).1["assets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.fake.push(Reply::text("Again noted."));
    let out = r.cli(&[
        "sessions",
        "input",
        "voice",
        "--asset",
        &asset_id,
        "Repeat it",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        r.fake.transcription_requests().len(),
        1,
        "transcribed exactly once"
    );
    let body = r.last_chat_body();
    let all = body["messages"].to_string();
    assert_eq!(
        all.matches("buy oat milk and coffee").count(),
        2,
        "history and new turn: {all}"
    );
    // The transcript is a derivation of the asset.
    let (_, shown) = r.api("GET", &format!("/v1/assets/{asset_id}"), None);
    assert_eq!(shown["derivations"][0]["kind"], "transcript");
    assert_eq!(
        shown["derivations"][0]["content"],
        "buy oat milk and coffee"
    );

    // `audio transcribe` with the route's model hits the cache; with a language it is new.
    let out = r.cli(&["audio", "transcribe", "memo.wav"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "buy oat milk and coffee\n");
    assert!(stderr(&out).contains("(cached)"), "{}", stderr(&out));
    assert_eq!(r.fake.transcription_requests().len(), 1);
    r.fake
        .push_transcription(TranscriptionReply::text("Hafermilch kaufen"));
    let out = r.cli(&[
        "--json",
        "audio",
        "transcribe",
        "memo.wav",
        "--language",
        "de",
        "--model",
        "openai/whisper-1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = json(&stdout(&out));
    assert_eq!(v["text"], "Hafermilch kaufen");
    assert_eq!(v["cached"], false);
    let last = r
        .fake
        .transcription_requests()
        .last()
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert_eq!(last["language"], "de");
    assert_eq!(last["model"], "openai/whisper-1");
    let out = r.cli(&["audio", "transcribe", "memo.wav", "--language", "german"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid_language"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stt_failures_and_disabled_transcription_surface_clearly() {
    let r = rig_with("", &[]);
    let wav = testdata::wav_with(800, 9);
    std::fs::write(r.env.root().join("memo.wav"), &wav).unwrap();
    r.fake
        .push_transcription(TranscriptionReply::error(402, "Insufficient credits"));
    let out = r.cli(&["sessions", "input", "s", "--file", "memo.wav", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("speech-to-text of memo.wav failed")
            && err.contains("insufficient credits")
            && err.contains("upstream_insufficient_credits"),
        "{err}"
    );
    assert!(
        r.fake.chat_requests().is_empty(),
        "no chat call after a failed STT"
    );
    // Transient STT failures are retried.
    r.fake
        .push_transcription(TranscriptionReply::error(503, "busy"));
    r.fake
        .push_transcription(TranscriptionReply::text("second try"));
    r.fake.push(Reply::text("ok"));
    let out = r.cli(&["sessions", "input", "s", "--file", "memo.wav", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(r.last_chat_body().to_string().contains("second try"));
    // Not audio.
    std::fs::write(r.env.root().join("pic.png"), testdata::png()).unwrap();
    let out = r.cli(&["audio", "transcribe", "pic.png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not_audio"), "{}", stderr(&out));

    let off = rig_with("transcription = false", &[]);
    std::fs::write(off.env.root().join("memo.wav"), &wav).unwrap();
    let out = off.cli(&["sessions", "input", "s", "--file", "memo.wav", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("transcription_disabled"),
        "{}",
        stderr(&out)
    );
    let out = off.cli(&["audio", "transcribe", "memo.wav"]);
    assert!(
        stderr(&out).contains("transcription = false"),
        "{}",
        stderr(&out)
    );
    assert!(off.fake.transcription_requests().is_empty());
    assert!(off.fake.chat_requests().is_empty());
}

#[test]
fn observations_accept_wav_and_webm_only_and_append_the_transcript() {
    let r = rig_with("", &[]);
    let mp3 = http_bytes(
        r.d.port,
        "POST",
        "/v1/observations?session=obs&source=microphone_segment",
        &[("Content-Type", "audio/mpeg")],
        &testdata::mp3(),
    );
    assert_eq!(mp3.status, 415);
    let p = mp3.json();
    assert_eq!(p["code"], "unsupported_observation_type");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("audio/wav") && detail.contains("audio/webm"),
        "{detail}"
    );
    // Even undeclared, the bytes decide.
    let mp3 = http_bytes(
        r.d.port,
        "POST",
        "/v1/observations?session=obs",
        &[],
        &testdata::mp3(),
    );
    assert_eq!(mp3.status, 415);
    assert!(r.fake.transcription_requests().is_empty());
    assert_eq!(
        r.api("GET", "/v1/assets", None).1["assets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    r.fake
        .push_transcription(TranscriptionReply::text("the meeting moved to friday"));
    let wav = testdata::wav_with(1600, 2);
    let resp = http_bytes(
        r.d.port,
        "POST",
        "/v1/observations?session=obs&source=microphone_segment&file_name=seg1.wav",
        &[("Content-Type", "audio/wav")],
        &wav,
    );
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let v = resp.json();
    assert_eq!(v["transcript"], "the meeting moved to friday");
    assert_eq!(v["session_id"], "obs");
    let (_, msgs) = r.api("GET", "/v1/sessions/obs/messages", None);
    let m = &msgs["messages"][0]["body"];
    assert_eq!(m["role"], "user");
    let content = m["content"].as_str().unwrap();
    assert!(
        content.contains("the meeting moved to friday") && content.contains("seg1.wav"),
        "{content}"
    );
    assert!(
        r.fake.chat_requests().is_empty(),
        "an observation does not start a run"
    );

    // The next input sees it; the CLI form works with WebM.
    r.fake
        .push_transcription(TranscriptionReply::text("and bring slides"));
    std::fs::write(r.env.root().join("seg2.webm"), testdata::webm_with(7)).unwrap();
    let out = r.cli(&["sessions", "observe", "obs", "seg2.webm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "and bring slides\n");
    assert_eq!(
        r.fake
            .transcription_requests()
            .last()
            .unwrap()
            .body
            .as_ref()
            .unwrap()["input_audio"]["format"],
        "webm"
    );
    r.fake.push(Reply::text("Friday, with slides."));
    let out = r.cli(&["sessions", "input", "obs", "When is the meeting?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = r.last_chat_body()["messages"].to_string();
    assert!(
        all.contains("moved to friday") && all.contains("bring slides"),
        "{all}"
    );
    // A missing session parameter and an unknown source are explained.
    let resp = http_bytes(r.d.port, "POST", "/v1/observations", &[], &wav);
    assert_eq!(resp.json()["code"], "missing_session");
    let resp = http_bytes(
        r.d.port,
        "POST",
        "/v1/observations?session=obs&source=camera",
        &[],
        &wav,
    );
    assert_eq!(resp.json()["code"], "invalid_observation_source");
    let out = r.cli(&["sessions", "observe", "obs", "missing.wav"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn model_catalog_is_listed_filtered_and_cached_on_disk() {
    let r = rig_with("", &[]);
    let out = r.cli(&["--json", "models", "list", "--modality", "image"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = json(&stdout(&out));
    let ids: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"openai/gpt-5.4-mini") && ids.contains(&"black-forest-labs/flux.2-pro"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"meta-llama/llama-3.3-70b-instruct"));
    let flux = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "black-forest-labs/flux.2-pro")
        .unwrap();
    assert_eq!(flux["image_only"], true);
    let out = r.cli(&["models", "list", "--search", "claude"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("anthropic/claude-sonnet-4-5") && text.contains("reasoning"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(r
        .env
        .state()
        .join("cache")
        .join("models-openrouter.json")
        .is_file());
    let q = &r.fake.models_requests()[0];
    assert_eq!(q.query.as_deref(), Some("output_modalities=all"));
    let out = r.cli(&["models", "list", "--route", "nope"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

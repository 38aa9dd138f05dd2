//! Issue 14, the typed contract: every answer ferry defines reads as its ferry-types view,
//! field for field, from a live daemon — assets, session history and runs, transcripts,
//! media-tool output, video jobs, the spend report, observations, the model catalog and
//! key status, the configuration, the OpenAPI document and the facade's OpenAI shapes.

use std::time::Duration;

use ferry_assets::testdata;
use ferry_fake_openrouter::{TranscriptionReply, VideoScript};
use ferry_openrouter::media::to_data_url;
use ferry_types::{
    ApiDocument, AssetDeleted, AssetDetail, AssetPage, AssetUpload, ConfigView, FacadeModel,
    ImagesAnswer, KeyStatus, ModelsView, ObservationView, SessionHistory, SessionRuns, SpendReport,
    ToolOutput, TranscriptView, TranscriptionAnswer, VideoJobList, VideoJobView,
};
use serde_json::json;

use crate::support::*;

/// `POST` of raw bytes with a content type: status and JSON answer.
fn post_bytes(r: &Rig, path: &str, content_type: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let resp = http_bytes(
        r.d.port,
        "POST",
        path,
        &[("Content-Type", content_type)],
        body,
    );
    (resp.status, resp.json())
}

/// Scripts one generated image, then `POST`s `body` to `path`: the 200 answer.
fn generate_image(r: &Rig, path: &str, body: serde_json::Value, seed: u8) -> serde_json::Value {
    let png = testdata::png_with(3, 2, seed);
    r.fake
        .push(Reply::images(vec![to_data_url("image/png", &png)]));
    let (status, v) = r.api("POST", path, Some(&body));
    assert_eq!(status, 200, "{path}: {v}");
    v
}

#[test]
fn every_answer_reads_as_its_typed_view() {
    let r = Rig::with(RigOptions {
        route_keys: "\n[routes.openrouter.media]\nvideo_poll_ms = 20\n",
        ..RigOptions::default()
    });

    // Assets: upload (new, then the same bytes again), list, show with derivations, delete.
    let wav = testdata::wav_with(1600, 3);
    let (status, v) = post_bytes(&r, "/v1/assets?file_name=memo.wav", "audio/wav", &wav);
    assert_eq!(status, 201, "{v}");
    let audio: AssetUpload = as_view(&v);
    assert!(audio.created);
    assert_eq!(audio.asset.kind, "audio");
    assert_eq!(audio.asset.file_name.as_deref(), Some("memo.wav"));
    let (status, v) = post_bytes(&r, "/v1/assets", "audio/wav", &wav);
    assert_eq!(status, 200, "{v}");
    assert!(!as_view::<AssetUpload>(&v).created);
    let (status, v) = post_bytes(&r, "/v1/assets", "text/plain", b"a note");
    assert_eq!(status, 201, "{v}");
    let note: AssetUpload = as_view(&v);
    assert_eq!(note.asset.file_name, None);
    let page: AssetPage = as_view(&r.api("GET", "/v1/assets?limit=1", None).1);
    assert_eq!(page.assets.len(), 1);
    assert!(page.next_cursor.is_some());

    // A transcript, then the asset shows it as a derivation.
    r.fake
        .push_transcription(TranscriptionReply::text("the fox is at the door"));
    let (status, v) = r.api(
        "POST",
        "/v1/tools/transcribe_audio",
        Some(&json!({"asset_id": audio.asset.id})),
    );
    assert_eq!(status, 200, "{v}");
    let transcript: TranscriptView = as_view(&v);
    assert_eq!(transcript.text, "the fox is at the door");
    assert!(!transcript.cached);
    let (_, v) = r.api("GET", &format!("/v1/assets/{}", audio.asset.id), None);
    let detail: AssetDetail = as_view(&v);
    assert_eq!(detail.derivations.len(), 1);
    assert_eq!(detail.derivations[0].content, "the fox is at the door");
    let (status, v) = r.api("DELETE", &format!("/v1/assets/{}", note.asset.id), None);
    assert_eq!(status, 200, "{v}");
    let gone: AssetDeleted = as_view(&v);
    assert!(gone.deleted);
    assert_eq!(gone.asset.id, note.asset.id);

    // An observation (its transcript is cached: the same audio), then the session's history
    // and runs.
    let (status, v) = post_bytes(
        &r,
        "/v1/observations?session=views&source=microphone_segment",
        "audio/wav",
        &wav,
    );
    assert_eq!(status, 201, "{v}");
    let seen: ObservationView = as_view(&v);
    assert!(seen.cached);
    assert_eq!(seen.message.role, "user");
    r.fake.push(Reply::text("hello from the fake"));
    let out = r.cli(&["sessions", "input", "views", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history: SessionHistory = as_view(&r.api("GET", "/v1/sessions/views/messages", None).1);
    assert_eq!(history.messages.len(), 3, "{history:?}");
    assert_eq!(history.messages[0].run_id, None);
    let runs: SessionRuns = as_view(&r.api("GET", "/v1/sessions/views/runs", None).1);
    assert_eq!(runs.runs.len(), 1);
    assert_eq!(runs.runs[0].status, ferry_types::RunStatus::Completed);

    // A media tool's output, and a video job: started (202), waited for, listed.
    let v = generate_image(
        &r,
        "/v1/tools/generate_image",
        json!({"prompt": "a fox"}),
        1,
    );
    let image: ToolOutput = as_view(&v);
    assert_eq!(image.tool, "generate_image");
    assert_eq!(image.assets.len(), 1);
    r.fake.push_video(VideoScript::new());
    let (status, v) = r.api(
        "POST",
        "/v1/tools/generate_video",
        Some(&json!({"prompt": "a fox", "duration": 4})),
    );
    assert_eq!(status, 202, "{v}");
    let job: VideoJobView = as_view(&v);
    assert!(!job.finished);
    let (_, v) = r.api("GET", &format!("/v1/videos/{}?wait=true", job.id), None);
    let done: VideoJobView = as_view(&v);
    assert_eq!(done.status, "completed", "{v}");
    assert!(done.asset.is_some());
    let list: VideoJobList = as_view(&r.api("GET", "/v1/videos", None).1);
    assert_eq!(list.jobs.len(), 1);

    // The spend report, the catalog, the key's credit, the configuration.
    let spend = eventually(Duration::from_secs(10), || {
        let (_, v) = r.api("GET", "/v1/spend?by=kind", None);
        let report: SpendReport = as_view(&v);
        (!report.groups.is_empty()).then_some(report)
    });
    assert_eq!(spend.by, "kind");
    assert_eq!(spend.split, None);
    let (_, v) = r.api("GET", "/v1/spend?by=day&split=model&since=2020-01-01", None);
    let split: SpendReport = as_view(&v);
    assert_eq!(split.split.as_deref(), Some("model"));
    assert!(split.groups.iter().all(|g| g.split.is_some()));
    let models: ModelsView = as_view(&r.api("GET", "/v1/models", None).1);
    assert!(!models.models.is_empty());
    let key: KeyStatus = as_view(&r.api("GET", "/v1/models/status", None).1);
    assert_eq!(key.route, "openrouter");
    let config: ConfigView = as_view(&r.api("GET", "/v1/config", None).1);
    assert_eq!(config.default_route, "openrouter");
    let doc: ApiDocument = as_view(&r.api("GET", "/v1/openapi.json", None).1);
    assert!(doc.openapi.starts_with("3.1"));

    // The facade's OpenAI shapes ferry builds itself.
    let (_, v) = r.api(
        "GET",
        "/openai/v1/models/openrouter%2Fopenai%2Fgpt-5.4-mini",
        None,
    );
    let model: FacadeModel = as_view(&v);
    assert_eq!(model.object, "model");
    let v = generate_image(
        &r,
        "/openai/v1/images/generations",
        json!({"prompt": "a fox", "response_format": "url"}),
        2,
    );
    let images: ImagesAnswer = as_view(&v);
    assert!(images.data[0].url.is_some() && images.data[0].b64_json.is_none());
    let (content_type, form) = multipart(
        ("response_format", "verbose_json"),
        "memo.wav",
        "audio/wav",
        &wav,
    );
    let (status, v) = post_bytes(&r, "/openai/v1/audio/transcriptions", &content_type, &form);
    assert_eq!(status, 200, "{v}");
    match as_view::<TranscriptionAnswer>(&v) {
        TranscriptionAnswer::Verbose(verbose) => {
            assert_eq!(verbose.task, "transcribe");
            assert_eq!(verbose.text, "the fox is at the door");
        }
        other => panic!("verbose_json answered {other:?}"),
    }
}

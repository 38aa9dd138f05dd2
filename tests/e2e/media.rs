//! Issue 6, direct media tools: `ferry image generate|edit`, `ferry audio speak`,
//! `ferry video generate|status` and `POST /v1/tools/{name}` against the fake upstream —
//! the recorded request bodies, the stored assets and the files written with `--out`,
//! the SSRF guard, capability gates, and video jobs through every state and a restart.

use std::time::Duration;

use ferry_assets::testdata;
use ferry_fake_openrouter::{MediaEndpoint, VideoScript};
use ferry_openrouter::media::to_data_url;
use serde_json::json;

use crate::support::*;

/// A rig whose route has `extra` keys and polls video jobs every 20 ms.
pub fn rig_with(extra: &str) -> Rig {
    rig_on(AssetBackend::StateRoot, extra)
}

/// [`rig_with`] keeping asset bytes in `store`.
pub fn rig_on(store: AssetBackend, extra: &str) -> Rig {
    let route_keys = format!("{extra}\n[routes.openrouter.media]\nvideo_poll_ms = 20\n");
    Rig::with(RigOptions {
        route_keys: &route_keys,
        asset_store: store,
        ..RigOptions::default()
    })
}

impl Rig {
    /// The raw bytes of an asset, read through the API.
    pub fn asset_bytes(&self, id: &str) -> Vec<u8> {
        let path = self.env.root().join(format!("{id}.bin"));
        let out = self.cli(&["assets", "get", id, "--out", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read(path).expect("downloaded asset")
    }

    pub fn requests_to(&self, suffix: &str) -> Vec<ferry_fake_openrouter::RecordedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }
}

pub fn png_url(seed: u8) -> String {
    to_data_url("image/png", &testdata::png_with(3, 2, seed))
}

#[test]
fn image_generate_sends_modalities_by_catalog_and_writes_out_files() {
    let r = rig_with("");
    let png = testdata::png_with(3, 2, 1);
    r.fake
        .push(Reply::images(vec![to_data_url("image/png", &png)]).with_content("A fox at dusk."));
    let out = r.cli(&[
        "image",
        "generate",
        "a fox at dusk",
        "--aspect-ratio",
        "16:9",
        "--size",
        "2K",
        "--out",
        "fox.png",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(r.env.root().join("fox.png")).unwrap(),
        png,
        "--out is relative to the caller's directory"
    );
    let chat = r.fake.chat_requests();
    let body = chat[0].body.as_ref().unwrap();
    assert_eq!(body["model"], "google/gemini-3.1-flash-image-preview");
    assert_eq!(body["stream"], false);
    assert_eq!(body["modalities"], json!(["image", "text"]));
    assert_eq!(
        body["image_config"],
        json!({"aspect_ratio": "16:9", "image_size": "2K"})
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "a fox at dusk"}])
    );

    // An image-only model (catalog output_modalities ["image"]) gets ["image"]; -n makes
    // repeated calls and numbered files.
    r.fake.push(Reply::images(vec![png_url(2)]));
    r.fake.push(Reply::images(vec![png_url(3)]));
    let v = r.cli_json(&[
        "image",
        "generate",
        "two foxes",
        "--model",
        "black-forest-labs/flux.2-pro",
        "-n",
        "2",
        "--out",
        "out/pair.png",
    ]);
    let chat = r.fake.chat_requests();
    assert_eq!(chat.len(), 3);
    for req in &chat[1..] {
        let body = req.body.as_ref().unwrap();
        assert_eq!(body["model"], "black-forest-labs/flux.2-pro");
        assert_eq!(body["modalities"], json!(["image"]));
        assert!(body.get("image_config").is_none());
    }
    let assets = v["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2);
    for (i, a) in assets.iter().enumerate() {
        assert_eq!(a["media_type"], "image/png");
        let file = r.env.root().join(format!("out/pair-{}.png", i + 1));
        assert_eq!(
            std::fs::read(&file).unwrap(),
            testdata::png_with(3, 2, i as u8 + 2)
        );
        assert_eq!(
            r.asset_bytes(a["asset_id"].as_str().unwrap()),
            testdata::png_with(3, 2, i as u8 + 2)
        );
    }
    let listed = r.cli_json(&["assets", "list", "--source", "generated"]);
    assert_eq!(listed["assets"].as_array().unwrap().len(), 3);
}

#[test]
fn image_edit_sends_inputs_as_image_url_parts() {
    let r = rig_with("");
    let a = testdata::png_with(2, 2, 10);
    let b = testdata::jpeg();
    std::fs::write(r.env.root().join("a.png"), &a).unwrap();
    std::fs::write(r.env.root().join("b.jpg"), &b).unwrap();
    r.fake.push(Reply::images(vec![png_url(11)]));
    let v = r.cli_json(&[
        "image",
        "edit",
        "make it night",
        "--image",
        "a.png",
        "--image",
        "b.jpg",
    ]);
    assert_eq!(v["tool"], "edit_image");
    assert_eq!(v["assets"][0]["media_type"], "image/png");
    let body = r.fake.chat_requests()[0].body.clone().unwrap();
    let parts = body["messages"][0]["content"].as_array().unwrap().clone();
    assert_eq!(parts[0], json!({"type": "text", "text": "make it night"}));
    assert_eq!(parts[1]["image_url"]["url"], to_data_url("image/png", &a));
    assert_eq!(parts[2]["image_url"]["url"], to_data_url("image/jpeg", &b));

    // More than five inputs is refused before any upstream call.
    let ids: Vec<String> = (0..6)
        .map(|i| {
            let p = r.env.root().join(format!("in{i}.png"));
            std::fs::write(&p, testdata::png_with(2, 2, 20 + i)).unwrap();
            r.cli_json(&["assets", "import", p.to_str().unwrap()])["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/edit_image",
        Some(&json!({"prompt": "x", "image_asset_ids": ids})),
    );
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["code"], "too_many_images");
    assert_eq!(r.fake.chat_requests().len(), 1);
}

#[test]
fn image_failures_are_clear() {
    let r = rig_with("");
    // No image in the reply: the error quotes what the model said.
    r.fake.push(Reply::text("I can only describe foxes."));
    let out = r.cli(&["image", "generate", "a fox"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("I can only describe foxes."),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("no_image_returned"));

    // An http(s) image URL on a loopback address is refused by the SSRF guard.
    let other = FakeOpenRouter::start();
    other.serve_file("/files/fox.png", "image/png", testdata::png());
    r.fake.push(Reply::images(vec![format!(
        "{}/files/fox.png",
        other.origin()
    )]));
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/generate_image",
        Some(&json!({"prompt": "a fox"})),
    );
    assert_eq!(status, 502, "{problem}");
    assert_eq!(problem["code"], "media_url_blocked");
    assert!(problem["detail"].as_str().unwrap().contains("loopback"));
    assert!(
        other.requests().is_empty(),
        "the guarded host was never contacted"
    );

    // Bad options name the valid values; nothing reaches upstream.
    let before = r.fake.chat_requests().len();
    let out = r.cli(&["image", "generate", "x", "--aspect-ratio", "7:5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("21:9"), "{}", stderr(&out));
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/generate_image",
        Some(&json!({"prompt": "x", "style": "noir"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "invalid_tool_arguments");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("unknown field `style`"));
    let (status, problem) = r.api("POST", "/v1/tools/draw", Some(&json!({"prompt": "x"})));
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "tool_not_found");
    assert_eq!(r.fake.chat_requests().len(), before);

    // A model the catalog says outputs text only is refused up front.
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/generate_image",
        Some(&json!({"prompt": "x", "model": "meta-llama/llama-3.3-70b-instruct"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "not_an_image_model");

    // The upstream's own failure keeps its code.
    r.fake.push(Reply::error(402, "Insufficient credits"));
    let out = r.cli(&["image", "generate", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("upstream_insufficient_credits"));
}

#[test]
fn speech_mp3_and_pcm_as_wav() {
    let r = rig_with("");
    let out = r.cli(&["audio", "speak", "A fox at dusk.", "--out", "fox.mp3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mp3 = std::fs::read(r.env.root().join("fox.mp3")).unwrap();
    assert_eq!(&mp3[..3], b"ID3");
    let sent = r.requests_to("/audio/speech");
    assert_eq!(
        sent[0].body.as_ref().unwrap(),
        &json!({"model": "hexgrad/kokoro-82m", "input": "A fox at dusk.", "voice": "af_alloy", "response_format": "mp3"})
    );

    let v = r.cli_json(&[
        "audio", "speak", "Dusk.", "--format", "pcm", "--voice", "af_bella", "--speed", "1.25",
        "--out", "dusk.wav",
    ]);
    assert_eq!(v["assets"][0]["media_type"], "audio/wav");
    let wav = std::fs::read(r.env.root().join("dusk.wav")).unwrap();
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize,
        wav.len() - 8
    );
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(
        u16::from_le_bytes(wav[20..22].try_into().unwrap()),
        1,
        "PCM"
    );
    assert_eq!(
        u16::from_le_bytes(wav[22..24].try_into().unwrap()),
        1,
        "mono"
    );
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 24_000);
    assert_eq!(u16::from_le_bytes(wav[34..36].try_into().unwrap()), 16);
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(
        u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize,
        wav.len() - 44
    );
    let body = r.requests_to("/audio/speech")[1].body.clone().unwrap();
    assert_eq!(body["response_format"], "pcm");
    assert_eq!(body["voice"], "af_bella");
    assert_eq!(body["speed"], 1.25);

    // Bad voice / format: refused locally with the rule; upstream errors keep their code.
    let out = r.cli(&["audio", "speak", "x", "--voice", "af alloy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid_voice"), "{}", stderr(&out));
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/generate_audio",
        Some(&json!({"text": "x", "format": "ogg"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "invalid_audio_format");
    r.fake
        .fail_next(MediaEndpoint::Speech, 400, "voice af_nope not found");
    let out = r.cli(&["audio", "speak", "x", "--voice", "af_nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("voice af_nope not found"));
    assert_eq!(r.requests_to("/audio/speech").len(), 3);
}

#[test]
fn capability_off_refuses_direct_calls_and_shows_in_runtime() {
    let r = rig_with("image_generation = false\nvideo_generation = false");
    let (status, problem) = r.api(
        "POST",
        "/v1/tools/generate_image",
        Some(&json!({"prompt": "x"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "image_generation_disabled");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("image_generation = true"));
    let out = r.cli(&["video", "generate", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("video_generation_disabled"));
    assert!(r
        .fake
        .requests()
        .iter()
        .all(|q| !q.path.contains("/videos") && !q.is_chat()));
    let runtime = r.cli_json(&["runtime", "get"]);
    let caps = &runtime["routes"][0]["capabilities"];
    assert_eq!(caps["image_generation"], false);
    assert_eq!(caps["video_generation"], false);
    assert_eq!(caps["image_edit"], true);
    assert_eq!(caps["native_web_search"], false);
    let out = r.cli(&["runtime", "get"]);
    assert!(
        stdout(&out).contains("image_generation=off"),
        "{}",
        stdout(&out)
    );

    // The catalog narrows what the file allows: an image model that outputs only text
    // cannot generate or edit images, and runtime get says why.
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let env = Env::new();
    env.write_routes(&default_routes(
        &fake.base_url(),
        "[routes.openrouter.media]\nimage_model = \"meta-llama/llama-3.3-70b-instruct\"\n",
    ));
    env.store_key_offline();
    let d = env.serve();
    let route = eventually(Duration::from_secs(20), || {
        let out = d.cli(&env, &["--json", "runtime", "get"]);
        let v = json(&stdout(&out));
        let route = v["routes"][0].clone();
        route["capability_notes"].is_array().then_some(route)
    });
    assert_eq!(route["capabilities"]["image_generation"], false);
    assert_eq!(route["capabilities"]["image_edit"], false);
    assert_eq!(
        route["capabilities"]["multimodal_input"], true,
        "gpt-5.4-mini takes images"
    );
    assert!(route["capability_notes"][0]
        .as_str()
        .unwrap()
        .contains("does not output images"));
    let out = d.cli(&env, &["runtime", "get"]);
    assert!(
        stdout(&out).contains("off because image_generation"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn video_goes_pending_in_progress_completed_and_snaps_the_duration() {
    let r = rig_with("");
    r.fake.push_video(VideoScript::new().polls(2, 2));
    let out = r.cli(&[
        "video",
        "generate",
        "a fox runs through snow",
        "--duration",
        "5",
        "--resolution",
        "720p",
        "--aspect-ratio",
        "16:9",
        "--out",
        "fox.mp4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("5 s snapped to 6 s"),
        "the CLI says it snapped: {}",
        stderr(&out)
    );
    let video = std::fs::read(r.env.root().join("fox.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    let create = &r.requests_to("/videos")[0];
    assert_eq!(
        create.body.as_ref().unwrap(),
        &json!({"model": "google/veo-3.1-fast", "prompt": "a fox runs through snow", "duration": 6, "resolution": "720p", "aspect_ratio": "16:9"})
    );
    let polls: Vec<_> = r
        .fake
        .requests()
        .into_iter()
        .filter(|q| q.method == "GET" && q.path.contains("/api/v1/videos/job-"))
        .collect();
    assert_eq!(polls.len(), 5, "2 pending, 2 in_progress, 1 completed");
    let jobs = r.cli_json(&["video", "list"]);
    let job = &jobs["jobs"][0];
    assert_eq!(job["status"], "completed");
    assert_eq!(job["request"]["duration_requested"], 5);
    assert_eq!(job["asset"]["media_type"], "video/mp4");
    assert_eq!(
        r.asset_bytes(job["asset"]["asset_id"].as_str().unwrap()),
        video
    );

    // Frames and references go up as image_url parts with their frame types.
    std::fs::write(r.env.root().join("first.png"), testdata::png_with(2, 2, 40)).unwrap();
    std::fs::write(r.env.root().join("ref.png"), testdata::png_with(2, 2, 41)).unwrap();
    r.fake
        .push_video(VideoScript::new().polls(0, 0).content_endpoint_only());
    let v = r.cli_json(&[
        "video",
        "generate",
        "from a frame",
        "--first-frame",
        "first.png",
        "--reference",
        "ref.png",
        "--duration",
        "8",
    ]);
    assert_eq!(v["status"], "completed");
    let body = r.requests_to("/videos")[1].body.clone().unwrap();
    assert_eq!(body["frame_images"][0]["frame_type"], "first_frame");
    assert_eq!(
        body["frame_images"][0]["image_url"]["url"],
        to_data_url("image/png", &testdata::png_with(2, 2, 40))
    );
    assert_eq!(body["input_references"][0]["type"], "image_url");
    let content = r.requests_to("/content");
    assert_eq!(
        content[0].header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

#[test]
fn failed_and_expired_videos_report_the_upstream_error() {
    let r = rig_with("");
    r.fake.push_video(
        VideoScript::new()
            .polls(1, 1)
            .fails("content policy violation"),
    );
    let out = r.cli(&["video", "generate", "forbidden"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("content policy violation"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("video_failed"));

    r.fake.push_video(
        VideoScript::new()
            .polls(0, 1)
            .expires()
            .absolute_polling_url(),
    );
    let out = r.cli(&["video", "generate", "slow"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "expired is worth retrying: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("video_expired"));
    let absolute_polls = r
        .fake
        .requests()
        .into_iter()
        .filter(|q| q.method == "GET" && q.path.contains("/videos/job-2"))
        .count();
    assert!(absolute_polls >= 2, "the absolute polling URL was followed");

    let jobs = r.cli_json(&["video", "list"]);
    let statuses: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["expired", "failed"]);
    let (status, problem) = r.api("GET", "/v1/videos/vid_nope", None);
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "video_job_not_found");
}

#[test]
fn a_restart_during_polling_resumes_the_job() {
    let r = rig_with("");
    r.fake.push_video(VideoScript::new().polls(8, 2));
    let (status, job) = r.api(
        "POST",
        "/v1/tools/generate_video",
        Some(&json!({"prompt": "a long fox", "duration": 4})),
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["status"], "pending");
    // Wait until polling is under way, then kill the daemon mid-job.
    eventually(Duration::from_secs(20), || {
        let polls = r
            .fake
            .requests()
            .iter()
            .filter(|q| q.method == "GET" && q.path.contains("/videos/job-"))
            .count();
        (polls >= 3).then_some(())
    });
    let Rig { fake, env, mut d } = r;
    d.kill9();
    let polled_before = fake.requests().len();
    let d = env.serve();
    let r = Rig { fake, env, d };
    let out = r.cli(&["video", "status", &id, "--wait", "--out", "resumed.mp4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let video = std::fs::read(r.env.root().join("resumed.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    assert!(
        r.fake.requests().len() > polled_before,
        "polling resumed after the restart"
    );
    let job = r.cli_json(&["video", "status", &id]);
    assert_eq!(job["status"], "completed");
    assert_eq!(job["finished"], true);
    let creates = r
        .requests_to("/videos")
        .iter()
        .filter(|q| q.method == "POST")
        .count();
    assert_eq!(creates, 1, "the job was resumed, not submitted again");
}

#[test]
fn ctrl_c_stops_waiting_and_names_the_job_to_resume() {
    let r = rig_with("");
    r.fake.push_video(VideoScript::new().polls(6, 1));
    let mut cmd = r.d.command(&r.env, &["video", "generate", "a patient fox"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    eventually(Duration::from_secs(20), || {
        r.fake
            .requests()
            .iter()
            .any(|q| q.method == "GET" && q.path.contains("/videos/job-"))
            .then_some(())
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("ferry video status vid_"), "{err}");
    let id = err
        .split("ferry video status ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a job id")
        .to_owned();
    // The job went on in the daemon; resuming the wait finishes it.
    let out = r.cli(&["--json", "video", "status", &id, "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = json(&stdout(&out));
    assert_eq!(job["status"], "completed");
    assert_eq!(job["asset"]["media_type"], "video/mp4");
}

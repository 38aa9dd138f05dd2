//! Issue 6, the tool loop in sessions: a scripted model calls the media tools and
//! `emit_output`; the run's output holds exactly the assets `emit_output` named (or all
//! with `include_artifacts_inline`), tool errors go back to the model, the step bound
//! holds, parallel calls run, video progress streams, and spoken replies are attached.

use ferry_assets::{asset_id, sha256_hex, testdata, MediaType};
use ferry_fake_openrouter::{FakeToolCall, VideoScript};
use ferry_openrouter::media::to_data_url;
use serde_json::{json, Value};

use crate::media::{png_url, rig_on, rig_with};
use crate::sessions::parse_sse;
use crate::support::*;

fn call(id: &str, name: &str, args: Value) -> FakeToolCall {
    FakeToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.to_string(),
    }
}

const CHAT_MODEL: &str = "openai/gpt-5.4-mini";
const IMAGE_MODEL: &str = "google/gemini-3.1-flash-image-preview";

impl Rig {
    fn input(&self, session: &str, text: &str, extra: &[&str]) -> Value {
        let mut args = vec!["sessions", "input", session, text];
        args.extend_from_slice(extra);
        self.cli_json(&args)
    }

    /// The tool messages the model was sent in the `n`th chat request (0-based).
    fn tool_messages(&self, n: usize) -> Vec<Value> {
        let chats: Vec<_> = self
            .fake
            .chat_requests()
            .into_iter()
            .filter(|c| c.body.as_ref().unwrap()["model"] == CHAT_MODEL)
            .collect();
        chats[n].body.as_ref().unwrap()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| {
                let mut m = m.clone();
                m["content"] = serde_json::from_str(m["content"].as_str().unwrap()).unwrap();
                m
            })
            .collect()
    }
}

/// The names of the tools a chat request offered.
fn offered_tools(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn asset_ids(output: &Value) -> Vec<String> {
    output["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "asset")
        .map(|p| p["asset_id"].as_str().unwrap().to_owned())
        .collect()
}

on_every_asset_store!(generate_image_then_emit_output_puts_the_asset_in_the_answer);

fn generate_image_then_emit_output_puts_the_asset_in_the_answer(store: AssetBackend) {
    let r = rig_on(store, "");
    let png = testdata::png_with(4, 4, 9);
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c1",
            "generate_image",
            json!({"prompt": "a fox at dusk", "aspect_ratio": "3:2"}),
        )]),
    );
    r.fake.push_for_model(
        IMAGE_MODEL,
        Reply::images(vec![to_data_url("image/png", &png)]),
    );
    // Asset ids are derived from the bytes and type, so the script can name it up front.
    let id = asset_id(&sha256_hex(&png), MediaType::ImagePng);
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c2",
            "emit_output",
            json!({"content": "Here is your fox.", "parts": [{"type": "asset", "asset_id": id}]}),
        )]),
    );
    let out_dir = r.env.root().join("saved");
    let run = r.input(
        "art",
        "draw a fox at dusk",
        &["--save-dir", out_dir.to_str().unwrap()],
    );
    assert_eq!(run["status"], "completed");
    let output = &run["output"];
    assert_eq!(output["source"], "emit_output");
    assert_eq!(output["text"], "Here is your fox.");
    assert_eq!(asset_ids(output), vec![id.clone()]);
    assert_eq!(output["parts"][1]["media_type"], "image/png");
    assert_eq!(
        std::fs::read(out_dir.join(format!("{id}.png"))).unwrap(),
        png,
        "--save-dir wrote the answer's asset"
    );
    // The image request, and the tool result the model saw.
    let image_req = r
        .fake
        .chat_requests()
        .into_iter()
        .find(|c| c.body.as_ref().unwrap()["model"] == IMAGE_MODEL)
        .unwrap();
    assert_eq!(
        image_req.body.as_ref().unwrap()["image_config"]["aspect_ratio"],
        "3:2"
    );
    let offered = offered_tools(&r.fake.chat_requests()[0].body.clone().unwrap());
    assert_eq!(
        offered,
        vec![
            "generate_image",
            "edit_image",
            "generate_audio",
            "transcribe_audio",
            "generate_video",
            "emit_output"
        ]
    );
    let tools = r.tool_messages(1);
    assert_eq!(tools[0]["tool_call_id"], "c1");
    assert_eq!(tools[0]["content"]["ok"], true);
    assert_eq!(tools[0]["content"]["assets"][0]["asset_id"], id.as_str());
    assert_eq!(tools[0]["content"]["assets"][0]["media_type"], "image/png");
    assert_eq!(tools[0]["content"]["prompt"], "a fox at dusk");
    // History keeps the whole turn for the next input.
    let history = r.cli_json(&["sessions", "show", "art"])["messages"].clone();
    let roles: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        vec!["user", "assistant", "tool", "assistant", "tool"]
    );
    // Events: tool lifecycle and asset.created.
    let events = sse_events(&r, run["id"].as_str().unwrap());
    let kinds: Vec<&str> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    for k in [
        "tool.started",
        "asset.created",
        "tool.completed",
        "run.completed",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let created = events
        .iter()
        .find(|(_, k, _)| k == "asset.created")
        .unwrap();
    assert_eq!(created.2["asset_id"], id.as_str());
}

fn sse_events(r: &Rig, run_id: &str) -> Vec<(u64, String, Value)> {
    let (status, body) = http(
        r.d.port,
        "GET",
        &format!("/v1/runs/{run_id}/events?follow=false"),
        &[("Accept", "text/event-stream")],
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    parse_sse(&body)
}

#[test]
fn without_emit_output_the_asset_exists_but_is_not_in_the_answer() {
    let r = rig_with("");
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c1",
            "generate_image",
            json!({"prompt": "a fox"}),
        )]),
    );
    r.fake
        .push_for_model(IMAGE_MODEL, Reply::images(vec![png_url(1)]));
    r.fake
        .push_for_model(CHAT_MODEL, Reply::text("I drew a fox for you."));
    let run = r.input("plain", "draw a fox", &[]);
    let output = &run["output"];
    assert_eq!(output["text"], "I drew a fox for you.");
    assert_eq!(output["source"], "model");
    assert!(output.get("parts").is_none(), "{output}");
    let assets = r.cli_json(&["assets", "list", "--source", "generated"]);
    assert_eq!(
        assets["assets"].as_array().unwrap().len(),
        1,
        "the asset exists"
    );
}

#[test]
fn include_artifacts_inline_and_parallel_calls() {
    let r = rig_with("");
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![
            call("c1", "generate_image", json!({"prompt": "a fox"})),
            call("c2", "generate_audio", json!({"text": "A fox at dusk."})),
        ]),
    );
    r.fake
        .push_for_model(IMAGE_MODEL, Reply::images(vec![png_url(5)]));
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![call(
            "c3",
            "emit_output",
            json!({"content": "A fox and a poem.", "include_artifacts_inline": true}),
        )]),
    );
    let out = r.cli(&["sessions", "input", "both", "draw a fox and read me a poem"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("A fox and a poem."), "{text}");
    assert!(
        text.contains("image/png") && text.contains("audio/mpeg"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("[generate_image done: ast_"),
        "{}",
        stderr(&out)
    );
    let runs = r.api("GET", "/v1/sessions/both/runs", None).1;
    let output = &runs["runs"][0]["output"];
    let types: Vec<&str> = output["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["media_type"].as_str())
        .collect();
    assert_eq!(types, vec!["image/png", "audio/mpeg"]);
    let tools = r.tool_messages(1);
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["tool_call_id"], "c1");
    assert_eq!(tools[1]["tool_call_id"], "c2");
    assert_eq!(tools[1]["content"]["assets"][0]["media_type"], "audio/mpeg");
}

#[test]
fn bad_arguments_and_unknown_assets_go_back_to_the_model() {
    let r = rig_with("");
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::tool_calls(vec![
            call("c1", "generate_image", json!({"size": "huge"})),
            FakeToolCall {
                id: "c2".into(),
                name: "generate_audio".into(),
                arguments: "{not json".into(),
            },
            call(
                "c3",
                "emit_output",
                json!({"parts": [{"type": "asset", "asset_id": "ast_missing"}]}),
            ),
        ]),
    );
    r.fake.push_for_model(
        CHAT_MODEL,
        Reply::text("Sorry, let me just answer in words."),
    );
    let run = r.input("oops", "draw", &[]);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["output"]["text"], "Sorry, let me just answer in words.");
    let tools = r.tool_messages(1);
    assert_eq!(tools.len(), 3);
    for t in &tools {
        assert_eq!(t["content"]["ok"], false, "{t}");
        assert_eq!(t["content"]["error"]["code"], "invalid_tool_arguments");
    }
    assert!(tools[0]["content"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `size`"));
    assert!(tools[1]["content"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert!(tools[2]["content"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ast_missing"));
    assert!(
        r.fake
            .chat_requests()
            .iter()
            .all(|c| c.body.as_ref().unwrap()["model"] == CHAT_MODEL),
        "no image request was made for bad arguments"
    );
    let events = sse_events(&r, run["id"].as_str().unwrap());
    let failed = events
        .iter()
        .filter(|(_, k, d)| k == "tool.completed" && d["ok"] == false)
        .count();
    assert_eq!(failed, 3);
}

#[test]
fn the_step_limit_fails_the_run_clearly() {
    let r = rig_with("max_tool_steps = 2");
    for i in 0..3 {
        r.fake.push_for_model(
            CHAT_MODEL,
            Reply::tool_calls(vec![call(
                &format!("c{i}"),
                "transcribe_audio",
                json!({"asset_id": "ast_none"}),
            )]),
        );
    }
    let out = r.cli(&["sessions", "input", "loop", "keep going"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tool_steps_exceeded"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("max_tool_steps"), "{}", stderr(&out));
    assert_eq!(
        r.fake.chat_requests().len(),
        2,
        "bounded at two model calls"
    );
    let runs = r.api("GET", "/v1/sessions/loop/runs", None).1;
    assert_eq!(runs["runs"][0]["status"], "failed");
    assert_eq!(runs["runs"][0]["error"]["code"], "tool_steps_exceeded");
    let history = r.api("GET", "/v1/sessions/loop/messages", None).1;
    assert!(
        history["messages"].as_array().unwrap().is_empty(),
        "a failed run adds no history"
    );
}

#[test]
fn capabilities_decide_which_tools_are_offered() {
    let r = rig_with("image_generation = false\nimage_edit = false\naudio_generation = false\ntranscription = false\nvideo_generation = false");
    r.fake.push(Reply::text("plain"));
    r.input("none", "hi", &[]);
    let body = r.fake.chat_requests()[0].body.clone().unwrap();
    assert!(
        body.get("tools").is_none(),
        "no media capability: no tools: {body}"
    );

    let r = rig_with("video_generation = false\naudio_generation = false");
    r.fake.push(Reply::tool_calls(vec![call(
        "c1",
        "generate_video",
        json!({"prompt": "x"}),
    )]));
    r.fake.push(Reply::text("ok"));
    let run = r.input("some", "film it", &[]);
    let offered = offered_tools(&r.fake.chat_requests()[0].body.clone().unwrap());
    assert_eq!(
        offered,
        vec![
            "generate_image",
            "edit_image",
            "transcribe_audio",
            "emit_output"
        ]
    );
    assert_eq!(run["status"], "completed");
    let tools = r.tool_messages(1);
    assert_eq!(
        tools[0]["content"]["error"]["code"],
        "video_generation_disabled"
    );
    let out = r.cli(&["sessions", "input", "some", "speak", "--speak"]);
    assert_eq!(out.status.code(), Some(2), "--speak needs audio_generation");
    assert!(stderr(&out).contains("audio_generation_disabled"));
}

#[test]
fn video_tool_streams_progress_events() {
    let r = rig_with("");
    r.fake.push_video(VideoScript::new().polls(2, 2));
    r.fake.push(Reply::tool_calls(vec![call(
        "v1",
        "generate_video",
        json!({"prompt": "a fox runs", "duration": 7}),
    )]));
    r.fake.push(Reply::tool_calls(vec![call(
        "e1",
        "emit_output",
        json!({"include_artifacts_inline": true}),
    )]));
    let run = r.input("film", "film a fox", &[]);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["output"]["parts"][0]["media_type"], "video/mp4");
    let events = sse_events(&r, run["id"].as_str().unwrap());
    let statuses: Vec<&str> = events
        .iter()
        .filter(|(_, k, d)| k == "tool.progress" && d["changed"] == true)
        .map(|(_, _, d)| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["pending", "in_progress"]);
    assert!(events
        .iter()
        .filter(|(_, k, _)| k == "tool.progress")
        .all(|(_, _, d)| d["elapsed_ms"].is_u64() && d["name"] == "generate_video"));
    let tools = r.tool_messages(1);
    assert_eq!(tools[0]["content"]["duration"], 8, "7 s snapped to 8 s");
    let create = r
        .fake
        .requests()
        .into_iter()
        .find(|q| q.method == "POST" && q.path.ends_with("/videos"))
        .unwrap();
    assert_eq!(create.body.unwrap()["duration"], 8);
}

#[test]
fn spoken_replies_attach_audio_per_input_session_and_route() {
    let r = rig_with("");
    r.fake.push(Reply::text("A fox at dusk, quiet and red."));
    let dir = r.env.root().join("speech");
    let out = r.cli(&[
        "sessions",
        "input",
        "talk",
        "a poem",
        "--speak",
        "--save-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = r.api("GET", "/v1/sessions/talk/runs", None).1;
    let output = &runs["runs"][0]["output"];
    assert_eq!(output["speech"]["media_type"], "audio/mpeg");
    assert_eq!(output["parts"][0]["text"], "A fox at dusk, quiet and red.");
    let audio_id = output["speech"]["asset_id"].as_str().unwrap();
    let saved = std::fs::read(dir.join(format!("{audio_id}.mp3"))).unwrap();
    assert_eq!(&saved[..3], b"ID3");
    let speech = r
        .fake
        .requests()
        .into_iter()
        .find(|q| q.path.ends_with("/audio/speech"))
        .unwrap();
    assert_eq!(
        speech.body.unwrap()["input"],
        "A fox at dusk, quiet and red."
    );

    // Session setting always; --no-speak overrides it for one input.
    let out = r.cli(&["sessions", "set", "talk", "--speak-replies", "always"]);
    assert!(out.status.success(), "{}", stderr(&out));
    r.fake.push(Reply::text("Second."));
    let run = r.input("talk", "again", &[]);
    assert!(run["output"]["speech"].is_object());
    r.fake.push(Reply::text("Third."));
    let run = r.input("talk", "quietly", &["--no-speak"]);
    assert!(run["output"].get("speech").is_none());

    // Route setting, with PCM stored as WAV; a failing TTS keeps the answer.
    let r = rig_with("speak_replies = \"always\"");
    r.fake.push(Reply::text("Spoken by default."));
    let run = r.input("route", "hi", &[]);
    assert_eq!(run["output"]["speech"]["media_type"], "audio/mpeg");
    r.fake.fail_next(
        ferry_fake_openrouter::MediaEndpoint::Speech,
        400,
        "voice unknown",
    );
    r.fake.push(Reply::text("Still answered."));
    let run = r.input("route", "hi again", &[]);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["output"]["text"], "Still answered.");
    assert_eq!(
        run["output"]["speech_error"]["code"],
        "upstream_bad_request"
    );
}

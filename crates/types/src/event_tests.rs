//! Every event kind against the exact wire JSON the engine sent before the events were
//! typed (the `json!` literals of run.rs, tool_loop.rs, facade/record.rs and engine.rs).

use serde_json::{json, Value};

use super::*;

/// `event` serialises to exactly (`kind`, `wire`), field order included, and reads back.
fn round_trips(event: RunEvent, kind: &str, wire: Value) {
    assert_eq!(event.kind(), kind);
    let text = serde_json::to_string(&event.payload()).unwrap();
    assert_eq!(text, serde_json::to_string(&wire).unwrap(), "{kind}");
    assert_eq!(event.payload_value(), wire);
    let back = RunEvent::from_wire(kind, wire.clone()).unwrap();
    assert_eq!(back, event);
    let tagged = serde_json::to_value(&event).unwrap();
    assert_eq!(tagged, json!({"event": kind, "data": wire}));
    assert_eq!(serde_json::from_value::<RunEvent>(tagged).unwrap(), event);
}

#[test]
fn run_started_of_a_session_run_and_of_a_facade_call() {
    round_trips(
        RunEvent::RunStarted(RunStarted {
            run_id: "run_1".into(),
            session_id: "s".into(),
            route: "openrouter".into(),
            model: "m/a".into(),
            api: None,
        }),
        "run.started",
        json!({"run_id": "run_1", "session_id": "s", "route": "openrouter", "model": "m/a"}),
    );
    round_trips(
        RunEvent::RunStarted(RunStarted {
            run_id: "run_1".into(),
            session_id: "openai".into(),
            route: "openrouter".into(),
            model: "m/a".into(),
            api: Some("openai".into()),
        }),
        "run.started",
        json!({"run_id": "run_1", "session_id": "openai", "route": "openrouter", "model": "m/a", "api": "openai"}),
    );
}

#[test]
fn deltas() {
    round_trips(
        RunEvent::OutputDelta(TextDelta { text: "Hel".into() }),
        "output.delta",
        json!({"text": "Hel"}),
    );
    round_trips(
        RunEvent::ReasoningDelta(TextDelta { text: "hm".into() }),
        "reasoning.delta",
        json!({"text": "hm"}),
    );
}

#[test]
fn tool_started_with_json_and_with_unparsable_arguments() {
    round_trips(
        RunEvent::ToolStarted(ToolStarted {
            call_id: "call_1".into(),
            name: "generate_image".into(),
            args: json!({"prompt": "a fox"}),
        }),
        "tool.started",
        json!({"call_id": "call_1", "name": "generate_image", "args": {"prompt": "a fox"}}),
    );
    round_trips(
        RunEvent::ToolStarted(ToolStarted {
            call_id: "call_1".into(),
            name: "generate_image".into(),
            args: json!("{not json"),
        }),
        "tool.started",
        json!({"call_id": "call_1", "name": "generate_image", "args": "{not json"}),
    );
}

#[test]
fn tool_progress() {
    round_trips(
        RunEvent::ToolProgress(ToolProgress {
            call_id: "call_1".into(),
            name: "generate_video".into(),
            status: "in_progress".into(),
            elapsed_ms: 1500,
            job_id: "vid_1".into(),
            changed: true,
        }),
        "tool.progress",
        json!({"call_id": "call_1", "name": "generate_video", "status": "in_progress", "elapsed_ms": 1500, "job_id": "vid_1", "changed": true}),
    );
}

#[test]
fn tool_completed_ok_and_failed() {
    round_trips(
        RunEvent::ToolCompleted(ToolCompleted::succeeded(
            "call_1",
            "generate_image",
            vec!["ast_1".into()],
        )),
        "tool.completed",
        json!({"call_id": "call_1", "name": "generate_image", "ok": true, "asset_ids": ["ast_1"]}),
    );
    round_trips(
        RunEvent::ToolCompleted(ToolCompleted::failed(
            "call_2",
            "emit_output",
            ToolError {
                code: ProblemCode::InvalidToolArguments,
                message: "parts[0] has no type".into(),
            },
        )),
        "tool.completed",
        json!({"call_id": "call_2", "name": "emit_output", "ok": false, "asset_ids": [], "error": {"code": "invalid_tool_arguments", "message": "parts[0] has no type"}}),
    );
}

#[test]
fn asset_created() {
    round_trips(
        RunEvent::AssetCreated(AssetCreated {
            asset_id: "ast_1".into(),
            media_type: "image/png".into(),
            size: 42,
            tool: "generate_image".into(),
            call_id: "call_1".into(),
        }),
        "asset.created",
        json!({"asset_id": "ast_1", "media_type": "image/png", "size": 42, "tool": "generate_image", "call_id": "call_1"}),
    );
}

#[test]
fn run_completed_with_usage_and_without() {
    round_trips(
        RunEvent::RunCompleted(RunCompleted {
            output: json!({"text": "hi"}).into(),
            usage: UsageObject::from_value(&json!({"prompt_tokens": 3, "completion_tokens": 1}))
                .map(Into::into),
            cost: Some(0.5),
            model: Some("m/a".into()),
            duration_ms: 12,
        }),
        "run.completed",
        json!({"output": {"text": "hi"}, "usage": {"prompt_tokens": 3, "completion_tokens": 1}, "cost": 0.5, "model": "m/a", "duration_ms": 12}),
    );
    round_trips(
        RunEvent::RunCompleted(RunCompleted {
            output: Value::Null.into(),
            usage: None,
            cost: None,
            model: None,
            duration_ms: 0,
        }),
        "run.completed",
        json!({"output": null, "usage": null, "cost": null, "model": null, "duration_ms": 0}),
    );
}

#[test]
fn run_failed_with_status_and_the_short_form() {
    round_trips(
        RunEvent::RunFailed(RunEnded {
            code: ProblemCode::UpstreamTimeout,
            message: "timed out".into(),
            status: Some(504),
            retryable: Some(true),
        }),
        "run.failed",
        json!({"code": "upstream_timeout", "message": "timed out", "status": 504, "retryable": true}),
    );
    round_trips(
        RunEvent::RunFailed(RunEnded::new(ProblemCode::Interrupted, "ferry stopped")),
        "run.failed",
        json!({"code": "interrupted", "message": "ferry stopped"}),
    );
}

#[test]
fn run_cancelled() {
    round_trips(
        RunEvent::RunCancelled(RunEnded::new(
            ProblemCode::RunCancelled,
            "the run was cancelled",
        )),
        "run.cancelled",
        json!({"code": "run_cancelled", "message": "the run was cancelled"}),
    );
}

#[test]
fn every_kind_is_covered_and_only_the_ends_are_terminal() {
    let terminal: Vec<&str> = RunEvent::KINDS
        .iter()
        .copied()
        .filter(|k| k.starts_with("run.") && *k != "run.started")
        .collect();
    assert_eq!(terminal, ["run.completed", "run.failed", "run.cancelled"]);
    let ended = RunEvent::RunFailed(RunEnded::new(ProblemCode::Interrupted, "x"));
    assert!(ended.is_terminal());
    assert!(!RunEvent::OutputDelta(TextDelta { text: "x".into() }).is_terminal());
}

#[test]
fn a_wrong_kind_or_payload_is_an_error_naming_it() {
    let err = RunEvent::from_wire("run.exploded", json!({})).unwrap_err();
    assert_eq!(err.to_string(), "`run.exploded` is not a run event kind");
    let err = RunEvent::from_wire("output.delta", json!({"txt": "x"})).unwrap_err();
    assert!(err.to_string().contains("`output.delta`"), "{err}");
    assert!(err.to_string().contains("text"), "{err}");
}

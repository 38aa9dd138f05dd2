//! Engine tests over an in-memory provider (`memory`): the tool loop, fallbacks before
//! output, cancellation mid-stream and drain with a run in flight — no HTTP, no server.

mod memory;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::{
    Engine, EngineConfig, Event, InputRequest, SecretsHandle, SubmitOptions, Subscription,
};
use ferry_openrouter::{ChatOutcome, Provider, RetryPolicy, StreamEvent, ToolCall};
use ferry_store::{RunStatus, Store};
use memory::{failure, reply, text, Memory, Step};
use serde_json::{json, Value};

const KEY_VAR: &str = "FERRY_ENGINE_MEMORY_TEST_KEY";
/// A 1×1 PNG.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// An engine whose one route (`mem`, models `a/first` then fallback `b/second`) is
/// served by `provider`.
async fn engine(provider: Arc<Memory>, root: &std::path::Path) -> Engine {
    std::env::set_var(KEY_VAR, "sk-or-v1-memory-test");
    let text = format!(
        "version = 1\n[routes.mem]\ndefault_model = \"a/first\"\nfallbacks = [\"b/second\"]\napi_key_env = \"{KEY_VAR}\"\nbase_url = \"http://127.0.0.1:9/api/v1\"\ntimeout_ms = 5000\n"
    );
    let routes = ferry_config::parse_routes(&text, &root.join("routes.toml")).unwrap();
    let store = Store::open(root).unwrap();
    let secrets = SecretsHandle::open(root.to_path_buf(), None).unwrap();
    let config = EngineConfig {
        workspace_root: root.to_path_buf(),
        probe_interval: Duration::ZERO,
        ..EngineConfig::new(root)
    };
    let no_retries = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    let providers = BTreeMap::from([("mem".to_string(), provider as Arc<dyn Provider>)]);
    Engine::start_with_providers(
        routes,
        Arc::new(store),
        secrets,
        no_retries,
        config,
        providers,
    )
    .await
    .unwrap()
    .0
}

async fn submit(engine: &Engine, session: &str, content: &str) -> String {
    submit_input(engine, session, content, true).await
}

/// Submits `content` to `session`, waiting for the insert (`ack_after_insert`, as a
/// blocking input does) or not (as a stream's handler does).
async fn submit_input(engine: &Engine, session: &str, content: &str, ack: bool) -> String {
    let input = InputRequest {
        content: Some(content.to_string()),
        ..InputRequest::default()
    };
    let opts = SubmitOptions {
        queue_if_busy: true,
        ack_after_insert: ack,
        ..SubmitOptions::default()
    };
    engine.submit(session, input, opts).await.unwrap().run_id
}

async fn events(engine: &Engine, run_id: &str) -> Vec<Event> {
    engine.subscribe(run_id, 0).await.unwrap().replay
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind()).collect()
}

#[tokio::test]
async fn a_tool_call_runs_and_its_result_is_fed_back_to_the_model() {
    let call = ToolCall {
        id: "call_1".into(),
        name: "generate_image".into(),
        arguments: json!({"prompt": "a fox at dusk"}).to_string(),
    };
    let asks_for_a_tool = reply(
        Vec::new(),
        Ok(ChatOutcome {
            message: json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": call.name, "arguments": call.arguments}}]}),
            tool_calls: vec![call],
            finish_reason: Some("tool_calls".into()),
            ..ChatOutcome::default()
        }),
    );
    let image = reply(
        Vec::new(),
        Ok(ChatOutcome {
            message: json!({"role": "assistant", "content": "", "images": [
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}}]}),
            ..ChatOutcome::default()
        }),
    );
    let provider = Memory::new(vec![asks_for_a_tool, image, text("here is your fox")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit(&engine, "tools", "draw a fox").await;
    let (run, terminal) = engine.wait_terminal(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{terminal:?}");
    assert_eq!(
        terminal.unwrap().payload_value()["output"]["text"],
        "here is your fox"
    );

    let requests = provider.requests();
    assert_eq!(requests.len(), 3, "model, image tool, model again");
    let offered: Vec<&str> = requests[0]
        .tools
        .as_ref()
        .expect("tools offered")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(offered.contains(&"generate_image"), "{offered:?}");
    assert!(requests[1].messages.to_vec().unwrap()[0]["content"]
        .to_string()
        .contains("a fox at dusk"));
    // The model's second call sees its tool call and the tool's result.
    let fed_back = requests[2].messages.to_vec().unwrap();
    let n = fed_back.len();
    assert_eq!(fed_back[n - 2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(fed_back[n - 1]["role"], "tool");
    assert_eq!(fed_back[n - 1]["tool_call_id"], "call_1");
    let result: Value = serde_json::from_str(fed_back[n - 1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["ok"], true, "{result}");
    let asset_id = result["assets"][0]["asset_id"].as_str().unwrap();
    assert_eq!(result["assets"][0]["media_type"], "image/png");

    let events = events(&engine, &run_id).await;
    let k = kinds(&events);
    for kind in [
        "tool.started",
        "asset.created",
        "tool.completed",
        "run.completed",
    ] {
        assert!(k.contains(&kind), "{kind} missing from {k:?}");
    }
    let created = events.iter().find(|e| e.kind() == "asset.created").unwrap();
    assert_eq!(created.event.payload_value()["asset_id"], asset_id);
    // The whole turn is history: user, tool call, tool result, answer.
    assert_eq!(engine.store().history("tools").await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_failure_before_output_falls_back_to_the_next_model() {
    let provider = Memory::new(vec![failure(503, "a/first"), text("from the fallback")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit(&engine, "fallback", "hello").await;
    let (run, terminal) = engine.wait_terminal(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{terminal:?}");
    assert_eq!(
        terminal.unwrap().payload_value()["output"]["text"],
        "from the fallback"
    );
    let models: Vec<String> = provider.requests().into_iter().map(|r| r.model).collect();
    assert_eq!(models, ["a/first", "b/second"]);
    assert_eq!(run.model_served.as_deref(), Some("b/second"));
}

#[tokio::test]
async fn a_failure_after_output_does_not_fall_back() {
    let mut broken = failure(502, "a/first");
    if let Step::Reply(events, result) = &mut broken {
        events.push(StreamEvent::Text("half an ans".into()));
        if let Err(e) = result.as_mut() {
            e.output_started = true;
        }
    }
    let provider = Memory::new(vec![broken, text("never asked")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit(&engine, "no-fallback", "hello").await;
    let (run, _) = engine.wait_terminal(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(provider.requests().len(), 1, "no second model after output");
    let events = events(&engine, &run_id).await;
    assert!(kinds(&events).contains(&"output.delta"));
    assert_eq!(events.last().unwrap().kind(), "run.failed");
}

#[tokio::test]
async fn a_cancel_mid_stream_aborts_the_call_and_ends_the_run_cancelled() {
    let provider = Memory::new(vec![Step::Hang(vec![StreamEvent::Text("partial".into())])]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit(&engine, "cancel", "tell me a long story").await;
    provider.hanging.notified().await;
    let run = engine.cancel(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(
        provider.aborted.load(Ordering::SeqCst),
        "the upstream call was dropped"
    );
    let events = events(&engine, &run_id).await;
    let deltas: Vec<Value> = events
        .iter()
        .filter(|e| e.kind() == "output.delta")
        .map(|e| e.event.payload_value()["text"].clone())
        .collect();
    assert_eq!(deltas, [json!("partial")]);
    assert_eq!(events.last().unwrap().kind(), "run.cancelled");
}

#[tokio::test]
async fn drain_interrupts_a_run_still_in_flight_when_the_grace_ends_and_leaves_no_task() {
    let provider = Memory::new(vec![Step::Hang(vec![StreamEvent::Text(
        "still going".into(),
    )])]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit(&engine, "drain", "go on forever").await;
    provider.hanging.notified().await;
    assert!(
        engine.tracked_tasks() > 0,
        "the session worker runs on the tracker"
    );
    engine.drain(Duration::from_millis(200)).await;
    // Drain waits a bounded time after the grace for the interrupted run's end to be
    // written; on a loaded machine that write may finish just after, on its own.
    let settled = tokio::time::timeout(Duration::from_secs(5), async {
        while engine.tracked_tasks() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "{} tasks left after drain",
        engine.tracked_tasks()
    );
    assert!(provider.aborted.load(Ordering::SeqCst));
    let run = engine.get_run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let events = engine.store().events_after(&run_id, 0).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, "run.failed");
    assert_eq!(last.data["code"], "interrupted");
    engine.close().await;
}

/// Two inputs sent together to a session that does not exist yet: one creates it, and
/// the run queued behind it still starts from the history the first run left.
#[tokio::test]
async fn inputs_sent_together_to_a_new_session_see_the_history_before_them() {
    let provider = Memory::new(vec![text("first answer"), text("second answer")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let (a, b) = tokio::join!(
        submit(&engine, "pair", "first question"),
        submit(&engine, "pair", "second question")
    );
    for id in [&a, &b] {
        let (run, terminal) = engine.wait_terminal(id).await.unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{terminal:?}");
    }
    let requests = provider.requests();
    assert_eq!(requests.len(), 2);
    let contents = |i: usize| -> Vec<String> {
        requests[i]
            .messages
            .to_vec()
            .unwrap()
            .iter()
            .filter_map(|m| m["content"].as_str().map(str::to_owned))
            .collect()
    };
    // Whichever ran second saw the first's question and answer before its own.
    let (first, second) = (contents(0), contents(1));
    assert!(!first.iter().any(|c| c.ends_with("answer")), "{first:?}");
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(second[1], "first answer", "{second:?}");
}

/// A pinned session's input runs on its pin, its system prompt applied: the engine plans
/// for an unpinned session first and plans again for the pin the creation found.
#[tokio::test]
async fn a_pinned_session_runs_on_its_pin_with_its_prompt() {
    let provider = Memory::new(vec![text("pinned answer")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    engine
        .create_session(ferry_store::NewSession {
            id: "pinned".into(),
            pinned_selector: Some("mem/b/second".into()),
            system_prompt: Some("answer in haiku".into()),
        })
        .await
        .unwrap();
    let run_id = submit(&engine, "pinned", "hello").await;
    let (run, terminal) = engine.wait_terminal(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{terminal:?}");
    assert_eq!(run.model_requested.as_deref(), Some("b/second"));
    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].model, "b/second");
    assert!(
        requests[0]
            .messages
            .to_vec()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "system"
                && m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("answer in haiku"))),
        "{:?}",
        requests[0].messages
    );
    // The creation that found the pin inserted nothing itself: one run in the session.
    let view = engine.session_view("pinned").await.unwrap();
    assert_eq!(view.totals.runs, 1);
}

/// A streamed input as the session handler submits it (no wait for the insert).
async fn submit_streamed(engine: &Engine, session: &str, content: &str) -> String {
    submit_input(engine, session, content, false).await
}

/// Follows `run_id` as a stream's handler does: subscribes, then waits (at most 5 s) for
/// the run to be under way.
async fn follow_once_under_way(engine: &Engine, run_id: &str) -> Subscription {
    let sub = engine.subscribe(run_id, 0).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), sub.hub.under_way())
        .await
        .expect("the run gets under way");
    sub
}

/// A stream's handler answers once its run is under way: by then the run is stored and
/// started and its model call has been made, so the client's first write follows the
/// upstream request instead of going ahead of it.
#[tokio::test]
async fn a_streamed_run_is_under_way_once_its_model_call_is_out() {
    let provider = Memory::new(vec![Step::Hang(Vec::new())]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let run_id = submit_streamed(&engine, "first-write", "hello").await;
    assert!(
        provider.requests().is_empty(),
        "nothing is sent at submission"
    );
    let sub = follow_once_under_way(&engine, &run_id).await;
    assert_eq!(
        provider.requests().len(),
        1,
        "the model call was made first"
    );
    assert_eq!(kinds(&sub.hub.events_after(0)), ["run.started"]);
    engine.cancel(&run_id).await.unwrap();
}

/// A streamed input queued behind its session's run in progress is under way at once:
/// its headers do not wait for the earlier run to end.
#[tokio::test]
async fn a_streamed_run_waiting_in_line_is_under_way_at_once() {
    let provider = Memory::new(vec![Step::Hang(Vec::new()), text("second answer")]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    let first = submit(&engine, "line", "take your time").await;
    provider.hanging.notified().await;
    let second = submit_streamed(&engine, "line", "and then me").await;
    let sub = follow_once_under_way(&engine, &second).await;
    assert_eq!(
        provider.requests().len(),
        1,
        "the second run has not started"
    );
    assert!(sub.hub.events_after(0).is_empty());
    engine.cancel(&first).await.unwrap();
    let (run, terminal) = engine.wait_terminal(&second).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{terminal:?}");
}

/// A run whose insert fails is under way with its terminal event: a stream's handler
/// answers with the failure instead of waiting.
#[tokio::test]
async fn a_streamed_run_that_cannot_be_stored_is_under_way_with_its_failure() {
    let provider = Memory::new(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(provider.clone(), dir.path()).await;
    engine.store().close().await;
    let run_id = submit_streamed(&engine, "no-disk", "hello").await;
    let sub = follow_once_under_way(&engine, &run_id).await;
    assert!(provider.requests().is_empty(), "nothing was sent upstream");
    let events = sub.hub.events_after(0);
    assert_eq!(kinds(&events), ["run.failed"]);
}

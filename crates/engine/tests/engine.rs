//! Engine-level tests against the fake upstream: durability guarantees that are hard to
//! provoke through the binary.

use std::time::Duration;

use ferry_engine::{Engine, EngineConfig, InputRequest, SecretsHandle, SubmitOptions};
use ferry_fake_openrouter::{FakeOpenRouter, Gate, Reply};
use ferry_openrouter::RetryPolicy;
use ferry_store::{RunStatus, Store};

const KEY_VAR: &str = "FERRY_ENGINE_TEST_KEY";

async fn engine(fake: &FakeOpenRouter, root: &std::path::Path) -> Engine {
    std::env::set_var(KEY_VAR, "sk-or-v1-engine-test");
    let text = format!(
        "version = 1\n[routes.openrouter]\ndefault_model = \"openai/gpt-5.4-mini\"\napi_key_env = \"{KEY_VAR}\"\nbase_url = \"{}\"\ntimeout_ms = 5000\n",
        fake.base_url()
    );
    let routes = ferry_config::parse_routes(&text, &root.join("routes.toml")).unwrap();
    let store = Store::open(root).unwrap();
    let secrets = SecretsHandle::open(root.to_path_buf(), None).unwrap();
    let config = EngineConfig {
        workspace_root: root.to_path_buf(),
        ..EngineConfig::new(root)
    };
    Engine::start(
        routes,
        std::sync::Arc::new(store),
        secrets,
        RetryPolicy::default(),
        config,
    )
    .await
    .unwrap()
    .0
}

fn input(text: &str) -> InputRequest {
    InputRequest {
        content: Some(text.to_string()),
        ..InputRequest::default()
    }
}

#[tokio::test]
async fn a_run_whose_result_cannot_be_stored_never_reports_completion() {
    let fake = FakeOpenRouter::start();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&fake, dir.path()).await;
    let gate = Gate::new();
    fake.push(Reply::gated(
        gate.clone(),
        Reply::text("an answer nobody will store"),
    ));
    let submitted = engine
        .submit(
            "s",
            input("hi"),
            SubmitOptions {
                queue_if_busy: true,
                ack_after_insert: true,
                ..SubmitOptions::default()
            },
        )
        .await
        .unwrap();
    let mut sub = engine.subscribe(&submitted.run_id, 0).await.unwrap();
    // The store goes away (as on a dead disk) while the answer is still streaming.
    engine.close().await;
    gate.open();
    let mut rx = sub.live.take().unwrap();
    let terminal = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ev = rx.recv().await.unwrap();
            if ev.is_terminal() {
                return ev;
            }
        }
    })
    .await
    .unwrap();
    let data = terminal.event.payload_value();
    assert_eq!(terminal.kind(), "run.failed");
    assert_eq!(data["code"], "storage_error");
    assert!(data["message"]
        .as_str()
        .unwrap()
        .contains("could not be stored"));
}

#[tokio::test]
async fn streaming_submission_starts_before_the_insert_commits_and_everything_is_stored() {
    let fake = FakeOpenRouter::start();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&fake, dir.path()).await;
    let submitted = engine
        .submit(
            "fast",
            input("hello"),
            SubmitOptions {
                queue_if_busy: true,
                ack_after_insert: false,
                ..SubmitOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(submitted.run.is_none());
    let (run, terminal) = engine.wait_terminal(&submitted.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(
        terminal.unwrap().payload_value()["output"]["text"],
        "echo: hello"
    );
    let events = engine.store().events_after(&run.id, 0).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run.started"));
    assert_eq!(kinds.last(), Some(&"run.completed"));
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(engine.store().history("fast").await.unwrap().len(), 2);
}

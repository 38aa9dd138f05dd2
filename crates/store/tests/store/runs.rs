//! Runs: idempotent insertion, transitions, finishing with history, recovery.

use ferry_store::{InsertOutcome, NewRun, RunFinish, RunStatus, StoreError};
use serde_json::{json, Value};

use crate::support::{open_temp, queued_run, session};

fn completed(run_id: &str, messages: Vec<Value>) -> RunFinish {
    RunFinish {
        run_id: run_id.to_owned(),
        status: RunStatus::Completed,
        model_served: Some("openai/gpt-4o-mini".into()),
        usage: Some(json!({"prompt_tokens": 10, "completion_tokens": 5})),
        cost: Some(0.25),
        output: Some(json!({"text": "hi"})),
        error_code: None,
        error_message: None,
        attempts: json!([{"route": "main", "ok": true}]),
        cache_status: Some("miss".into()),
        generation_id: Some("gen-1".into()),
        messages,
    }
}

fn turn(user: &str, assistant: &str) -> Vec<Value> {
    vec![
        json!({"role": "user", "content": user}),
        json!({"role": "assistant", "content": assistant}),
    ]
}

#[tokio::test]
async fn idempotency_key_returns_the_existing_run() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    session(&store, "t").await;
    let new = |id: &str, session_id: &str| NewRun {
        id: id.to_owned(),
        session_id: session_id.to_owned(),
        input: json!({"content": id}),
        idempotency_key: Some("key-1".into()),
    };
    let first = store.insert_run(new("r1", "s")).await.expect("insert");
    let InsertOutcome::Inserted(run) = first else {
        panic!("first insert must insert");
    };
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.input, json!({"content": "r1"}));
    assert_eq!(run.attempts, json!([]));
    assert_eq!(run.idempotency_key.as_deref(), Some("key-1"));

    match store.insert_run(new("r2", "s")).await.expect("insert") {
        InsertOutcome::Existing(run) => assert_eq!(run.id, "r1"),
        InsertOutcome::Inserted(run) => panic!("duplicate key inserted {}", run.id),
    }
    assert!(store.get_run("r2").await.expect("get").is_none());
    // The key is scoped to the session.
    assert!(matches!(
        store.insert_run(new("r3", "t")).await.expect("insert"),
        InsertOutcome::Inserted(_)
    ));
    let err = store
        .insert_run(new("r4", "nope"))
        .await
        .expect_err("unknown session");
    assert!(matches!(err, StoreError::SessionNotFound { .. }), "{err}");
}

#[tokio::test]
async fn finish_appends_history_with_consecutive_seqs() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    let before = store.get_session("s").await.expect("get").expect("exists");
    queued_run(&store, "s", "r1").await;
    store
        .mark_running("r1", "main", "openai/gpt-4o")
        .await
        .expect("running");
    let running = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(running.route.as_deref(), Some("main"));
    assert_eq!(running.model_requested.as_deref(), Some("openai/gpt-4o"));

    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store
        .finish_run(completed("r1", turn("hello", "hi")))
        .await
        .expect("finish");
    queued_run(&store, "s", "r2").await;
    store
        .finish_run(completed("r2", turn("again", "yes")))
        .await
        .expect("finish");

    let history = store.history("s").await.expect("history");
    let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let roles: Vec<&str> = history.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(
        history[1].body,
        json!({"role": "assistant", "content": "hi"})
    );
    assert_eq!(history[0].run_id.as_deref(), Some("r1"));
    assert_eq!(history[3].run_id.as_deref(), Some("r2"));

    let run = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(run.status, RunStatus::Completed);
    assert!(run.finished_at.is_some());
    assert_eq!(run.model_served.as_deref(), Some("openai/gpt-4o-mini"));
    assert_eq!(run.cost, Some(0.25));
    assert_eq!(run.output, Some(json!({"text": "hi"})));
    assert_eq!(run.attempts, json!([{"route": "main", "ok": true}]));
    assert_eq!(run.generation_id.as_deref(), Some("gen-1"));
    assert_eq!(run.error, None);

    let after = store.get_session("s").await.expect("get").expect("exists");
    assert!(after.updated_at > before.updated_at);
    assert_eq!((after.message_count, after.run_count), (4, 2));

    let listed: Vec<String> = store
        .list_runs("s", 10)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["r2", "r1"]);
    assert_eq!(store.list_runs("s", 1).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_rejected_finish_writes_nothing() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    let mut bad = completed("r1", turn("hello", "hi"));
    bad.messages.push(json!({"content": "no role"}));
    let err = store.finish_run(bad).await.expect_err("invalid message");
    assert!(
        matches!(err, StoreError::InvalidMessage { index: 2, .. }),
        "{err}"
    );
    assert!(store.history("s").await.expect("history").is_empty());
    let run = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(run.status, RunStatus::Queued);

    let mut not_terminal = completed("r1", Vec::new());
    not_terminal.status = RunStatus::Running;
    let err = store
        .finish_run(not_terminal)
        .await
        .expect_err("not terminal");
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");

    store
        .finish_run(completed("r1", turn("hello", "hi")))
        .await
        .expect("finish");
    let err = store
        .finish_run(completed("r1", turn("twice", "no")))
        .await
        .expect_err("already finished");
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                current: RunStatus::Completed,
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .mark_running("r1", "main", "m")
        .await
        .expect_err("cannot restart");
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert_eq!(store.history("s").await.expect("history").len(), 2);

    let err = store
        .finish_run(completed("ghost", Vec::new()))
        .await
        .expect_err("unknown run");
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err}");
}

#[tokio::test]
async fn recovery_interrupts_only_runs_in_flight() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "queued").await;
    queued_run(&store, "s", "running").await;
    store
        .mark_running("running", "main", "m")
        .await
        .expect("running");
    queued_run(&store, "s", "done").await;
    store
        .finish_run(completed("done", turn("a", "b")))
        .await
        .expect("finish");

    let recovered = store
        .recover_interrupted("the daemon stopped while the run was in flight")
        .await
        .expect("recover");
    let ids: Vec<&str> = recovered.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["queued", "running"]);
    for run in &recovered {
        assert_eq!(run.status, RunStatus::Interrupted);
        assert!(run.finished_at.is_some());
        let error = run.error.as_ref().expect("error");
        assert_eq!(error.code, "interrupted");
        assert_eq!(
            error.message,
            "the daemon stopped while the run was in flight"
        );
    }
    let done = store.get_run("done").await.expect("get").expect("exists");
    assert_eq!(done.status, RunStatus::Completed);
    assert!(store
        .recover_interrupted("again")
        .await
        .expect("recover")
        .is_empty());
}

#[tokio::test]
async fn the_spend_of_an_ended_run_can_be_replaced_but_not_of_one_in_flight() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "going").await;
    let err = store
        .set_run_spend("going", Some(json!({"prompt_tokens": 1})), Some(0.5))
        .await
        .expect_err("a queued run has not ended");
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err}");
    queued_run(&store, "s", "done").await;
    store
        .finish_run(completed("done", turn("a", "b")))
        .await
        .expect("finish");
    let usage = json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42});
    store
        .set_run_spend("done", Some(usage.clone()), Some(0.75))
        .await
        .expect("set");
    let run = store.get_run("done").await.expect("get").expect("exists");
    assert_eq!(run.usage, Some(usage));
    assert_eq!(run.cost, Some(0.75));
}

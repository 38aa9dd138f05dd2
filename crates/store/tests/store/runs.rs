//! Runs through the [`RunRepo`] trait: idempotent creation, transitions, finishing with
//! events and history in one transaction (all or nothing), creation order and cursors,
//! recovery.

use ferry_store::prelude::*;
use ferry_store::{
    InsertOutcome, NewRun, RunFilter, RunFinish, RunStatus, StoreError, UsageObject,
};
use serde_json::{json, Value};

use crate::support::{event, mark_running, open_temp, queued_run, session, start};

fn completed(run_id: &str, messages: Vec<Value>) -> RunFinish {
    RunFinish {
        run_id: run_id.to_owned(),
        status: RunStatus::Completed,
        model_served: Some("openai/gpt-4o-mini".into()),
        usage: UsageObject::from_value(&json!({"prompt_tokens": 10, "completion_tokens": 5}))
            .map(Into::into),
        cost: Some(0.25),
        output: Some(json!({"text": "hi"}).into()),
        error_code: None,
        error_message: None,
        attempts: json!([{"route": "main", "ok": true}]),
        cache_status: Some("miss".into()),
        generation_id: Some("gen-1".into()),
        messages,
        start: None,
        events: Vec::new(),
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
        acknowledged: true,
    };
    let first = store.create_run(new("r1", "s")).await.expect("insert");
    let InsertOutcome::Inserted(run) = first else {
        panic!("first insert must insert");
    };
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.input, json!({"content": "r1"}));
    assert_eq!(run.attempts, json!([]));
    assert_eq!(run.idempotency_key.as_deref(), Some("key-1"));

    match store.create_run(new("r2", "s")).await.expect("insert") {
        InsertOutcome::Existing(run) => assert_eq!(run.id, "r1"),
        InsertOutcome::Inserted(run) => panic!("duplicate key inserted {}", run.id),
    }
    assert!(store.get_run("r2").await.expect("get").is_none());
    // The key is scoped to the session.
    assert!(matches!(
        store.create_run(new("r3", "t")).await.expect("insert"),
        InsertOutcome::Inserted(_)
    ));
    // The run's session is created with it, in the same transaction.
    assert!(matches!(
        store.create_run(new("r4", "fresh")).await.expect("insert"),
        InsertOutcome::Inserted(_)
    ));
    let fresh = store
        .get_session("fresh")
        .await
        .expect("get")
        .expect("created");
    assert_eq!(fresh.run_count, 1);
    // What create_run returned is what a read gives back.
    let stored = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(stored.created_at, run.created_at);
    assert_eq!(stored.status, run.status);
}

#[tokio::test]
async fn finish_appends_history_with_consecutive_seqs() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    let before = store.get_session("s").await.expect("get").expect("exists");
    queued_run(&store, "s", "r1").await;
    mark_running(&store, "r1", "main", "openai/gpt-4o").await;
    let running = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(running.route.as_deref(), Some("main"));
    assert_eq!(running.model_requested.as_deref(), Some("openai/gpt-4o"));

    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store
        .finish_run(completed("r1", turn("hello", "hi")).into())
        .await
        .expect("finish");
    queued_run(&store, "s", "r2").await;
    store
        .finish_run(completed("r2", turn("again", "yes")).into())
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
    assert_eq!(run.output, Some(json!({"text": "hi"}).into()));
    assert_eq!(run.attempts, json!([{"route": "main", "ok": true}]));
    assert_eq!(run.generation_id.as_deref(), Some("gen-1"));
    assert_eq!(run.error, None);

    let after = store.get_session("s").await.expect("get").expect("exists");
    assert!(after.updated_at > before.updated_at);
    assert_eq!((after.message_count, after.run_count), (4, 2));

    let page = |limit| RunFilter {
        session_id: Some("s".into()),
        limit,
        ..RunFilter::default()
    };
    let listed: Vec<String> = store
        .list_runs_page(page(10))
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["r2", "r1"]);
    assert_eq!(store.list_runs_page(page(1)).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_rejected_finish_writes_nothing() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    let mut bad = completed("r1", turn("hello", "hi"));
    bad.messages.push(json!({"content": "no role"}));
    let err = store
        .finish_run(bad.into())
        .await
        .expect_err("invalid message");
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
        .finish_run(not_terminal.into())
        .await
        .expect_err("not terminal");
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");

    store
        .finish_run(completed("r1", turn("hello", "hi")).into())
        .await
        .expect("finish");
    let err = store
        .finish_run(completed("r1", turn("twice", "no")).into())
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
        .append_events("r1", Some(start("main", "m")), Vec::new())
        .await
        .expect_err("cannot restart");
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert_eq!(store.history("s").await.expect("history").len(), 2);

    let err = store
        .finish_run(completed("ghost", Vec::new()).into())
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
        .append_events(
            "running",
            Some(start("main", "m")),
            vec![
                event(1, "run.started", json!({})),
                event(2, "output.delta", json!({"text": "x"})),
            ],
        )
        .await
        .expect("running");
    queued_run(&store, "s", "done").await;
    store
        .finish_run(completed("done", turn("a", "b")).into())
        .await
        .expect("finish");

    let terminal = json!({"code": "interrupted"});
    let recovered = store
        .recover_interrupted("the daemon stopped while the run was in flight", &terminal)
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
    // Each got its terminal event after the last one it had stored.
    let kinds = |events: Vec<ferry_store::RunEvent>| -> Vec<(u64, String)> {
        events.into_iter().map(|e| (e.seq, e.kind)).collect()
    };
    assert_eq!(
        kinds(store.events_after("queued", 0).await.expect("events")),
        [(1, "run.failed".to_owned())]
    );
    let running = store.events_after("running", 0).await.expect("events");
    assert_eq!(running[2].data, terminal);
    assert_eq!(
        kinds(running),
        [
            (1, "run.started".to_owned()),
            (2, "output.delta".to_owned()),
            (3, "run.failed".to_owned())
        ]
    );
    let done = store.get_run("done").await.expect("get").expect("exists");
    assert_eq!(done.status, RunStatus::Completed);
    assert!(store
        .recover_interrupted("again", &terminal)
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
        .set_run_spend(
            "going",
            UsageObject::from_value(&json!({"prompt_tokens": 1})),
            Some(0.5),
        )
        .await
        .expect_err("a queued run has not ended");
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err}");
    queued_run(&store, "s", "done").await;
    store
        .finish_run(completed("done", turn("a", "b")).into())
        .await
        .expect("finish");
    let usage = UsageObject::from_value(
        &json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}),
    );
    store
        .set_run_spend("done", usage.clone(), Some(0.75))
        .await
        .expect("set");
    let run = store.get_run("done").await.expect("get").expect("exists");
    assert_eq!(run.usage, usage.map(Into::into));
    assert_eq!(run.cost, Some(0.75));
}

/// A finish that fails part-way (here: an event whose seq a batch already stored, so
/// its insert fails after the run row and before the history) stores nothing of it.
#[tokio::test]
async fn finish_run_is_all_or_nothing() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    store
        .append_events(
            "r1",
            Some(start("main", "m")),
            vec![event(1, "run.started", json!({}))],
        )
        .await
        .expect("batch");
    let mut clash = completed("r1", turn("hello", "hi"));
    clash.events = vec![
        event(2, "output.delta", json!({"text": "hi"})),
        event(1, "run.completed", json!({})),
    ];
    let err = store
        .finish_run(clash.into())
        .await
        .expect_err("duplicate seq");
    assert!(
        matches!(
            err,
            StoreError::EventsOverlap {
                first: 1,
                last: 1,
                ..
            }
        ),
        "{err}"
    );
    let run = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.finished_at.is_none() && run.output.is_none());
    assert_eq!(store.events_after("r1", 0).await.expect("events").len(), 1);
    assert!(store.history("s").await.expect("history").is_empty());
    assert_eq!(
        store
            .get_session("s")
            .await
            .expect("get")
            .expect("s")
            .message_count,
        0
    );

    // The same end with the right seqs stores all of it at once.
    let mut fin = completed("r1", turn("hello", "hi"));
    fin.events = vec![
        event(2, "output.delta", json!({"text": "hi"})),
        event(3, "run.completed", json!({"output": "hi"})),
    ];
    store.finish_run(fin.into()).await.expect("finish");
    let seqs: Vec<u64> = store
        .events_after("r1", 0)
        .await
        .expect("events")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(store.history("s").await.expect("history").len(), 2);
}

/// A short run's start travels with its end: one call records both.
#[tokio::test]
async fn a_finish_carries_the_start() {
    let (_dir, store) = open_temp();
    queued_run(&store, "s", "r1").await;
    let mut fin = completed("r1", Vec::new());
    let begun = start("main", "openai/gpt-4o");
    fin.start = Some(begun.clone());
    store.finish_run(fin.into()).await.expect("finish");
    let run = store.get_run("r1").await.expect("get").expect("exists");
    assert_eq!(run.route.as_deref(), Some("main"));
    assert_eq!(run.model_requested.as_deref(), Some("openai/gpt-4o"));
    assert_eq!(
        run.started_at.as_deref(),
        Some(ferry_store::rfc3339(begun.started_at).as_str())
    );
    assert!(run.finished_at.is_some());
}

/// History seqs come from the session's counter, taken in each transaction: runs'
/// messages and messages outside runs interleave without gaps or clashes.
#[tokio::test]
async fn history_seqs_are_dense_across_runs_and_appends() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    for i in 0..3 {
        let id = format!("r{i}");
        queued_run(&store, "s", &id).await;
        store
            .append_messages("s", vec![json!({"role": "user", "content": "heard"})])
            .await
            .expect("append");
        store
            .finish_run(completed(&id, turn("q", "a")).into())
            .await
            .expect("finish");
    }
    let seqs: Vec<u64> = store
        .history("s")
        .await
        .expect("history")
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<u64>>());
}

/// Runs list in creation order (not id order), and a page continues after its cursor.
#[tokio::test]
async fn runs_page_in_creation_order_from_a_cursor() {
    let (_dir, store) = open_temp();
    for id in ["zeta", "alpha", "mid", "beta"] {
        queued_run(&store, "s", id).await;
    }
    queued_run(&store, "other", "elsewhere").await;
    store
        .finish_run(completed("mid", Vec::new()).into())
        .await
        .expect("finish");
    let ids = |runs: Vec<ferry_store::Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let filter = |after: Option<&str>, limit| RunFilter {
        session_id: Some("s".into()),
        after: after.map(str::to_owned),
        limit,
        ..RunFilter::default()
    };
    let first = ids(store.list_runs_page(filter(None, 2)).await.expect("page"));
    assert_eq!(first, ["beta", "mid"]);
    let second = ids(store
        .list_runs_page(filter(Some("mid"), 2))
        .await
        .expect("page"));
    assert_eq!(second, ["alpha", "zeta"]);
    let queued = RunFilter {
        status: Some(RunStatus::Queued),
        ..filter(None, 10)
    };
    assert_eq!(
        ids(store.list_runs_page(queued).await.expect("page")),
        ["beta", "alpha", "zeta"]
    );
    let err = store
        .list_runs_page(filter(Some("ghost"), 2))
        .await
        .expect_err("unknown cursor");
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err}");
}

/// A run costs one fsynced commit: its creation (no client told about it) and its
/// mid-way batches commit without fsync; its end is synced and covers them. A creation
/// the client is told about is synced at once.
#[tokio::test]
async fn a_run_costs_one_synced_commit() {
    let (_dir, store) = open_temp();
    let (commits, synced) = (store.commit_count(), store.synced_commit_count());
    queued_run(&store, "s", "r1").await;
    store
        .append_events(
            "r1",
            Some(start("main", "m")),
            vec![event(1, "run.started", json!({}))],
        )
        .await
        .expect("batch");
    assert_eq!(store.commit_count() - commits, 2);
    assert_eq!(store.synced_commit_count() - synced, 0);
    store
        .finish_run(completed("r1", turn("q", "a")).into())
        .await
        .expect("finish");
    assert_eq!(store.synced_commit_count() - synced, 1);
    store
        .create_run(NewRun {
            id: "r2".into(),
            session_id: "s".into(),
            input: json!({}),
            idempotency_key: None,
            acknowledged: true,
        })
        .await
        .expect("create");
    assert_eq!(store.synced_commit_count() - synced, 2);
    assert_eq!(store.commit_count() - commits, 4);
}

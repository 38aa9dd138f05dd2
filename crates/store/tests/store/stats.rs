//! Statistics: counts, size on disk, runs by status, per-session totals.

use ferry_store::prelude::*;
use ferry_store::{RunFinish, RunStatus, UsageObject};
use serde_json::json;

use crate::support::{event, open_temp, queued_run, session};

fn finish(run_id: &str, status: RunStatus, usage: serde_json::Value, cost: f64) -> RunFinish {
    RunFinish {
        run_id: run_id.to_owned(),
        status,
        model_served: None,
        usage: UsageObject::from_value(&usage).map(Into::into),
        cost: Some(cost),
        output: None,
        error_code: None,
        error_message: None,
        attempts: json!([]),
        cache_status: None,
        generation_id: None,
        messages: vec![json!({"role": "user", "content": run_id})],
        start: None,
        events: Vec::new(),
    }
}

#[tokio::test]
async fn counts_sizes_and_totals() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    session(&store, "t").await;
    queued_run(&store, "s", "r1").await;
    queued_run(&store, "s", "r2").await;
    queued_run(&store, "t", "r3").await;
    store
        .finish_run(
            finish(
                "r1",
                RunStatus::Completed,
                json!({"prompt_tokens": 10, "completion_tokens": 4}),
                0.5,
            )
            .into(),
        )
        .await
        .expect("finish");
    store
        .finish_run(
            finish(
                "r2",
                RunStatus::Failed,
                json!({"prompt_tokens": 7, "completion_tokens": 1}),
                0.25,
            )
            .into(),
        )
        .await
        .expect("finish");
    store
        .append_events("r3", None, vec![event(1, "run.started", json!({}))])
        .await
        .expect("event");

    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.sessions, 2);
    assert_eq!(stats.runs, 3);
    assert_eq!(stats.messages, 2);
    assert_eq!(stats.events, 1);
    assert!(stats.db_bytes > 0);
    assert_eq!(stats.runs_by_status[&RunStatus::Completed], 1);
    assert_eq!(stats.runs_by_status[&RunStatus::Failed], 1);
    assert_eq!(stats.runs_by_status[&RunStatus::Queued], 1);
    assert_eq!(stats.runs_by_status[&RunStatus::Interrupted], 0);
    let json = serde_json::to_value(&stats).expect("serialize");
    assert_eq!(json["runs_by_status"]["completed"], 1);

    let totals = store.session_totals("s").await.expect("totals");
    assert_eq!(totals.runs, 2);
    assert_eq!(totals.prompt_tokens, 17);
    assert_eq!(totals.completion_tokens, 5);
    assert!((totals.cost - 0.75).abs() < 1e-9);
    let totals = store.session_totals("t").await.expect("totals");
    assert_eq!(
        (totals.runs, totals.prompt_tokens, totals.completion_tokens),
        (1, 0, 0)
    );
    assert_eq!(totals.cost, 0.0);
}

//! Retention pruning: only finished runs older than the cutoff go, with their events, in
//! batches; runs in flight and history messages stay; freed pages are reclaimed.

use ferry_store::prelude::*;
use ferry_store::{Pruned, RunFinish, RunStatus};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::support::{event, open_temp, queued_run, session};

fn finish(run_id: &str, messages: Vec<serde_json::Value>) -> RunFinish {
    RunFinish {
        run_id: run_id.to_owned(),
        status: RunStatus::Completed,
        model_served: None,
        usage: None,
        cost: None,
        output: Some(json!({"text": "x".repeat(4000)}).into()),
        error_code: None,
        error_message: None,
        attempts: json!([]),
        cache_status: None,
        generation_id: None,
        messages,
        start: None,
        events: vec![event(1, "output.delta", json!({"text": "y"}))],
    }
}

#[tokio::test]
async fn prunes_finished_runs_before_the_cutoff_in_batches() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    for i in 0..5 {
        let id = format!("run_{i}");
        queued_run(&store, "s", &id).await;
        let history = vec![
            json!({"role": "user", "content": format!("q{i}")}),
            json!({"role": "assistant", "content": format!("a{i}")}),
        ];
        store.finish_run(finish(&id, history).into()).await.unwrap();
    }
    queued_run(&store, "s", "run_in_flight").await;

    // A cutoff in the past deletes nothing.
    let none = store
        .prune_runs(OffsetDateTime::now_utc() - Duration::days(1), 10)
        .await
        .unwrap();
    assert_eq!(none, Pruned::default());

    let future = OffsetDateTime::now_utc() + Duration::days(1);
    let first = store.prune_runs(future, 3).await.unwrap();
    assert_eq!(first, Pruned { runs: 3, events: 3 });
    let rest = store.prune_runs(future, 3).await.unwrap();
    assert_eq!(rest, Pruned { runs: 2, events: 2 });

    assert!(store.get_run("run_0").await.unwrap().is_none());
    assert!(
        store.get_run("run_in_flight").await.unwrap().is_some(),
        "a run still queued is never pruned"
    );
    assert_eq!(
        store.history("s").await.unwrap().len(),
        10,
        "history is kept"
    );
    store.reclaim_space(u32::MAX).await.unwrap();
    assert_eq!(
        store.reclaim_space(10).await.unwrap(),
        0,
        "no free pages left"
    );
    assert!(store.truncate_wal().await.unwrap());
}

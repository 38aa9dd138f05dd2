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

/// A pass walks the runs oldest first and stops at the first one created inside the
/// window, so it never reads on to the end of the table: a run stamped older behind that
/// one (the clock went back) waits until it leaves the window too. A run without an order
/// (written by hand) does not stop it.
#[tokio::test]
async fn a_pass_stops_at_the_first_run_inside_the_window() {
    let (dir, store) = open_temp();
    session(&store, "s").await;
    for id in ["run_old", "run_new", "run_skewed"] {
        queued_run(&store, "s", id).await;
        store.finish_run(finish(id, vec![]).into()).await.unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join(ferry_store::DB_FILE_NAME)).unwrap();
    conn.execute(
        "UPDATE runs SET created_at = '2026-01-01T00:00:00.000Z'
         WHERE id IN ('run_old', 'run_skewed')",
        [],
    )
    .unwrap();
    // A recent run written by hand, without an order: it sorts first and is no reason to
    // stop.
    conn.execute(
        "INSERT INTO runs (id, session_id, status, created_at, input)
         VALUES ('run_by_hand', 's', 'completed', ?1, '{}')",
        [ferry_store::now_rfc3339()],
    )
    .unwrap();
    let cutoff = time::macros::datetime!(2026-02-01 0:00 UTC);
    assert!(
        OffsetDateTime::now_utc() > cutoff,
        "run_new is inside the window"
    );
    let pruned = store.prune_runs(cutoff, 10).await.unwrap();
    assert_eq!(pruned, Pruned { runs: 1, events: 1 });
    assert!(store.get_run("run_old").await.unwrap().is_none());
    assert!(store.get_run("run_new").await.unwrap().is_some());
    assert!(store.get_run("run_by_hand").await.unwrap().is_some());
    assert!(
        store.get_run("run_skewed").await.unwrap().is_some(),
        "behind a run inside the window"
    );
}

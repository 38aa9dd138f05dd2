//! Run events: fire-and-forget appends, ordering, replay after a sequence number.

use ferry_store::StoreError;
use serde_json::json;

use crate::support::{open_temp, queued_run, session};

#[tokio::test]
async fn nowait_events_are_ordered_before_later_writes() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    for seq in 1..=100_u64 {
        store.append_event_nowait("r1", seq, "output.delta", &json!({"text": seq.to_string()}));
    }
    // Any awaited write after the events commits no earlier than they do.
    store.write(|_| Ok(())).await.expect("barrier write");
    let events = store.events_after("r1", 0).await.expect("events");
    assert_eq!(events.len(), 100);
    for (i, event) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(event.seq, seq);
        assert_eq!(event.kind, "output.delta");
        assert_eq!(event.data, json!({"text": seq.to_string()}));
    }
    let tail = store.events_after("r1", 97).await.expect("events");
    assert_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![98, 99, 100]
    );
}

#[tokio::test]
async fn awaited_event_append_reports_errors() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    store
        .append_event("r1", 1, "run.started", &json!({}))
        .await
        .expect("append");
    let dup = store
        .append_event("r1", 1, "run.started", &json!({}))
        .await
        .expect_err("duplicate seq");
    assert!(matches!(dup, StoreError::Sqlite(_)), "{dup}");
    let orphan = store
        .append_event("missing", 1, "run.started", &json!({}))
        .await
        .expect_err("unknown run violates the foreign key");
    assert!(matches!(orphan, StoreError::Sqlite(_)), "{orphan}");
    // A failed nowait append does not disturb the following ones.
    store.append_event_nowait("r1", 1, "dup", &json!({}));
    store.append_event_nowait("r1", 2, "output.delta", &json!({"text": "x"}));
    store.write(|_| Ok(())).await.expect("barrier");
    let events = store.events_after("r1", 0).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["run.started", "output.delta"]
    );
}

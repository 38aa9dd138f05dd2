//! Run events through [`RunRepo::append_events`]: seqs given by the run, read back in seq
//! order whatever order the batches committed in, replay after a sequence number, and a
//! failed batch stores none of its events.

use ferry_store::prelude::*;
use ferry_store::StoreError;
use serde_json::json;

use crate::support::{event, open_temp, queued_run, session};

#[tokio::test]
async fn events_read_back_in_seq_order_whatever_the_batch_order() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    let batch = |from: u64| -> Vec<_> {
        (from..from + 25)
            .map(|seq| event(seq, "output.delta", json!({"text": seq.to_string()})))
            .collect()
    };
    // Batches may commit in any order: the seqs, not the commits, order the log.
    for from in [51, 1, 76, 26] {
        store
            .append_events("r1", None, batch(from))
            .await
            .expect("batch");
    }
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
async fn a_failed_batch_stores_none_of_its_events() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    store
        .append_events("r1", None, vec![event(1, "run.started", json!({}))])
        .await
        .expect("append");
    let dup = store
        .append_events(
            "r1",
            None,
            vec![
                event(2, "output.delta", json!({"text": "lost"})),
                event(1, "dup", json!({})),
            ],
        )
        .await
        .expect_err("duplicate seq");
    assert!(
        matches!(
            dup,
            StoreError::EventsOverlap {
                first: 1,
                last: 1,
                ..
            }
        ),
        "{dup}"
    );
    let orphan = store
        .append_events("missing", None, vec![event(1, "run.started", json!({}))])
        .await
        .expect_err("unknown run");
    assert!(matches!(orphan, StoreError::RunNotFound { .. }), "{orphan}");
    store
        .append_events(
            "r1",
            None,
            vec![event(2, "output.delta", json!({"text": "x"}))],
        )
        .await
        .expect("append");
    let events = store.events_after("r1", 0).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["run.started", "output.delta"]
    );
    assert_eq!(events[1].data, json!({"text": "x"}));
}

/// A batch is stored as one row, however its seqs arrive: a gap starts another row, a
/// replay may start inside a row, and the counts (store stats) are of events, not rows.
#[tokio::test]
async fn a_batch_with_a_gap_reads_back_event_by_event() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    queued_run(&store, "s", "r1").await;
    let batch: Vec<_> = [1, 2, 3, 7, 8]
        .into_iter()
        .map(|seq| {
            event(
                seq,
                "output.delta",
                json!({"text": format!("t{seq}"), "n": [seq]}),
            )
        })
        .collect();
    store.append_events("r1", None, batch).await.expect("batch");
    // Seqs 4..=6 may still come (a batch that committed later); 2..=8 may not.
    store
        .append_events(
            "r1",
            None,
            vec![event(5, "tool.started", json!({"call": "c"}))],
        )
        .await
        .expect("the gap");
    let overlap = store
        .append_events(
            "r1",
            None,
            vec![event(6, "x", json!({})), event(7, "x", json!({}))],
        )
        .await
        .expect_err("overlaps 7");
    assert!(
        matches!(
            overlap,
            StoreError::EventsOverlap {
                first: 6,
                last: 7,
                ..
            }
        ),
        "{overlap}"
    );
    let seqs = |events: Vec<ferry_store::RunEvent>| -> Vec<(u64, String)> {
        events.into_iter().map(|e| (e.seq, e.kind)).collect()
    };
    let all = store.events_after("r1", 0).await.expect("events");
    assert_eq!(all[4].data, json!({"text": "t7", "n": [7]}));
    assert_eq!(
        seqs(all),
        [
            (1, "output.delta"),
            (2, "output.delta"),
            (3, "output.delta"),
            (5, "tool.started"),
            (7, "output.delta"),
            (8, "output.delta")
        ]
        .map(|(s, k)| (s, k.to_owned()))
    );
    assert_eq!(
        seqs(store.events_after("r1", 2).await.expect("events"))
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>(),
        [3, 5, 7, 8]
    );
    assert_eq!(store.stats().await.expect("stats").events, 6);
}

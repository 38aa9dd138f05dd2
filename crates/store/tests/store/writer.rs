//! The single writer: group commit, per-job savepoints, draining on close.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::time::Duration;

use ferry_store::prelude::*;
use ferry_store::{NewRun, Store, StoreError};

use crate::support::{open_temp, queued_run};

/// Parks the writer thread until the returned sender is used (or dropped).
fn block_writer(store: &Store) -> mpsc::Sender<()> {
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    store.write_nowait(move |_| {
        let _ = started_tx.send(());
        let _ = wait.recv();
        Ok(())
    });
    // Only once the writer is inside the blocking job do later jobs queue behind it
    // (otherwise the writer may drain them into the blocker's group).
    started
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the writer picked up the blocking job");
    release
}

/// Polls `fut` once, which queues a store write; `None` while it is pending.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *fut).poll(cx) {
            Poll::Ready(value) => Some(value),
            Poll::Pending => None,
        })
    })
    .await
}

fn create_kv(store: &Store) -> impl std::future::Future<Output = Result<(), StoreError>> + '_ {
    store.write(|conn| {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT)")
    })
}

/// The keys in `kv`, in order.
async fn kv_keys(store: &Store) -> Vec<i64> {
    store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT k FROM kv ORDER BY k")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await
        .expect("keys")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let before = store.commit_count();

    // Hold the writer so every job is queued before it can commit anything.
    let release = block_writer(&store);
    let queued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..200_i64 {
        let store = store.clone();
        let queued = Arc::clone(&queued);
        tasks.push(tokio::spawn(async move {
            let mut write = Box::pin(store.write(move |conn| {
                conn.execute("INSERT INTO kv (k, v) VALUES (?1, 'x')", [i])?;
                Ok(i)
            }));
            assert!(poll_once(&mut write).await.is_none(), "writer is blocked");
            queued.fetch_add(1, Ordering::SeqCst);
            write.await
        }));
    }
    while queued.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    release.send(()).expect("release writer");

    for (i, task) in tasks.into_iter().enumerate() {
        let value = task.await.expect("task").expect("write");
        assert_eq!(value, i as i64);
    }
    let rows: i64 = store
        .read(|conn| conn.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0)))
        .await
        .expect("count");
    assert_eq!(rows, 200);
    let commits = store.commit_count() - before;
    assert!(commits < 200, "200 jobs took {commits} commits");
    // All 200 were queued behind the blocker, so they form a single group after it.
    assert_eq!(commits, 2, "blocker group + one group of 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_does_not_affect_its_group() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let before = store.commit_count();

    let release = block_writer(&store);
    let mut ok_a = Box::pin(store.write(|c| c.execute("INSERT INTO kv VALUES (1, 'a')", [])));
    let mut failing = Box::pin(store.write(|c| {
        c.execute("INSERT INTO kv VALUES (2, 'b')", [])?;
        c.execute("INSERT INTO no_such_table VALUES (1)", [])
    }));
    let mut panicking = Box::pin(store.write(|c| -> rusqlite::Result<()> {
        c.execute("INSERT INTO kv VALUES (3, 'c')", [])?;
        panic!("job panics on purpose");
    }));
    let mut ok_d = Box::pin(store.write(|c| c.execute("INSERT INTO kv VALUES (4, 'd')", [])));
    assert!(poll_once(&mut ok_a).await.is_none());
    assert!(poll_once(&mut failing).await.is_none());
    assert!(poll_once(&mut panicking).await.is_none());
    assert!(poll_once(&mut ok_d).await.is_none());
    release.send(()).expect("release writer");

    assert_eq!(ok_a.await.expect("a"), 1);
    let err = failing.await.expect_err("b fails");
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
    let err = panicking.await.expect_err("c panics");
    assert!(matches!(err, StoreError::JobPanicked), "{err}");
    assert_eq!(ok_d.await.expect("d"), 1);

    let keys = kv_keys(&store).await;
    assert_eq!(keys, vec![1, 4]);
    // One commit for the blocker's group, one for the group of all four jobs.
    assert_eq!(store.commit_count() - before, 2);
}

/// A job alone in its group runs without a savepoint: when it fails (or panics) after
/// writing, its transaction is rolled back instead, so nothing of it stays, and it is
/// answered with its own error; the writer goes on with the next job.
#[tokio::test]
async fn a_failing_job_alone_leaves_nothing_behind() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let before = store.commit_count();

    let err = store
        .write(|c| {
            c.execute("INSERT INTO kv VALUES (1, 'a')", [])?;
            c.execute("INSERT INTO no_such_table VALUES (1)", [])
        })
        .await
        .expect_err("the job fails");
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
    let err = store
        .write(|c| -> rusqlite::Result<()> {
            c.execute("INSERT INTO kv VALUES (2, 'b')", [])?;
            panic!("job panics on purpose");
        })
        .await
        .expect_err("the job panics");
    assert!(matches!(err, StoreError::JobPanicked), "{err}");
    assert_eq!(store.commit_count() - before, 0, "nothing was committed");

    store
        .write(|c| c.execute("INSERT INTO kv VALUES (3, 'c')", []))
        .await
        .expect("the next job");
    let keys = kv_keys(&store).await;
    assert_eq!(keys, vec![3]);
}

/// A light write (a run's creation no client was promised) finding the writer idle runs
/// in place, on the caller's thread: committed and readable when it returns, without a
/// message to the writer thread (whose wake-up, and the wake-up back, it saves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_writer_lets_a_light_write_run_in_place() {
    let (_dir, store) = open_temp();
    queued_run(&store, "warm", "run_warm").await;
    let (messages, commits, synced) = (
        store.writer_message_count(),
        store.commit_count(),
        store.synced_commit_count(),
    );
    for i in 0..5 {
        queued_run(&store, &format!("s{i}"), &format!("run_{i}")).await;
    }
    assert_eq!(
        store.writer_message_count(),
        messages,
        "no job reached the thread"
    );
    assert_eq!(store.commit_count() - commits, 5, "one commit each");
    assert_eq!(store.synced_commit_count(), synced, "none fsynced");
    for i in 0..5 {
        let run = store.get_run(&format!("run_{i}")).await.expect("read");
        assert!(run.is_some(), "run_{i} is stored");
    }
    // An acknowledged creation (its client is told it is stored) is fsynced: the thread.
    store
        .create_run(NewRun {
            id: "run_ack".into(),
            session_id: "ack".into(),
            input: serde_json::json!({"content": "x"}),
            idempotency_key: None,
            acknowledged: true,
        })
        .await
        .expect("acknowledged creation");
    assert_eq!(store.writer_message_count(), messages + 1);
    assert_eq!(store.synced_commit_count(), synced + 1);
}

/// A light write never overtakes a job queued before it: while the writer thread is busy
/// it waits its turn on the channel like any other job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_write_waits_behind_queued_jobs() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let release = block_writer(&store);
    let mut earlier = Box::pin(store.write(|c| c.execute("INSERT INTO kv VALUES (1, 'a')", [])));
    assert!(poll_once(&mut earlier).await.is_none(), "writer is blocked");
    let mut light = Box::pin(queued_run(&store, "s", "run_late"));
    assert!(
        poll_once(&mut light).await.is_none(),
        "the light write waits behind the queued jobs"
    );
    release.send(()).expect("release writer");
    assert_eq!(earlier.await.expect("earlier job"), 1);
    assert_eq!(light.await.id, "run_late");
}

/// Light writes run in place still get the WAL checkpointed (by the writer thread, which
/// they ask once it has grown past SQLite's auto-checkpoint size), so it cannot grow
/// without bound: 600 creations write ~5,000 frames (~20 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_writes_in_place_keep_the_wal_checkpointed() {
    let (dir, store) = open_temp();
    for i in 0..600 {
        queued_run(&store, &format!("s{i}"), &format!("run_{i}")).await;
    }
    // The last request for a checkpoint may still be on its way to the thread.
    store.write(|_| Ok(())).await.expect("barrier");
    let wal = std::fs::metadata(dir.path().join("ferry.db-wal"))
        .expect("the WAL file")
        .len();
    assert!(
        wal < 10 * 1024 * 1024,
        "the WAL grew to {wal} bytes: it was not checkpointed"
    );
}

#[tokio::test]
async fn close_drains_pending_nowait_writes() {
    let (dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    for i in 0..500_i64 {
        store.write_nowait(move |c| c.execute("INSERT INTO kv VALUES (?1, 'n')", [i]).map(drop));
    }
    store.close().await;
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join("ferry.db")).expect("open");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 500);
}

#[tokio::test]
async fn a_write_is_visible_to_reads_once_it_returns() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    for i in 0..20_i64 {
        store
            .write(move |c| c.execute("INSERT INTO kv VALUES (?1, 'v')", [i]))
            .await
            .expect("write");
        let seen: i64 = store
            .read(|c| c.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0)))
            .await
            .expect("read");
        assert_eq!(seen, i + 1);
    }
}

#[tokio::test]
async fn reads_cannot_write() {
    let (_dir, store) = open_temp();
    let err = store
        .read(|c| c.execute("INSERT INTO runtime_config VALUES ('k', 'v', 'now')", []))
        .await
        .expect_err("read-only connection");
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
}

/// A deferred write waits for company: a millisecond later it is still not committed
/// (a plain write is committed well within that), and `settle_deferred` commits it
/// together with the barrier — one commit for both — and makes it readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_writes_wait_for_company_and_settle_on_demand() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let before = store.commit_count();
    store.write_deferred(|conn| {
        conn.execute("INSERT INTO kv (k, v) VALUES (1, 'd')", [])
            .map(drop)
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        store.commit_count(),
        before,
        "the deferred row was committed at once"
    );
    store.settle_deferred().await.expect("settled");
    let count: i64 = store
        .read(|conn| conn.query_row("SELECT COUNT(*) FROM kv WHERE v = 'd'", [], |r| r.get(0)))
        .await
        .expect("read");
    assert_eq!(
        count, 1,
        "the deferred row is committed after settle_deferred"
    );
    assert_eq!(
        store.commit_count() - before,
        1,
        "the row and the barrier share one commit"
    );
}

/// A write that is not deferred ends the deferral window at once: it commits (with the
/// deferred rows queued before it) without waiting the window out, and in queue order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_write_ends_the_deferral_window() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    store.write_deferred(|conn| {
        conn.execute("INSERT INTO kv (k, v) VALUES (1, 'first')", [])
            .map(drop)
    });
    store
        .write(|conn| {
            conn.execute("UPDATE kv SET v = 'second' WHERE k = 1", [])
                .map(drop)
        })
        .await
        .expect("plain write");
    let v: String = store
        .read(|conn| conn.query_row("SELECT v FROM kv WHERE k = 1", [], |r| r.get(0)))
        .await
        .expect("read");
    assert_eq!(
        v, "second",
        "the deferred row was committed before the later write ran"
    );
}

/// Deferred writes queued while others wait do not wake the writer thread: 200 of them
/// in a burst cost one message (not one per row, each a thread wake-up and two context
/// switches on a busy facade), and all commit in one group with the barrier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deferred_writes_wakes_the_writer_once() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let messages = store.writer_message_count();
    for k in 0..200 {
        store.write_deferred(move |conn| {
            conn.execute("INSERT INTO kv (k, v) VALUES (?1, 'burst')", [k])
                .map(drop)
        });
    }
    store.settle_deferred().await.expect("settled");
    let count: i64 = store
        .read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM kv WHERE v = 'burst'", [], |r| {
                r.get(0)
            })
        })
        .await
        .expect("read");
    assert_eq!(count, 200, "every deferred row is committed");
    let taken = store.writer_message_count() - messages;
    assert!(
        taken <= 2,
        "200 deferred writes and a barrier took {taken} messages (expected the first write's wake-up and the barrier)"
    );
}

/// A deferred write runs without a savepoint of its own: one that fails (here a duplicate
/// key) leaves nothing behind and does not disturb the deferred writes around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_deferred_write_leaves_its_neighbours_committed() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    for (k, v) in [(1, "first"), (1, "duplicate"), (2, "after")] {
        store.write_deferred(move |conn| {
            conn.execute("INSERT INTO kv (k, v) VALUES (?1, ?2)", (k, v))
                .map(drop)
        });
    }
    store.settle_deferred().await.expect("settled");
    let rows: Vec<(i64, String)> = store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT k, v FROM kv ORDER BY k")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
        .expect("read");
    assert_eq!(rows, vec![(1, "first".to_owned()), (2, "after".to_owned())]);
}

/// A write that touches no ledger row goes ahead of the deferred (ledger) rows queued
/// before it, as its group's first job, without a savepoint; the rows commit with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_ahead_of_the_ledger_runs_first_in_its_group_without_a_savepoint() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let release = block_writer(&store);
    store.write_deferred(|conn| {
        conn.execute("INSERT INTO kv (k, v) VALUES (1, 'ledger row')", [])
            .map(drop)
    });
    let before = store.commit_count();
    let mut ahead = Box::pin(store.write_ahead_of_ledger(|conn| {
        let rows_before: i64 = conn.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))?;
        conn.execute("INSERT INTO kv (k, v) VALUES (2, 'run end')", [])?;
        // In a savepoint named `job` this would roll the job's insert back.
        let savepoint = conn
            .execute_batch("ROLLBACK TO job")
            .err()
            .map(|e| e.to_string());
        Ok::<_, StoreError>((rows_before, savepoint))
    }));
    assert!(poll_once(&mut ahead).await.is_none());
    release.send(()).expect("release writer");
    let (rows_before, savepoint) = ahead.await.expect("the write");
    assert_eq!(
        rows_before, 0,
        "it ran before the deferred row queued ahead of it"
    );
    assert!(
        savepoint
            .as_deref()
            .is_some_and(|e| e.contains("no such savepoint")),
        "it ran in a savepoint: {savepoint:?}"
    );
    assert_eq!(kv_keys(&store).await, vec![1, 2]);
    assert_eq!(
        store.commit_count() - before,
        2,
        "the blocker's group, then both rows in one"
    );
}

/// A group's first job runs without a savepoint: when it fails after writing, its
/// transaction is rolled back (nothing of it stays, it gets its own error) and the jobs
/// behind it commit as a group of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_first_job_that_fails_leaves_the_rest_committed() {
    let (_dir, store) = open_temp();
    create_kv(&store).await.expect("table");
    let release = block_writer(&store);
    let mut failing = Box::pin(store.write(|c| {
        c.execute("INSERT INTO kv VALUES (1, 'a')", [])?;
        c.execute("INSERT INTO no_such_table VALUES (1)", [])
    }));
    let mut ok_b = Box::pin(store.write(|c| c.execute("INSERT INTO kv VALUES (2, 'b')", [])));
    let mut ok_c = Box::pin(store.write(|c| c.execute("INSERT INTO kv VALUES (3, 'c')", [])));
    assert!(poll_once(&mut failing).await.is_none());
    assert!(poll_once(&mut ok_b).await.is_none());
    assert!(poll_once(&mut ok_c).await.is_none());
    release.send(()).expect("release writer");
    let err = failing.await.expect_err("the first job fails");
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
    assert_eq!(ok_b.await.expect("b"), 1);
    assert_eq!(ok_c.await.expect("c"), 1);
    assert_eq!(kv_keys(&store).await, vec![2, 3]);
}

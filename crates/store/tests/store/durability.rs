//! Opening, migrations, closing and what survives a reopen.

use ferry_store::prelude::*;
use ferry_store::{Store, StoreError, SCHEMA_VERSION};

use crate::support::{open_temp, session};

fn user_version(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("ferry.db")).expect("open db");
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version")
}

#[tokio::test]
async fn reopening_keeps_data_and_schema_version() {
    let (dir, store) = open_temp();
    session(&store, "s1").await;
    store.runtime_set("model", Some("fast")).await.expect("set");
    store.close().await;
    drop(store);
    assert_eq!(user_version(dir.path()), SCHEMA_VERSION);

    let store = Store::open(dir.path()).expect("reopen");
    assert!(store.get_session("s1").await.expect("get").is_some());
    assert_eq!(
        store.runtime_get("model").await.expect("get").as_deref(),
        Some("fast")
    );
    store.close().await;
    assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
}

#[tokio::test]
async fn database_from_a_newer_version_is_refused() {
    let (dir, store) = open_temp();
    store.close().await;
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("ferry.db")).expect("open db");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump version");
    drop(conn);

    match Store::open(dir.path()) {
        Err(StoreError::SchemaTooNew {
            found, supported, ..
        }) => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test]
async fn opening_sets_wal_and_foreign_keys() {
    let (dir, store) = open_temp();
    let (mode, fk, sync) = store
        .write(|conn| {
            let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
            let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            Ok((mode, fk, sync))
        })
        .await
        .expect("pragmas");
    assert_eq!(mode, "wal");
    assert_eq!(fk, 1);
    assert_eq!(sync, 2, "synchronous=FULL");
    assert!(dir.path().join("ferry.db").exists());
}

#[tokio::test]
async fn committed_writes_survive_a_drop_without_close() {
    let (dir, store) = open_temp();
    session(&store, "dropped").await;
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    assert!(store.get_session("dropped").await.expect("get").is_some());
}

#[tokio::test]
async fn committed_writes_survive_an_abandoned_store() {
    // Simulates a crash: the old store never closes or checkpoints its WAL.
    let (dir, store) = open_temp();
    session(&store, "abandoned").await;
    store
        .runtime_set("k", Some("v"))
        .await
        .expect("runtime set");
    std::mem::forget(store);

    let store = Store::open(dir.path()).expect("reopen beside the abandoned store");
    assert!(store.get_session("abandoned").await.expect("get").is_some());
    assert_eq!(
        store.runtime_get("k").await.expect("get").as_deref(),
        Some("v")
    );
}

#[tokio::test]
async fn writes_after_close_fail_and_reads_still_work() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    store.close().await;
    let err = store.write(|_| Ok(())).await.expect_err("closed");
    assert!(matches!(err, StoreError::Closed), "{err}");
    assert!(store.get_session("s").await.expect("read").is_some());
    // A second close is harmless.
    store.close().await;
}

#[tokio::test]
async fn runtime_config_set_replace_delete() {
    let (_dir, store) = open_temp();
    assert_eq!(store.runtime_get("m").await.expect("get"), None);
    store.runtime_set("m", Some("a")).await.expect("set");
    store.runtime_set("m", Some("b")).await.expect("replace");
    assert_eq!(
        store.runtime_get("m").await.expect("get").as_deref(),
        Some("b")
    );
    store.runtime_set("m", None).await.expect("delete");
    assert_eq!(store.runtime_get("m").await.expect("get"), None);
}

/// Where [`a_synced_commit_and_a_checkpoint`] opens its store (set by the strace test).
const PROBE_DIR: &str = "FERRY_SYNC_PROBE_DIR";

/// What [`synced_commits_use_fdatasync`] traces: a store opened in `$FERRY_SYNC_PROBE_DIR`,
/// a synced commit, and a close (which checkpoints: the database file is synced too).
#[tokio::test]
#[ignore = "run by `synced_commits_use_fdatasync`, under strace"]
async fn a_synced_commit_and_a_checkpoint() {
    let dir = std::env::var_os(PROBE_DIR).expect("FERRY_SYNC_PROBE_DIR names a directory");
    let store = Store::open(std::path::Path::new(&dir)).expect("open store");
    session(&store, "synced").await;
    store.close().await;
}

/// The bundled SQLite syncs with fdatasync(2), not fsync(2) (`LIBSQLITE3_FLAGS` in
/// `.cargo/config.toml`): a commit into a WAL reused in place then does not also write the
/// file's inode. Runs this test binary's [`a_synced_commit_and_a_checkpoint`] under strace.
#[test]
#[ignore = "needs strace (Debian's `strace`): .ci/run installs it and runs this test"]
fn synced_commits_use_fdatasync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("syncs.trace");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    let exe = std::env::current_exe().expect("this test binary");
    let status = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(exe)
        .args([
            "--exact",
            "durability::a_synced_commit_and_a_checkpoint",
            "--ignored",
            "--test-threads=1",
        ])
        .env(PROBE_DIR, &state)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run strace ({e}): install Debian's `strace`"));
    assert!(status.success(), "the traced commit failed: {status}");
    let text = std::fs::read_to_string(&trace).expect("the trace");
    let count = |call: &str| text.lines().filter(|l| l.contains(call)).count();
    assert_eq!(count(" fsync("), 0, "SQLite synced with fsync(2):\n{text}");
    assert!(
        count(" fdatasync(") >= 2,
        "the commit and the checkpoint sync with fdatasync(2):\n{text}"
    );
}

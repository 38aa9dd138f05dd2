//! Shared fixtures: a store in a fresh temporary state root, and sample sessions/runs.

use ferry_store::{NewRun, NewSession, Run, Store};
use serde_json::json;
use tempfile::TempDir;

/// A store opened in a new temporary directory (kept alive by the returned guard).
pub fn open_temp() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open store");
    (dir, store)
}

/// Creates session `id` with no settings.
pub async fn session(store: &Store, id: &str) {
    store
        .create_session(NewSession {
            id: id.to_owned(),
            pinned_selector: None,
            system_prompt: None,
        })
        .await
        .expect("create session");
}

/// Inserts a queued run `id` in `session_id` without an idempotency key.
pub async fn queued_run(store: &Store, session_id: &str, id: &str) -> Run {
    store
        .insert_run(NewRun {
            id: id.to_owned(),
            session_id: session_id.to_owned(),
            input: json!({"content": format!("input of {id}")}),
            idempotency_key: None,
        })
        .await
        .expect("insert run")
        .into_run()
}

//! Shared fixtures: a store in a fresh temporary state root, sample sessions/runs, and
//! the run writes the engine makes (start, events).

use ferry_store::prelude::*;
use ferry_store::{NewEvent, NewRun, NewSession, Run, RunStart, Store};
use serde_json::{json, Value};
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

/// Creates a queued run `id` in `session_id` without an idempotency key.
pub async fn queued_run(store: &Store, session_id: &str, id: &str) -> Run {
    store
        .create_run(NewRun {
            id: id.to_owned(),
            session_id: session_id.to_owned(),
            input: json!({"content": format!("input of {id}")}),
            idempotency_key: None,
            acknowledged: false,
        })
        .await
        .expect("create run")
        .into_run()
}

/// A start on `route` / `model`, now.
pub fn start(route: &str, model: &str) -> RunStart {
    RunStart {
        route: route.to_owned(),
        model_requested: model.to_owned(),
        started_at: time::OffsetDateTime::now_utc(),
    }
}

/// The event `seq` of kind `kind`.
pub fn event(seq: u64, kind: &str, data: Value) -> NewEvent {
    NewEvent::new(seq, kind, &data).expect("encodable")
}

/// Marks the run running on `route` / `model`, as the engine's first batch does.
pub async fn mark_running(store: &Store, run_id: &str, route: &str, model: &str) {
    store
        .append_events(run_id, Some(start(route, model)), Vec::new())
        .await
        .expect("running");
}
